package data

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestGrid(t *testing.T) {
	m := Grid(5, 5, 2, 0.05)
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Modes() != 25 || m.Dim() != 2 {
		t.Fatalf("got %d modes in %d-D, want 25 in 2-D", m.Modes(), m.Dim())
	}
	for _, tt := range []struct {
		k    int
		want [2]float64
	}{
		{0, [2]float64{-4, -4}}, {4, [2]float64{4, -4}}, {5, [2]float64{-4, -2}}, {12, [2]float64{0, 0}}, {24, [2]float64{4, 4}},
	} {
		if mu := m.Means[tt.k]; mu[0] != tt.want[0] || mu[1] != tt.want[1] {
			t.Errorf("mode %d: got mean %v, want %v", tt.k, mu, tt.want)
		}
	}
	for k := range 25 {
		if m.Std[k] != 0.05 || m.Weights[k] != 1.0/25 {
			t.Fatalf("mode %d: got std %v weight %v, want 0.05 and 1/25", k, m.Std[k], m.Weights[k])
		}
	}
	// The paper's 3×3 grid: means at −s, 0, s.
	g := Grid(3, 3, 1.5, 0.1)
	if mu := g.Means[0]; mu[0] != -1.5 || mu[1] != -1.5 {
		t.Errorf("3×3 mode 0: got %v, want [-1.5 -1.5]", mu)
	}
	if mu := g.Means[5]; mu[0] != 1.5 || mu[1] != 0 {
		t.Errorf("3×3 mode 5 (row 1, col 2): got %v, want [1.5 0]", mu)
	}
	// Even counts are centred too: 2 columns at ±spacing/2.
	if mu := Grid(1, 2, 2, 0.1).Means; mu[0][0] != -1 || mu[1][0] != 1 || mu[0][1] != 0 {
		t.Errorf("1×2 grid: got %v, want [[-1 0] [1 0]]", mu)
	}
}

func TestRing(t *testing.T) {
	m := Ring(4, 2, 0.1)
	want := [][2]float64{{2, 0}, {0, 2}, {-2, 0}, {0, -2}}
	for k, w := range want {
		if mu := m.Means[k]; math.Abs(mu[0]-w[0]) > 1e-12 || math.Abs(mu[1]-w[1]) > 1e-12 {
			t.Errorf("mode %d: got %v, want %v", k, mu, w)
		}
	}
}

func TestMixtureSample(t *testing.T) {
	m := &Mixture{
		Means:   [][]float64{{0, 0, 0}, {10, 0, -10}},
		Std:     []float64{1, 0.5},
		Weights: []float64{3, 1}, // probabilities 0.75, 0.25
	}
	const n = 20000
	d, err := m.Sample(n, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != n || d.Dim != 3 || d.Classes != 2 || d.Name != "mixture" {
		t.Fatalf("got len %d dim %d classes %d name %q, want %d 3 2 mixture", d.Len(), d.Dim, d.Classes, d.Name, n)
	}
	var count [2]int
	var sum, sumSq [2][3]float64
	row := make([]float32, 3)
	for i := range n {
		k := d.Label(i)
		count[k]++
		d.Row(row, i)
		for j, v := range row {
			sum[k][j] += float64(v)
			sumSq[k][j] += float64(v) * float64(v)
		}
	}
	// Mode 0 is drawn with probability 0.75: 15,000 ± 4.3 standard errors (61).
	if math.Abs(float64(count[0])-15000) > 260 {
		t.Errorf("mode 0 drawn %d times, want about 15000", count[0])
	}
	for k := range 2 {
		for j := range 3 {
			mean := sum[k][j] / float64(count[k])
			std := math.Sqrt(sumSq[k][j]/float64(count[k]) - mean*mean)
			if math.Abs(mean-m.Means[k][j]) > 0.05 || math.Abs(std-m.Std[k]) > 0.05 {
				t.Errorf("mode %d coordinate %d: sample mean %.3f std %.3f, want %v and %v", k, j, mean, std, m.Means[k][j], m.Std[k])
			}
		}
	}
	again, _ := m.Sample(n, seeded(1))
	a, b := make([]float32, 3), make([]float32, 3)
	d.Row(a, n-1)
	again.Row(b, n-1)
	if !slices.Equal(a, b) {
		t.Error("Sample with the same seed differs")
	}

	c := m.Component(1)
	if c.Modes() != 1 || c.Means[0][0] != 10 || c.Std[0] != 0.5 || c.Weights[0] != 1 {
		t.Errorf("Component(1): got %+v", c)
	}
	c.Means[0][0] = 99
	if m.Means[1][0] != 10 {
		t.Error("Component shares its mean with the mixture")
	}
}

func TestMixtureValidate(t *testing.T) {
	for _, tt := range []struct {
		name string
		m    *Mixture
	}{
		{"no modes", Grid(0, 5, 1, 1)},
		{"zero std", Grid(2, 2, 1, 0)},
		{"negative std", Ring(3, 1, -1)},
		{"ragged means", &Mixture{Means: [][]float64{{0, 0}, {1}}, Std: []float64{1, 1}, Weights: []float64{1, 1}}},
		{"zero weight", &Mixture{Means: [][]float64{{0}, {1}}, Std: []float64{1, 1}, Weights: []float64{1, 0}}},
		{"NaN mean", &Mixture{Means: [][]float64{{math.NaN()}}, Std: []float64{1}, Weights: []float64{1}}},
		{"short weights", &Mixture{Means: [][]float64{{0}, {1}}, Std: []float64{1, 1}, Weights: []float64{1}}},
		{"zero-dimensional", &Mixture{Means: [][]float64{{}}, Std: []float64{1}, Weights: []float64{1}}},
	} {
		if err := tt.m.Validate(); !errors.Is(err, ErrMixture) {
			t.Errorf("%s: got %v, want ErrMixture", tt.name, err)
		}
		if _, err := tt.m.Sample(10, seeded(1)); !errors.Is(err, ErrMixture) {
			t.Errorf("%s: Sample got %v, want ErrMixture", tt.name, err)
		}
	}
}
