package fed

import (
	"fmt"
	"math"
	"time"
)

// AsyncWeights weighs the losses L_j = losses[j] drained together in one
// asynchronous update, with the staleness s_j = staleness[j] of each
// (paper Eq. 5; docs/DESIGN.md §2.3):
//
//	Weights[j] = e^(−s_j)
//	L_async    = (1/|M|) Σ_j e^(−s_j) L_j      (Eq. 5, |M| = len(losses))
//	Coeffs[j]  = ∂L_async/∂L_j = e^(−s_j)/|M|
//
// The weights do not depend on the losses, so the coefficients need no
// WeightMode: the exact and the constant ones coincide. Fresh feedback
// (s = 0) has weight 1; the weights lie in (0, 1] and fall to 0 only when
// e^(−s) underflows (s > about 745).
//
// A negative staleness is clamped to 0: it can only come from clocks or
// version counters that disagree, and such feedback is treated as fresh
// rather than rewarded with a weight above 1. TimeStaleness and
// VersionStaleness never return one.
//
// AsyncWeights returns ErrEmpty for no losses, a *LengthError when
// len(staleness) != len(losses), and a *ValueError for a NaN or an
// infinity in either (Arg "losses" or "staleness").
func AsyncWeights(losses, staleness []float64) (Weighting, error) {
	if len(losses) == 0 {
		return Weighting{}, fmt.Errorf("%w: no losses", ErrEmpty)
	}
	if len(staleness) != len(losses) {
		return Weighting{}, &LengthError{Arg: "staleness", Got: len(staleness), Want: len(losses)}
	}
	if err := checkFinite("losses", losses); err != nil {
		return Weighting{}, err
	}
	if err := checkFinite("staleness", staleness); err != nil {
		return Weighting{}, err
	}
	n := float64(len(losses))
	w := make([]float64, len(losses))
	c := make([]float64, len(losses))
	var l float64
	for j, s := range staleness {
		w[j] = math.Exp(-max(s, 0))
		c[j] = w[j] / n
		l += c[j] * losses[j] // Σ (w_j/|M|) L_j: dividing first keeps each term ≤ max|L|/|M|.
	}
	// Σ c_j ≤ 1, so L_async lies between min(0, min L) and max(0, max L);
	// rounding near ±MaxFloat64 must not push it to ±Inf.
	l = min(max(l, -math.MaxFloat64), math.MaxFloat64)
	return Weighting{Weights: w, Coeffs: c, Loss: l}, nil
}

// TimeStaleness is the paper's staleness of feedback, in units of tau
// (Eq. 5; docs/DESIGN.md §2.3):
//
//	s = (T_rec − T_lat) / τ
//
// where rec is when the edge received the feedback and lat is when the
// edge produced the generator version the feedback was computed on. Both
// are values the caller read from its clock; TimeStaleness reads none.
// When both carry a monotonic reading, rec.Sub(lat) uses it. A rec before
// lat gives 0, not a negative staleness. It panics if tau is not positive
// (the configuration's staleness_unit, 1 s by default, is validated to be).
func TimeStaleness(rec, lat time.Time, tau time.Duration) float64 {
	if tau <= 0 {
		panic(fmt.Sprintf("fed: TimeStaleness: tau = %v, want > 0", tau))
	}
	d := rec.Sub(lat)
	if d <= 0 {
		return 0
	}
	return float64(d) / float64(tau)
}

// VersionStaleness is the staleness of feedback computed on generator
// version fb when the edge's generator is at version current, for
// `staleness: versions` (docs/DESIGN.md §2.3):
//
//	s = current − fb
//
// A feedback version ahead of the current one gives 0. The difference is
// taken without wrapping around, so a version from far in the past (even
// math.MinInt64) is very stale, never fresh.
func VersionStaleness(current, fb int64) float64 {
	if fb >= current {
		return 0
	}
	return float64(uint64(current) - uint64(fb))
}
