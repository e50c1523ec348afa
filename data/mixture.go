package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Mixture is a mixture of isotropic Gaussian modes in Dim() dimensions:
// mode k has mean Means[k], standard deviation Std[k] in every coordinate,
// and probability Weights[k] / ΣWeights.
//
// The standard 2-D grid benchmark (VEEGAN, PacGAN) is Grid(5, 5, 2, 0.05):
// 25 modes with means at −4, −2, 0, 2, 4 on both axes; ring benchmarks
// are Ring(8, r, σ) for a small σ. The paper's feature-related Gaussian scenario is a
// 3×3 grid with one mode per community (see Component).
//
// Values are returned as sampled, not scaled: a generator for Grid(5, 5,
// 2, 0.05) needs a linear output layer, not tanh.
type Mixture struct {
	Means   [][]float64
	Std     []float64
	Weights []float64
}

// Grid returns rows×cols equally weighted modes on a grid centred at the
// origin, spacing apart, each with standard deviation std. Mode r*cols+c
// has mean ((c − (cols−1)/2)·spacing, (r − (rows−1)/2)·spacing).
// Non-positive rows or cols give a mixture that Validate rejects.
func Grid(rows, cols int, spacing, std float64) *Mixture {
	m := &Mixture{}
	for r := range max(rows, 0) {
		for c := range max(cols, 0) {
			x := (float64(c) - float64(cols-1)/2) * spacing
			y := (float64(r) - float64(rows-1)/2) * spacing
			m.Means = append(m.Means, []float64{x, y})
		}
	}
	m.fill(std)
	return m
}

// Ring returns n equally weighted modes on a circle of the given radius
// around the origin, each with standard deviation std; mode k has mean
// radius·(cos 2πk/n, sin 2πk/n).
func Ring(n int, radius, std float64) *Mixture {
	m := &Mixture{}
	for k := range max(n, 0) {
		a := 2 * math.Pi * float64(k) / float64(n)
		m.Means = append(m.Means, []float64{radius * math.Cos(a), radius * math.Sin(a)})
	}
	m.fill(std)
	return m
}

// fill sets every mode's std and an equal weight.
func (m *Mixture) fill(std float64) {
	m.Std = make([]float64, len(m.Means))
	m.Weights = make([]float64, len(m.Means))
	for k := range m.Means {
		m.Std[k] = std
		m.Weights[k] = 1 / float64(len(m.Means))
	}
}

// Modes returns the number of modes.
func (m *Mixture) Modes() int { return len(m.Means) }

// Dim returns the dimension of the space, 0 if there are no modes.
func (m *Mixture) Dim() int {
	if len(m.Means) == 0 {
		return 0
	}
	return len(m.Means[0])
}

// Validate checks that there is at least one mode, that all means have
// the same non-zero length and finite values, and that every std and
// weight is positive and finite. Errors wrap ErrMixture.
func (m *Mixture) Validate() error {
	k := len(m.Means)
	if k == 0 {
		return fmt.Errorf("%w: no modes", ErrMixture)
	}
	if len(m.Std) != k || len(m.Weights) != k {
		return fmt.Errorf("%w: %d means, %d stds, %d weights", ErrMixture, k, len(m.Std), len(m.Weights))
	}
	d := len(m.Means[0])
	if d == 0 {
		return fmt.Errorf("%w: zero-dimensional means", ErrMixture)
	}
	for i, mu := range m.Means {
		if len(mu) != d {
			return fmt.Errorf("%w: mode %d has %d coordinates, mode 0 has %d", ErrMixture, i, len(mu), d)
		}
		for _, v := range mu {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%w: mode %d has mean %v", ErrMixture, i, mu)
			}
		}
		if s := m.Std[i]; !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("%w: mode %d has std %v, want > 0", ErrMixture, i, s)
		}
		if w := m.Weights[i]; !(w > 0) || math.IsInf(w, 0) {
			return fmt.Errorf("%w: mode %d has weight %v, want > 0", ErrMixture, i, w)
		}
	}
	return nil
}

// Probs returns the weights normalised to sum to 1, in a new slice.
func (m *Mixture) Probs() []float64 {
	var sum float64
	for _, w := range m.Weights {
		sum += w
	}
	p := make([]float64, len(m.Weights))
	for k, w := range m.Weights {
		p[k] = w / sum
	}
	return p
}

// Component returns mode k alone, as a one-mode mixture that shares
// nothing with m. It panics if k is out of range.
func (m *Mixture) Component(k int) *Mixture {
	return &Mixture{
		Means:   [][]float64{append([]float64(nil), m.Means[k]...)},
		Std:     []float64{m.Std[k]},
		Weights: []float64{1},
	}
}

// Sample draws n rows from the mixture into a numeric dataset named
// "mixture" (set Name to change it), labelled with the index of the mode each row came from (Classes =
// Modes()). It returns an error wrapping ErrMixture if m is not valid.
func (m *Mixture) Sample(n int, rng *rand.Rand) (*Dataset, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, fmt.Errorf("%w: %d samples", ErrMixture, n)
	}
	d, k := m.Dim(), m.Modes()
	cum := m.Probs()
	for i := 1; i < k; i++ {
		cum[i] += cum[i-1]
	}
	rows := make([]float32, n*d)
	labels := make([]int, n)
	for i := range n {
		u := rng.Float64() * cum[k-1]
		mode := k - 1
		for j, c := range cum {
			if u < c {
				mode = j
				break
			}
		}
		labels[i] = mode
		for j, mu := range m.Means[mode] {
			rows[i*d+j] = float32(mu + m.Std[mode]*rng.NormFloat64())
		}
	}
	return NewNumeric("mixture", d, rows, labels, k)
}
