package fed

import "math"

// msEps is the ε of the mode-seeking term's denominator (MSGAN's 1e-5).
const msEps = 1e-5

// ModeSeekingGrad adds to dx (b×d, row-major) the gradient with respect to
// x of the mode-seeking term (Mao et al. 2019; EdgeConfig.ModeSeeking)
//
//	L_ms = λ / (r + ε),   r = mean|x_1 − x_2| / mean|z_1 − z_2|
//
// where x_1, x_2 are the first and second halves of x's b rows (G's
// outputs, d columns) and z_1, z_2 the first m columns (the latent part)
// of the matching rows of z (zcols columns). It returns L_ms. b must be
// even. When the two halves of z are equal the term is undefined and
// ModeSeekingGrad returns 0 and leaves dx alone.
func ModeSeekingGrad(dx, x, z []float32, b, d, zcols, m int, lambda float64) float64 {
	h := b / 2
	var sz float64
	for i := range h {
		z1, z2 := z[i*zcols:i*zcols+m], z[(h+i)*zcols:(h+i)*zcols+m]
		for k := range m {
			sz += math.Abs(float64(z1[k]) - float64(z2[k]))
		}
	}
	if h == 0 || sz == 0 {
		return 0
	}
	mz := sz / float64(h*m)
	var sx float64
	for j, v := range x[:h*d] {
		sx += math.Abs(float64(v) - float64(x[h*d+j]))
	}
	n := float64(h * d)
	r := sx / n / mz
	loss := lambda / (r + msEps)
	// ∂L/∂x_1,j = −λ/(r+ε)² · sign(x_1,j − x_2,j) / (n · mean|z_1 − z_2|),
	// and the opposite for x_2,j.
	g := float32(-lambda / ((r + msEps) * (r + msEps)) / (n * mz))
	for j, v := range x[:h*d] {
		switch w := x[h*d+j]; {
		case v > w:
			dx[j] += g
			dx[h*d+j] -= g
		case v < w:
			dx[j] -= g
			dx[h*d+j] += g
		}
	}
	return loss
}
