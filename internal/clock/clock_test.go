package clock

import (
	"context"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func fired(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimer(t *testing.T) {
	f := NewFake(t0)
	tm := f.NewTimer(10 * time.Second)
	f.Advance(9 * time.Second)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("fired early")
	}
	f.Advance(time.Second)
	if at, ok := fired(tm.C()); !ok || !at.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("fired %v at %v, want at +10s", ok, at)
	}
	if f.Pending() != 0 {
		t.Fatalf("pending %d after firing", f.Pending())
	}
	tm.Reset(time.Second)
	tm.Stop()
	f.Advance(time.Hour)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("a stopped timer fired")
	}
	tm.Reset(0)
	if _, ok := fired(tm.C()); !ok {
		t.Fatal("Reset(0) did not fire at once")
	}
}

func TestFakeResetDropsStaleValue(t *testing.T) {
	f := NewFake(t0)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second) // fired, value not read
	tm.Reset(time.Minute)
	if _, ok := fired(tm.C()); ok {
		t.Fatal("a stale value survived Reset")
	}
}

func TestFakeTickerFiresInOrder(t *testing.T) {
	f := NewFake(t0)
	tk := f.NewTicker(time.Second)
	tm := f.NewTimer(1500 * time.Millisecond)
	var order []string
	f.Advance(time.Second)
	if _, ok := fired(tk.C()); ok {
		order = append(order, "tick")
	}
	f.Advance(time.Second) // timer at 1.5s, tick at 2s
	if _, ok := fired(tm.C()); ok {
		order = append(order, "timer")
	}
	if _, ok := fired(tk.C()); ok {
		order = append(order, "tick")
	}
	if got := len(order); got != 3 {
		t.Fatalf("events %v, want tick, timer, tick", order)
	}
	if next, ok := f.Next(); !ok || !next.Equal(t0.Add(3*time.Second)) {
		t.Fatalf("next %v %v, want +3s", next, ok)
	}
	tk.Stop()
	if f.Pending() != 0 {
		t.Fatalf("pending %d after Stop", f.Pending())
	}
}

func TestFakeArmed(t *testing.T) {
	f := NewFake(t0)
	armed := f.Armed()
	go f.NewTimer(time.Second)
	select {
	case <-armed:
	case <-time.After(10 * time.Second):
		t.Fatal("Armed not closed when a timer was armed")
	}
	if Since(f, t0) != 0 || Until(f, t0.Add(time.Second)) != time.Second {
		t.Fatal("Since/Until do not read the fake clock")
	}
	if Or(nil) != Real || Or(f) != f {
		t.Fatal("Or")
	}
}

func TestFakeWaitArmed(t *testing.T) {
	f := NewFake(t0)
	tk := f.NewTicker(time.Second)
	defer tk.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Armed already: the ticker's next tick.
	if err := f.WaitArmed(ctx, t0.Add(time.Second)); err != nil {
		t.Fatalf("ticker at +1s: %v", err)
	}
	// Armed later, from another goroutine, after a timer at another time.
	go func() {
		f.NewTimer(time.Minute)
		f.NewTimer(time.Hour)
	}()
	if err := f.WaitArmed(ctx, t0.Add(time.Hour)); err != nil {
		t.Fatalf("timer at +1h: %v", err)
	}
	// A fired timer is no longer armed; a ticker is re-armed a period on.
	f.Advance(time.Hour)
	short, stop := context.WithTimeout(ctx, 10*time.Millisecond)
	defer stop()
	if err := f.WaitArmed(short, t0.Add(time.Hour)); err != context.DeadlineExceeded {
		t.Fatalf("fired timer at +1h: %v, want %v", err, context.DeadlineExceeded)
	}
	if err := f.WaitArmed(ctx, t0.Add(time.Hour+time.Second)); err != nil {
		t.Fatalf("ticker at +1h1s: %v", err)
	}
}

func TestResetAt(t *testing.T) {
	for _, c := range []struct {
		name    string
		at      time.Duration // from t0, the fake clock's time when re-armed
		advance time.Duration // then
		fired   bool
	}{
		{"past", -time.Second, 0, true},
		{"now", 0, 0, true},
		{"before", 10 * time.Second, 9 * time.Second, false},
		{"reached", 10 * time.Second, 10 * time.Second, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := NewFake(t0)
			tm := f.NewTimer(time.Hour)
			tm.ResetAt(t0.Add(c.at))
			f.Advance(c.advance)
			_, ok := fired(tm.C())
			if ok != c.fired {
				t.Fatalf("fired %v, want %v", ok, c.fired)
			}
			if want := 0; c.fired && f.Pending() != want {
				t.Fatalf("pending %d after firing, want %d", f.Pending(), want)
			}
		})
	}
	// The deadline stays where it is when the clock moves between reading
	// it and re-arming: the race Reset(Until(c, t)) has.
	f := NewFake(t0)
	tm := f.NewTimer(time.Hour)
	deadline := t0.Add(30 * time.Second)
	f.Advance(30 * time.Second)
	tm.ResetAt(deadline)
	if _, ok := fired(tm.C()); !ok {
		t.Fatal("a deadline the clock has passed did not fire at once")
	}
	// The real timer too.
	rt := Real.NewTimer(time.Hour)
	defer rt.Stop()
	rt.ResetAt(time.Now().Add(-time.Second))
	select {
	case <-rt.C():
	case <-time.After(10 * time.Second):
		t.Fatal("a real timer reset to a past time did not fire")
	}
}
