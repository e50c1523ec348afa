//go:build amd64 && !purego

package nn

// The SSE kernels process the first len(x)&^3 elements; the wrappers
// finish the tail with the reference code. SSE2 is part of the amd64
// baseline, so no CPU feature check is needed.

//go:noescape
func adamSSE(w, g, m, v []float32, h *adamHyper)

//go:noescape
func adamAVX(w, g, m, v []float32, h *adamHyper)

//go:noescape
func adamAVX512(w, g, m, v []float32, h *adamHyper)

//go:noescape
func tanhAVX(y, x []float32)

//go:noescape
func leakyForwardSSE(y, x []float32, alpha float32)

//go:noescape
func leakyBackwardSSE(dx, dy, x []float32, alpha float32)

func adamUpdate(w, g, m, v []float32, h *adamHyper) {
	n := len(w)
	g, m, v = g[:n], m[:n], v[:n]
	k := n &^ 3
	if haveAVX512 {
		k = n &^ 15
		adamAVX512(w[:k], g[:k], m[:k], v[:k], h)
	} else if haveFMA { // AVX2 and FMA imply AVX
		k = n &^ 7
		adamAVX(w[:k], g[:k], m[:k], v[:k], h)
	} else {
		adamSSE(w[:k], g[:k], m[:k], v[:k], h)
	}
	adamRef(w[k:], g[k:], m[k:], v[k:], h)
}

func leakyForward(y, x []float32, alpha float32) {
	n := len(x)
	y = y[:n]
	k := n &^ 3
	leakyForwardSSE(y[:k], x[:k], alpha)
	leakyForwardRef(y[k:], x[k:], alpha)
}

func leakyBackward(dx, dy, x []float32, alpha float32) {
	n := len(x)
	dx, dy = dx[:n], dy[:n]
	k := n &^ 3
	leakyBackwardSSE(dx[:k], dy[:k], x[:k], alpha)
	leakyBackwardRef(dx[k:], dy[k:], x[k:], alpha)
}

func tanhForward(y, x []float32) {
	n := len(x)
	y = y[:n]
	k := 0
	if haveFMA { // AVX2 and FMA imply AVX
		k = n &^ 7
		tanhAVX(y[:k], x[:k])
	}
	tanhRef(y[k:], x[k:])
}
