package nn

import "math"

// Element-wise kernels. Each has a portable reference version here; on
// amd64 (unless built with the purego tag) the bulk of each slice goes
// through SSE versions in elementwise_amd64.s that perform the same IEEE
// operations in the same order, so both give bit-identical results.

type adamHyper struct {
	b1, c1, b2, c2, step, invBC2, eps float32
}

// adamRef is the element-wise Adam update (see Adam):
//
//	m ← b1·m + c1·g;  v ← b2·v + c2·g²;  w ← w − step·m/(√v·invBC2 + eps)
//
// The explicit float32 conversions forbid fused multiply-adds, keeping the
// result identical to the SSE version on every GOAMD64 level.
func adamRef(w, g, m, v []float32, h *adamHyper) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	b1, c1, b2, c2, step, invBC2, eps := h.b1, h.c1, h.b2, h.c2, h.step, h.invBC2, h.eps
	for i := range w {
		gi := g[i]
		mi := float32(b1*m[i]) + float32(c1*gi)
		vi := float32(b2*v[i]) + float32(c2*float32(gi*gi))
		m[i], v[i] = mi, vi
		d := float32(float32(math.Sqrt(float64(vi)))*invBC2) + eps
		w[i] -= float32(step*mi) / d
	}
}

// leakyForwardRef sets y = x where x > 0 and y = alpha·x elsewhere.
func leakyForwardRef(y, x []float32, alpha float32) {
	y = y[:len(x)]
	for i, v := range x {
		s := alpha
		if v > 0 {
			s = 1
		}
		y[i] = v * s
	}
}

// leakyBackwardRef sets dx = dy where x > 0 and dx = alpha·dy elsewhere.
func leakyBackwardRef(dx, dy, x []float32, alpha float32) {
	dx = dx[:len(x)]
	dy = dy[:len(x)]
	for i, v := range x {
		s := alpha
		if v > 0 {
			s = 1
		}
		dx[i] = dy[i] * s
	}
}
