package eval_test

import (
	"errors"
	"math"
	"testing"

	"gonum.org/v1/gonum/floats/scalar"
	"gonum.org/v1/gonum/mat"

	"github.com/fedgan/fedgan/eval"
)

func gaussian(mean []float64, cov []float64) *eval.Gaussian {
	return &eval.Gaussian{Mean: mean, Cov: mat.NewSymDense(len(mean), cov)}
}

// TestFrechet checks the Fréchet distance against closed forms worked out
// by hand.
func TestFrechet(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b *eval.Gaussian
		want float64
	}{
		{
			// Diagonal: ‖Δμ‖² + Σ(√a − √b)² = 5 + (1−2)² + (2−3)² = 7.
			name: "diagonal",
			a:    gaussian([]float64{0, 0}, []float64{1, 0, 0, 4}),
			b:    gaussian([]float64{1, 2}, []float64{4, 0, 0, 9}),
			want: 7,
		},
		{
			// Σ1 = I, Σ2 = [[2 1] [1 2]] (eigenvalues 3 and 1):
			// 2 + 4 − 2(√3 + 1) = 4 − 2√3.
			name: "identity and correlated",
			a:    gaussian([]float64{0, 0}, []float64{1, 0, 0, 1}),
			b:    gaussian([]float64{0, 0}, []float64{2, 1, 1, 2}),
			want: 4 - 2*math.Sqrt(3),
		},
		{
			// [[2 1] [1 2]] and [[2 −1] [−1 2]] commute (eigenvalues 3, 1
			// and 1, 3 on the same vectors): Tr (Σ1Σ2)^½ = 2√3, so
			// 4 + 4 − 4√3, plus ‖(3, −4)‖² = 25.
			name: "commuting",
			a:    gaussian([]float64{1, 1}, []float64{2, 1, 1, 2}),
			b:    gaussian([]float64{4, -3}, []float64{2, -1, -1, 2}),
			want: 25 + 8 - 4*math.Sqrt(3),
		},
		{
			// Σ1 = diag(1, 4), Σ2 = [[2 1] [1 2]] do not commute.
			// Σ1^½ Σ2 Σ1^½ = [[2 2] [2 8]]: trace 10, determinant 12, so
			// the sum of the square roots of its eigenvalues is
			// √(10 + 2√12) = √(10 + 4√3); FID = 5 + 4 − 2√(10 + 4√3).
			name: "non-commuting",
			a:    gaussian([]float64{0, 0}, []float64{1, 0, 0, 4}),
			b:    gaussian([]float64{0, 0}, []float64{2, 1, 1, 2}),
			want: 9 - 2*math.Sqrt(10+4*math.Sqrt(3)),
		},
		{
			// A singular covariance: the rounding of a zero eigenvalue
			// must not give NaN. Σ1 = Σ2 = [[1 1] [1 1]] → 0.
			name: "singular, equal",
			a:    gaussian([]float64{0, 0}, []float64{1, 1, 1, 1}),
			b:    gaussian([]float64{0, 0}, []float64{1, 1, 1, 1}),
			want: 0,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, order := range [][2]*eval.Gaussian{{tc.a, tc.b}, {tc.b, tc.a}} {
				got, err := eval.Frechet(order[0], order[1])
				if err != nil {
					t.Fatal(err)
				}
				if !scalar.EqualWithinAbsOrRel(got, tc.want, 1e-9, 1e-9) {
					t.Errorf("got %.12f, want %.12f", got, tc.want)
				}
			}
		})
	}
	if _, err := eval.Frechet(gaussian([]float64{0}, []float64{1}), gaussian([]float64{0, 0}, []float64{1, 0, 0, 1})); !errors.Is(err, eval.ErrData) {
		t.Errorf("dimensions 1 and 2: got %v, want ErrData", err)
	}
}

func TestFitGaussian(t *testing.T) {
	// The corners of a square of side 2 centred at (1, 1): mean (1, 1),
	// unbiased variances 4/3, no covariance.
	g, err := eval.FitGaussian([]float32{0, 0, 2, 0, 0, 2, 2, 2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{4.0 / 3, 0, 0, 4.0 / 3}
	for i, v := range want {
		if got := g.Cov.At(i/2, i%2); !scalar.EqualWithinAbsOrRel(got, v, 1e-12, 1e-12) {
			t.Errorf("cov[%d] = %g, want %g", i, got, v)
		}
	}
	if g.Mean[0] != 1 || g.Mean[1] != 1 || g.N != 4 {
		t.Errorf("mean %v of %d rows, want [1 1] of 4", g.Mean, g.N)
	}
	for _, bad := range []struct {
		x   []float32
		dim int
	}{{[]float32{1, 2}, 2}, {[]float32{1, 2, 3}, 2}, {[]float32{1, float32(math.NaN()), 3, 4}, 2}} {
		if _, err := eval.FitGaussian(bad.x, bad.dim); !errors.Is(err, eval.ErrData) {
			t.Errorf("FitGaussian(%v, %d): got %v, want ErrData", bad.x, bad.dim, err)
		}
	}
}

func TestInceptionScore(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    []float32
		k    int
		want float64
	}{
		{"confident and even", []float32{1, 0, 0, 0, 1, 0, 0, 0, 1}, 3, 3},
		{"all the same", []float32{0.2, 0.8, 0.2, 0.8}, 2, 1},
		// p̄ = (3/4, 1/4); KL of row 1 = ln(4/3), of row 2 = ½ln(2/3) + ½ln 2
		// = ½ln(4/3): IS = exp(¾ ln(4/3)).
		{"hand", []float32{1, 0, 0.5, 0.5}, 2, math.Pow(4.0/3, 0.75)},
	} {
		if got := eval.InceptionScore(tc.p, tc.k); !scalar.EqualWithinAbsOrRel(got, tc.want, 1e-6, 1e-6) {
			t.Errorf("%s: got %g, want %g", tc.name, got, tc.want)
		}
	}
	if got := eval.InceptionScore(nil, 3); !math.IsNaN(got) {
		t.Errorf("no rows: got %g, want NaN", got)
	}
}

func TestKL(t *testing.T) {
	for _, tc := range []struct {
		p, q []float64
		want float64
	}{
		{[]float64{0.5, 0.5}, []float64{0.25, 0.75}, 0.5*math.Log(2) + 0.5*math.Log(2.0/3)},
		{[]float64{1, 0}, []float64{0.5, 0.5}, math.Log(2)},
		{[]float64{0.3, 0.7}, []float64{0.3, 0.7}, 0},
		{[]float64{0.5, 0.5}, []float64{1, 0}, math.Inf(1)},
	} {
		if got := eval.KL(tc.p, tc.q); !(got == tc.want || scalar.EqualWithinAbsOrRel(got, tc.want, 1e-12, 1e-12)) {
			t.Errorf("KL(%v ‖ %v) = %g, want %g", tc.p, tc.q, got, tc.want)
		}
	}
}
