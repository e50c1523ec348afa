package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/fedgan/fedgan/data"
)

// Reference is what generated rows are compared with: the Gaussian fit of
// the classifier's features of real rows and the real class histogram.
type Reference struct {
	Features *Gaussian
	// Hist is the share of the real rows in each class (by their labels).
	Hist []float64
}

// ReferenceRows is the number of real rows FID is measured against.
const ReferenceRows = 10000

// Reference fits the real rows of ds: n of them drawn without replacement
// with rng (all of them, in order, if ds has n rows or fewer). It returns
// an error wrapping ErrData if ds has no labels, rows of another width or
// fewer than 2 rows.
func (c *Classifier) Reference(ds *data.Dataset, n int, rng *rand.Rand) (*Reference, error) {
	if ds.Dim != c.Dim() || ds.Classes == 0 || ds.Classes > c.Classes || ds.Len() < 2 {
		return nil, fmt.Errorf("%w: reference %s: %d rows of %d values, %d classes; classifier takes %d values into %d classes",
			ErrData, ds.Name, ds.Len(), ds.Dim, ds.Classes, c.Dim(), c.Classes)
	}
	var idx []int
	if ds.Len() <= n {
		idx = make([]int, ds.Len())
		for i := range idx {
			idx[i] = i
		}
	} else {
		idx = rng.Perm(ds.Len())[:n]
	}
	x := make([]float32, len(idx)*ds.Dim)
	ds.Rows(x, idx)
	g, err := FitGaussian(c.Features(nil, x), c.FeatureDim())
	if err != nil {
		return nil, err
	}
	ref := &Reference{Features: g, Hist: make([]float64, c.Classes)}
	for _, i := range idx {
		ref.Hist[ds.Label(i)] += 1 / float64(len(idx))
	}
	return ref, nil
}

// Report holds the scores of a set of generated rows (docs/DESIGN.md §8.2).
type Report struct {
	// Samples is the number of generated rows scored.
	Samples int `json:"samples"`
	// FID is the Fréchet distance between the Gaussian fits of the
	// classifier's penultimate features of the generated and the reference
	// rows. Lower is better; it grows as Samples shrinks, so compare only
	// scores of equally many samples.
	FID float64 `json:"fid"`
	// IS is exp(E_x KL(p(y|x) ‖ p(y))) over all the samples (one split):
	// between 1 and the number of classes, higher is better.
	IS float64 `json:"is"`
	// Classes is the number of classes in the reference; Covered how many
	// of them hold at least a quarter of their real share of the samples
	// (by the classifier's most likely class).
	Classes int `json:"classes"`
	Covered int `json:"classes_covered"`
	// ClassKL is KL(generated ‖ real) of the class histograms, in nats:
	// 0 when the generator draws the classes in their real proportions.
	ClassKL float64 `json:"class_kl"`
	// Hist is the share of the samples in each class.
	Hist []float64 `json:"histogram"`
	// TSTR is the train-on-synthetic, test-on-real accuracy of a
	// class-conditional generator (0 when not measured): Score leaves it
	// to the caller, which trains a classifier on labelled samples.
	TSTR float64 `json:"tstr_accuracy,omitempty"`
	// Acc is the paper's "Acc" for a class-conditional generator (0 when
	// not measured): the share of samples G(z, y) that the classifier
	// assigns to y (ImageEval.Acc).
	Acc float64 `json:"acc,omitempty"`
}

// String is a one-line summary.
func (r Report) String() string {
	return fmt.Sprintf("FID %.2f  IS %.3f  classes %d/%d  class KL %.4f  (%d samples)", r.FID, r.IS, r.Covered, r.Classes, r.ClassKL, r.Samples)
}

// Missing lists the classes that are not covered.
func (r Report) Missing(ref *Reference) []int {
	var out []int
	for k, p := range ref.Hist {
		if p > 0 && r.Hist[k] < p/4 {
			out = append(out, k)
		}
	}
	return out
}

// HistString renders the histogram as "class:percent" pairs.
func (r Report) HistString() string {
	var b strings.Builder
	for k, p := range r.Hist {
		if k > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%.1f", k, 100*p)
	}
	return b.String()
}

// Score scores the generated rows x (row-major, Dim() values each)
// against ref. It returns an error wrapping ErrData if there are fewer
// than 2 rows, or the rows hold NaN or ±Inf (a diverged generator).
func (c *Classifier) Score(ref *Reference, x []float32) (Report, error) {
	d := c.Dim()
	if len(x)%d != 0 || len(x)/d < 2 {
		return Report{}, fmt.Errorf("%w: %d values do not form at least 2 rows of %d", ErrData, len(x), d)
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return Report{}, fmt.Errorf("%w: generated value %d (row %d) is %g", ErrData, i, i/d, v)
		}
	}
	n := len(x) / d
	g, err := FitGaussian(c.Features(nil, x), c.FeatureDim())
	if err != nil {
		return Report{}, err
	}
	fid, err := Frechet(g, ref.Features)
	if err != nil {
		return Report{}, err
	}
	p := c.Probs(nil, x)
	r := Report{Samples: n, FID: fid, Hist: make([]float64, c.Classes)}
	r.IS = InceptionScore(p, c.Classes)
	for i := range n {
		r.Hist[argmax(p[i*c.Classes:(i+1)*c.Classes])] += 1 / float64(n)
	}
	for k, q := range ref.Hist {
		if q > 0 {
			r.Classes++
			if r.Hist[k] >= q/4 {
				r.Covered++
			}
		}
	}
	r.ClassKL = KL(r.Hist, ref.Hist)
	return r, nil
}

// InceptionScore is exp(mean_i KL(p_i ‖ p̄)) for the class distributions
// p (rows of k probabilities), p̄ their mean: Salimans et al. (2016) on
// one split. It is 1 when every row is the same distribution and k when
// the rows are confident and spread evenly over the k classes. Terms with
// p_i(y) = 0 contribute 0. It returns NaN for no rows.
func InceptionScore(p []float32, k int) float64 {
	n := len(p) / k
	if n == 0 {
		return math.NaN()
	}
	mean := make([]float64, k)
	for i := range n {
		for j, v := range p[i*k : (i+1)*k] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	var sum float64
	for i := range n {
		for j, v := range p[i*k : (i+1)*k] {
			if v > 0 {
				sum += float64(v) * (math.Log(float64(v)) - math.Log(mean[j]))
			}
		}
	}
	return math.Exp(sum / float64(n))
}

// KL is the Kullback–Leibler divergence Σ p log(p/q) in nats of the
// histogram p from q (each summing to 1). Terms with p = 0 contribute 0;
// it is +Inf if some q is 0 where p is not. It panics if the lengths
// differ.
func KL(p, q []float64) float64 {
	if len(p) != len(q) {
		panic(fmt.Sprintf("eval: KL of histograms of %d and %d bins", len(p), len(q)))
	}
	var s float64
	for i, pi := range p {
		if pi == 0 {
			continue
		}
		if q[i] == 0 {
			return math.Inf(1)
		}
		s += pi * math.Log(pi/q[i])
	}
	return s
}
