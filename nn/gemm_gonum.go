//go:build !openblas || !cgo

package nn

import "gonum.org/v1/gonum/blas"

// Backend names the implementation behind the matrix products:
// "gonum+avx512" or "gonum+avx2" in the default build on amd64 CPUs with
// AVX-512F or with AVX2 and FMA (nn's own kernels, with gonum for the
// edges), "gonum" elsewhere (pure Go, as on ARM boards), "openblas" when
// built with -tags openblas and cgo.
func Backend() string {
	switch {
	case haveAVX512:
		return "gonum+avx512"
	case haveFMA:
		return "gonum+avx2"
	}
	return "gonum"
}

func gemmNN(c, a, b []float32, m, n, k int, beta float32, s *scratch) {
	if haveFMA {
		tiledGemm(blas.NoTrans, c, a, b, m, n, k, beta, s)
		return
	}
	gonumGemm(blas.NoTrans, blas.NoTrans, m, n, k, a, k, b, n, beta, c, n)
}

func gemmTN(c, a, b []float32, m, n, k int, s *scratch) {
	if haveFMA {
		tiledGemm(blas.Trans, c, a, b, m, n, k, 1, s)
		return
	}
	gonumGemm(blas.Trans, blas.NoTrans, m, n, k, a, m, b, n, 1, c, n)
}

// gemmNT computes c = a·bᵀ. The kernel wants b's rows along its vector
// lanes, so with the kernel it computes cᵀ = b·aᵀ from a transposed copy
// of the (small, batch-sized) a and transposes the result back.
func gemmNT(c, a, b []float32, m, n, k int, s *scratch) {
	if haveFMA {
		s.t1 = grow(s.t1, k*m)
		s.t2 = grow(s.t2, n*m)
		transposeFast(s.t1, a, m, k)                          // aᵀ: k×m
		tiledGemm(blas.NoTrans, s.t2, b, s.t1, n, m, k, 0, s) // cᵀ = b·aᵀ: n×m
		transposeFast(c, s.t2, n, m)
		return
	}
	// gonum's transposed-B kernel is built on its alignment-dependent dot
	// product; transpose b and use the axpy-based plain kernel.
	s.t1 = grow(s.t1, k*n)
	transposeFast(s.t1, b, n, k) // bᵀ: k×n
	gonumGemm(blas.NoTrans, blas.NoTrans, m, n, k, a, k, s.t1, n, 0, c, n)
}
