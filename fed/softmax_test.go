package fed_test

import (
	"errors"
	"math"
	"math/rand"
	"reflect"
	"testing"
	"testing/quick"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/fedgan/fedgan/fed"
)

// The reference values below were computed to 50 significant digits with
// Python's decimal module (getcontext().prec = 50; Decimal(x).exp()),
// e.g. for x = [-0.5, -1.0]:
//
//	w_0 = e^-0.5 / (e^-0.5 + e^-1) = 1 / (1 + e^-0.5)
//	    = 1 / (1 + 0.60653065971263342360...) = 0.62245933120185456463...
//	w_1 = 1 − w_0 = 0.37754066879814543536...
func TestSoftmaxHighPrecision(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    []float64
		want []float64
	}{
		{
			name: "two losses",
			x:    []float64{-0.5, -1.0},
			want: []float64{
				0.62245933120185456463890056574550847875327936530891,
				0.37754066879814543536109943425449152124672063469109,
			},
		},
		{
			// e^i / Σ_{k=1..5} e^k, the values of gonum's TestLogSumExp.
			name: "one to five",
			x:    []float64{1, 2, 3, 4, 5},
			want: []float64{
				0.011656230956039607394870913465695854620350306721819,
				0.031684920796124268912361094702101937103476307752618,
				0.086128544436268704938485420408633764911722467937020,
				0.23412165725273662271136472180759087781013698291029,
				0.63640864655883079604291784961597756555431393467826,
			},
		},
		{
			// exp(-1001) underflows to 0 in float64: computed naively, this is 0/0.
			name: "would underflow",
			x:    []float64{-1001, -1002, -1003, -1004, -1005},
			want: []float64{
				0.63640864655883079604291784961597756555431393467824,
				0.23412165725273662271136472180759087781013698291029,
				0.086128544436268704938485420408633764911722467937020,
				0.031684920796124268912361094702101937103476307752618,
				0.011656230956039607394870913465695854620350306721819,
			},
		},
		{
			// exp(1000) overflows to +Inf: computed naively, this is Inf/Inf.
			// e^1000/(e^1000 + e^1001) = 1/(1 + e) = 0.26894142136999512...
			name: "would overflow",
			x:    []float64{1000, 1001},
			want: []float64{
				0.26894142136999512074884075817816372563485535983494,
				0.73105857863000487925115924182183627436514464016506,
			},
		},
		{
			// A weight in the subnormal range: e^-720/(1 + e^-720) ≈ e^-720 =
			// 2.0322e-313 (float64's smallest normal is 2.2e-308).
			name: "subnormal weight",
			x:    []float64{0, -720},
			want: []float64{1, 2.0322308024242931e-313},
		},
		{
			// e^-2000 is far below the smallest subnormal (4.9e-324): weight 0.
			name: "weight underflows to zero",
			x:    []float64{1000, -1000},
			want: []float64{1, 0},
		},
		{
			name: "largest magnitudes",
			x:    []float64{math.MaxFloat64, -math.MaxFloat64, math.MaxFloat64},
			want: []float64{0.5, 0, 0.5},
		},
		{
			name: "all at the most negative",
			x:    []float64{-math.MaxFloat64, -math.MaxFloat64, -math.MaxFloat64, -math.MaxFloat64},
			want: []float64{0.25, 0.25, 0.25, 0.25},
		},
		{
			name: "smallest subnormals",
			x:    []float64{math.SmallestNonzeroFloat64, -math.SmallestNonzeroFloat64},
			want: []float64{0.5, 0.5},
		},
		{
			name: "single",
			x:    []float64{-42},
			want: []float64{1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fed.Softmax(nil, tc.x)
			if err != nil {
				t.Fatalf("Softmax(%v): got error %v, want nil", tc.x, err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("Softmax(%v): got %d weights, want %d", tc.x, len(got), len(tc.want))
			}
			for i := range got {
				// 1e-14 relative: a few ulps of exp, sum and division. The
				// absolute 1e-320 only matters for the subnormal weight, which
				// carries fewer significant bits.
				if !scalar.EqualWithinAbsOrRel(got[i], tc.want[i], 1e-320, 1e-14) {
					t.Errorf("Softmax(%v)[%d]: got %.17g, want %.17g", tc.x, i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSoftmaxErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		x     []float64
		want  error
		index int // for *ValueError
	}{
		{"nil", nil, fed.ErrEmpty, 0},
		{"empty", []float64{}, fed.ErrEmpty, 0},
		{"NaN", []float64{0, math.NaN()}, fed.ErrNonFinite, 1},
		{"+Inf", []float64{math.Inf(1), 1, 2}, fed.ErrNonFinite, 0},
		{"-Inf", []float64{1, 2, 3, 4, 5, math.Inf(-1)}, fed.ErrNonFinite, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []float64{7, 7, 7, 7, 7, 7, 7}
			got, err := fed.Softmax(dst, tc.x)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Softmax(%v): got error %v, want %v", tc.x, err, tc.want)
			}
			if got != nil {
				t.Errorf("Softmax(%v): got %v with the error, want nil", tc.x, got)
			}
			for i, v := range dst {
				if v != 7 {
					t.Errorf("Softmax(%v): dst[%d] = %v after the error, want it untouched (7)", tc.x, i, v)
				}
			}
			if tc.want != fed.ErrNonFinite {
				return
			}
			var ve *fed.ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("Softmax(%v): got %T, want *fed.ValueError", tc.x, err)
			}
			if ve.Arg != "x" || ve.Index != tc.index {
				t.Errorf("Softmax(%v): got ValueError{Arg: %q, Index: %d}, want {Arg: \"x\", Index: %d}", tc.x, ve.Arg, ve.Index, tc.index)
			}
		})
	}
}

func TestSoftmaxDst(t *testing.T) {
	x := []float64{-0.5, -1.0}
	want := []float64{0.6224593312018546, 0.3775406687981454} // see TestSoftmaxHighPrecision

	t.Run("reuses capacity", func(t *testing.T) {
		buf := make([]float64, 1, 8)
		got, err := fed.Softmax(buf, x)
		if err != nil {
			t.Fatal(err)
		}
		if &got[0] != &buf[0] {
			t.Errorf("Softmax: got a new array, want dst's (cap %d ≥ %d)", cap(buf), len(x))
		}
		eqCheckSlice(t, "Softmax", got, want, 1e-15)
	})
	t.Run("grows", func(t *testing.T) {
		buf := make([]float64, 1)
		got, err := fed.Softmax(buf, x)
		if err != nil {
			t.Fatal(err)
		}
		eqCheckSlice(t, "Softmax", got, want, 1e-15)
	})
	t.Run("in place", func(t *testing.T) {
		y := []float64{-0.5, -1.0}
		got, err := fed.Softmax(y, y)
		if err != nil {
			t.Fatal(err)
		}
		if &got[0] != &y[0] {
			t.Errorf("Softmax(y, y): got a new array, want y's")
		}
		eqCheckSlice(t, "Softmax", got, want, 1e-15)
	})
	t.Run("shrinks", func(t *testing.T) {
		buf := []float64{9, 9, 9, 9}
		got, err := fed.Softmax(buf, x)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("Softmax: got len %d, want 2", len(got))
		}
	})
}

// eqLosses is a set of losses for testing/quick: mostly the values a
// generator loss log(1 − D) takes, with ties, and now and then extremes
// up to ±MaxFloat64.
type eqLosses []float64

func (eqLosses) Generate(r *rand.Rand, size int) reflect.Value {
	n := 1 + r.Intn(12)
	x := make(eqLosses, n)
	for i := range x {
		switch p := r.Intn(20); {
		case p == 0:
			x[i] = []float64{1000, -1000, 1e300, -1e300, math.MaxFloat64, -math.MaxFloat64, 745, -745}[r.Intn(8)]
		case p <= 3 && i > 0:
			x[i] = x[r.Intn(i)] // a tie
		case p <= 5:
			x[i] = r.NormFloat64() * 50
		default:
			x[i] = -r.ExpFloat64() * 2 // log(1 − D) ≤ 0
		}
	}
	return reflect.ValueOf(x)
}

// moderate reports whether all of x lie within ±1000, where log-sum-exp
// references are accurate to about 1e-13.
func (x eqLosses) moderate() bool {
	for _, v := range x {
		if math.Abs(v) > 1000 {
			return false
		}
	}
	return true
}

func eqQuickConfig(t *testing.T) *quick.Config {
	n := 2000
	if testing.Short() {
		n = 200
	}
	return &quick.Config{MaxCount: n, Rand: rand.New(rand.NewSource(1))}
}

func TestSoftmaxQuick(t *testing.T) {
	cfg := eqQuickConfig(t)
	t.Run("finite, in [0, 1], sum to 1", func(t *testing.T) {
		f := func(x eqLosses) bool {
			w, err := fed.Softmax(nil, x)
			if err != nil {
				t.Logf("Softmax(%v): %v", x, err)
				return false
			}
			var sum float64
			for _, v := range w {
				if math.IsNaN(v) || v < 0 || v > 1 {
					t.Logf("Softmax(%v): weight %v", x, v)
					return false
				}
				sum += v
			}
			if math.Abs(sum-1) > 1e-14 {
				t.Logf("Softmax(%v): sum %.17g, want 1", x, sum)
				return false
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("equal losses, equal weights", func(t *testing.T) {
		f := func(v float64, n uint8) bool {
			x := make([]float64, 1+int(n)%16)
			for i := range x {
				x[i] = v
			}
			w, err := fed.Softmax(nil, x)
			if err != nil {
				return false
			}
			for _, wi := range w {
				if wi != w[0] || wi != 1/float64(len(x)) {
					t.Logf("Softmax(%d × %v): got %v, want all 1/%d", len(x), v, w, len(x))
					return false
				}
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("a larger loss never gets a smaller weight", func(t *testing.T) {
		f := func(x eqLosses) bool {
			w, err := fed.Softmax(nil, x)
			if err != nil {
				return false
			}
			for i := range x {
				for j := range x {
					if x[i] > x[j] && w[i] < w[j] {
						t.Logf("Softmax(%v): x[%d] > x[%d] but w %v < %v", x, i, j, w[i], w[j])
						return false
					}
				}
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("matches exp(x - LogSumExp(x))", func(t *testing.T) {
		f := func(x eqLosses) bool {
			if !x.moderate() {
				return true
			}
			w, err := fed.Softmax(nil, x)
			if err != nil {
				return false
			}
			lse := floats.LogSumExp(x)
			for i := range x {
				want := math.Exp(x[i] - lse)
				if !scalar.EqualWithinAbsOrRel(w[i], want, 1e-300, 1e-12) {
					t.Logf("Softmax(%v)[%d]: got %.17g, want %.17g", x, i, w[i], want)
					return false
				}
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("shift invariant", func(t *testing.T) {
		// softmax(x + c) = softmax(x): subtracting the maximum makes this
		// hold to rounding of x + c, even where exp(x + c) overflows.
		f := func(x eqLosses, c int16) bool {
			if !x.moderate() {
				return true
			}
			y := make([]float64, len(x))
			for i := range x {
				y[i] = x[i] + float64(c)
			}
			wx, err1 := fed.Softmax(nil, x)
			wy, err2 := fed.Softmax(nil, y)
			if err1 != nil || err2 != nil {
				return false
			}
			for i := range wx {
				// x[i] + c loses up to ulp(|x|+|c|) ≈ 1e-12; it moves the weight
				// by as much, relatively.
				if !scalar.EqualWithinAbsOrRel(wx[i], wy[i], 1e-300, 1e-10) {
					t.Logf("Softmax(%v) vs shifted by %d: [%d] %v, %v", x, c, i, wx[i], wy[i])
					return false
				}
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
}

// eqCheckSlice fails t unless got and want have the same length and agree
// elementwise within tol, absolute or relative.
func eqCheckSlice(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if !scalar.EqualWithinAbsOrRel(got[i], want[i], tol, tol) {
			t.Errorf("%s[%d]: got %.17g, want %.17g", what, i, got[i], want[i])
		}
	}
}

// eqCheckSlice32 is eqCheckSlice for float32 results.
func eqCheckSlice32(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values %v, want %d %v", what, len(got), got, len(want), want)
	}
	for i := range got {
		if !scalar.EqualWithinAbsOrRel(float64(got[i]), want[i], tol, tol) {
			t.Errorf("%s[%d]: got %.9g, want %.9g", what, i, got[i], want[i])
		}
	}
}
