package fed_test

import (
	"errors"
	"math"
	"math/rand"
	"testing"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/fedgan/fedgan/fed"
)

// TestDomainInvariant follows Eq. 8 by hand for K = 3 domains, 2 rows of
// 2 columns:
//
//	H_0 = [0 0; 1 1],  H_1 = [3 4; 1 1],  H_2 = [0 0; 1 2]
//
//	row 0: ‖H_0 − H_1‖ = ‖(−3, −4)‖ = 5, ‖H_0 − H_2‖ = 0, ‖H_1 − H_2‖ = ‖(3, 4)‖ = 5
//	row 1: ‖H_0 − H_1‖ = 0, ‖H_0 − H_2‖ = ‖(0, −1)‖ = 1, ‖H_1 − H_2‖ = ‖(0, −1)‖ = 1
//	L_inv = (5 + 0 + 5 + 0 + 1 + 1)/2 = 6
//
// Gradients, (a − b)/‖a − b‖ per pair, 0 for a zero difference, over 2 rows:
//
//	row 0: ∂/∂H_0 = (−3, −4)/5 / 2                 = (−0.3, −0.4)
//	       ∂/∂H_1 = [(3, 4)/5 + (3, 4)/5] / 2      = (0.6, 0.8)
//	       ∂/∂H_2 = (−3, −4)/5 / 2                 = (−0.3, −0.4)
//	row 1: ∂/∂H_0 = (0, −1)/1 / 2                  = (0, −0.5)
//	       ∂/∂H_1 = (0, −1)/1 / 2                  = (0, −0.5)
//	       ∂/∂H_2 = [(0, 1) + (0, 1)] / 2          = (0, 1)
func TestDomainInvariant(t *testing.T) {
	h := [][]float32{{0, 0, 1, 1}, {3, 4, 1, 1}, {0, 0, 1, 2}}
	dst := [][]float32{{9, 9, 9, 9}, {9, 9, 9, 9}, {9, 9, 9, 9}}
	got, err := fed.DomainInvariant(dst, h, 2, 2)
	if err != nil {
		t.Fatalf("DomainInvariant: %v", err)
	}
	if got != 6 {
		t.Errorf("DomainInvariant: got %v, want 6", got)
	}
	eqCheckSlice32(t, "dst[0]", dst[0], []float64{-0.3, -0.4, 0, -0.5}, 1e-7)
	eqCheckSlice32(t, "dst[1]", dst[1], []float64{0.6, 0.8, 0, -0.5}, 1e-7)
	eqCheckSlice32(t, "dst[2]", dst[2], []float64{-0.3, -0.4, 0, 1}, 1e-7)

	// Without dst: the same loss, nothing written.
	got, err = fed.DomainInvariant(nil, h, 2, 2)
	if err != nil || got != 6 {
		t.Errorf("DomainInvariant(nil, …): got %v, %v, want 6, nil", got, err)
	}
}

func TestDomainInvariantDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    [][]float32
	}{
		{"one domain", [][]float32{{1, 2, 3, 4, 5, 6}}},
		{"identical domains", [][]float32{{1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 6}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([][]float32, len(tc.h))
			for k := range dst {
				dst[k] = []float32{9, 9, 9, 9, 9, 9}
			}
			got, err := fed.DomainInvariant(dst, tc.h, 3, 2)
			if err != nil || got != 0 {
				t.Fatalf("DomainInvariant: got %v, %v, want 0, nil", got, err)
			}
			for k := range dst {
				eqCheckSlice32(t, "dst", dst[k], []float64{0, 0, 0, 0, 0, 0}, 0)
			}
		})
	}
}

// eqDyadic fills x with random multiples of 2^-8 in [-a, a]: such values
// and their neighbours at ±2^-10 are exact in float32, so finite
// differences in float64 see exactly the points DomainInvariant sees.
func eqDyadic(r *rand.Rand, x []float64, a float64) {
	for i := range x {
		x[i] = math.Round((2*r.Float64()-1)*a*256) / 256
	}
}

func eqSplit32(x []float64, k, n int) [][]float32 {
	out := make([][]float32, k)
	for i := range out {
		out[i] = make([]float32, n)
		for j := range out[i] {
			out[i][j] = float32(x[i*n+j])
		}
	}
	return out
}

// TestDomainInvariantGradient checks ∂L_inv/∂H_k against central finite
// differences, and that the gradients sum to 0 over k (L_inv depends only
// on differences).
func TestDomainInvariantGradient(t *testing.T) {
	const K, rows, cols = 3, 4, 5
	r := rand.New(rand.NewSource(1))
	for range 5 {
		x := make([]float64, K*rows*cols)
		eqDyadic(r, x, 2)
		f := func(x []float64) float64 {
			l, err := fed.DomainInvariant(nil, eqSplit32(x, K, rows*cols), rows, cols)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		want := fd.Gradient(nil, f, x, &fd.Settings{Formula: fd.Central, Step: 1.0 / 1024})
		dst := eqSplit32(make([]float64, K*rows*cols), K, rows*cols)
		if _, err := fed.DomainInvariant(dst, eqSplit32(x, K, rows*cols), rows, cols); err != nil {
			t.Fatal(err)
		}
		for k := range K {
			for i := range rows * cols {
				// Central differences with step 2^-10 on norms of size ~1:
				// truncation error ~step²·f''' ≈ 1e-6.
				if g := float64(dst[k][i]); !scalar.EqualWithinAbsOrRel(g, want[k*rows*cols+i], 1e-4, 1e-4) {
					t.Errorf("∂L_inv/∂H_%d[%d]: got %.8g, want %.8g (finite differences)", k, i, g, want[k*rows*cols+i])
				}
			}
		}
		for i := range rows * cols {
			var sum float64
			for k := range K {
				sum += float64(dst[k][i])
			}
			if math.Abs(sum) > 1e-6 {
				t.Errorf("Σ_k ∂L_inv/∂H_k[%d]: got %v, want 0", i, sum)
			}
		}
	}
}

// TestDomainSpecific follows Eq. 9 by hand for K = 2 domains and one row:
//
//	a_0 = [0, 0] (domain 0): CE = log(e^0 + e^0) − 0 = log 2 = 0.6931471805599453
//	a_1 = [2, 0] (domain 1): CE = log(e^2 + e^0) − 0 = 2.1269280110429727
//	L_spe = 0.6931471805599453 + 2.1269280110429727 = 2.820075191602918
//
// and ∂L_spe/∂a_k = softmax(a_k) − onehot(k):
//
//	∂/∂a_0 = [0.5 − 1, 0.5] = [−0.5, 0.5]
//	∂/∂a_1 = [e²/(e² + 1), 1/(e² + 1) − 1] = [0.8807970779778824, −0.8807970779778824]
func TestDomainSpecific(t *testing.T) {
	logits := [][]float32{{0, 0}, {2, 0}}
	dst := [][]float32{{9, 9}, {9, 9}}
	got, err := fed.DomainSpecific(dst, logits, 1, 2)
	if err != nil {
		t.Fatalf("DomainSpecific: %v", err)
	}
	if !scalar.EqualWithinAbsOrRel(got, 2.820075191602918, 1e-15, 1e-15) {
		t.Errorf("DomainSpecific: got %.17g, want 2.820075191602918", got)
	}
	eqCheckSlice32(t, "dst[0]", dst[0], []float64{-0.5, 0.5}, 1e-7)
	eqCheckSlice32(t, "dst[1]", dst[1], []float64{0.8807970779778824, -0.8807970779778824}, 1e-7)

	// In place: the gradient replaces the logits.
	if _, err := fed.DomainSpecific(logits, logits, 1, 2); err != nil {
		t.Fatal(err)
	}
	eqCheckSlice32(t, "in place [0]", logits[0], []float64{-0.5, 0.5}, 1e-7)
	eqCheckSlice32(t, "in place [1]", logits[1], []float64{0.8807970779778824, -0.8807970779778824}, 1e-7)
}

// TestDomainSpecificLarge checks logits whose exponentials overflow:
//
//	a_0 = [1000, −1000] (domain 0): CE = log(e^1000 + e^-1000) − 1000 = log(1 + e^-2000) ≈ 0
//	a_1 = [1000, 0]     (domain 1): CE = log(e^1000 + 1) − 0 = 1000 + log(1 + e^-1000) ≈ 1000
//	L_spe = 1000, ∂/∂a_0 = [1 − 1, 0] = [0, 0], ∂/∂a_1 = [1, 0 − 1] = [1, −1]
func TestDomainSpecificLarge(t *testing.T) {
	dst := [][]float32{{9, 9}, {9, 9}}
	got, err := fed.DomainSpecific(dst, [][]float32{{1000, -1000}, {1000, 0}}, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got != 1000 {
		t.Errorf("DomainSpecific: got %v, want 1000", got)
	}
	eqCheckSlice32(t, "dst[0]", dst[0], []float64{0, 0}, 0)
	eqCheckSlice32(t, "dst[1]", dst[1], []float64{1, -1}, 0)
}

// TestDomainSpecificGradient checks ∂L_spe/∂a_k against central finite
// differences.
func TestDomainSpecificGradient(t *testing.T) {
	const K, rows = 3, 4
	r := rand.New(rand.NewSource(2))
	for range 5 {
		x := make([]float64, K*rows*K)
		eqDyadic(r, x, 4)
		f := func(x []float64) float64 {
			l, err := fed.DomainSpecific(nil, eqSplit32(x, K, rows*K), rows, K)
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		want := fd.Gradient(nil, f, x, &fd.Settings{Formula: fd.Central, Step: 1.0 / 1024})
		dst := eqSplit32(make([]float64, K*rows*K), K, rows*K)
		if _, err := fed.DomainSpecific(dst, eqSplit32(x, K, rows*K), rows, K); err != nil {
			t.Fatal(err)
		}
		for k := range K {
			for i := range rows * K {
				if g := float64(dst[k][i]); !scalar.EqualWithinAbsOrRel(g, want[k*rows*K+i], 1e-5, 1e-5) {
					t.Errorf("∂L_spe/∂a_%d[%d]: got %.8g, want %.8g (finite differences)", k, i, g, want[k*rows*K+i])
				}
			}
		}
	}
}

func TestDomainErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	mats := func(k, n int) [][]float32 {
		m := make([][]float32, k)
		for i := range m {
			m[i] = make([]float32, n)
			for j := range m[i] {
				m[i][j] = 9
			}
		}
		return m
	}
	for _, tc := range []struct {
		name       string
		dst, in    [][]float32
		rows, cols int
		want       error
		arg        string
	}{
		{"no domains", nil, nil, 2, 2, fed.ErrEmpty, ""},
		{"no rows", nil, mats(2, 0), 0, 2, fed.ErrEmpty, ""},
		{"negative cols", nil, mats(2, 0), 2, -1, fed.ErrEmpty, ""},
		{"short h[1]", nil, [][]float32{make([]float32, 4), make([]float32, 3)}, 2, 2, fed.ErrLength, "h[1]"},
		{"dst count", mats(1, 4), mats(2, 4), 2, 2, fed.ErrLength, "dst"},
		{"short dst[1]", [][]float32{make([]float32, 4), make([]float32, 1)}, mats(2, 4), 2, 2, fed.ErrLength, "dst[1]"},
		{"NaN", mats(2, 4), [][]float32{{1, 2, 3, 4}, {1, 2, nan, 4}}, 2, 2, fed.ErrNonFinite, "h[1]"},
		{"Inf", mats(2, 4), [][]float32{{1, -inf, 3, 4}, {1, 2, 3, 4}}, 2, 2, fed.ErrNonFinite, "h[0]"},
	} {
		t.Run("DomainInvariant/"+tc.name, func(t *testing.T) {
			before := eqClone(tc.dst)
			_, err := fed.DomainInvariant(tc.dst, tc.in, tc.rows, tc.cols)
			eqCheckDomainErr(t, err, tc.want, tc.arg, tc.dst, before)
		})
	}
	for _, tc := range []struct {
		name    string
		dst, in [][]float32
		rows, K int
		want    error
		arg     string
	}{
		{"no domains", nil, nil, 2, 0, fed.ErrEmpty, ""},
		{"no rows", nil, mats(2, 0), 0, 2, fed.ErrEmpty, ""},
		{"logits count", nil, mats(3, 4), 2, 2, fed.ErrLength, "logits"},
		{"short logits[0]", nil, [][]float32{make([]float32, 3), make([]float32, 4)}, 2, 2, fed.ErrLength, "logits[0]"},
		{"dst count", mats(3, 4), mats(2, 4), 2, 2, fed.ErrLength, "dst"},
		{"long dst[0]", [][]float32{make([]float32, 5), make([]float32, 4)}, mats(2, 4), 2, 2, fed.ErrLength, "dst[0]"},
		{"NaN", mats(2, 4), [][]float32{{1, 2, 3, nan}, {1, 2, 3, 4}}, 2, 2, fed.ErrNonFinite, "logits[0]"},
		{"Inf", mats(2, 4), [][]float32{{1, 2, 3, 4}, {inf, 2, 3, 4}}, 2, 2, fed.ErrNonFinite, "logits[1]"},
	} {
		t.Run("DomainSpecific/"+tc.name, func(t *testing.T) {
			before := eqClone(tc.dst)
			_, err := fed.DomainSpecific(tc.dst, tc.in, tc.rows, tc.K)
			eqCheckDomainErr(t, err, tc.want, tc.arg, tc.dst, before)
		})
	}
}

// eqCheckDomainErr checks err against want and arg, and that dst still
// equals before: an error leaves dst unwritten.
func eqCheckDomainErr(t *testing.T, err, want error, arg string, dst, before [][]float32) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
	var le *fed.LengthError
	var ve *fed.ValueError
	switch {
	case errors.As(err, &le):
		if le.Arg != arg {
			t.Errorf("got LengthError.Arg %q, want %q", le.Arg, arg)
		}
	case errors.As(err, &ve):
		if ve.Arg != arg {
			t.Errorf("got ValueError.Arg %q, want %q", ve.Arg, arg)
		}
	}
	for k := range dst {
		for i, v := range dst[k] {
			if v != before[k][i] {
				t.Errorf("dst[%d][%d] = %v after the error, want it untouched (%v)", k, i, v, before[k][i])
			}
		}
	}
}

func eqClone(m [][]float32) [][]float32 {
	out := make([][]float32, len(m))
	for k := range m {
		out[k] = append([]float32(nil), m[k]...)
	}
	return out
}
