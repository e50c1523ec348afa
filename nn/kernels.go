package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Reproducibility: every product here sums each output element in an
// order fixed by the shapes alone. gonum's assembly dot product does not
// (it depends on operand alignment), so nn never calls gonum routines
// built on it: Sdot, Sgemv without transpose and Sgemm with a transposed
// B. The gonum paths below use only its axpy-based kernels.

// The matrix products of a Dense layer, on dense row-major operands:
//
//	gemmNN  c = a·b + beta·c   a m×k, b k×n  (forward)
//	gemmTN  c += aᵀ·b          a k×m, b k×n  (weight gradient)
//	gemmNT  c = a·bᵀ           a m×k, b n×k  (input gradient)
//
// Each build (gemm_gonum.go, openblas.go) implements them; beta is 0 or 1.
// scratch is per-layer working space that they may grow.
type scratch struct {
	t1, t2 []float32
	pa, pb []float32 // packed panels of tiledGemm
}

// denseForward computes y = x·w + b for an n×in x, in×out w and out b.
func denseForward(y, x, w, b []float32, n, in, out int, s *scratch) {
	y = y[:n*out]
	if out == 1 {
		// A one-column GEMM runs far below peak (0.6 GFLOPS measured with
		// OpenBLAS for 256→1): use dot products, in Go so that the
		// summation order is fixed (see dot).
		w = w[:in]
		for i := range y {
			y[i] = b[0] + dot(x[i*in:(i+1)*in], w)
		}
		return
	}
	for i := 0; i < n; i++ {
		copy(y[i*out:(i+1)*out], b)
	}
	gemmNN(y, x, w, n, out, in, 1, s)
}

// denseWeightGrad accumulates gw += xᵀ·dy.
func denseWeightGrad(gw, x, dy []float32, n, in, out int, s *scratch) {
	if out == 1 {
		gw = gw[:in]
		for i := 0; i < n; i++ {
			g := dy[i]
			for k, v := range x[i*in : (i+1)*in] {
				gw[k] += g * v
			}
		}
		return
	}
	gemmTN(gw, x, dy, in, out, n, s)
}

// dot returns Σ a[i]·b[i] (len(b) >= len(a)) summed in a fixed order:
// four interleaved partial sums, then the tail. gonum's assembly dot
// product splits its sums by the 16-byte alignment of its operands, which
// depends on where the allocator put them, so it is not reproducible from
// run to run; this is.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// denseInputGrad computes dx = dy·wᵀ.
func denseInputGrad(dx, dy, w []float32, n, in, out int, s *scratch) {
	if out == 1 {
		w = w[:in]
		for i := 0; i < n; i++ {
			g := dy[i]
			row := dx[i*in : (i+1)*in]
			for k, v := range w {
				row[k] = g * v
			}
		}
		return
	}
	gemmNT(dx, dy, w, n, in, out, s)
}

// transpose writes the c×r transpose of the r×c matrix a into dst.
func transpose(dst, a []float32, r, c int) {
	const bs = 32 // cache blocks
	dst = dst[:r*c]
	a = a[:r*c]
	for i0 := 0; i0 < r; i0 += bs {
		i1 := min(i0+bs, r)
		for j0 := 0; j0 < c; j0 += bs {
			j1 := min(j0+bs, c)
			for i := i0; i < i1; i++ {
				row := a[i*c+j0 : i*c+j1]
				for j, v := range row {
					dst[(j0+j)*r+i] = v
				}
			}
		}
	}
}

// gonumGemm computes C = op(A)·op(B) + beta·C (C is m×n) with gonum's
// native implementation (tB must be NoTrans, see above), in panels of at most 64×192 elements of C.
// gonum's Sgemm computes panels that small serially, without the
// goroutines, channel and closures of its parallel path, so nothing is
// allocated.
func gonumGemm(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	const pm, pn = 64, 192
	impl := gonum.Implementation{}
	for i := 0; i < m; i += pm {
		mi := min(pm, m-i)
		for j := 0; j < n; j += pn {
			nj := min(pn, n-j)
			var ap, bp []float32
			if tA == blas.NoTrans {
				ap = a[i*lda:]
			} else {
				ap = a[i:]
			}
			if tB == blas.NoTrans {
				bp = b[j:]
			} else {
				bp = b[j*ldb:]
			}
			impl.Sgemm(tA, tB, mi, nj, k, 1, ap, lda, bp, ldb, beta, c[i*ldc+j:], ldc)
		}
	}
}

// tiledGemm computes c = op(a)·b + beta·c (c m×n, b k×n row-major, beta 0
// or 1) with the 4×16 AVX2/FMA kernel over the largest 4×16-divisible
// block of c and gonum over the edges. op(a) is a (m×k) for
// tA == NoTrans and the transpose of a (k×m) for tA == Trans.
//
// Each 16-column strip of b is packed into a contiguous k×16 panel first
// (as in GotoBLAS): read in place with a row stride of 2 KiB (512
// columns) a strip maps onto two L1 sets and the kernel runs at half
// speed. op(a) is read in place when it is a (four sequential row
// streams) and packed into k×4 panels when it is aᵀ, whose rows would be
// 16-byte pieces at a large stride.
// Where the CPU has AVX-512, 32-column strips use a 4×32 kernel.
// It needs haveFMA.
func tiledGemm(tA blas.Transpose, c, a, b []float32, m, n, k int, beta float32, s *scratch) {
	tiledGemmWith(haveAVX512, tA, c, a, b, m, n, k, beta, s)
}

// tiledGemmWith is tiledGemm with the 4×32 AVX-512 kernel for 32-column
// strips when wide is true (which needs haveAVX512).
func tiledGemmWith(wide bool, tA blas.Transpose, c, a, b []float32, m, n, k int, beta float32, s *scratch) {
	if m == 0 || n == 0 {
		return
	}
	if len(a) < m*k || len(b) < k*n || len(c) < m*n {
		panic(ErrShape)
	}
	if k == 0 {
		if beta == 0 {
			clear(c[:m*n])
		}
		return
	}
	m4, n16 := m&^3, n&^15
	lda := k
	if tA == blas.Trans {
		lda = m
	}
	if m4 > 0 && n16 > 0 {
		// Element (i, l) of op(a) is at ap[i·rs + l·cs]; panel p (rows 4p..4p+3)
		// starts at ap[p·pstride].
		ap, rs, cs, pstride := a, k, 1, 4*k
		if tA == blas.Trans {
			s.pa = grow(s.pa, m4*k)
			packAT(s.pa, a, m, m4, k)
			ap, rs, cs = s.pa, 1, 4
		}
		s.pb = grow(s.pb, k*32)
		pb := s.pb
		acc := beta != 0
		j := 0
		if wide {
			for ; j+32 <= n16; j += 32 {
				packB32(&pb[0], &b[j], n, k)
				for i := 0; i < m4; i += 4 {
					sgemm4x32(k, &ap[(i/4)*pstride], rs, cs, &pb[0], 32, &c[i*n+j], n, acc)
				}
			}
		}
		for ; j < n16; j += 16 {
			packB16(&pb[0], &b[j], n, k)
			for i := 0; i < m4; i += 4 {
				sgemm4x16(k, &ap[(i/4)*pstride], rs, cs, &pb[0], 16, &c[i*n+j], n, acc)
			}
		}
	}
	if n16 < n {
		gonumGemm(tA, blas.NoTrans, m, n-n16, k, a, lda, b[n16:], n, beta, c[n16:], n)
	}
	if m4 < m && n16 > 0 {
		off := m4 * k
		if tA == blas.Trans {
			off = m4
		}
		gonumGemm(tA, blas.NoTrans, m-m4, n16, k, a[off:], lda, b, n, beta, c[m4*n:], n)
	}
}

// packAT writes columns 0..m4-1 of the k×m matrix a (rows of aᵀ) as m4/4
// panels of k×4: panel p holds a[l, 4p+r] at p·4k + 4l + r.
func packAT(dst, a []float32, m, m4, k int) {
	dst = dst[:m4*k]
	for i := 0; i < m4; i += 4 {
		p := dst[i*k : (i+4)*k]
		for l := 0; l < k; l++ {
			*(*[4]float32)(p[4*l:]) = *(*[4]float32)(a[l*m+i:])
		}
	}
}
