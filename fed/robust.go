package fed

// Bounded influence (docs/DESIGN.md §2.11): the rules that keep one device
// from moving its community's update, and one community from moving the
// global model, by more than a bounded amount, whatever it reports. The
// Edge's Eq. 4 and Eq. 5 and the Cloud's Eq. 1 call them; RobustNone keeps
// the paper's arithmetic bit for bit.

import (
	"fmt"
	"math"
	"slices"
)

// Robust selects the robust aggregation rule (config key
// "training.robust"). The zero value is RobustNone, the paper's exact
// arithmetic; the configuration's default is RobustClip.
type Robust int

const (
	// RobustNone weighs every finite report as the paper does. Its name
	// is "none".
	RobustNone Robust = iota
	// RobustClip rejects implausible losses, raises a loss far below the
	// others', caps every weight, clips every feedback norm (and every
	// community's parameter change) relative to the others' median, and
	// then takes the weighted sum. Its name is "clip".
	RobustClip
	// RobustTrimmed is RobustClip with a coordinate-wise trimmed mean of
	// the clipped tensors instead of the weighted sum. Its name is
	// "trimmed".
	RobustTrimmed
	// RobustMedian is RobustClip with the coordinate-wise median of the
	// clipped tensors instead of the weighted sum. Its name is "median".
	RobustMedian
)

var robustNames = [...]string{"none", "clip", "trimmed", "median"}

// String returns the rule's configuration name.
func (r Robust) String() string { return nameOf(robustNames[:], int(r), "Robust") }

// ParseRobust returns the rule named s: "none", "clip", "trimmed" or
// "median".
func ParseRobust(s string) (Robust, error) {
	i, err := parseName(s, robustNames[:], "robust %q (want %s)", false)
	return Robust(i), err
}

// MinLoss and MaxLoss bound what a device's L_kj (Eq. 3) can be, under
// either objective: L_kj = −mean_i softplus(a_i) with a_i D's float32 logit,
// and 0 ≤ softplus(a) ≤ max(a, 0) + ln 2 rounds to at most MaxFloat32 for
// every finite float32 a (a logit of ±Inf makes the step fail with
// ErrDiverged). So L_kj ∈ [−MaxFloat32, 0]; an edge's L_sync (a convex
// combination) and L_async (coefficients in [0, 1/|M|]) lie there too.
const (
	MinLoss = -math.MaxFloat32
	MaxLoss = 0
)

// LossPlausible reports whether l is a loss the objective can produce:
// MinLoss ≤ l ≤ MaxLoss (a NaN is not).
func LossPlausible(l float64) bool { return l >= MinLoss && l <= MaxLoss }

// Reasons for a rejected or bounded report, the keys of the counters.
const (
	ReasonLossAbove = "loss_above_max" // L > MaxLoss: impossible, rejected
	ReasonLossBelow = "loss_below_min" // L < MinLoss: impossible, rejected
	ReasonClipped   = "norm_clipped"   // tensor norm scaled down to κ × the others' median
	ReasonRaised    = "loss_raised"    // loss raised to the others' median − δ
	ReasonCapped    = "weight_capped"  // weight lowered to the cap
	ReasonNoRef     = "unreferenced"   // no other report to judge a tensor by yet: left out
)

// lossReason is the rejection reason of an implausible l ("" when plausible).
func lossReason(l float64) string {
	switch {
	case l > MaxLoss:
		return ReasonLossAbove
	case !(l >= MinLoss):
		return ReasonLossBelow
	}
	return ""
}

// RobustConfig configures the robust rule; zero numbers take their
// defaults (DefaultRobust).
type RobustConfig struct {
	Rule Robust
	// WeightCap c ≥ 1: no weight of n above min(1, c/n). Default 1.5.
	WeightCap float64
	// Clip κ ≥ 1: a tensor whose norm exceeds κ × the median of the
	// others' norms is scaled down to it. Default 3.
	Clip float64
	// Trim β in (0, 0.5): RobustTrimmed drops ⌈β·n⌉ values at each end of
	// every coordinate (at most (n−1)/2). Default 0.2.
	Trim float64
	// LossSpread δ > 0: a loss below the median of the others' losses
	// minus δ is raised to it. Default 2.
	LossSpread float64
	// Window N and Suspect f in (0, 1]: a reporter whose reports were
	// outliers (rejected, clipped or raised) in more than f·N of its last
	// N is a suspect. Defaults 20 and 0.5.
	Window  int
	Suspect float64
	// Quarantine: a suspect's reports are still judged but not used.
	Quarantine bool
}

// DefaultRobust is the configuration's default: RobustClip with the
// default numbers.
var DefaultRobust = RobustConfig{Rule: RobustClip, WeightCap: 1.5, Clip: 3, Trim: 0.2, LossSpread: 2, Window: 20, Suspect: 0.5}

// WithDefaults returns c with its zero numbers set to DefaultRobust's, or
// an error naming the first number out of range (the configuration checks
// its training.robust* keys with it).
func (c RobustConfig) WithDefaults() (RobustConfig, error) { return c.withDefaults() }

// withDefaults is WithDefaults.
func (c RobustConfig) withDefaults() (RobustConfig, error) {
	d := DefaultRobust
	if c.WeightCap == 0 {
		c.WeightCap = d.WeightCap
	}
	if c.Clip == 0 {
		c.Clip = d.Clip
	}
	if c.Trim == 0 {
		c.Trim = d.Trim
	}
	if c.LossSpread == 0 {
		c.LossSpread = d.LossSpread
	}
	if c.Window == 0 {
		c.Window = d.Window
	}
	if c.Suspect == 0 {
		c.Suspect = d.Suspect
	}
	switch {
	case c.Rule < RobustNone || c.Rule > RobustMedian:
		return c, fmt.Errorf("%w: %v", ErrMode, c.Rule)
	case !(c.WeightCap >= 1) || math.IsInf(c.WeightCap, 0):
		return c, fmt.Errorf("fed: robust weight cap %g, want a finite value ≥ 1", c.WeightCap)
	case !(c.Clip >= 1) || math.IsInf(c.Clip, 0):
		return c, fmt.Errorf("fed: robust clip %g, want a finite value ≥ 1", c.Clip)
	case !(c.Trim > 0 && c.Trim < 0.5):
		return c, fmt.Errorf("fed: robust trim %g, want a value in (0, 0.5)", c.Trim)
	case !(c.LossSpread > 0) || math.IsInf(c.LossSpread, 0):
		return c, fmt.Errorf("fed: robust loss spread %g, want a finite value > 0", c.LossSpread)
	case c.Window < 1 || c.Window > 1<<16:
		return c, fmt.Errorf("fed: robust window %d, want 1..65536", c.Window)
	case !(c.Suspect > 0 && c.Suspect <= 1):
		return c, fmt.Errorf("fed: robust suspect fraction %g, want a value in (0, 1]", c.Suspect)
	}
	return c, nil
}

// Median returns the median of x (the mean of the two middle values for
// an even length), and false for an empty x. x is not modified.
func Median(x []float64) (float64, bool) {
	if len(x) == 0 {
		return 0, false
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return medianAt(len(s), func(i int) float64 { return s[i] }), true
}

// medianAt is the median of n > 0 sorted values, value i being at(i).
func medianAt(n int, at func(int) float64) float64 {
	if n%2 == 1 {
		return at(n / 2)
	}
	return at(n/2-1)/2 + at(n/2)/2
}

// Norm returns the Euclidean norm of x, accumulated in float64 so that
// it is finite for every finite x.
func Norm(x []float32) float64 {
	var m float64
	for _, v := range x {
		m = max(m, math.Abs(float64(v)))
	}
	if m == 0 || math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	var s float64
	for _, v := range x {
		r := float64(v) / m
		s += r * r
	}
	return m * math.Sqrt(s)
}

// ClipScale is the factor that brings a tensor of norm norm down to
// kappa × ref: min(1, kappa·ref/norm). With no reference (ref ≤ 0 or not
// finite: no other reporter, or the others sent nothing) it is 1.
func ClipScale(norm, ref, kappa float64) float64 {
	if !(ref > 0) || math.IsInf(ref, 0) || !(norm > kappa*ref) {
		return 1
	}
	return kappa * ref / norm
}

// CapWeights lowers every weight of w (non-negative, summing to 1) above
// cap to cap and gives the mass removed to the weights below it, in
// proportion to them, until none is above (water-filling); the weights
// still sum to 1. A cap below 1/len(w) is raised to it (every weight then
// becomes 1/n). When the weights below the cap are all 0, the mass is
// shared equally among them. It returns how many weights were capped.
func CapWeights(w []float64, cap float64) int {
	n := len(w)
	if n == 0 {
		return 0
	}
	cap = max(cap, 1/float64(n))
	capped := make([]bool, n)
	count := 0
	for {
		var excess, free float64
		nfree := 0
		for i, v := range w {
			if capped[i] {
				continue
			}
			if v > cap {
				excess += v - cap
				w[i] = cap
				capped[i] = true
				count++
			}
		}
		if excess == 0 {
			return count
		}
		for i, v := range w {
			if !capped[i] {
				free += v
				nfree++
			}
		}
		if nfree == 0 {
			return count
		}
		for i, v := range w {
			if capped[i] {
				continue
			}
			if free > 0 {
				w[i] = v + excess*v/free
			} else {
				w[i] = v + excess/float64(nfree)
			}
		}
	}
}

// Bounded is the outcome of judging the reports of one aggregation:
// index j is the j-th report.
type Bounded struct {
	Losses  []float64 // the losses to weigh: raised to the others' median − δ where below
	Scales  []float64 // the factor of each tensor (ClipScale)
	Raised  []bool    // Losses[j] was raised
	Clipped []bool    // Scales[j] < 1
	NoRef   []bool    // no other reporter's non-zero norm to judge tensor j by
}

// Bound judges one aggregation's reports, each its own reporter:
// losses[j] and norms[j] (of the feedback tensor, or of a community's
// parameter change) against the medians of the others' and of
// extraLosses, extraNorms (the last values of reporters absent from it;
// zero norms do not count). It is BoundBy with every report of a
// reporter of its own.
func (c RobustConfig) Bound(losses, norms, extraLosses, extraNorms []float64) Bounded {
	ids := make([]string, len(losses))
	for j := range ids {
		ids[j] = fmt.Sprint("r", j)
	}
	last := NewRefs()
	for i, l := range extraLosses {
		last.Set(fmt.Sprint("x", i), l, extraNorms[i])
	}
	return c.BoundBy(ids, losses, norms, last)
}

// Refs is what an aggregation remembers of each reporter for the next
// ones: its last bounded loss, and the bounded norm of its last non-zero
// tensor. Update records an aggregation's outcome in it. It keeps both
// sets of values sorted as well, so that judging an aggregation of k
// reports among n reporters costs O(n + k log k), not a copy and a sort
// of all n (an edge with 1,000 devices, 50 asked per iteration, spent
// 0.7 ms an iteration there; docs/RESULTS.md §11).
type Refs struct {
	loss, norm   map[string]float64 // norm holds positive norms only
	sLoss, sNorm []float64          // their values, sorted
	// Buffers reused by the merges: the next sorted values, and the
	// votes of the aggregation being judged.
	spareLoss, spareNorm, votesLoss, votesNorm []float64
}

// NewRefs returns empty Refs.
func NewRefs() *Refs { return &Refs{loss: map[string]float64{}, norm: map[string]float64{}} }

// Set records id's last loss and norm (a norm ≤ 0 leaves its last norm
// as it was: a zero tensor has no opinion).
func (r *Refs) Set(id string, loss, norm float64) {
	ch := refChanges{setLoss: map[string]bool{}, setNorm: map[string]bool{}}
	ch.set(r, id, loss, norm)
	ch.apply(r)
}

// Loss returns id's last loss.
func (r *Refs) Loss(id string) (float64, bool) { v, ok := r.loss[id]; return v, ok }

// Norm returns id's last non-zero norm.
func (r *Refs) Norm(id string) (float64, bool) { v, ok := r.norm[id]; return v, ok }

// Update records the outcome b of judging the reports of ids with norms:
// each reporter's last report's bounded loss, and the bounded norm of its
// last report with a non-zero tensor.
func (r *Refs) Update(ids []string, norms []float64, b Bounded) {
	ch := refChanges{setLoss: make(map[string]bool, len(ids)), setNorm: make(map[string]bool, len(ids))}
	for j, id := range ids {
		ch.set(r, id, b.Losses[j], norms[j]*b.Scales[j])
	}
	ch.apply(r)
}

// refChanges gathers changes to Refs' maps and the values they take out
// of and put into its sorted slices, applied in one merge each. A
// reporter set twice in one batch takes its first new value out of the
// values going in, not out of the sorted slice (which never held it).
type refChanges struct {
	lossOut, lossIn, normOut, normIn []float64
	setLoss, setNorm                 map[string]bool
}

func (ch *refChanges) set(r *Refs, id string, loss, norm float64) {
	replace(r.loss, id, loss, ch.setLoss, &ch.lossOut, &ch.lossIn)
	if norm > 0 {
		replace(r.norm, id, norm, ch.setNorm, &ch.normOut, &ch.normIn)
	}
}

// replace sets m[id] = v, noting the value that leaves the sorted slice
// (out) and the one that enters it (in).
func replace(m map[string]float64, id string, v float64, set map[string]bool, out, in *[]float64) {
	if old, ok := m[id]; ok {
		if set[id] {
			*in = slices.Delete(*in, slices.Index(*in, old), slices.Index(*in, old)+1)
		} else {
			*out = append(*out, old)
		}
	}
	m[id], set[id] = v, true
	*in = append(*in, v)
}

func (ch *refChanges) apply(r *Refs) {
	r.sLoss, r.spareLoss = mergeSorted(r.spareLoss, r.sLoss, ch.lossOut, ch.lossIn), r.sLoss
	r.sNorm, r.spareNorm = mergeSorted(r.spareNorm, r.sNorm, ch.normOut, ch.normIn), r.sNorm
}

// mergeSorted returns, in dst's memory, sorted s (a multiset) without the
// values of out (each present in s) and with those of in, sorted; out and
// in are reordered.
func mergeSorted(dst, s, out, in []float64) []float64 {
	slices.Sort(out)
	slices.Sort(in)
	res := slices.Grow(dst[:0], len(s)-len(out)+len(in))
	o, i := 0, 0
	for _, x := range s {
		if o < len(out) && out[o] == x {
			o++
			continue
		}
		for i < len(in) && in[i] < x {
			res = append(res, in[i])
			i++
		}
		res = append(res, x)
	}
	return append(res, in[i:]...)
}

// medians answers "the median of the votes of every reporter but id"
// from one sorted copy of the votes: a merge per aggregation, then a
// binary search per report, instead of a sort per report (measured:
// those sorts were 44% of an edge's CPU with 1,000 devices, 50 asked per
// iteration; docs/RESULTS.md §11). A reporter's vote is its value in
// here, else in last.
type medians struct {
	here map[string]float64
	last map[string]float64
	s    []float64
}

// vote returns id's vote.
func (m medians) vote(id string) (float64, bool) {
	if x, ok := m.here[id]; ok {
		return x, true
	}
	x, ok := m.last[id]
	return x, ok
}

// newMedians returns the votes of the reporters of this aggregation
// (here: the median of each one's values) and of every other reporter in
// last (sorted: lastSorted), sorted once.
// buf is reused for the sorted votes.
func newMedians(here map[string][]float64, last map[string]float64, lastSorted, buf []float64) medians {
	m := medians{here: make(map[string]float64, len(here)), last: last}
	var out, in []float64
	for id, x := range here {
		v, _ := Median(x)
		m.here[id] = v
		in = append(in, v)
		if old, ok := last[id]; ok {
			out = append(out, old)
		}
	}
	m.s = mergeSorted(buf, lastSorted, out, in)
	return m
}

// without returns the median of the votes of every reporter but id, and
// false when there is none. Votes are finite (losses are validated,
// norms are float64), so id's vote is found in the sorted copy.
func (m medians) without(id string) (float64, bool) {
	x, ok := m.vote(id)
	if !ok {
		if len(m.s) == 0 {
			return 0, false
		}
		return medianAt(len(m.s), func(i int) float64 { return m.s[i] }), true
	}
	p, _ := slices.BinarySearch(m.s, x)
	if len(m.s) == 1 {
		return 0, false
	}
	// The others are m.s without index p.
	return medianAt(len(m.s)-1, func(i int) float64 {
		if i < p {
			return m.s[i]
		}
		return m.s[i+1]
	}), true
}

// BoundBy judges one aggregation's reports: report j, by reporter ids[j],
// with loss losses[j] and tensor norm norms[j] (of a device's feedback,
// or of a community's parameter change). Each reporter has one vote: the
// median of its reports in this aggregation, or where it has none here
// its last value in last (absent reporters; zero norms do not count, and
// a reporter with only zero tensors here votes with its last non-zero
// one). Report j is judged against the median of the votes of the *other*
// reporters: a reporter's own reports never judge each other, so several
// reports of one liar in one async drain cannot vouch for each other, nor
// outvote the others. A loss below its reference − LossSpread is raised
// to it; a norm above Clip × its reference gets the scale that brings it
// there. Only the side that can grab influence is bounded: losses from
// below (a loss above another's is bounded by MaxLoss and by the weight
// cap), norms from above.
func (c RobustConfig) BoundBy(ids []string, losses, norms []float64, last *Refs) Bounded {
	ls, ns := reportsBy(ids, losses, norms)
	lm, nm := newMedians(ls, last.loss, last.sLoss, last.votesLoss), newMedians(ns, last.norm, last.sNorm, last.votesNorm)
	last.votesLoss, last.votesNorm = lm.s, nm.s
	return c.judge(ids, losses, norms, lm, nm)
}

// reportsBy groups one aggregation's losses, and its non-zero norms, by
// reporter.
func reportsBy(ids []string, losses, norms []float64) (ls, ns map[string][]float64) {
	ls, ns = make(map[string][]float64, len(ids)), make(map[string][]float64, len(ids))
	for j, id := range ids {
		ls[id] = append(ls[id], losses[j])
		if norms[j] > 0 {
			ns[id] = append(ns[id], norms[j])
		}
	}
	return ls, ns
}

// judge bounds report j against lm's and nm's medians of the other
// reporters' loss and norm votes (BoundBy).
func (c RobustConfig) judge(ids []string, losses, norms []float64, lm, nm medians) Bounded {
	n := len(losses)
	b := Bounded{Losses: slices.Clone(losses), Scales: make([]float64, n), Raised: make([]bool, n), Clipped: make([]bool, n), NoRef: make([]bool, n)}
	for j, id := range ids {
		b.Scales[j] = 1
		if ref, ok := lm.without(id); ok && losses[j] < ref-c.LossSpread {
			b.Losses[j], b.Raised[j] = min(ref-c.LossSpread, MaxLoss), true
		}
		if ref, ok := nm.without(id); ok {
			b.Scales[j] = ClipScale(norms[j], ref, c.Clip)
			b.Clipped[j] = b.Scales[j] < 1
		} else {
			b.NoRef[j] = norms[j] > 0
		}
	}
	return b
}

// RobustSyncWeights is SyncWeights on losses already bounded (Bound),
// with every weight capped at WeightCap/n (CapWeights); L_sync and the
// coefficients are those of Eq. 4 with the capped weights:
//
//	L_sync = Σ_j w'_j L_j,   exact: c_j = w'_j (1 + L_j − L_sync),   constant: c_j = w'_j
//
// It returns the number of weights capped.
func (c RobustConfig) RobustSyncWeights(losses []float64, mode WeightMode) (Weighting, int, error) {
	w, err := SyncWeights(losses, mode)
	if err != nil {
		return w, 0, err
	}
	capped := CapWeights(w.Weights, c.WeightCap/float64(len(losses)))
	if capped == 0 {
		return w, 0, nil
	}
	var l float64
	for j, v := range losses {
		l += w.Weights[j] * v
	}
	l = min(max(l, slices.Min(losses)), slices.Max(losses))
	for j, v := range losses {
		if mode == WeightsExact {
			w.Coeffs[j] = w.Weights[j] * (1 + v - l)
		} else {
			w.Coeffs[j] = w.Weights[j]
		}
	}
	w.Loss = l
	return w, capped, nil
}

// RobustAsyncWeights is AsyncWeights with every device's share of the
// Eq. 5 sum, c_j/Σc, capped at WeightCap/n: c'_j = Σc · capped share;
// L_async = Σ_j c'_j L_j. It returns the number of shares capped.
func (c RobustConfig) RobustAsyncWeights(losses, staleness []float64) (Weighting, int, error) {
	w, err := AsyncWeights(losses, staleness)
	if err != nil {
		return w, 0, err
	}
	var sum float64
	for _, v := range w.Coeffs {
		sum += v
	}
	if sum == 0 {
		return w, 0, nil
	}
	share := make([]float64, len(losses))
	for j, v := range w.Coeffs {
		share[j] = v / sum
	}
	capped := CapWeights(share, c.WeightCap/float64(len(losses)))
	if capped == 0 {
		return w, 0, nil
	}
	var l float64
	for j := range share {
		w.Coeffs[j] = sum * share[j]
		l += w.Coeffs[j] * losses[j]
	}
	w.Loss = min(max(l, -math.MaxFloat64), math.MaxFloat64)
	return w, capped, nil
}

// RobustGlobalWeights is GlobalWeights over bounded losses with every
// weight capped at WeightCap/K. It returns the number capped.
func (c RobustConfig) RobustGlobalWeights(losses []float64) ([]float64, int, error) {
	w, err := GlobalWeights(nil, losses)
	if err != nil {
		return nil, 0, err
	}
	return w, CapWeights(w, c.WeightCap/float64(len(losses))), nil
}

// trimCount is how many values RobustTrimmed drops at each end of n:
// ⌈β·n⌉, at most (n−1)/2.
func trimCount(n int, beta float64) int {
	return min(int(math.Ceil(beta*float64(n))), (n-1)/2)
}

// RobustCombine stores in dst the aggregate of the tensors vecs[j] scaled
// by scales[j]:
//
//	clip:    dst = Σ_j coeffs[j]·scales[j]·vecs[j]                  (Combine)
//	trimmed: per coordinate, drop the t = ⌈β·n⌉ (≤ (n−1)/2) lowest and highest
//	         scales[j]·vecs[j][i] and average the rest with the weights, renormalised
//	median:  per coordinate, the median of scales[j]·vecs[j][i]
//
// and trimmed's and median's result is multiplied by Σ_j coeffs[j] (1 in
// sync; the share of the drain in async's Eq. 5). With fewer than three
// tensors, trimmed and median are the weighted sum. weights are
// non-negative (trimmed's weights; median ignores them); coeffs are the
// Weighting's coefficients. The errors are Combine's.
func (c RobustConfig) RobustCombine(dst []float32, coeffs, weights, scales []float64, vecs [][]float32) error {
	n := len(vecs)
	if c.Rule == RobustClip || c.Rule == RobustNone || n < 3 {
		cs := make([]float64, len(coeffs))
		for j, v := range coeffs {
			cs[j] = v * scales[j]
		}
		return Combine(dst, cs, vecs)
	}
	if len(weights) != n || len(scales) != n {
		return &LengthError{Arg: "weights", Got: len(weights), Want: n}
	}
	for j, v := range vecs {
		if len(v) != len(dst) {
			return &LengthError{Arg: fmt.Sprintf("grads[%d]", j), Got: len(v), Want: len(dst)}
		}
		if err := checkFinite32(fmt.Sprintf("grads[%d]", j), v); err != nil {
			return err
		}
	}
	var total float64
	for _, v := range coeffs {
		total += v
	}
	t := trimCount(n, c.Trim)
	idx := make([]int, n)
	val := make([]float64, n)
	for i := range dst {
		for j := range vecs {
			idx[j] = j
			val[j] = scales[j] * float64(vecs[j][i])
		}
		slices.SortFunc(idx, func(a, b int) int {
			if val[a] < val[b] {
				return -1
			} else if val[a] > val[b] {
				return 1
			}
			return a - b
		})
		if c.Rule == RobustMedian {
			if n%2 == 1 {
				dst[i] = float32(total * val[idx[n/2]])
			} else {
				dst[i] = float32(total * (val[idx[n/2-1]]/2 + val[idx[n/2]]/2))
			}
			continue
		}
		var s, ws float64
		for _, j := range idx[t : n-t] {
			s += weights[j] * val[j]
			ws += weights[j]
		}
		if ws > 0 {
			dst[i] = float32(total * s / ws)
		} else {
			s = 0
			for _, j := range idx[t : n-t] {
				s += val[j]
			}
			dst[i] = float32(total * s / float64(n-2*t))
		}
	}
	return checkFinite32("dst", dst)
}

// suspects remembers, per reporter, whether each of its last Window
// reports was an outlier.
type suspects struct {
	window int
	frac   float64
	hist   map[string][]bool // ring of the last window outcomes, oldest first
}

func newSuspects(window int, frac float64) *suspects {
	return &suspects{window: window, frac: frac, hist: map[string][]bool{}}
}

// record adds one outcome of id.
func (s *suspects) record(id string, outlier bool) {
	h := append(s.hist[id], outlier)
	if len(h) > s.window {
		h = h[len(h)-s.window:]
	}
	s.hist[id] = h
}

// suspect reports whether more than frac·window of id's last window
// reports were outliers.
func (s *suspects) suspect(id string) bool {
	n := 0
	for _, o := range s.hist[id] {
		if o {
			n++
		}
	}
	return float64(n) > s.frac*float64(s.window)
}

// list returns the suspects, sorted.
func (s *suspects) list() []string {
	var ids []string
	for id := range s.hist {
		if s.suspect(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// addCount adds n to (*m)[key], creating the map: the Rejected and
// Bounded counters of the edge's and the cloud's stats.
func addCount(m *map[string]int64, key string, n int64) {
	if n == 0 {
		return
	}
	if *m == nil {
		*m = map[string]int64{}
	}
	(*m)[key] += n
}
