//go:build !amd64 || purego

package nn

func adamUpdate(w, g, m, v []float32, h *adamHyper)    { adamRef(w, g, m, v, h) }
func leakyForward(y, x []float32, alpha float32)       { leakyForwardRef(y, x, alpha) }
func leakyBackward(dx, dy, x []float32, alpha float32) { leakyBackwardRef(dx, dy, x, alpha) }
func tanhForward(y, x []float32)                       { tanhRef(y, x) }
