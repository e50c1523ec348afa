package eval

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/data"
)

// repeat returns n copies of the 2-D point (x, y), row-major.
func repeat(n int, x, y float32) []float32 {
	out := make([]float32, 0, 2*n)
	for range n {
		out = append(out, x, y)
	}
	return out
}

func TestScoreMixture(t *testing.T) {
	nan := float32(math.NaN())
	two := &data.Mixture{Means: [][]float64{{0, 0}, {10, 0}}, Std: []float64{1, 1}, Weights: []float64{1, 1}}
	ring4 := data.Ring(4, 10, 1) // modes at (10,0), (0,10), (−10,0), (0,−10)
	tests := []struct {
		name    string
		m       *data.Mixture
		samples []float32
		want    MixtureReport
	}{
		{
			// Three samples within 3σ of mode 0 (0, 1 and 2.9σ away), one on
			// mode 1, one half-way (5σ from both), one NaN. Expected share
			// per mode 0.5·6 = 3; a quarter is 0.75, so both are covered.
			// q = (3/4, 1/4), p = (1/2, 1/2):
			// KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.13081203594113697.
			name:    "hand-made",
			m:       two,
			samples: []float32{0, 0, 1, 0, 0, 2.9, 10, 0, 5, 0, nan, 0},
			want:    MixtureReport{Modes: 2, Covered: 2, Captured: 2, Samples: 6, HighQuality: 4.0 / 6, ReverseKL: 0.13081203594113697, Counts: []int{3, 1}},
		},
		{
			// Exactly 3σ counts; just beyond does not.
			name:    "3σ boundary",
			m:       two,
			samples: []float32{3, 0, 0, -3.001},
			want:    MixtureReport{Modes: 2, Covered: 1, Captured: 1, Samples: 2, HighQuality: 0.5, ReverseKL: math.Ln2, Counts: []int{1, 0}},
		},
		{
			// Mode collapse on the 5×5 grid: every sample on the centre mode.
			// Quarter share 0.25·(1/25)·100 = 1, so the centre is covered;
			// KL = ln 25 = 3.2188758248682006.
			name:    "collapse",
			m:       data.Grid(5, 5, 2, 0.05),
			samples: repeat(100, 0, 0),
			want: MixtureReport{Modes: 25, Covered: 1, Captured: 1, Samples: 100, HighQuality: 1, ReverseKL: 3.2188758248682006,
				Counts: []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		},
		{
			// 40 samples over 4 equal modes: expected share 10, quarter 2.5.
			// Counts 20 15 3 2: the last mode is captured but not covered.
			// KL = .5 ln 2 + .375 ln 1.5 + .075 ln .3 + .05 ln .2 = 0.3278531498743841.
			name:    "quarter share",
			m:       ring4,
			samples: slices.Concat(repeat(20, 10, 0), repeat(15, 0, 10), repeat(3, -10, 0), repeat(2, 0, -10)),
			want:    MixtureReport{Modes: 4, Covered: 3, Captured: 4, Samples: 40, HighQuality: 1, ReverseKL: 0.3278531498743841, Counts: []int{20, 15, 3, 2}},
		},
		{
			// The expected share counts all samples, not only high-quality
			// ones: 3 per mode + 28 far away gives N = 40, quarter 2.5,
			// all covered; 2 per mode + 32 far away covers none.
			name:    "denominator is all samples, covered",
			m:       ring4,
			samples: slices.Concat(repeat(3, 10, 0), repeat(3, 0, 10), repeat(3, -10, 0), repeat(3, 0, -10), repeat(28, 100, 100)),
			want:    MixtureReport{Modes: 4, Covered: 4, Captured: 4, Samples: 40, HighQuality: 0.3, ReverseKL: 0, Counts: []int{3, 3, 3, 3}},
		},
		{
			name:    "denominator is all samples, not covered",
			m:       ring4,
			samples: slices.Concat(repeat(2, 10, 0), repeat(2, 0, 10), repeat(2, -10, 0), repeat(2, 0, -10), repeat(32, 100, 100)),
			want:    MixtureReport{Modes: 4, Covered: 0, Captured: 4, Samples: 40, HighQuality: 0.2, ReverseKL: 0, Counts: []int{2, 2, 2, 2}},
		},
		{
			// Per-mode σ: (0.35, 0) is nearer mode 0 in Euclidean distance
			// (0.35 vs 0.65) but 3.5σ from it and 0.65σ from mode 1.
			name:    "standardised distance",
			m:       &data.Mixture{Means: [][]float64{{0, 0}, {1, 0}}, Std: []float64{0.1, 1}, Weights: []float64{1, 3}},
			samples: []float32{0.35, 0},
			// Quarter share of mode 0: 0.25·0.25·1 > 0; mode 1: 0.25·0.75·1 ≤ 1.
			// q = (0, 1), p = (1/4, 3/4): KL = ln(4/3).
			want: MixtureReport{Modes: 2, Covered: 1, Captured: 1, Samples: 1, HighQuality: 1, ReverseKL: math.Log(4.0 / 3), Counts: []int{0, 1}},
		},
		{
			name:    "3-D",
			m:       &data.Mixture{Means: [][]float64{{0, 0, 0}, {0, 0, 5}}, Std: []float64{1, 1}, Weights: []float64{1, 1}},
			samples: []float32{1, 1, 1, 0, 0, 5, 2, 2, 2},
			// √3 ≈ 1.73σ: high quality; 0σ: high quality; √12 ≈ 3.46σ from mode 0: not.
			want: MixtureReport{Modes: 2, Covered: 2, Captured: 2, Samples: 3, HighQuality: 2.0 / 3, ReverseKL: 0, Counts: []int{1, 1}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScoreMixture(tt.m, tt.samples)
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if got.Modes != w.Modes || got.Covered != w.Covered || got.Captured != w.Captured || got.Samples != w.Samples || !slices.Equal(got.Counts, w.Counts) {
				t.Errorf("got %+v, want %+v", got, w)
			}
			if math.Abs(got.HighQuality-w.HighQuality) > 1e-12 || math.Abs(got.ReverseKL-w.ReverseKL) > 1e-12 {
				t.Errorf("got high quality %v reverse KL %v, want %v and %v", got.HighQuality, got.ReverseKL, w.HighQuality, w.ReverseKL)
			}
		})
	}
}

// TestScoreMixtureTrueSamples scores samples of the mixture itself: all 25
// modes covered, a high-quality fraction near P(χ²₂ ≤ 9) = 1 − e^(−4.5)
// = 0.98889, and a reverse KL near 0.
func TestScoreMixtureTrueSamples(t *testing.T) {
	m := data.Grid(5, 5, 2, 0.05)
	const n = 10000
	d, err := m.Sample(n, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	samples := make([]float32, n*2)
	d.Rows(samples, idx)
	r, err := ScoreMixture(m, samples)
	if err != nil {
		t.Fatal(err)
	}
	// Standard error of the fraction: √(0.989·0.011/10000) ≈ 0.001.
	want := 1 - math.Exp(-4.5)
	if r.Covered != 25 || r.Captured != 25 || math.Abs(r.HighQuality-want) > 0.005 || r.ReverseKL > 0.01 {
		t.Errorf("got %v, want 25 covered, high quality %.4f ± 0.005, reverse KL < 0.01", r, want)
	}
	// Every high-quality sample is assigned to the mode it was drawn from.
	for k, c := range r.Counts {
		drawn := 0
		for i := range n {
			if d.Label(i) == k {
				drawn++
			}
		}
		if c > drawn {
			t.Errorf("mode %d: %d high-quality samples, but only %d drawn from it", k, c, drawn)
		}
	}
}

func TestScoreMixtureErrors(t *testing.T) {
	m := data.Ring(8, 2, 0.02)
	for _, tt := range []struct {
		name    string
		m       *data.Mixture
		samples []float32
		is      error
	}{
		{"odd length", m, []float32{1, 2, 3}, ErrMixtureSamples},
		{"empty", m, nil, ErrMixtureSamples},
		{"bad mixture", data.Ring(8, 2, 0), []float32{1, 2}, data.ErrMixture},
	} {
		if _, err := ScoreMixture(tt.m, tt.samples); !errors.Is(err, tt.is) {
			t.Errorf("%s: got %v, want %v", tt.name, err, tt.is)
		}
	}
}

func TestMixtureReportString(t *testing.T) {
	two := &data.Mixture{Means: [][]float64{{0, 0}, {10, 0}}, Std: []float64{1, 1}, Weights: []float64{1, 1}}
	r, err := ScoreMixture(two, []float32{0, 0, 1, 0, 0, 2.9, 10, 0, 5, 0, float32(math.NaN()), 0})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.String(), "modes covered 2/2 (captured 2), high quality 66.7%, reverse KL 0.1308 (6 samples)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	// No high-quality sample: the reverse KL is undefined.
	r, err = ScoreMixture(two, repeat(4, 5, 5))
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(r.ReverseKL) || r.HighQuality != 0 || r.Covered != 0 || !strings.Contains(r.String(), "reverse KL NaN") {
		t.Errorf("got %v, want high quality 0, nothing covered, reverse KL NaN", r)
	}
}
