package broker

import (
	"sync"
	"time"

	"github.com/fedgan/fedgan/internal/clock"
)

// maxFailRecords bounds the failure records an authLimiter keeps; beyond
// it, expired records are swept and records for new usernames are not
// made (addresses still are).
const maxFailRecords = 10000

// authLimiter bounds what failed logins cost (docs/DESIGN.md §6.1):
//
//   - after Config.AuthFreeFailures failures from one address, or for one
//     username, further attempts from it (for it) are refused at once,
//     without bcrypt, for a delay that starts at Config.AuthBackoff and
//     doubles with every further failure up to Config.AuthBackoffMax; a
//     record is forgotten AuthBackoffMax after its last failure;
//   - at most Config.AuthConcurrency bcrypt verifications run at a time;
//     an attempt that finds every slot busy is refused at once.
//
// Refusing instead of sleeping keeps the cost of a refused attempt at a
// CONNACK: no goroutine waits and no bcrypt runs.
type authLimiter struct {
	free      int
	base, max time.Duration
	clock     clock.Clock
	sem       chan struct{}

	mu    sync.Mutex
	fails map[string]*failRecord // "a:"+host or "u:"+username
}

type failRecord struct {
	n     int
	last  time.Time
	until time.Time
}

func newAuthLimiter(cfg *Config) *authLimiter {
	return &authLimiter{
		free: cfg.AuthFreeFailures, base: cfg.AuthBackoff, max: cfg.AuthBackoffMax,
		clock: clock.Or(cfg.Clock), sem: make(chan struct{}, cfg.AuthConcurrency),
		fails: map[string]*failRecord{},
	}
}

func addrKey(host string) string { return "a:" + host }
func userKey(name string) string { return "u:" + name }

// blocked returns how long any of keys is still delayed, 0 if none is.
func (l *authLimiter) blocked(keys ...string) time.Duration {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range keys {
		if r, ok := l.fails[k]; ok && now.Before(r.until) {
			wait = max(wait, r.until.Sub(now))
		}
	}
	return wait
}

// fail records a failed login for each key.
func (l *authLimiter) fail(keys ...string) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.fails) >= maxFailRecords {
		l.sweep(now)
	}
	for _, k := range keys {
		r, ok := l.fails[k]
		if !ok {
			if len(l.fails) >= maxFailRecords && k[0] == 'u' {
				continue
			}
			r = &failRecord{}
			l.fails[k] = r
		}
		if now.Sub(r.last) > l.max {
			r.n = 0 // forgiven
		}
		r.n++
		r.last = now
		if over := r.n - l.free; over > 0 {
			d := l.base << min(over-1, 30)
			if d > l.max || d <= 0 {
				d = l.max
			}
			r.until = now.Add(d)
		}
	}
}

// succeed forgets the failures of key.
func (l *authLimiter) succeed(key string) {
	l.mu.Lock()
	delete(l.fails, key)
	l.mu.Unlock()
}

// sweep drops the records whose last failure is older than the maximum
// delay. Called with mu held.
func (l *authLimiter) sweep(now time.Time) {
	for k, r := range l.fails {
		if now.Sub(r.last) > l.max && !now.Before(r.until) {
			delete(l.fails, k)
		}
	}
}

// acquire takes a bcrypt slot without waiting; release gives it back.
func (l *authLimiter) acquire() bool {
	select {
	case l.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

func (l *authLimiter) release() { <-l.sem }
