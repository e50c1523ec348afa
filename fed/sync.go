package fed

import (
	"fmt"
	"slices"
)

// Weighting is the outcome of weighing one set of received losses, the
// synchronous one of Eq. 4 (SyncWeights) or the asynchronous one of
// Eq. 5 (AsyncWeights). Index j is the j-th loss passed in. The slices
// are newly allocated and owned by the caller.
type Weighting struct {
	// Weights are the per-device weights of the equation: the softmax
	// weights w_j of Eq. 4, or the staleness weights e^(−s_j) of Eq. 5.
	Weights []float64
	// Coeffs are ∂Loss/∂L_j, the coefficients to apply to each device's
	// feedback tensor F_j (see Combine), so that Σ_j Coeffs[j]·F_j is
	// ∂Loss/∂X_g.
	Coeffs []float64
	// Loss is the aggregated loss, L_sync or L_async.
	Loss float64
}

// SyncWeights weighs the losses L_j = losses[j] of the devices whose
// feedback arrived in one synchronous period (paper Eq. 4; docs/DESIGN.md
// §2.2):
//
//	w_j    = exp(L_j) / Σ_j' exp(L_j')        (Softmax)
//	L_sync = Σ_j w_j L_j                      (Eq. 4)
//
// and the coefficients of the feedback tensors, by mode:
//
//	WeightsExact:    c_j = ∂L_sync/∂L_j = w_j (1 + L_j − L_sync)
//	WeightsConstant: c_j = w_j
//
// WeightsUniform replaces the softmax by plain averaging, as the M-D GAN
// baseline does (docs/DESIGN.md §2.13): w_j = c_j = 1/n and
// L_sync = (1/n) Σ_j L_j, for n = len(losses).
//
// The exact coefficients follow from ∂w_i/∂L_j = w_i (δ_ij − w_j); they sum
// to 1, like the weights, but c_j is negative when L_j < L_sync − 1:
// raising such a loss raises its weight, moving weight onto a loss below
// the average, which lowers L_sync more than the loss's own term raises it.
//
// Every finite input gives finite results: L_sync is held inside
// [min L, max L], where it lies mathematically, and a device whose weight
// underflows to 0 gets coefficient 0. SyncWeights returns ErrEmpty for no
// losses (there is nothing to divide: the caller skips the update), a
// *ValueError (Arg "losses") for a NaN or an infinity, and an error
// wrapping ErrMode for a mode that is not a named constant.
func SyncWeights(losses []float64, mode WeightMode) (Weighting, error) {
	if !mode.valid() {
		return Weighting{}, fmt.Errorf("%w: %v", ErrMode, mode)
	}
	if len(losses) == 0 {
		return Weighting{}, fmt.Errorf("%w: no losses", ErrEmpty)
	}
	if err := checkFinite("losses", losses); err != nil {
		return Weighting{}, err
	}
	if mode == WeightsUniform {
		return uniformWeights(losses), nil
	}
	w := make([]float64, len(losses))
	softmax(w, losses)

	// L_sync = m + Σ_j w_j (L_j − m) with m = max L: the sum is a small
	// correction computed from small numbers, so L_sync carries one rounding
	// of m instead of one per product w_j L_j, and L_j − L_sync below is
	// (L_j − m) − s, free of the cancellation of two large values. A zero
	// weight is skipped: its L_j − m may be −Inf (L_j = −MaxFloat64).
	m := slices.Max(losses)
	var s float64
	for j, v := range losses {
		if w[j] != 0 {
			s += w[j] * (v - m)
		}
	}
	// s ≤ 0, so m + s ≤ m = max L, and m + s cannot overflow; the lower
	// bound guards the documented [min L, max L] against rounding.
	l := max(m+s, slices.Min(losses))

	c := make([]float64, len(losses))
	switch mode {
	case WeightsExact:
		for j, v := range losses {
			if w[j] != 0 {
				c[j] = w[j] * (1 + ((v - m) - s))
			}
		}
	case WeightsConstant:
		copy(c, w)
	}
	return Weighting{Weights: w, Coeffs: c, Loss: l}, nil
}

// uniformWeights is SyncWeights with WeightsUniform: every weight and
// coefficient 1/n, L_sync the mean of the losses. Each term is divided
// before it is added, so the sum of finite losses cannot overflow, and
// the mean is held inside [min L, max L] against rounding.
func uniformWeights(losses []float64) Weighting {
	n := float64(len(losses))
	w := make([]float64, len(losses))
	var l float64
	for j, v := range losses {
		w[j] = 1 / n
		l += v / n
	}
	l = min(max(l, slices.Min(losses)), slices.Max(losses))
	return Weighting{Weights: w, Coeffs: slices.Clone(w), Loss: l}
}
