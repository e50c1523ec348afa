package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// denseForward computes y = x·w + b for an n×in x, in×out w and out b.
func denseForward(y, x, w, b []float32, n, in, out int) {
	impl := blas32.Implementation()
	if out == 1 {
		// A one-column GEMM runs far below peak; use dot products.
		b0 := b[0]
		for i := 0; i < n; i++ {
			y[i] = b0 + impl.Sdot(in, x[i*in:(i+1)*in], 1, w, 1)
		}
		return
	}
	for i := 0; i < n; i++ {
		copy(y[i*out:(i+1)*out], b)
	}
	sgemm(blas.NoTrans, blas.NoTrans, n, out, in, x, in, w, out, 1, y, out)
}

// denseWeightGrad accumulates gw += xᵀ·dy.
func denseWeightGrad(gw, x, dy []float32, n, in, out int) {
	impl := blas32.Implementation()
	if out == 1 {
		for i := 0; i < n; i++ {
			impl.Saxpy(in, dy[i], x[i*in:(i+1)*in], 1, gw, 1)
		}
		return
	}
	sgemm(blas.Trans, blas.NoTrans, in, out, n, x, in, dy, out, 1, gw, out)
}

// denseInputGrad computes dx = dy·wᵀ.
func denseInputGrad(dx, dy, w []float32, n, in, out int) {
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
	sgemm(blas.NoTrans, blas.Trans, n, in, out, dy, out, w, out, 0, dx, in)
}

// sgemm computes C = op(A)·op(B) + beta·C (C is m×n) in panels of at most
// 64×192 elements of C. gonum's Sgemm computes panels that small serially,
// without the goroutines, channel and closures of its parallel path, so a
// training step allocates nothing.
func sgemm(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	const pm, pn = 64, 192
	impl := blas32.Implementation()
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
