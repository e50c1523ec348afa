package eval

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Gaussian is a Gaussian fit of feature vectors: their mean and their
// (unbiased, n−1) covariance.
type Gaussian struct {
	Mean []float64
	Cov  *mat.SymDense
	// N is the number of vectors fitted.
	N int
}

// FitGaussian fits the n = len(x)/dim row vectors of x (row-major). It
// returns an error wrapping ErrData if there are fewer than 2 rows, if
// len(x) is not a multiple of dim, or if a value is not finite.
func FitGaussian(x []float32, dim int) (*Gaussian, error) {
	if dim <= 0 || len(x)%dim != 0 || len(x)/dim < 2 {
		return nil, fmt.Errorf("%w: %d values do not form at least 2 rows of %d", ErrData, len(x), dim)
	}
	n := len(x) / dim
	m := mat.NewDense(n, dim, nil)
	raw := m.RawMatrix().Data
	for i, v := range x {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%w: value %d of the features is %g", ErrData, i, f)
		}
		raw[i] = f
	}
	g := &Gaussian{Mean: make([]float64, dim), Cov: mat.NewSymDense(dim, nil), N: n}
	for j := range dim {
		g.Mean[j] = stat.Mean(mat.Col(nil, j, m), nil)
	}
	stat.CovarianceMatrix(g.Cov, m, nil)
	return g, nil
}

// Frechet returns the Fréchet distance between two Gaussians,
//
//	‖μ1 − μ2‖² + Tr(Σ1 + Σ2 − 2 (Σ1^½ Σ2 Σ1^½)^½),
//
// the squared 2-Wasserstein distance that FID is (Heusel et al. 2017).
// The matrix square roots come from symmetric eigendecompositions
// (mat.EigenSym), with eigenvalues that rounding made slightly negative
// taken as 0; Tr((Σ1^½ Σ2 Σ1^½)^½) equals Tr((Σ1 Σ2)^½) of the usual
// formula, but every matrix decomposed here is symmetric. It returns an
// error wrapping ErrData if the dimensions differ or a decomposition
// fails.
func Frechet(a, b *Gaussian) (float64, error) {
	d := len(a.Mean)
	if len(b.Mean) != d || a.Cov.SymmetricDim() != d || b.Cov.SymmetricDim() != d {
		return 0, fmt.Errorf("%w: Fréchet distance of Gaussians of dimensions %d and %d", ErrData, d, len(b.Mean))
	}
	var dist float64
	for j := range d {
		dm := a.Mean[j] - b.Mean[j]
		dist += dm * dm
	}
	root, err := sqrtSym(a.Cov)
	if err != nil {
		return 0, err
	}
	var t, m mat.Dense
	t.Mul(root, b.Cov)
	m.Mul(&t, root)
	sym := mat.NewSymDense(d, nil)
	for i := range d {
		for j := i; j < d; j++ {
			sym.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, false) {
		return 0, fmt.Errorf("%w: eigendecomposition of Σ1^½ Σ2 Σ1^½ failed", ErrData)
	}
	var trRoot float64
	for _, l := range eig.Values(nil) {
		trRoot += math.Sqrt(math.Max(l, 0))
	}
	return dist + mat.Trace(a.Cov) + mat.Trace(b.Cov) - 2*trRoot, nil
}

// sqrtSym returns the symmetric square root V diag(√max(λ, 0)) Vᵀ of s.
func sqrtSym(s *mat.SymDense) (*mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(s, true) {
		return nil, fmt.Errorf("%w: eigendecomposition of a covariance failed", ErrData)
	}
	vals := eig.Values(nil)
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	d := len(vals)
	scaled := mat.NewDense(d, d, nil)
	for j, l := range vals {
		r := math.Sqrt(math.Max(l, 0))
		for i := range d {
			scaled.Set(i, j, vecs.At(i, j)*r)
		}
	}
	var out mat.Dense
	out.Mul(scaled, vecs.T())
	return &out, nil
}
