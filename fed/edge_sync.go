// The sync edge (Eq. 4): one open iteration at a time, closed when every
// live device has answered or the sync period has ended.

package fed

import (
	"fmt"
	"sort"
	"time"
)

// syncFeedback takes fb, from device d, into the open iteration.
func (e *Edge) syncFeedback(now time.Time, d *device, fb *Feedback) error {
	if e.cur == nil || fb.Iter != e.curIter {
		e.stats.Late++
		return fmt.Errorf("fed: feedback from %s for iteration %d arrived after it closed (now %d)", fb.Device, fb.Iter, e.curIter)
	}
	if _, dup := e.received[fb.Device]; dup {
		e.stats.Duplicate++
		return fmt.Errorf("fed: duplicate feedback from %s for iteration %d", fb.Device, fb.Iter)
	}
	if fb.Iter <= d.lastIter {
		e.stats.Duplicate++
		return fmt.Errorf("fed: duplicate feedback from %s for iteration %d", fb.Device, fb.Iter)
	}
	d.lastIter = fb.Iter
	e.received[fb.Device] = fb
	e.expected[fb.Device] = true
	err := e.rejectLoss(fb)
	if err != nil {
		// Answered, so the iteration does not wait for it, but not used.
		if e.rejected == nil {
			e.rejected = map[string]bool{}
		}
		e.rejected[fb.Device] = true
	}
	e.maybeComplete(now)
	return err
}

// maybeComplete closes the open iteration when every expected device has
// answered, or a quorum of them.
func (e *Edge) maybeComplete(now time.Time) {
	if e.cur == nil {
		return
	}
	if q := e.cfg.Quorum; q > 0 && len(e.received) >= min(q, len(e.expected)) {
		e.syncUpdate(now)
		return
	}
	for dev := range e.expected {
		if _, ok := e.received[dev]; !ok {
			return
		}
	}
	e.syncUpdate(now)
}

// syncTick closes the open iteration when its period has ended, or opens
// one when a live device is waiting for it.
func (e *Edge) syncTick(now time.Time) {
	if e.cur != nil && !now.Before(e.deadline) {
		if len(e.received) < len(e.expected) {
			var missing []string
			for d := range e.expected {
				if e.received[d] == nil {
					missing = append(missing, d)
				}
			}
			sort.Strings(missing)
			e.note("sync period ended without every live device", "iteration", e.curIter, "received", len(e.received), "missing", missing)
			if len(e.received) > 0 {
				e.stats.Partial++
			}
		}
		e.syncUpdate(now)
	} else if e.cur == nil && len(e.live(now)) > 0 {
		e.emit(now)
	}
}

// syncUpdate closes the open iteration with Eq. 4.
func (e *Edge) syncUpdate(now time.Time) {
	cur := e.cur
	e.cur = nil
	for dev := range e.expected {
		if e.received[dev] == nil {
			e.stats.Unanswered++
		}
	}
	if len(e.received) == 0 {
		e.stats.Empty++
		e.note("no feedback in the sync period: update skipped", "iteration", e.curIter)
		e.emit(now)
		return
	}
	ids := make([]string, 0, len(e.received))
	for id := range e.received {
		if !e.rejected[id] {
			ids = append(ids, id)
		}
	}
	clear(e.rejected)
	sort.Strings(ids)
	e.losses, e.grads = e.losses[:0], e.grads[:0]
	for i, id := range ids {
		e.losses = append(e.losses, e.received[id].Loss)
		e.grads = append(e.grads, e.own(i, id, e.received[id].Grad))
	}
	var w Weighting
	var err error
	if e.robustOn() {
		ok := len(ids) > 0
		if ok {
			w, ids, ok, err = e.robustSync(now, ids)
		}
		if !ok {
			e.received = nil
			e.stats.Empty++
			e.note("no usable feedback in the sync period: update skipped", "iteration", e.curIter)
			e.emit(now)
			return
		}
	} else {
		w, err = SyncWeights(e.losses, e.cfg.Weights)
		if err == nil {
			e.dx = grow(e.dx, e.cfg.Batch*e.cfg.DataDim)
			err = Combine(e.dx, w.Coeffs, e.grads)
		}
	}
	if err != nil {
		e.stats.Diverged++
		e.note("aggregation failed: update skipped", "error", err)
		e.emit(now)
		return
	}
	e.stats.Weights = map[string]float64{}
	for i, id := range ids {
		e.stats.Weights[id] = w.Weights[i]
	}
	e.received = nil
	e.backward(cur.zg, e.dx)
	e.step(now, w.Loss)
}
