//go:build openblas && cgo

package nn

// The openblas build points gonum's blas32 at OpenBLAS through gonum's
// netlib cgo bindings; package internal/openblas links the library.

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/netlib/blas/netlib"

	_ "github.com/fedgan/fedgan/nn/internal/openblas"
)

// Backend names the implementation behind the matrix products:
// "openblas" in this build; see the default build's documentation.
func Backend() string { return "openblas" }

func init() {
	blas32.Use(netlib.Implementation{})
}

func gemmNN(c, a, b []float32, m, n, k int, beta float32, _ *scratch) {
	netlib.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, b, n, beta, c, n)
}

// gemmTN accumulates c += aᵀ·b. OpenBLAS's transposed-A kernel gets
// slower, not faster, with two threads; for large a, copying aᵀ first and
// running the plain kernel is faster. Measured with OpenBLAS 0.3.21 on two
// cores, the copy pays off for the largest input (128×784) and not for
// the smaller ones.
func gemmTN(c, a, b []float32, m, n, k int, s *scratch) {
	if k*m <= 1<<16 {
		netlib.Implementation{}.Sgemm(blas.Trans, blas.NoTrans, m, n, k, 1, a, m, b, n, 1, c, n)
		return
	}
	s.t1 = grow(s.t1, k*m)
	transposeFast(s.t1, a, k, m)
	netlib.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, s.t1, k, b, n, 1, c, n)
}

func gemmNT(c, a, b []float32, m, n, k int, _ *scratch) {
	netlib.Implementation{}.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, a, k, b, k, 0, c, n)
}
