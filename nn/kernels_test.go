package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestGemmOps checks gemmNN, gemmTN and gemmNT (whichever kernels this
// build and CPU use) against a float64 triple loop, on shapes that
// exercise the 4×16 tiles and every edge.
func TestGemmOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	randv := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	for _, sz := range [][3]int{{1, 1, 1}, {4, 16, 1}, {4, 16, 7}, {5, 17, 3}, {8, 32, 33}, {3, 15, 9}, {13, 50, 21}, {64, 100, 37}, {12, 80, 5}, {8, 48, 64}} {
		m, n, k := sz[0], sz[1], sz[2]
		t.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(t *testing.T) {
			a, b := randv(m*k), randv(k*n) // a m×k, b k×n
			c0 := randv(m * n)
			var s scratch
			// want = a·b
			want := make([]float64, m*n)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var sum float64
					for l := 0; l < k; l++ {
						sum += float64(a[i*k+l]) * float64(b[l*n+j])
					}
					want[i*n+j] = sum
				}
			}
			check := func(name string, got []float32, add []float32) {
				t.Helper()
				for i := range want {
					w := want[i]
					if add != nil {
						w += float64(add[i])
					}
					if d := math.Abs(float64(got[i]) - w); d > 1e-4*math.Max(1, math.Abs(w))*math.Sqrt(float64(k+1)) {
						t.Fatalf("%s: c[%d] = %v, want %v", name, i, got[i], w)
					}
				}
			}
			c := append([]float32(nil), c0...)
			gemmNN(c, a, b, m, n, k, 0, &s)
			check("NN beta=0", c, nil)
			c = append([]float32(nil), c0...)
			gemmNN(c, a, b, m, n, k, 1, &s)
			check("NN beta=1", c, c0)

			at := make([]float32, k*m) // aᵀ, k×m
			transpose(at, a, m, k)
			c = append([]float32(nil), c0...)
			gemmTN(c, at, b, m, n, k, &s)
			check("TN", c, c0)

			// Both tile widths of the assembly kernels, whatever this CPU
			// picks by default.
			for _, wide := range []bool{false, true} {
				if !haveFMA || wide && !haveAVX512 {
					continue
				}
				c = append([]float32(nil), c0...)
				tiledGemmWith(wide, blas.NoTrans, c, a, b, m, n, k, 1, &s)
				check(fmt.Sprintf("tiled wide=%v NN", wide), c, c0)
				c = append([]float32(nil), c0...)
				tiledGemmWith(wide, blas.Trans, c, at, b, m, n, k, 0, &s)
				check(fmt.Sprintf("tiled wide=%v TN", wide), c, nil)
			}

			bt := make([]float32, n*k) // bᵀ, n×k
			transpose(bt, b, k, n)
			c = append([]float32(nil), c0...)
			gemmNT(c, a, bt, m, n, k, &s)
			check("NT", c, nil)
		})
	}
}

func TestTranspose(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6} // 2×3
	got := make([]float32, 6)
	transpose(got, a, 2, 3)
	if want := []float32{1, 4, 2, 5, 3, 6}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestTransposeFast checks the SSE transpose against the portable one on
// every shape up to 9×9, edges included.
func TestTransposeFast(t *testing.T) {
	for r := 0; r <= 9; r++ {
		for c := 0; c <= 9; c++ {
			a := make([]float32, r*c)
			for i := range a {
				a[i] = float32(i + 1)
			}
			got, want := make([]float32, r*c), make([]float32, r*c)
			transposeFast(got, a, r, c)
			transpose(want, a, r, c)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%d×%d: got %v, want %v", r, c, got, want)
			}
		}
	}
}
