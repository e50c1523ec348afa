package fed

import (
	"fmt"
	"math/rand/v2"
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
