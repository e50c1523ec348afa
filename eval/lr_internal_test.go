package eval

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestAgreement(t *testing.T) {
	tests := []struct {
		labels [][]int
		all    float64
		pair   [][]float64
	}{
		{nil, 0, [][]float64{}},
		{[][]int{{}, {}}, 0, [][]float64{{0, 0}, {0, 0}}},
		{[][]int{{1, 2, 3, 4}}, 1, [][]float64{{1}}},
		{[][]int{{1, 2, 3, 4}, {1, 2, 3, 4}}, 1, [][]float64{{1, 1}, {1, 1}}},
		{[][]int{{1, 2, 3, 4}, {2, 1, 4, 3}}, 0, [][]float64{{1, 0}, {0, 1}}},
		{[][]int{{0, 0, 1, 1}, {0, 1, 1, 0}}, 0.5, [][]float64{{1, 0.5}, {0.5, 1}}},
		// Three domains: every pair agrees on half the latents, all three
		// only on the first.
		{[][]int{{0, 0, 1, 1}, {0, 0, 2, 2}, {0, 3, 1, 2}}, 0.25, [][]float64{{1, 0.5, 0.5}, {0.5, 1, 0.5}, {0.5, 0.5, 1}}},
	}
	for _, tt := range tests {
		all, pair := agreement(tt.labels)
		if all != tt.all || !reflect.DeepEqual(pair, tt.pair) {
			t.Errorf("agreement(%v) = %v, %v; want %v, %v", tt.labels, all, pair, tt.all, tt.pair)
		}
	}
}

// TestAgreementBounds: on random labels the agreement lies in [0, 1],
// below every pair's, and the pairs are symmetric with 1 on the diagonal.
func TestAgreementBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		k, n, classes := 1+rng.IntN(4), 1+rng.IntN(30), 1+rng.IntN(4)
		labels := make([][]int, k)
		for d := range labels {
			for range n {
				labels[d] = append(labels[d], rng.IntN(classes))
			}
		}
		all, pair := agreement(labels)
		if all < 0 || all > 1 {
			t.Fatalf("agreement %v of %v outside [0, 1]", all, labels)
		}
		for a := range k {
			if pair[a][a] != 1 {
				t.Fatalf("pair[%d][%d] = %v of %v, want 1", a, a, pair[a][a], labels)
			}
			for b := range k {
				if pair[a][b] != pair[b][a] || pair[a][b] < all || pair[a][b] > 1 {
					t.Fatalf("pair %v, agreement %v of %v: not symmetric in [agreement, 1]", pair, all, labels)
				}
			}
		}
	}
}

func TestChanceAgreement(t *testing.T) {
	tests := []struct {
		hists [][]float64
		want  float64
	}{
		{nil, 0},
		{[][]float64{{0.5, 0.5}}, 1},
		{[][]float64{{0.5, 0.5}, {0.5, 0.5}}, 0.5},
		{[][]float64{{1, 0}, {1, 0}, {1, 0}}, 1},
		{[][]float64{{1, 0}, {0, 1}}, 0},
		{[][]float64{{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, {0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}}, 0.1},
	}
	for _, tt := range tests {
		if got := chanceAgreement(tt.hists); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("chanceAgreement(%v) = %v, want %v", tt.hists, got, tt.want)
		}
	}
}

func TestClassAccuracy(t *testing.T) {
	tests := []struct {
		labels, ys []int
		want       float64
	}{
		{[]int{1, 2, 3}, nil, 0}, // no class code
		{[]int{1, 2, 3, 4}, []int{1, 2, 3, 4}, 1},
		{[]int{1, 2, 3, 4}, []int{1, 0, 3, 0}, 0.5},
		{[]int{0, 0, 0, 0}, []int{1, 2, 3, 4}, 0},
	}
	for _, tt := range tests {
		if got := classAccuracy(tt.labels, tt.ys); got != tt.want {
			t.Errorf("classAccuracy(%v, %v) = %v, want %v", tt.labels, tt.ys, got, tt.want)
		}
	}
}

func TestChanceGivenClass(t *testing.T) {
	tests := []struct {
		name   string
		labels [][]int
		ys     []int
		want   float64
	}{
		{"no class code", [][]int{{0, 1}, {0, 1}}, nil, 0},
		// Each domain draws the class asked for: the class alone ties the
		// label, so independent draws given y agree always.
		{"labels are the classes", [][]int{{0, 1, 2, 0}, {0, 1, 2, 0}}, []int{0, 1, 2, 0}, 1},
		// One class, each domain half 0, half 1 (in different columns):
		// independent draws agree with chance 1/2 (the columns agree on none).
		{"one class, two labels", [][]int{{0, 0, 1, 1}, {1, 1, 0, 0}}, []int{5, 5, 5, 5}, 0.5},
		// Class 0 (half the columns) always labelled 0 in both; class 1:
		// domain 0 labels 1, 1; domain 1 labels 1, 2: 1/2 · 1 + 1/2 · 1/2.
		{"two classes", [][]int{{0, 0, 1, 1}, {0, 0, 1, 2}}, []int{0, 0, 1, 1}, 0.75},
		// Three domains, one class: h = (1/2, 1/2), (1/2, 1/2), (1, 0):
		// 1/2 · 1/2 · 1 = 1/4.
		{"three domains", [][]int{{0, 1}, {1, 0}, {0, 0}}, []int{3, 3}, 0.25},
	}
	for _, tt := range tests {
		if got := chanceGivenClass(tt.labels, tt.ys); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("%s: chanceGivenClass = %v, want %v", tt.name, got, tt.want)
		}
	}
}
