package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers and tickers.
type Clock interface {
	Now() time.Time
	// NewTimer fires once, d from now.
	NewTimer(d time.Duration) Timer
	// NewTicker fires every d; d must be > 0.
	NewTicker(d time.Duration) Ticker
}

// Timer is time.Timer behind an interface.
type Timer interface {
	C() <-chan time.Time
	// Reset re-arms the timer to fire d from now (Go 1.23 semantics: no
	// stale value is left in C).
	Reset(d time.Duration)
	// ResetAt re-arms the timer to fire at t, at once when t has passed.
	// Unlike Reset(Until(c, t)) no time passes between reading the clock
	// and arming, so a fake clock moved meanwhile cannot push a deadline
	// back.
	ResetAt(t time.Time)
	Stop()
}

// Ticker is time.Ticker behind an interface.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
var Real Clock = realClock{}

// Or returns c, or Real when c is nil: what an Options field defaults to.
func Or(c Clock) Clock {
	if c == nil {
		return Real
	}
	return c
}

// Since is c.Now().Sub(t).
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

// Until is t.Sub(c.Now()).
func Until(c Clock, t time.Time) time.Duration { return t.Sub(c.Now()) }

type realClock struct{}

func (realClock) Now() time.Time                   { return time.Now() }
func (realClock) NewTimer(d time.Duration) Timer   { return realTimer{time.NewTimer(d)} }
func (realClock) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) C() <-chan time.Time   { return t.t.C }
func (t realTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t realTimer) ResetAt(at time.Time)  { t.t.Reset(time.Until(at)) }
func (t realTimer) Stop()                 { t.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// Fake is a clock that moves only when Advance or Set is called. Its
// timers and tickers fire (a non-blocking send on a channel of one, like
// the runtime's) when the clock reaches them. Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeTimer
	armed   chan struct{} // closed and replaced when a timer is armed
}

// NewFake returns a fake clock that reads start.
func NewFake(start time.Time) *Fake { return &Fake{now: start, armed: make(chan struct{})} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the clock forward by d and fires what is due, in order.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires what is due.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Before(f.now) {
		return
	}
	for {
		sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
		if len(f.waiters) == 0 || f.waiters[0].at.After(t) {
			break
		}
		w := f.waiters[0]
		f.waiters = f.waiters[1:]
		f.now = w.at
		select {
		case w.c <- w.at:
		default:
		}
		if w.period > 0 {
			w.at = w.at.Add(w.period)
			f.waiters = append(f.waiters, w)
		}
	}
	f.now = t
}

// Armed returns a channel that is closed the next time a timer or ticker
// is armed or re-armed: a test waits on it to know that a service has
// reached the point where it waits on the clock.
func (f *Fake) Armed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.armed
}

// WaitArmed returns when a timer or ticker is armed to fire at t (armed
// already, or later), or ctx's error when ctx ends first. A test waits on
// it for a service to reach the point where it waits on a deadline it
// knows (a round's timeout), then advances the clock past it.
func (f *Fake) WaitArmed(ctx context.Context, t time.Time) error {
	for {
		f.mu.Lock()
		armed, found := f.armed, false
		for _, w := range f.waiters {
			found = found || w.at.Equal(t)
		}
		f.mu.Unlock()
		if found {
			return nil
		}
		select {
		case <-armed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Pending is the number of armed timers and tickers.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// Next is when the earliest armed timer fires; false when none is armed.
func (f *Fake) Next() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var next time.Time
	for i, w := range f.waiters {
		if i == 0 || w.at.Before(next) {
			next = w.at
		}
	}
	return next, len(f.waiters) > 0
}

// NewTimer returns a timer that fires when the clock reaches now + d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// NewTicker returns a ticker that fires every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker period")
	}
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), period: d}
	f.mu.Lock()
	t.at = f.now.Add(d)
	f.arm(t)
	f.mu.Unlock()
	return t
}

// arm adds t to the waiters; f.mu is held.
func (f *Fake) arm(t *fakeTimer) {
	f.waiters = append(f.waiters, t)
	close(f.armed)
	f.armed = make(chan struct{})
}

// remove drops t from the waiters; f.mu is held.
func (f *Fake) remove(t *fakeTimer) {
	for i, w := range f.waiters {
		if w == t {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			return
		}
	}
}

type fakeTimer struct {
	f      *Fake
	c      chan time.Time
	at     time.Time
	period time.Duration
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.resetAt(t.f.now.Add(d))
}

func (t *fakeTimer) ResetAt(at time.Time) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.resetAt(at)
}

// resetAt re-arms t to fire at at; f.mu is held.
func (t *fakeTimer) resetAt(at time.Time) {
	f := t.f
	f.remove(t)
	select { // no stale value, as time.Timer since Go 1.23
	case <-t.c:
	default:
	}
	t.at = at
	if !at.After(f.now) {
		t.c <- f.now
		return
	}
	f.arm(t)
}

func (t *fakeTimer) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.remove(t)
}
