package fed

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// TestEdgeRobustOwnReportsNoReference: an async drain that holds several
// reports of one device (it answered several batches while the edge was
// busy) judges each of them against the *other* devices' norms, never
// against its own other reports. Before this rule a liar whose three
// ×1e30 reports shared a drain was its own reference: none was clipped,
// G_k's gradient reached 1e27, Adam's second moment overflowed to +Inf
// and every later step of G_k was 0 (G_k frozen for the rest of the run;
// docs/RESULTS.md §6). Here the liar's reports are clipped and G_k still
// moves with the honest devices' later reports.
func TestEdgeRobustOwnReportsNoReference(t *testing.T) {
	rob, err := RobustConfig{Rule: RobustClip}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g := tinyGen(t)
	e, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a1", "a2", "liar"}, Layout: Layout{Latent: 2}, Mode: Async,
		SyncPeriod: time.Second, LocalIters: 1000, Batch: 4, DataDim: 2, Gen: g, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), RNG: rand.NewPCG(1, 2),
		Robust: rob, MaxStaleness: 8})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	for _, d := range []string{"a1", "a2", "liar"} {
		_ = e.Presence(now, d, true)
	}
	if err := e.Global(now, &Global{Round: 0, Params: nn.Flatten(nil, g.Params())}); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	grad := func(s float32) []float32 {
		x := make([]float32, 8)
		for i := range x {
			x[i] = s * float32(0.05*r.NormFloat64())
		}
		return x
	}
	iter := map[string]int64{}
	send := func(dev string, s float32, loss float64) {
		iter[dev]++
		if err := e.Feedback(now, &Feedback{Device: dev, Round: 0, Iter: iter[dev], Version: e.Stats().Version, Loss: loss, Grad: grad(s)}); err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
	}
	tick := func() {
		now = now.Add(10 * time.Millisecond)
		e.Tick(now)
		e.Advance()
	}
	for range 3 { // references: the honest devices, one per drain
		send("a1", 1, -0.7)
		tick()
		send("a2", 1, -0.7)
		tick()
	}
	before := nn.Flatten(nil, g.Params())
	for range 3 { // one drain of three reports, all the liar's
		send("liar", 1e30, 0)
	}
	tick()
	after := nn.Flatten(nil, g.Params())
	if d := dist(before, after); !(d < 1) {
		t.Errorf("the liar's drain moved G_k by %g", d)
	}
	if s := e.Stats(); s.Bounded[ReasonClipped] < 3 {
		t.Errorf("bounded %v: want the liar's 3 reports clipped", s.Bounded)
	}
	for range 3 {
		send("a1", 1, -0.7)
		tick()
	}
	if d := dist(after, nn.Flatten(nil, g.Params())); !(d > 0) {
		t.Errorf("honest reports after the liar's drain moved G_k by %g: the optimizer is stuck", d)
	}
}

// TestEdgeRobustOverflowGuard: under a robust rule, a step whose
// parameter gradient would overflow the optimizer's state (|g| above
// √MaxFloat32, where Adam's g² is +Inf and every later step 0) is skipped
// and counted; the honest steps after it still move G_k. A sync
// iteration's only report has no reference and is not clipped, so this is
// what stands between a first ×1e30 report and a frozen G_k.
func TestEdgeRobustOverflowGuard(t *testing.T) {
	rob, err := RobustConfig{Rule: RobustClip}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g := tinyGen(t)
	e, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a", "liar"}, Layout: Layout{Latent: 2}, Mode: Sync,
		SyncPeriod: time.Second, LocalIters: 1000, Batch: 4, DataDim: 2, Gen: g, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), RNG: rand.NewPCG(1, 2),
		Robust: rob})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	_ = e.Presence(now, "a", true)
	_ = e.Presence(now, "liar", true)
	if err := e.Global(now, &Global{Round: 0, Params: nn.Flatten(nil, g.Params())}); err != nil {
		t.Fatal(err)
	}
	grad := []float32{0.01, -0.02, 0.03, 0, 0.01, 0.01, -0.01, 0.02}
	big := slices.Clone(grad)
	for i := range big {
		big[i] *= 1e30
	}
	iter := func(fbs ...*Feedback) {
		for _, fb := range fbs {
			fb.Round, fb.Iter, fb.Version = 0, e.Stats().Iter, e.Stats().Version
			if err := e.Feedback(now, fb); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(2 * time.Second)
		e.Tick(now)
		e.Advance()
	}
	iter(&Feedback{Device: "liar", Loss: 0, Grad: big}) // alone: nothing to compare it with
	p0 := nn.Flatten(nil, g.Params())
	for _, v := range p0 {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("G_k not finite after the first report: %v", p0)
		}
	}
	if s := e.Stats(); s.Diverged != 1 {
		t.Errorf("diverged %d, want the ×1e30 step skipped and counted", s.Diverged)
	}
	for range 3 {
		iter(&Feedback{Device: "a", Loss: -0.7, Grad: grad})
	}
	if d := dist(p0, nn.Flatten(nil, g.Params())); !(d > 0) {
		t.Errorf("honest iterations after the ×1e30 one moved G_k by %g: the optimizer is stuck", d)
	}
}

// TestCloudRobustZeroChange: a community whose generator did not change
// in a round (Δ = 0: its edge skipped every step, or its G_k is stuck)
// gives the others no reference that round, but its last non-zero change
// does: the others are still aggregated. Before, a community stuck at
// Δ = 0 left the other of two communities "unreferenced" in every round,
// and G never changed again (docs/RESULTS.md §6).
func TestCloudRobustZeroChange(t *testing.T) {
	c, err := NewCloud(CloudConfig{Communities: []string{"a", "b"}, GlobalRounds: 10, RoundTimeout: time.Minute,
		Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), Robust: DefaultRobust})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	c.Start(now)
	r := rand.New(rand.NewPCG(1, 1))
	step := func(g []float32) []float32 {
		p := slices.Clone(g)
		for i := range p {
			p[i] += float32(0.01 * r.NormFloat64())
		}
		return p
	}
	for round := 0; round < 6; round++ {
		g := nn.Flatten(nil, c.Gen().Params())
		pa := step(g)
		if round >= 2 {
			pa = slices.Clone(g) // a is stuck from round 2 on
		}
		for _, u := range []*Update{{Community: "a", Round: round, Loss: -0.7, Params: pa}, {Community: "b", Round: round, Loss: -0.7, Params: step(g)}} {
			if err := c.Update(now, u); err != nil {
				t.Fatal(err)
			}
		}
		if round >= 3 && dist(g, nn.Flatten(nil, c.Gen().Params())) == 0 {
			t.Fatalf("round %d: G did not change (stats %+v)", round, c.Stats())
		}
	}
}

// TestBoundByOwnReportsProperty: for random aggregations in which
// reporters appear several times, with random last values, every report's
// bounded norm is at most κ × the median of the *other* reporters' votes,
// and a reporter's reports are judged the same whatever it scales them by
// (its own values are never its reference): scaling all of one reporter's
// norms by s scales their bounded norms by s at most up to that bound.
func TestBoundByOwnReportsProperty(t *testing.T) {
	cfg := DefaultRobust
	r := rand.New(rand.NewPCG(7, 7))
	names := []string{"a", "b", "c", "d"}
	for trial := 0; trial < 2000; trial++ {
		n := 1 + r.IntN(7)
		ids, losses, norms := make([]string, n), make([]float64, n), make([]float64, n)
		for j := range ids {
			ids[j], losses[j], norms[j] = names[r.IntN(len(names))], -r.Float64(), r.Float64()
		}
		last := NewRefs()
		for _, id := range names {
			if r.IntN(2) == 0 {
				l, nrm := -r.Float64(), r.Float64()
				last.Set(id, l, nrm)
			}
		}
		liar := ids[0]
		s := math.Pow(10, float64(r.IntN(61)-30))
		scaled := slices.Clone(norms)
		for j, id := range ids {
			if id == liar {
				scaled[j] *= s
			}
		}
		b, bs := cfg.BoundBy(ids, losses, norms, last), cfg.BoundBy(ids, losses, scaled, last)
		for j, id := range ids {
			if id != liar {
				continue
			}
			// The reference: one vote per other reporter.
			var votes []float64
			for _, o := range names {
				if o == liar {
					continue
				}
				var here []float64
				for k, x := range ids {
					if x == o && norms[k] > 0 {
						here = append(here, norms[k])
					}
				}
				if m, ok := Median(here); ok {
					votes = append(votes, m)
				} else if v, ok := last.Norm(o); ok && v > 0 {
					votes = append(votes, v)
				}
			}
			ref, ok := Median(votes)
			if ok != !bs.NoRef[j] && scaled[j] > 0 {
				t.Fatalf("trial %d: report %d of %s: NoRef %v with %d votes", trial, j, id, bs.NoRef[j], len(votes))
			}
			if !ok {
				continue
			}
			if got := scaled[j] * bs.Scales[j]; got > cfg.Clip*ref*(1+1e-12) {
				t.Fatalf("trial %d: report %d of %s ×%g: bounded norm %g above κ × the others' median %g", trial, j, id, s, got, cfg.Clip*ref)
			}
			if want := min(scaled[j], cfg.Clip*ref); math.Abs(scaled[j]*bs.Scales[j]-want) > 1e-9*want {
				t.Fatalf("trial %d: report %d of %s ×%g: bounded norm %g, want %g (unscaled run: %g)", trial, j, id, s, scaled[j]*bs.Scales[j], want, norms[j]*b.Scales[j])
			}
		}
	}
}

// TestMediansWithout: the median of every vote but one, from one sorted
// copy, is the median of the others computed directly, with ties, for
// every reporter and for one that did not vote.
func TestMediansWithout(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for n := range 12 {
		for range 50 {
			v := map[string]float64{}
			for i := range n {
				v[fmt.Sprint("d", i)] = float64(rng.IntN(4)) - 1.5 // ties
			}
			here := map[string][]float64{}
			for id, x := range v {
				here[id] = []float64{x}
			}
			m := newMedians(here, map[string]float64{}, nil, nil)
			for i := range n + 1 {
				id := fmt.Sprint("d", i) // d{n} did not vote
				var others []float64
				for k, x := range v {
					if k != id {
						others = append(others, x)
					}
				}
				want, wok := Median(others)
				got, ok := m.without(id)
				if got != want || ok != wok {
					t.Fatalf("votes %v, without %s: %v %v, want %v %v", v, id, got, ok, want, wok)
				}
			}
		}
	}
}

// prevBoundBy is BoundBy and Refs.Update as they were in v0.1.0: every
// reporter's vote copied into fresh maps and their values sorted for each
// aggregation; the reference for TestBoundByMatchesPrevious and
// BenchmarkBoundBy.
func prevBoundBy(c RobustConfig, ids []string, losses, norms []float64, lastLoss, lastNorm map[string]float64) Bounded {
	ls, ns := reportsBy(ids, losses, norms)
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
	b := c.judge(ids, losses, norms, sorted(lv), sorted(nv))
	for j, id := range ids {
		lastLoss[id] = b.Losses[j]
		if norms[j] > 0 {
			lastNorm[id] = norms[j] * b.Scales[j]
		}
	}
	return b
}

// TestBoundByMatchesPrevious: over random runs of aggregations (reporters
// appearing several times in one, absent from others, zero tensors, tied
// values, liars far above and below), BoundBy with Refs kept sorted
// between aggregations judges every report exactly as v0.1.0's code that
// copied and sorted every vote each time (whose medians TestMediansWithout
// checks against the direct ones), and Refs' sorted values stay the sorted
// values of its maps.
func TestBoundByMatchesPrevious(t *testing.T) {
	cfg := DefaultRobust
	r := rand.New(rand.NewPCG(11, 12))
	for run := 0; run < 200; run++ {
		names := make([]string, 1+r.IntN(12))
		for i := range names {
			names[i] = fmt.Sprint("d", i)
		}
		refs, lastLoss, lastNorm := NewRefs(), map[string]float64{}, map[string]float64{}
		for agg := 0; agg < 30; agg++ {
			n := 1 + r.IntN(2*len(names))
			ids, losses, norms := make([]string, n), make([]float64, n), make([]float64, n)
			for j := range ids {
				ids[j] = names[r.IntN(len(names))]
				losses[j] = -float64(r.IntN(5)) / 4 // ties
				switch r.IntN(6) {
				case 0:
					norms[j] = 0 // a zero tensor
				case 1:
					norms[j] = 1e6 * r.Float64() // a liar
				default:
					norms[j] = float64(1 + r.IntN(4))
				}
				if r.IntN(10) == 0 {
					losses[j] = -50 // a liar's loss
				}
			}
			want := prevBoundBy(cfg, ids, losses, norms, lastLoss, lastNorm)
			got := cfg.BoundBy(ids, losses, norms, refs)
			refs.Update(ids, norms, got)
			for j := range ids {
				if got.Losses[j] != want.Losses[j] || got.Scales[j] != want.Scales[j] || got.Raised[j] != want.Raised[j] ||
					got.Clipped[j] != want.Clipped[j] || got.NoRef[j] != want.NoRef[j] {
					t.Fatalf("run %d, aggregation %d, report %d (%s): %+v, want %+v", run, agg, j, ids[j], got, want)
				}
			}
			if !slices.Equal(refs.sLoss, sortedValues(refs.loss)) || !slices.Equal(refs.sNorm, sortedValues(refs.norm)) {
				t.Fatalf("run %d, aggregation %d: sorted %v %v, maps %v %v", run, agg, refs.sLoss, refs.sNorm, refs.loss, refs.norm)
			}
		}
	}
}

func sortedValues(m map[string]float64) []float64 {
	return slices.Sorted(maps.Values(m))
}
