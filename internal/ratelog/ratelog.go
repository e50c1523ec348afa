package ratelog

import (
	"log/slog"
	"sync"
	"time"
)

// Limiter logs a problem at most once per key (a sender) per Every and
// counts every occurrence by reason, so a flood of bad messages costs a
// map lookup, not a log line each.
type Limiter struct {
	// Every is the minimum gap between two logs for one key; default 1m.
	Every time.Duration
	Log   *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Msg is the log message; default "message dropped".
	Msg string

	mu     sync.Mutex
	last   map[string]time.Time
	counts map[string]int64
	supp   map[string]int64
}

// Drop counts one dropped message from key for reason and logs it unless
// key was logged less than Every ago.
func (l *Limiter) Drop(key, reason string, err error, attrs ...any) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	every := l.Every
	if every == 0 {
		every = time.Minute
	}
	t := now()
	l.mu.Lock()
	if l.last == nil {
		l.last, l.counts, l.supp = map[string]time.Time{}, map[string]int64{}, map[string]int64{}
	}
	l.counts[reason]++
	last, seen := l.last[key]
	logIt := !seen || t.Sub(last) >= every
	var suppressed int64
	if logIt {
		l.last[key] = t
		suppressed = l.supp[key]
		l.supp[key] = 0
		if len(l.last) > 10000 { // bound memory against many fake senders
			for k, v := range l.last {
				if t.Sub(v) >= every {
					delete(l.last, k)
					delete(l.supp, k)
				}
			}
		}
	} else {
		l.supp[key]++
	}
	l.mu.Unlock()
	if logIt && l.Log != nil {
		args := append([]any{slog.String("sender", key), slog.String("reason", reason), slog.Any("error", err), slog.Int64("suppressed_since_last", suppressed)}, attrs...)
		msg := l.Msg
		if msg == "" {
			msg = "message dropped"
		}
		l.Log.Warn(msg, args...)
	}
}

// Counts returns a copy of the drop counts by reason.
func (l *Limiter) Counts() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := make(map[string]int64, len(l.counts))
	for k, v := range l.counts {
		c[k] = v
	}
	return c
}

// Total is the number of drops so far.
func (l *Limiter) Total() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for _, v := range l.counts {
		n += v
	}
	return n
}
