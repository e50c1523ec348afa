// The edge's side of bounded influence (docs/DESIGN.md §2.11): rejecting
// implausible losses on arrival, judging each aggregation's reports
// against the others', suspects and quarantine.

package fed

import (
	"fmt"
	"time"
)

// robustOn reports whether a robust rule is set (not RobustNone).
func (e *Edge) robustOn() bool { return e.rob.Rule != RobustNone }

// rejectLoss counts and returns an error for feedback whose loss the
// objective cannot produce (nil when it is plausible or the rule is none).
func (e *Edge) rejectLoss(fb *Feedback) error {
	if !e.robustOn() {
		return nil
	}
	reason := lossReason(fb.Loss)
	if reason == "" {
		return nil
	}
	addCount(&e.stats.Rejected, reason, 1)
	e.sus.record(fb.Device, true)
	return fmt.Errorf("fed: feedback from %s for iteration %d rejected: loss %g outside [%g, %g] (%s)", fb.Device, fb.Iter, fb.Loss, float64(MinLoss), float64(MaxLoss), reason)
}

// judge bounds one aggregation's reports (device ids[j], loss losses[j],
// tensor grads[j]) with RobustConfig.BoundBy against the other devices'
// (their reports here, or their last values), records each device's
// outcome, and returns the positions to aggregate (all but quarantined
// suspects) with the bounded losses and the tensors' scales.
func (e *Edge) judge(now time.Time, ids []string, losses []float64, grads [][]float32) (keep []int, b Bounded) {
	norms := make([]float64, len(grads))
	for j, g := range grads {
		norms[j] = Norm(g)
	}
	b = e.rob.BoundBy(ids, losses, norms, e.refs)
	e.refs.Update(ids, norms, b)
	for j, id := range ids {
		if b.Raised[j] {
			addCount(&e.stats.Bounded, ReasonRaised, 1)
		}
		if b.Clipped[j] {
			addCount(&e.stats.Bounded, ReasonClipped, 1)
		}
		e.sus.record(id, b.Raised[j] || b.Clipped[j])
	}
	for j, id := range ids {
		if e.rob.Quarantine && e.sus.suspect(id) {
			e.stats.Quarantined++
			continue
		}
		// An async edge leaves out a tensor nothing can be compared with
		// yet (its first drains, before any other device has reported)
		// while another live device can give a reference soon. A sync
		// iteration aggregates what it has: leaving its only report out
		// would waste the iteration (or stall a community whose other
		// devices stay silent), and the cloud bounds the community.
		if b.NoRef[j] && e.cfg.Mode == Async && len(e.live(now)) > 1 {
			addCount(&e.stats.Bounded, ReasonNoRef, 1)
			continue
		}
		keep = append(keep, j)
	}
	return keep, b
}

// pick returns x at the positions keep.
func pick[T any](x []T, keep []int) []T {
	y := make([]T, len(keep))
	for i, j := range keep {
		y[i] = x[j]
	}
	return y
}

// combineRule is the rule RobustCombine applies: with per-device rows
// (EdgeConfig.PerDevice) the tensors are disjoint, so a coordinate-wise
// statistic would be mostly zeros and the clipped sum is used instead.
func (e *Edge) combineRule() RobustConfig {
	r := e.rob
	if e.cfg.PerDevice && r.Rule != RobustNone {
		r.Rule = RobustClip
	}
	return r
}

// robustSync is syncUpdate's Eq. 4 under a robust rule: judge, cap and
// combine into e.dx. ok is false when every report was quarantined.
func (e *Edge) robustSync(now time.Time, ids []string) (w Weighting, kept []string, ok bool, err error) {
	keep, b := e.judge(now, ids, e.losses, e.grads)
	if len(keep) == 0 {
		return w, nil, false, nil
	}
	w, capped, err := e.rob.RobustSyncWeights(pick(b.Losses, keep), e.cfg.Weights)
	if err != nil {
		return w, nil, true, err
	}
	addCount(&e.stats.Bounded, ReasonCapped, int64(capped))
	e.dx = grow(e.dx, e.cfg.Batch*e.cfg.DataDim)
	err = e.combineRule().RobustCombine(e.dx, w.Coeffs, w.Weights, pick(b.Scales, keep), pick(e.grads, keep))
	return w, pick(ids, keep), true, err
}

// suspectList is the status's list of suspects (nil under RobustNone).
func (e *Edge) suspectList() []string {
	if !e.robustOn() {
		return nil
	}
	return e.sus.list()
}

// robustAsync is asyncUpdate's Eq. 5 under a robust rule, over the inbox
// (losses and staleness in e.losses, e.stale): judge and cap. The
// Weighting and scales are indexed like the inbox; a quarantined report
// has coefficient 0 and scale −1. Coeffs is nil when every report was
// quarantined.
func (e *Edge) robustAsync(now time.Time) (Weighting, []float64, error) {
	n := len(e.inbox)
	ids := make([]string, n)
	grads := make([][]float32, n)
	for i, fb := range e.inbox {
		ids[i], grads[i] = fb.Device, e.own(i, fb.Device, fb.Grad)
	}
	keep, b := e.judge(now, ids, e.losses, grads)
	if len(keep) == 0 {
		return Weighting{}, nil, nil
	}
	w, capped, err := e.rob.RobustAsyncWeights(pick(b.Losses, keep), pick(e.stale, keep))
	if err != nil {
		return w, nil, err
	}
	addCount(&e.stats.Bounded, ReasonCapped, int64(capped))
	all := Weighting{Weights: make([]float64, n), Coeffs: make([]float64, n), Loss: w.Loss}
	scales := make([]float64, n)
	for j := range scales {
		scales[j] = -1
	}
	for k, j := range keep {
		all.Weights[j], all.Coeffs[j], scales[j] = w.Weights[k], w.Coeffs[k], b.Scales[j]
	}
	return all, scales, nil
}
