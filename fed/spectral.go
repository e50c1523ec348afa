package fed

import (
	"math"

	"github.com/fedgan/fedgan/nn"
)

// spectralClip bounds the spectral norm (largest singular value) of every
// weight matrix of a network: after each optimizer step of D, a matrix W
// with σ_max(W) > c is scaled by c/σ_max(W). With 1-Lipschitz activations
// (LeakyReLU) the network is then at most c^L-Lipschitz in its input (L
// weight matrices), so the feedback ∂D/∂X_g a device sends is bounded and
// D cannot grow the steep walls around tight modes that make G overshoot
// and oscillate away from them. This is the projection form of spectral
// normalisation (Miyato et al., "Spectral Normalization for Generative
// Adversarial Networks", ICLR 2018; Gouk et al., "Regularisation of Neural
// Networks by Enforcing Lipschitz Continuity", Machine Learning 2021):
// σ_max is estimated by power iteration, warm-started from the previous
// step's singular vector, as they do.
type spectralClip struct {
	c float64
	u map[*nn.Param][]float64 // right singular vector estimate per matrix
	v []float64
}

// powerIters is the number of power iterations on the first call for a
// matrix; later calls do one, warm-started (the weights move little
// between steps).
const powerIters = 20

// apply clips every two-dimensional parameter of ps.
func (s *spectralClip) apply(ps []*nn.Param) {
	if s.u == nil {
		s.u = map[*nn.Param][]float64{}
	}
	for _, p := range ps {
		if len(p.Shape) != 2 {
			continue
		}
		u, ok := s.u[p]
		iters := 1
		if !ok {
			u = make([]float64, p.Shape[1])
			for i := range u {
				u[i] = 1 / math.Sqrt(float64(len(u)))
			}
			s.u[p] = u
			iters = powerIters
		}
		var sig float64
		for range iters {
			sig = s.power(p, u)
		}
		if sig > s.c {
			f := float32(s.c / sig)
			for i := range p.Value {
				p.Value[i] *= f
			}
		}
	}
}

// power does one power iteration on W = p (rows × cols, row-major) with
// the unit vector u (cols): v = W u/‖W u‖, u = Wᵀ v/‖Wᵀ v‖, and returns
// ‖Wᵀ v‖, the estimate of σ_max(W).
func (s *spectralClip) power(p *nn.Param, u []float64) float64 {
	rows, cols := p.Shape[0], p.Shape[1]
	if cap(s.v) < rows {
		s.v = make([]float64, rows)
	}
	v := s.v[:rows]
	var nv float64
	for i := range rows {
		var sum float64
		row := p.Value[i*cols : (i+1)*cols]
		for j, w := range row {
			sum += float64(w) * u[j]
		}
		v[i] = sum
		nv += sum * sum
	}
	nv = math.Sqrt(nv)
	if nv == 0 {
		return 0 // W u = 0: keep u; a zero matrix needs no clipping
	}
	clear(u)
	for i := range rows {
		vi := v[i] / nv
		row := p.Value[i*cols : (i+1)*cols]
		for j, w := range row {
			u[j] += float64(w) * vi
		}
	}
	var nu float64
	for _, x := range u {
		nu += x * x
	}
	nu = math.Sqrt(nu)
	for j := range u {
		u[j] /= nu
	}
	return nu
}
