// The async edge (Eq. 5): feedback is queued as it arrives and applied
// at the next Tick, each version's at the z it was produced from.

package fed

import (
	"fmt"
	"slices"
	"time"
)

// asyncFeedback queues fb, from device d, for the next Tick.
func (e *Edge) asyncFeedback(now time.Time, d *device, fb *Feedback) error {
	if _, ok := e.versions[fb.Version]; !ok {
		e.stats.Stale++
		return fmt.Errorf("fed: feedback from %s for generator version %d is older than the %d kept (now %d)", fb.Device, fb.Version, e.cfg.MaxStaleness, e.version)
	}
	if fb.Iter <= d.lastIter {
		e.stats.Duplicate++
		return fmt.Errorf("fed: duplicate feedback from %s for iteration %d", fb.Device, fb.Iter)
	}
	d.lastIter = fb.Iter
	if err := e.rejectLoss(fb); err != nil {
		return err
	}
	e.inbox = append(e.inbox, fb)
	e.recvAt = append(e.recvAt, now)
	return nil
}

// asyncTick applies the feedback that has arrived, or re-sends the newest
// batch when none has for a sync period.
func (e *Edge) asyncTick(now time.Time) {
	if len(e.inbox) > 0 {
		e.asyncUpdate(now)
	} else if e.last != nil && !now.Before(e.lastSent.Add(e.cfg.SyncPeriod)) {
		e.note("no feedback for a sync period: newest batch re-sent", "iteration", e.last.Iter)
		e.resend(now)
	}
}

// resend publishes the newest batch again (async): same iteration and
// version, so devices that already answered it skip it. A sampling edge
// asks a fresh sample (those it asked may have gone).
func (e *Edge) resend(now time.Time) {
	if e.last == nil || e.last.Round != e.round {
		return
	}
	e.lastSent = now
	var to []string
	if e.sampling() {
		to = e.pick(now)
	}
	e.queueBatch(e.last, to)
}

// asyncUpdate drains the inbox with Eq. 5.
func (e *Edge) asyncUpdate(now time.Time) {
	e.losses, e.stale = e.losses[:0], e.stale[:0]
	for i, fb := range e.inbox {
		e.losses = append(e.losses, fb.Loss)
		switch e.cfg.Staleness {
		case StalenessVersions:
			e.stale = append(e.stale, VersionStaleness(e.version, fb.Version))
		default:
			e.stale = append(e.stale, TimeStaleness(e.recvAt[i], e.versions[fb.Version].produced, e.cfg.StalenessUnit))
		}
	}
	var w Weighting
	var err error
	var scales []float64
	if e.robustOn() {
		w, scales, err = e.robustAsync(now)
		if err == nil && w.Coeffs == nil {
			e.stats.Empty++
			e.note("only quarantined feedback: update skipped")
			e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
			return
		}
	} else {
		w, err = AsyncWeights(e.losses, e.stale)
	}
	if err != nil {
		e.stats.Diverged++
		e.note("aggregation failed: update skipped", "error", err)
		e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
		return
	}
	e.stats.Weights = map[string]float64{}
	for i, fb := range e.inbox {
		e.stats.Weights[fb.Device] += w.Weights[i]
	}
	// Backpropagate each version's combined feedback through the current
	// G_k at that version's z_g (stale-gradient SGD); gradients accumulate.
	vers := make([]int64, 0, len(e.inbox))
	for _, fb := range e.inbox {
		if !slices.Contains(vers, fb.Version) {
			vers = append(vers, fb.Version)
		}
	}
	slices.Sort(vers)
	e.dx = grow(e.dx, e.cfg.Batch*e.cfg.DataDim)
	for _, v := range vers {
		var coeffs, weights, sc []float64
		e.grads = e.grads[:0]
		for i, fb := range e.inbox {
			if fb.Version == v && (scales == nil || scales[i] >= 0) {
				coeffs = append(coeffs, w.Coeffs[i])
				weights = append(weights, w.Coeffs[i])
				e.grads = append(e.grads, e.own(len(e.grads), fb.Device, fb.Grad))
				if scales != nil {
					sc = append(sc, scales[i])
				}
			}
		}
		if len(e.grads) == 0 {
			continue
		}
		var err error
		if scales == nil {
			err = Combine(e.dx, coeffs, e.grads)
		} else {
			err = e.combineRule().RobustCombine(e.dx, coeffs, weights, sc, e.grads)
		}
		if err != nil {
			e.cfg.Gen.ZeroGrad()
			e.stats.Diverged++
			e.note("aggregation failed: update skipped", "error", err)
			e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
			return
		}
		e.backward(e.versions[v].zg, e.dx)
	}
	e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
	e.step(now, w.Loss)
}
