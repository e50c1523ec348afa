package fed

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// runSampled drives a sync edge of n devices asking k per iteration
// (every asked device answers at once) for iters iterations and returns
// the devices each batch was for.
func runSampled(t *testing.T, n, k, iters int, seed uint64) [][]string {
	t.Helper()
	devs := make([]string, n)
	for i := range devs {
		devs[i] = fmt.Sprintf("d%03d", i)
	}
	gen := tinyGen(t)
	e, err := NewEdge(EdgeConfig{Community: "c", Devices: devs, Mode: Sync, SyncPeriod: time.Second, LocalIters: iters + 1,
		Batch: 2, Layout: Layout{Latent: 2}, DataDim: 2, RNG: rand.NewPCG(seed, seed), Gen: gen, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), Sample: k})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	for _, d := range devs {
		if err := e.Presence(now, d, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Global(now, &Global{Params: nn.Flatten(nil, gen.Params())}); err != nil {
		t.Fatal(err)
	}
	var asked [][]string
	for range iters {
		r := e.Ready()
		e.Advance()
		if len(r.Batches) != 1 {
			t.Fatalf("ready holds %d batches, want 1", len(r.Batches))
		}
		to, b := r.To[0], r.Batches[0]
		asked = append(asked, to)
		for _, d := range to {
			now = now.Add(time.Millisecond)
			if err := e.Feedback(now, &Feedback{Device: d, Round: b.Round, Iter: b.Iter, Version: b.Version, Loss: -0.5, Grad: []float32{0.1, 0.1, 0.1, 0.1}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return asked
}

// TestSampleFair: over any stretch of iterations every device is asked
// as often as every other, give or take one; each batch asks k distinct
// devices; the picks are the seed's (the same seed, the same picks; a
// different seed, others).
func TestSampleFair(t *testing.T) {
	for _, tt := range []struct{ n, k, iters int }{{5, 2, 40}, {50, 7, 60}, {10, 10, 5}, {3, 5, 4}} {
		asked := runSampled(t, tt.n, tt.k, tt.iters, 1)
		count := map[string]int{}
		for i, to := range asked {
			if want := min(tt.k, tt.n); len(to) != want || !slices.IsSorted(to) || len(slices.Compact(slices.Clone(to))) != want {
				t.Fatalf("n=%d k=%d: batch %d for %v, want %d distinct devices, sorted", tt.n, tt.k, i, to, want)
			}
			for _, d := range to {
				count[d]++
			}
			lo, hi := tt.iters, 0
			for j := range tt.n {
				c := count[fmt.Sprintf("d%03d", j)]
				lo, hi = min(lo, c), max(hi, c)
			}
			if hi-lo > 1 {
				t.Fatalf("n=%d k=%d: after %d batches devices were asked %d to %d times, want a spread of at most 1", tt.n, tt.k, i+1, lo, hi)
			}
		}
		again := runSampled(t, tt.n, tt.k, tt.iters, 1)
		if !slices.EqualFunc(asked, again, slices.Equal) {
			t.Errorf("n=%d k=%d: the same seed asked other devices", tt.n, tt.k)
		}
		if tt.k < tt.n {
			other := runSampled(t, tt.n, tt.k, tt.iters, 2)
			if slices.EqualFunc(asked, other, slices.Equal) {
				t.Errorf("n=%d k=%d: seeds 1 and 2 asked the same devices in every batch", tt.n, tt.k)
			}
		}
	}
}

// TestSampleConfig: Sample and Quorum must be ≥ 0, a quorum is for sync
// edges and at most the sample.
func TestSampleConfig(t *testing.T) {
	for _, tt := range []struct {
		mode           Mode
		sample, quorum int
		ok             bool
	}{
		{Sync, 0, 0, true}, {Sync, 5, 3, true}, {Sync, 0, 3, true}, {Async, 5, 0, true},
		{Sync, -1, 0, false}, {Sync, 5, -1, false}, {Sync, 3, 5, false}, {Async, 5, 2, false},
	} {
		_, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a"}, Mode: tt.mode, SyncPeriod: time.Second, LocalIters: 1,
			Batch: 2, Layout: Layout{Latent: 2}, DataDim: 2, RNG: rand.NewPCG(1, 1), Gen: tinyGen(t), Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8),
			Sample: tt.sample, Quorum: tt.quorum})
		if (err == nil) != tt.ok || err != nil && !strings.Contains(err.Error(), "Quorum") {
			t.Errorf("%s sample %d quorum %d: %v, want ok=%v", tt.mode, tt.sample, tt.quorum, err, tt.ok)
		}
	}
}
