// The cloud's side of bounded influence (docs/DESIGN.md §2.11): Eq. 1
// with implausible updates rejected, losses raised, weights capped and
// parameter changes clipped.

package fed

import (
	"errors"
	"fmt"

	"github.com/fedgan/fedgan/nn"
)

// errAllRejected is aggregate's error when no update of the round may be
// used: the previous G is kept.
var errAllRejected = errors.New("fed: every update of the round was rejected or quarantined")

// rejectLoss marks u rejected (it still counts as arrived, so the round
// does not wait for it) and returns an error when its loss is one no
// objective produces; nil when plausible or under RobustNone.
func (c *Cloud) rejectLoss(u *Update) error {
	if c.rob.Rule == RobustNone {
		return nil
	}
	reason := lossReason(u.Loss)
	if reason == "" {
		return nil
	}
	addCount(&c.stats.Rejected, reason, 1)
	c.rejected[u.Community] = true
	c.sus.record(u.Community, true)
	return fmt.Errorf("fed: update from %s for round %d rejected: loss %g outside [%g, %g] (%s)", u.Community, u.Round, u.Loss, float64(MinLoss), float64(MaxLoss), reason)
}

// aggregate computes Eq. 1's weights over the round's updates (ids[k],
// losses[k], params[k]) and writes the average into c.flat: exactly
// GlobalWeights and Average under RobustNone; otherwise with the robust
// rule. It returns the weights, indexed like ids (0 for an update left
// out).
func (c *Cloud) aggregate(ids []string, losses []float64, params [][]float32) ([]float64, error) {
	if c.rob.Rule == RobustNone {
		w, err := GlobalWeights(nil, losses)
		if err == nil {
			err = Average(c.flat, w, params)
		}
		return w, err
	}
	g := nn.Flatten(nil, c.cfg.Gen.Params())
	var use []int
	for k, id := range ids {
		if !c.rejected[id] {
			use = append(use, k)
		}
	}
	deltas, norms := changes(c.deltas, g, pick(params, use))
	c.deltas = deltas // reused next round
	uids := pick(ids, use)
	b := c.rob.BoundBy(uids, pick(losses, use), norms, c.refs)
	c.refs.Update(uids, norms, b)
	var keep []int
	for i, id := range uids {
		c.countBounded(ReasonRaised, b.Raised[i])
		c.countBounded(ReasonClipped, b.Clipped[i])
		c.sus.record(id, b.Raised[i] || b.Clipped[i])
		if c.rob.Quarantine && c.sus.suspect(id) {
			c.stats.Quarantined++
			continue
		}
		if b.NoRef[i] && len(c.cfg.Communities) > 1 {
			c.countBounded(ReasonNoRef, true) // nothing to judge its change by yet
			continue
		}
		keep = append(keep, i)
	}
	if len(keep) == 0 {
		return nil, errAllRejected
	}
	w, capped, err := c.rob.RobustGlobalWeights(pick(b.Losses, keep))
	if err != nil {
		return nil, err
	}
	for range capped {
		c.countBounded(ReasonCapped, true)
	}
	lone := len(c.cfg.Communities) == 1 // nothing to bound it by: G = G_k (M-D GAN, §2.13)
	if capped == 0 && len(keep) == len(ids) && (c.rob.Rule == RobustClip && unbounded(b) || lone) {
		// Nothing was bounded: Eq. 1 exactly as under RobustNone, so an
		// honest federation computes what the paper's arithmetic does, to
		// the bit (G + Σ w Δ rounds differently from Σ w G_k).
		if err := Average(c.flat, w, params); err != nil {
			copy(c.flat, g)
			return nil, err
		}
		return w, nil
	}
	if err := c.rob.RobustCombine(c.flat, w, w, pick(b.Scales, keep), pick(deltas, keep)); err != nil {
		copy(c.flat, g)
		return nil, err
	}
	for j := range c.flat {
		c.flat[j] += g[j]
	}
	if err := checkFinite32("G", c.flat); err != nil {
		copy(c.flat, g)
		return nil, err
	}
	all := make([]float64, len(ids))
	for i, k := range keep {
		all[use[k]] = w[i]
	}
	return all, nil
}

// countBounded adds one to the Bounded counter of reason when hit.
func (c *Cloud) countBounded(reason string, hit bool) {
	if hit {
		addCount(&c.stats.Bounded, reason, 1)
	}
}

// unbounded reports whether Bound left every report as it was: no loss
// raised, no tensor clipped or left without a reference.
func unbounded(b Bounded) bool {
	for j := range b.Scales {
		if b.Raised[j] || b.Clipped[j] || b.NoRef[j] || b.Scales[j] != 1 {
			return false
		}
	}
	return true
}

// changes returns each community's parameter change Δ_k = G_k − G and its
// norm, in buf's slices where they fit (the cloud reuses them every round:
// with 1,000 communities of the reference G a round's changes are 2.2 GB,
// which allocated afresh cost more than computing them).
func changes(buf [][]float32, g []float32, params [][]float32) (deltas [][]float32, norms []float64) {
	deltas, norms = buf[:0], make([]float64, len(params))
	for i, p := range params {
		var d []float32
		if i < cap(buf) {
			d = buf[:cap(buf)][i]
		}
		if cap(d) < len(g) {
			d = make([]float32, len(g))
		}
		d = d[:len(g)]
		for j, v := range p {
			d[j] = v - g[j]
		}
		deltas, norms[i] = append(deltas, d), Norm(d)
	}
	return deltas, norms
}
