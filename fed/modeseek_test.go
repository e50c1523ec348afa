package fed

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// TestModeSeekingHand checks L_ms and its gradient on two rows by hand:
// z = 0 and 2 (mean|Δz| = 2), x = (1, 0) and (0, 0.5) (mean|Δx| = 0.75),
// r = 0.375, L = 1/(r + ε), ∂L/∂x_1 = −1/(r + ε)² · sign(Δx)/(2 · 2).
func TestModeSeekingHand(t *testing.T) {
	x := []float32{1, 0, 0, 0.5}
	z := []float32{0, 9, 2, 9} // the second column is not latent (m = 1)
	dx := []float32{10, 20, 30, 40}
	loss := ModeSeekingGrad(dx, x, z, 2, 2, 2, 1, 1)
	r := 0.375 + msEps
	if want := 1 / r; math.Abs(loss-want) > 1e-9 {
		t.Errorf("L = %v, want %v", loss, want)
	}
	g := 1 / (r * r) / 4
	want := []float64{10 - g, 20 + g, 30 + g, 40 - g}
	for i := range dx {
		if math.Abs(float64(dx[i])-want[i]) > 1e-4 {
			t.Errorf("dx[%d] = %v, want %v", i, dx[i], want[i])
		}
	}
	// Equal halves of z: no term.
	dx = []float32{1, 2, 3, 4}
	if l := ModeSeekingGrad(dx, x, []float32{5, 0, 5, 1}, 2, 2, 2, 1, 1); l != 0 || dx[0] != 1 || dx[3] != 4 {
		t.Errorf("equal z: L = %v, dx = %v; want 0 and dx unchanged", l, dx)
	}
}

// TestModeSeekingFiniteDifference compares the gradient with central
// differences of L_ms on random rows.
func TestModeSeekingFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const b, d, zc, m, lambda = 6, 5, 4, 3, 0.7
	x := make([]float32, b*d)
	z := make([]float32, b*zc)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	dx := make([]float32, b*d)
	ModeSeekingGrad(dx, x, z, b, d, zc, m, lambda)
	scratch := make([]float32, b*d)
	const h = 1e-3
	for i := range x {
		old := x[i]
		x[i] = old + h
		lp := ModeSeekingGrad(scratch, x, z, b, d, zc, m, lambda)
		x[i] = old - h
		lm := ModeSeekingGrad(scratch, x, z, b, d, zc, m, lambda)
		x[i] = old
		num := (lp - lm) / (2 * h)
		if math.Abs(num-float64(dx[i])) > 1e-3*math.Max(1, math.Abs(num)) {
			t.Errorf("∂L/∂x[%d] = %v, central difference %v", i, dx[i], num)
		}
	}
}

// TestEdgeModeSeekingPairs checks that an edge with the term draws row
// i + B/2 of X_g with row i's class, and that the term reaches G: with
// the same rows (the pairing depends only on the term being on) and the
// same feedback, λ_ms = 1 moves G_k differently from λ_ms = 1e-12.
func TestEdgeModeSeekingPairs(t *testing.T) {
	run := func(ms float64) (*Edge, []float32) {
		e, err := classEdge(t, func(c *EdgeConfig) {
			c.ModeSeeking = ms
			for j := range 4 {
				c.Gen.Params()[0].Value[j] = 0.1 * float32(j+1) // z moves every output
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		b := firstBatch(t, e)
		e.Advance()
		for i := range 32 {
			if b.GenLabels[i] != b.GenLabels[32+i] {
				t.Fatalf("gen rows %d and %d have classes %d and %d, want a pair of one class", i, 32+i, b.GenLabels[i], b.GenLabels[32+i])
			}
		}
		grad := make([]float32, 64*4)
		for i := range grad {
			grad[i] = 0.01
		}
		if err := e.Feedback(time.Unix(0, 0), &Feedback{Device: "a", Round: 0, Iter: b.Iter, Version: b.Version, Loss: -0.5, Grad: grad}); err != nil {
			t.Fatal(err)
		}
		return e, nn.Flatten(nil, e.cfg.Gen.Params())
	}
	_, plain := run(1e-12)
	e, with := run(1)
	if e.Stats().Updates != 1 {
		t.Fatalf("%d generator updates, want 1", e.Stats().Updates)
	}
	same := true
	for i := range plain {
		same = same && plain[i] == with[i]
	}
	if same {
		t.Error("the mode-seeking term did not change G's update")
	}
}

func TestEdgeModeSeekingErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*EdgeConfig)
	}{
		{"negative", func(c *EdgeConfig) { c.ModeSeeking = -1 }},
		{"NaN", func(c *EdgeConfig) { c.ModeSeeking = math.NaN() }},
		{"odd batch", func(c *EdgeConfig) { c.ModeSeeking, c.Batch = 1, 63 }},
	} {
		_, err := classEdge(t, tc.mutate)
		if err == nil || !strings.Contains(err.Error(), "ModeSeeking") {
			t.Errorf("%s: got %v, want a ModeSeeking error", tc.name, err)
		}
	}
}
