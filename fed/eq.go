package fed

// This file holds what the equation files share: the errors, the
// configuration modes and the weighted sum behind Combine and Average.

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/gonum"
)

var (
	// ErrEmpty is returned when there is nothing to weigh: no losses, no
	// feedback tensors, no rows.
	ErrEmpty = errors.New("fed: empty input")
	// ErrLength is the sentinel behind every *LengthError.
	ErrLength = errors.New("fed: length mismatch")
	// ErrNonFinite is the sentinel behind every *ValueError.
	ErrNonFinite = errors.New("fed: value not finite")
	// ErrMode is returned for a WeightMode or StalenessMode that is not
	// one of the named constants, or for a name that parses to none.
	ErrMode = errors.New("fed: unknown mode")
)

// LengthError reports an argument whose length differs from the one the
// other arguments require. It unwraps to ErrLength.
type LengthError struct {
	Arg  string // the argument, e.g. "coeffs" or "grads[2]"
	Got  int    // its length
	Want int    // the length it must have
}

func (e *LengthError) Error() string {
	return fmt.Sprintf("fed: len(%s) = %d, want %d", e.Arg, e.Got, e.Want)
}

func (e *LengthError) Unwrap() error { return ErrLength }

// ValueError reports a NaN or infinite value, in an argument or in a
// result that overflowed. It unwraps to ErrNonFinite.
type ValueError struct {
	Arg   string  // the argument, e.g. "losses" or "grads[1]"; "dst" for an overflowing result
	Index int     // the position of the value in Arg
	Value float64 // the value
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("fed: %s[%d] = %v, want a finite value", e.Arg, e.Index, e.Value)
}

func (e *ValueError) Unwrap() error { return ErrNonFinite }

// WeightMode selects the per-device coefficients of the synchronous
// aggregation (docs/DESIGN.md §2.2, config key "weights"). The zero value is
// WeightsExact, the default.
type WeightMode int

const (
	// WeightsExact differentiates through the softmax weights of Eq. 4:
	// c_j = ∂L_sync/∂L_j = w_j (1 + L_j − L_sync). Its name is "exact".
	WeightsExact WeightMode = iota
	// WeightsConstant treats the weights of Eq. 4 as constants, c_j = w_j,
	// as Yonetani et al. (2019) do. Its name is "constant".
	WeightsConstant
	// WeightsUniform replaces the softmax of Eq. 4 by plain averaging,
	// w_j = c_j = 1/n and L_sync = (1/n) Σ_j L_j: the aggregation of the
	// M-D GAN baseline (docs/DESIGN.md §2.13). Its name is "uniform".
	WeightsUniform
)

// String returns the mode's configuration name, or "WeightMode(n)" for a
// value that is not a named constant.
func (m WeightMode) String() string { return nameOf(weightNames[:], int(m), "WeightMode") }

// ParseWeightMode returns the mode named s: "exact", "constant" or
// "uniform".
// Names are case-sensitive; anything else, the empty string included,
// is an error wrapping ErrMode.
func ParseWeightMode(s string) (WeightMode, error) {
	i, err := parseName(s, weightNames[:], "weights %q, want %s", true)
	return WeightMode(i), err
}

func (m WeightMode) valid() bool { return m >= WeightsExact && m <= WeightsUniform }

// MarshalText implements encoding.TextMarshaler with the names String
// returns; it fails for a value that is not a named constant.
func (m WeightMode) MarshalText() ([]byte, error) {
	if !m.valid() {
		return nil, fmt.Errorf("%w: %v", ErrMode, m)
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseWeightMode.
func (m *WeightMode) UnmarshalText(b []byte) error {
	v, err := ParseWeightMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// StalenessMode selects how the asynchronous aggregation measures the
// staleness s_kj of Eq. 5 (docs/DESIGN.md §2.3, config key "staleness"). The
// zero value is StalenessTime, the default.
type StalenessMode int

const (
	// StalenessTime measures staleness in time, as the paper does:
	// s = (T_rec − T_lat)/τ (see TimeStaleness). Its name is "time".
	StalenessTime StalenessMode = iota
	// StalenessVersions measures staleness in generator versions:
	// s = current version − the feedback's version (see
	// VersionStaleness). Its name is "versions".
	StalenessVersions
)

// String returns the mode's configuration name, or "StalenessMode(n)"
// for a value that is not a named constant.
func (m StalenessMode) String() string { return nameOf(stalenessNames[:], int(m), "StalenessMode") }

// ParseStalenessMode returns the mode named s: "time" or "versions".
// Names are case-sensitive; anything else, the empty string included,
// is an error wrapping ErrMode.
func ParseStalenessMode(s string) (StalenessMode, error) {
	i, err := parseName(s, stalenessNames[:], "staleness %q, want %s", true)
	return StalenessMode(i), err
}

func (m StalenessMode) valid() bool { return m == StalenessTime || m == StalenessVersions }

// MarshalText implements encoding.TextMarshaler with the names String
// returns; it fails for a value that is not a named constant.
func (m StalenessMode) MarshalText() ([]byte, error) {
	if !m.valid() {
		return nil, fmt.Errorf("%w: %v", ErrMode, m)
	}
	return []byte(m.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with
// ParseStalenessMode.
func (m *StalenessMode) UnmarshalText(b []byte) error {
	v, err := ParseStalenessMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Combine stores in dst the aggregated error feedback
//
//	dst = Σ_j coeffs[j] · grads[j]
//
// which is ∂L_sync/∂X_g (docs/DESIGN.md §2.2, from Eq. 4) or ∂L_async/∂X_g
// (§2.3, from Eq. 5) when coeffs is the Coeffs of a Weighting and
// grads[j] is device j's feedback tensor F_kj = ∂L_kj/∂X_g, flattened
// row-major (B×d). The coefficients are rounded to float32 and the sum is
// accumulated in float32.
//
// Combine returns ErrEmpty when grads is empty, a *LengthError when
// len(coeffs) != len(grads) or some len(grads[j]) != len(dst), and a
// *ValueError when a coefficient is not finite (or overflows float32),
// when some grads[j] holds a NaN or an infinity, or when the sum
// overflows (Arg "dst"). Length and coefficient errors are found before
// dst is written; after a *ValueError about grads or dst, dst holds
// garbage. Combine only reads coeffs and grads; dst must not overlap any
// grads[j].
func Combine(dst []float32, coeffs []float64, grads [][]float32) error {
	return weightedSum(dst, coeffs, grads, "coeffs", "grads")
}

// weightedSum is Combine and Average; cname and vname name the arguments
// in errors.
func weightedSum(dst []float32, coeffs []float64, vecs [][]float32, cname, vname string) error {
	if len(vecs) == 0 {
		return fmt.Errorf("%w: no %s", ErrEmpty, vname)
	}
	if len(coeffs) != len(vecs) {
		return &LengthError{Arg: cname, Got: len(coeffs), Want: len(vecs)}
	}
	for j, v := range vecs {
		if len(v) != len(dst) {
			return &LengthError{Arg: fmt.Sprintf("%s[%d]", vname, j), Got: len(v), Want: len(dst)}
		}
	}
	for j, c := range coeffs {
		if !finite64(c) || !finite32(float32(c)) {
			return &ValueError{Arg: cname, Index: j, Value: c}
		}
	}

	// gonum's Saxpy runs SIMD assembly on amd64 (a plain loop elsewhere):
	// on 5 tensors of 64×784 it is 2.5–3× faster than a Go loop, fused or
	// not (see BenchmarkCombine).
	var impl gonum.Implementation
	n := len(dst)
	clear(dst)
	for j, x := range vecs {
		impl.Saxpy(n, float32(coeffs[j]), x, 1, dst, 1)
	}

	// Any NaN or ±Inf in a tensor with a non-zero coefficient reaches the
	// sum (c·NaN is NaN, Inf−Inf is NaN), so checking dst finds them and
	// an overflow too. Saxpy skips a zero coefficient, so those tensors
	// are checked on their own.
	for j, x := range vecs {
		if float32(coeffs[j]) == 0 && !allFinite32(x) {
			i := firstNonFinite32(x)
			return &ValueError{Arg: fmt.Sprintf("%s[%d]", vname, j), Index: i, Value: float64(x[i])}
		}
	}
	if !allFinite32(dst) {
		i := firstNonFinite32(dst)
		for j, x := range vecs {
			if !finite32(x[i]) {
				return &ValueError{Arg: fmt.Sprintf("%s[%d]", vname, j), Index: i, Value: float64(x[i])}
			}
		}
		return &ValueError{Arg: "dst", Index: i, Value: float64(dst[i])}
	}
	return nil
}

// allFinite32 reports whether x holds no NaN and no infinity. Its fast
// path is a SIMD dot product: Σ x_i² is NaN or +Inf when some x_i is, so a
// finite sum proves x finite; a non-finite one (which large finite values
// can also cause) falls back to a scan.
func allFinite32(x []float32) bool {
	var impl gonum.Implementation
	if s := impl.Sdot(len(x), x, 1, x, 1); finite32(s) {
		return true
	}
	return firstNonFinite32(x) < 0
}

// firstNonFinite32 returns the index of the first NaN or infinity in x, or
// -1 when there is none.
func firstNonFinite32(x []float32) int {
	for i, v := range x {
		if !finite32(v) {
			return i
		}
	}
	return -1
}

// checkFinite returns a *ValueError for the first NaN or infinity in x.
func checkFinite(arg string, x []float64) error {
	for i, v := range x {
		if !finite64(v) {
			return &ValueError{Arg: arg, Index: i, Value: v}
		}
	}
	return nil
}

// checkFinite32 is checkFinite for float32.
func checkFinite32(arg string, x []float32) error {
	if i := firstNonFinite32(x); i >= 0 {
		return &ValueError{Arg: arg, Index: i, Value: float64(x[i])}
	}
	return nil
}

func finite64(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// finite32 reports whether v is neither NaN nor infinite: v−v is 0 for
// every finite v and NaN otherwise.
func finite32(v float32) bool { return v-v == 0 }
