package fed

import (
	"fmt"
	"math"
	"slices"
)

// Softmax stores in dst the softmax of x,
//
//	dst[i] = exp(x[i]) / Σ_j exp(x[j])
//
// the weighting of Eq. 1 and Eq. 4 of the paper. It is computed as
// exp(x[i] − max x) / Σ_j exp(x[j] − max x), the log-sum-exp shift of
// gonum's floats.LogSumExp, so that it neither overflows nor underflows to
// 0/0: the largest input always gets exp(0) = 1 before normalisation, and
// every finite input, ±math.MaxFloat64 included, gives finite weights that
// sum to 1 within rounding. An input more than about 745 below the largest
// gets weight 0.
//
// Softmax returns dst resized to len(x), reusing dst's backing array when
// its capacity suffices and allocating otherwise. dst may be x itself
// (dst[:0] or x); other overlap is not allowed. It returns ErrEmpty for an
// empty x and a *ValueError (Arg "x") for a NaN or an infinity; on error
// it writes nothing and returns nil.
func Softmax(dst, x []float64) ([]float64, error) {
	return checkedSoftmax(dst, x, "x")
}

// checkedSoftmax is Softmax naming x arg in errors.
func checkedSoftmax(dst, x []float64, arg string) ([]float64, error) {
	if len(x) == 0 {
		return nil, fmt.Errorf("%w: no %s", ErrEmpty, arg)
	}
	if err := checkFinite(arg, x); err != nil {
		return nil, err
	}
	dst = slices.Grow(dst[:0], len(x))[:len(x)]
	softmax(dst, x)
	return dst, nil
}

// softmax is Softmax for a non-empty, finite x and len(dst) == len(x).
func softmax(dst, x []float64) {
	m := slices.Max(x)
	var sum float64
	for i, v := range x {
		e := math.Exp(v - m) // v − m may round to −Inf for v near −MaxFloat64: exp gives 0.
		dst[i] = e
		sum += e
	}
	// sum ≥ 1: the maximum contributes exp(0).
	for i := range dst {
		dst[i] /= sum
	}
}
