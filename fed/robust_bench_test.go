package fed

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// BenchmarkBoundBy: one sync aggregation of an edge with 1,000 devices of
// which 50 answered (fedgan loadtest's --agents 1000 --sample 50), judged
// and recorded, by BoundBy with sorted Refs and as it was before (v0.1.0:
// every device's vote copied into fresh maps and sorted once per
// aggregation, prevBoundBy):
//
//	go test -run '^$' -bench BoundBy ./fed/
func BenchmarkBoundBy(b *testing.B) {
	const devices, asked = 1000, 50
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]string, devices)
	for i := range ids {
		ids[i] = fmt.Sprint("d", i)
	}
	draw := func(i int) ([]string, []float64, []float64) {
		who, losses, norms := make([]string, asked), make([]float64, asked), make([]float64, asked)
		for j := range who {
			who[j], losses[j], norms[j] = ids[(i*asked+j)%devices], -r.Float64(), 1+r.Float64()
		}
		return who, losses, norms
	}
	b.Run("sorted", func(b *testing.B) {
		refs := NewRefs()
		for i := range devices / asked {
			w, l, n := draw(i)
			refs.Update(w, n, DefaultRobust.BoundBy(w, l, n, refs))
		}
		b.ResetTimer()
		for i := range b.N {
			w, l, n := draw(i)
			refs.Update(w, n, DefaultRobust.BoundBy(w, l, n, refs))
		}
	})
	b.Run("v0.1.0", func(b *testing.B) {
		loss, norm := map[string]float64{}, map[string]float64{}
		for i := range devices / asked {
			w, l, n := draw(i)
			prevBoundBy(DefaultRobust, w, l, n, loss, norm)
		}
		b.ResetTimer()
		for i := range b.N {
			w, l, n := draw(i)
			prevBoundBy(DefaultRobust, w, l, n, loss, norm)
		}
	})
}

// prevBoundBy is BoundBy and Refs.Update of v0.1.0, for the benchmark:
// the votes copied into fresh maps, their values into a slice sorted once,
// then a binary search per report.
func prevBoundBy(c RobustConfig, ids []string, losses, norms []float64, lastLoss, lastNorm map[string]float64) Bounded {
	n := len(losses)
	b := Bounded{Losses: slices.Clone(losses), Scales: make([]float64, n), Raised: make([]bool, n), Clipped: make([]bool, n), NoRef: make([]bool, n)}
	ls, ns := map[string][]float64{}, map[string][]float64{}
	for j, id := range ids {
		ls[id] = append(ls[id], losses[j])
		if norms[j] > 0 {
			ns[id] = append(ns[id], norms[j])
		}
	}
	lv, nv := maps.Clone(lastLoss), map[string]float64{}
	for id, x := range lastNorm {
		if x > 0 {
			nv[id] = x
		}
	}
	for id, x := range ls {
		lv[id], _ = Median(x)
	}
	for id, x := range ns {
		nv[id], _ = Median(x)
	}
	sorted := func(v map[string]float64) medians {
		return medians{last: v, s: slices.Sorted(maps.Values(v))}
	}
	lm, nm := sorted(lv), sorted(nv)
	for j, id := range ids {
		b.Scales[j] = 1
		if ref, ok := lm.without(id); ok && losses[j] < ref-c.LossSpread {
			b.Losses[j], b.Raised[j] = min(ref-c.LossSpread, MaxLoss), true
		}
		if ref, ok := nm.without(id); ok {
			b.Scales[j] = ClipScale(norms[j], ref, c.Clip)
			b.Clipped[j] = b.Scales[j] < 1
		} else {
			b.NoRef[j] = norms[j] > 0
		}
	}
	for j, id := range ids {
		lastLoss[id] = b.Losses[j]
		if norms[j] > 0 {
			lastNorm[id] = norms[j] * b.Scales[j]
		}
	}
	return b
}
