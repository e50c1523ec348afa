package fed

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// robustRules are the rules that must bound influence.
var robustRules = []Robust{RobustClip, RobustTrimmed, RobustMedian}

// aggSync is the sync edge's aggregation of one iteration under cfg: the
// plausibility check, then Eq. 4 (robust or not) and the combination. It
// returns the aggregated gradient and loss.
func aggSync(t *testing.T, cfg RobustConfig, losses []float64, grads [][]float32) ([]float32, float64) {
	t.Helper()
	dst := make([]float32, len(grads[0]))
	if cfg.Rule == RobustNone {
		w, err := SyncWeights(losses, WeightsExact)
		if err != nil {
			t.Fatal(err)
		}
		if err := Combine(dst, w.Coeffs, grads); err != nil {
			t.Fatal(err)
		}
		return dst, w.Loss
	}
	var ls []float64
	var gs [][]float32
	for j, l := range losses {
		if LossPlausible(l) {
			ls, gs = append(ls, l), append(gs, grads[j])
		}
	}
	norms := make([]float64, len(gs))
	for j, g := range gs {
		norms[j] = Norm(g)
	}
	b := cfg.Bound(ls, norms, nil, nil)
	w, _, err := cfg.RobustSyncWeights(b.Losses, WeightsExact)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.RobustCombine(dst, w.Coeffs, w.Weights, b.Scales, gs); err != nil {
		t.Fatal(err)
	}
	return dst, w.Loss
}

func dist(a, b []float32) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return math.Sqrt(s)
}

// honest draws n devices' losses in [−1.5, −0.3] and B×d feedback tensors
// of entries N(0, 0.01²).
func honest(r *rand.Rand, n, size int) ([]float64, [][]float32) {
	losses := make([]float64, n)
	grads := make([][]float32, n)
	for j := range losses {
		losses[j] = -0.3 - 1.2*r.Float64()
		grads[j] = make([]float32, size)
		for i := range grads[j] {
			grads[j][i] = float32(0.01 * r.NormFloat64())
		}
	}
	return losses, grads
}

// lies are the reports a device can send: a loss and a rule for its
// tensor given an honest one.
var lies = []struct {
	name string
	loss float64
	grad func(g []float32, r *rand.Rand)
}{
	{"loss 1e30", 1e30, func([]float32, *rand.Rand) {}},
	{"loss 0, feedback ×1e30", 0, func(g []float32, _ *rand.Rand) { scaleBy(g, 1e30) }},
	{"loss 0, feedback −1e30", 0, func(g []float32, _ *rand.Rand) { scaleBy(g, -1e30) }},
	{"loss −1e30", -1e30, func([]float32, *rand.Rand) {}},
	{"loss −MaxFloat32, feedback 1e30", -math.MaxFloat32, func(g []float32, _ *rand.Rand) { scaleBy(g, 1e30) }},
	{"loss 0, feedback 0", 0, func(g []float32, _ *rand.Rand) { clear(g) }},
	{"loss 0, feedback MaxFloat32/1e3 random signs", 0, func(g []float32, r *rand.Rand) {
		for i := range g {
			g[i] = float32(math.MaxFloat32 / 1e3 * (2*r.Float64() - 1))
		}
	}},
	{"loss −0.5, feedback ×1e6", -0.5, func(g []float32, _ *rand.Rand) { scaleBy(g, 1e6) }},
	{"random loss, random feedback", math.NaN(), func(g []float32, r *rand.Rand) {
		for i := range g {
			g[i] = float32(math.Exp(40*r.Float64()) * r.NormFloat64())
		}
	}},
}

func scaleBy(g []float32, s float64) {
	for i := range g {
		g[i] = float32(float64(g[i]) * s)
	}
}

// TestRobustSyncBounded: with n−1 honest devices and one that sends any of
// the lies (and random finite values), the aggregated feedback under every
// robust rule moves by at most a few honest norms from the honest
// aggregate, and the aggregated loss stays within the honest range; under
// none the same lies move it by orders of magnitude (so the bound says
// something).
func TestRobustSyncBounded(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const size = 64 * 2
	for trial := 0; trial < 30; trial++ {
		n := 3 + trial%4
		losses, grads := honest(r, n, size)
		var hmax float64
		for _, g := range grads {
			hmax = max(hmax, Norm(g))
		}
		ref, refLoss := aggSync(t, RobustConfig{Rule: RobustNone}, losses, grads)
		for _, lie := range lies {
			ls := slices.Clone(losses)
			gs := make([][]float32, n)
			for j := range grads {
				gs[j] = slices.Clone(grads[j])
			}
			ls[0] = lie.loss
			if math.IsNaN(lie.loss) {
				ls[0] = -math.Exp(80 * r.Float64())
			}
			lie.grad(gs[0], r)
			for _, rule := range robustRules {
				cfg, _ := RobustConfig{Rule: rule}.withDefaults()
				got, l := aggSync(t, cfg, ls, gs)
				// One device's coefficient is at most cap·(1 + spread + δ)
				// and its tensor at most κ × the others' median.
				if d := dist(got, ref); d > 8*hmax {
					t.Errorf("n %d, %s, %v: aggregate moved %.3g, honest norms ≤ %.3g", n, lie.name, rule, d, hmax)
				}
				if l < slices.Min(losses)-cfg.LossSpread || l > 0 {
					t.Errorf("n %d, %s, %v: L_sync %g outside [%g−δ, 0]", n, lie.name, rule, l, slices.Min(losses))
				}
			}
			if trial == 0 && lie.name == "loss 0, feedback ×1e30" {
				got, _ := aggSync(t, RobustConfig{Rule: RobustNone}, ls, gs)
				if d := dist(got, ref); d < 1e20 {
					t.Errorf("none: %s moved the aggregate only %.3g: the lie is too weak to test the bound", lie.name, d)
				}
			}
		}
		_ = refLoss
	}
}

// TestRobustHonestUnchanged: honest reports within the bounds (losses
// within δ of each other, norms within κ of each other's median, weights
// under the cap) aggregate bit for bit as under none with the clip rule.
func TestRobustHonestUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 50; trial++ {
		n := 2 + trial%5
		losses, grads := honest(r, n, 32)
		for j := range losses {
			losses[j] = -0.7 + 0.1*r.Float64()
		}
		want, wl := aggSync(t, RobustConfig{Rule: RobustNone}, losses, grads)
		got, gl := aggSync(t, DefaultRobust, losses, grads)
		if !slices.Equal(got, want) || gl != wl {
			t.Fatalf("n %d: clip changed an honest aggregation: loss %v vs %v", n, gl, wl)
		}
	}
}

// TestCapWeights: the capped weights sum to 1, none exceeds the cap, the
// uncapped keep their ratios, and a cap below 1/n gives 1/n each.
func TestCapWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for trial := 0; trial < 200; trial++ {
		n := 1 + r.IntN(8)
		x := make([]float64, n)
		for i := range x {
			x[i] = 30 * r.NormFloat64()
		}
		w, _ := Softmax(nil, x)
		orig := slices.Clone(w)
		c := 1.5 / float64(n)
		CapWeights(w, c)
		var s float64
		for i, v := range w {
			s += v
			if v > max(c, 1/float64(n))*(1+1e-12) {
				t.Fatalf("w[%d] = %g above the cap %g", i, v, c)
			}
		}
		if math.Abs(s-1) > 1e-12 {
			t.Fatalf("sum %g", s)
		}
		// uncapped weights keep their ratios
		for i := range w {
			for j := range w {
				if w[i] < c*(1-1e-9) && w[j] < c*(1-1e-9) && orig[j] > 1e-200 && orig[i] > 1e-200 {
					if math.Abs(w[i]/w[j]-orig[i]/orig[j]) > 1e-6*orig[i]/orig[j] {
						t.Fatalf("ratio %d/%d changed: %g vs %g", i, j, w[i]/w[j], orig[i]/orig[j])
					}
				}
			}
		}
	}
	w := []float64{1, 0, 0}
	CapWeights(w, 0.1)
	if !slices.Equal(w, []float64{1.0 / 3, 1.0 / 3, 1.0 / 3}) {
		t.Errorf("cap below 1/n: %v", w)
	}
}

// TestRobustAsyncBounded: the async share of any one report is at most
// the cap, and a loss of −1e30 no longer drags L_async.
func TestRobustAsyncBounded(t *testing.T) {
	cfg := DefaultRobust
	for _, n := range []int{2, 3, 6} {
		losses := make([]float64, n)
		stale := make([]float64, n)
		for j := range losses {
			losses[j], stale[j] = -0.7, float64(j)
		}
		losses[n-1] = -1e30
		norms := make([]float64, n)
		b := cfg.Bound(losses, norms, nil, nil)
		w, _, err := cfg.RobustAsyncWeights(b.Losses, stale)
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, c := range w.Coeffs {
			sum += c
		}
		for j, c := range w.Coeffs {
			if c/sum > cfg.WeightCap/float64(n)+1e-12 {
				t.Errorf("n %d: share of %d is %g, cap %g", n, j, c/sum, cfg.WeightCap/float64(n))
			}
		}
		if w.Loss < -0.7-cfg.LossSpread {
			t.Errorf("n %d: L_async %g dragged below −0.7−δ", n, w.Loss)
		}
	}
}

// TestRobustCombineRules: trimmed and median ignore one extreme tensor
// per coordinate; errors are Combine's.
func TestRobustCombineRules(t *testing.T) {
	vecs := [][]float32{{1, 2}, {1.1, 2.1}, {0.9, 1.9}, {1e30, -1e30}, {1, 2}}
	w := []float64{0.2, 0.2, 0.2, 0.2, 0.2}
	ones := []float64{1, 1, 1, 1, 1}
	for _, rule := range []Robust{RobustTrimmed, RobustMedian} {
		dst := make([]float32, 2)
		if err := (RobustConfig{Rule: rule, Trim: 0.2}).RobustCombine(dst, w, w, ones, vecs); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(dst[0])-1) > 0.11 || math.Abs(float64(dst[1])-2) > 0.11 {
			t.Errorf("%v: %v", rule, dst)
		}
	}
	err := (RobustConfig{Rule: RobustMedian}).RobustCombine(make([]float32, 2), w, w, ones, [][]float32{{1, 2}, {1, 2}, {float32(math.Inf(1)), 0}, {1, 2}, {1, 2}})
	if !errors.Is(err, ErrNonFinite) {
		t.Errorf("infinite entry: %v", err)
	}
	if trimCount(3, 0.2) != 1 || trimCount(2, 0.4) != 0 || trimCount(10, 0.2) != 2 {
		t.Error("trimCount")
	}
}

// TestRobustConfigChecks: every bad number is refused, zeros take the
// defaults.
func TestRobustConfigChecks(t *testing.T) {
	got, err := RobustConfig{Rule: RobustClip}.withDefaults()
	if err != nil || got != DefaultRobust {
		t.Fatalf("defaults: %+v, %v", got, err)
	}
	for _, c := range []RobustConfig{
		{Rule: 9}, {WeightCap: 0.5}, {Clip: 0.9}, {Trim: 0.5}, {Trim: -1}, {LossSpread: -1},
		{LossSpread: math.Inf(1)}, {Window: -1}, {Suspect: 1.5}, {Clip: math.NaN()},
	} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestSuspects: a device that is an outlier in more than half its window
// is a suspect, and stops being one after enough clean reports.
func TestSuspects(t *testing.T) {
	s := newSuspects(4, 0.5)
	for _, o := range []bool{true, true, false} {
		s.record("a", o)
	}
	if s.suspect("a") {
		t.Error("2 of 4 is not more than half")
	}
	s.record("a", true)
	if !s.suspect("a") || !slices.Equal(s.list(), []string{"a"}) {
		t.Error("3 of 4 outliers: want a suspect")
	}
	for range 3 {
		s.record("a", false)
	}
	if s.suspect("a") {
		t.Error("1 of the last 4: not a suspect")
	}
}

// TestEdgeRobustLiar drives a sync and an async edge with three devices,
// one of which reports a loss of 1e30 (rejected, counted, a suspect) and
// then loss 0 with feedback ×1e30 (clipped); with quarantine its feedback
// is left out. The edge keeps updating with finite parameters.
func TestEdgeRobustLiar(t *testing.T) {
	for _, mode := range []Mode{Sync, Async} {
		g := tinyGen(t)
		e, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a", "b", "liar"}, Layout: Layout{Latent: 2}, Mode: mode,
			SyncPeriod: time.Second, LocalIters: 1000, Batch: 4, DataDim: 2, Gen: g, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), RNG: rand.NewPCG(1, 2),
			Robust: RobustConfig{Rule: RobustClip, Window: 4, Quarantine: true}})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		for _, d := range []string{"a", "b", "liar"} {
			_ = e.Presence(now, d, true)
		}
		if err := e.Global(now, &Global{Round: 0, Params: nn.Flatten(nil, g.Params())}); err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(9, 9))
		for it := int64(1); it <= 12; it++ {
			now = now.Add(10 * time.Millisecond)
			ver := e.Stats().Version
			for _, d := range []string{"a", "b", "liar"} {
				grad := make([]float32, 8)
				for i := range grad {
					grad[i] = float32(0.01 * r.NormFloat64())
				}
				loss := -0.7
				if d == "liar" {
					if it%2 == 1 {
						loss = 1e30
					} else {
						loss = 0
						scaleBy(grad, 1e30)
					}
				}
				err := e.Feedback(now, &Feedback{Device: d, Round: 0, Iter: it, Version: ver, Loss: loss, Grad: grad})
				if (err != nil) != (d == "liar" && loss > 0) {
					t.Errorf("%v it %d %s: %v", mode, it, d, err)
				}
			}
			e.Tick(now)
			e.Advance()
		}
		s := e.Stats()
		t.Logf("%v: rejected %v bounded %v quarantined %d", mode, s.Rejected, s.Bounded, s.Quarantined)
		if s.Rejected[ReasonLossAbove] != 6 || s.Bounded[ReasonClipped] == 0 || !slices.Contains(s.Suspects, "liar") || s.Quarantined == 0 {
			t.Errorf("%v: stats %+v", mode, s)
		}
		if s.Updates < 10 {
			t.Errorf("%v: %d updates", mode, s.Updates)
		}
		for _, p := range g.Params() {
			if checkFinite32(p.Name, p.Value) != nil {
				t.Fatalf("%v: G not finite", mode)
			}
		}
	}
}

// TestEdgeRobustAlone: a device online alone in its community (the others
// never came online) has no reference for its feedback, and is aggregated
// all the same: the default rule must not stall a community.
func TestEdgeRobustAlone(t *testing.T) {
	rob, err := RobustConfig{Rule: RobustClip}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []Mode{Sync, Async} {
		g := tinyGen(t)
		e, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a", "b", "c"}, Layout: Layout{Latent: 2}, Mode: mode,
			SyncPeriod: time.Second, LocalIters: 1000, Batch: 4, DataDim: 2, Gen: g, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), RNG: rand.NewPCG(1, 2),
			Robust: rob})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		_ = e.Presence(now, "a", true)
		if err := e.Global(now, &Global{Round: 0, Params: nn.Flatten(nil, g.Params())}); err != nil {
			t.Fatal(err)
		}
		for it := int64(1); it <= 5; it++ {
			now = now.Add(10 * time.Millisecond)
			grad := []float32{0.01, -0.02, 0.03, 0, 0.01, 0.01, -0.01, 0.02}
			if err := e.Feedback(now, &Feedback{Device: "a", Round: 0, Iter: it, Version: e.Stats().Version, Loss: -0.7, Grad: grad}); err != nil {
				t.Fatalf("%v it %d: %v", mode, it, err)
			}
			e.Tick(now)
			e.Advance()
		}
		if s := e.Stats(); s.Updates != 5 || s.Bounded[ReasonNoRef] != 0 {
			t.Errorf("%v: %d updates (want 5), bounded %v", mode, s.Updates, s.Bounded)
		}
	}
}

// TestEdgeRobustFirstAsyncReport: an async edge leaves out the first
// report of a device while another live device has not reported yet
// (nothing bounds it), and aggregates once the other has.
func TestEdgeRobustFirstAsyncReport(t *testing.T) {
	rob, err := RobustConfig{Rule: RobustClip}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	g := tinyGen(t)
	e, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a", "b"}, Layout: Layout{Latent: 2}, Mode: Async,
		SyncPeriod: time.Second, LocalIters: 1000, Batch: 4, DataDim: 2, Gen: g, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), RNG: rand.NewPCG(1, 2),
		Robust: rob})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	_ = e.Presence(now, "a", true)
	_ = e.Presence(now, "b", true)
	if err := e.Global(now, &Global{Round: 0, Params: nn.Flatten(nil, g.Params())}); err != nil {
		t.Fatal(err)
	}
	grad := []float32{0.01, -0.02, 0.03, 0, 0.01, 0.01, -0.01, 0.02}
	send := func(dev string) {
		now = now.Add(10 * time.Millisecond)
		if err := e.Feedback(now, &Feedback{Device: dev, Round: 0, Iter: e.Stats().Iter, Version: e.Stats().Version, Loss: -0.7, Grad: grad}); err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
		e.Tick(now)
		e.Advance()
	}
	send("a")
	if s := e.Stats(); s.Bounded[ReasonNoRef] != 1 {
		t.Fatalf("a's first report: bounded %v, want it left out as unreferenced", s.Bounded)
	}
	send("b") // a's report is b's reference
	send("a")
	if s := e.Stats(); s.Bounded[ReasonNoRef] != 1 {
		t.Errorf("after b reported: bounded %v, want no more unreferenced reports", s.Bounded)
	}
}

// TestCloudRobust: over rounds of three communities whose honest updates
// move G by small steps, one community lies in turn: a loss of 1e30
// (rejected and counted; the round still closes without it), a loss of 0
// with parameters ×1e30 (clipped, weight capped), a loss of −1e30 (raised).
// G moves by at most a bounded step from the honest average, stays
// finite, and the liar ends as a suspect. Under none the same lies
// replace G with the liar's parameters.
// TestCloudClipHonestIsEq1: with honest updates that no bound touches,
// the clip rule's cloud computes Eq. 1 to the bit, as RobustNone does.
func TestCloudClipHonestIsEq1(t *testing.T) {
	var gens [2][]float32
	for i, rule := range []Robust{RobustNone, RobustClip} {
		rob, err := RobustConfig{Rule: rule}.WithDefaults()
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewCloud(CloudConfig{Communities: []string{"a", "b", "c"}, GlobalRounds: 5, RoundTimeout: time.Minute,
			Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), Robust: rob})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		c.Start(now)
		r := rand.New(rand.NewPCG(1, 1))
		for round := range 5 {
			g := nn.Flatten(nil, c.Gen().Params())
			for k, id := range []string{"a", "b", "c"} {
				p := slices.Clone(g)
				for i := range p {
					p[i] += float32(0.01 * r.NormFloat64())
				}
				if err := c.Update(now, &Update{Community: id, Round: round, Loss: -0.7 - 0.01*float64(k), Params: p}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if s := c.Stats(); len(s.Bounded) != 0 {
			t.Fatalf("%v: bounded %v; the test wants honest updates", rule, s.Bounded)
		}
		gens[i] = nn.Flatten(nil, c.Gen().Params())
	}
	if !slices.Equal(gens[0], gens[1]) {
		t.Errorf("clip's G differs from Eq. 1's by %g", dist(gens[0], gens[1]))
	}
}

func TestCloudRobust(t *testing.T) {
	for _, rule := range append([]Robust{RobustNone}, robustRules...) {
		c, err := NewCloud(CloudConfig{Communities: []string{"a", "b", "liar"}, GlobalRounds: 30, RoundTimeout: time.Minute,
			Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), Robust: RobustConfig{Rule: rule, Window: 4}})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		c.Start(now)
		r := rand.New(rand.NewPCG(1, 1))
		var worst float64
		for round := 0; round < 30; round++ {
			g := nn.Flatten(nil, c.Gen().Params())
			honest := func() []float32 {
				p := slices.Clone(g)
				for i := range p {
					p[i] += float32(0.01 * r.NormFloat64())
				}
				return p
			}
			pa, pb := honest(), honest()
			liar := honest()
			loss := -0.7
			switch round % 3 {
			case 0:
				loss = 1e30
			case 1:
				loss = 0
				for i := range liar {
					liar[i] *= 1e30
				}
			case 2:
				loss = -1e30
			}
			for _, u := range []*Update{{Community: "a", Round: round, Loss: -0.7, Params: pa}, {Community: "b", Round: round, Loss: -0.72, Params: pb}, {Community: "liar", Round: round, Loss: loss, Params: liar}} {
				err := c.Update(now, u)
				if (err != nil) != (rule != RobustNone && u.Community == "liar" && loss > 0) {
					t.Fatalf("%v round %d %s: %v", rule, round, u.Community, err)
				}
			}
			if c.Round() != round+1 {
				t.Fatalf("%v: round %d did not close", rule, round)
			}
			mid := make([]float32, len(g))
			for i := range mid {
				mid[i] = (pa[i] + pb[i]) / 2
			}
			d := dist(nn.Flatten(nil, c.Gen().Params()), mid)
			if math.IsNaN(d) {
				d = math.Inf(1)
			}
			worst = max(worst, d)
		}
		s := c.Stats()
		t.Logf("%v: worst distance from the honest average %.3g; rejected %v, bounded %v, suspects %v", rule, worst, s.Rejected, s.Bounded, s.Suspects)
		if rule == RobustNone {
			if worst < 1e20 {
				t.Errorf("none: the lies moved G only %.3g: too weak to test the bound", worst)
			}
			continue
		}
		// An honest step is about 0.01·√(#params) ≈ 0.05.
		if worst > 0.5 || s.Rejected[ReasonLossAbove] != 10 || !slices.Contains(s.Suspects, "liar") {
			t.Errorf("%v: worst %.3g, stats %+v", rule, worst, s)
		}
	}
}

// TestCloudRobustRestore: an update rejected before a checkpoint stays
// out of Eq. 1 after a restore.
func TestCloudRobustRestore(t *testing.T) {
	cfg := CloudConfig{Communities: []string{"a", "liar"}, GlobalRounds: 2, RoundTimeout: time.Minute,
		Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), Robust: DefaultRobust}
	c, err := NewCloud(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(0, 0)
	c.Start(now)
	g := nn.Flatten(nil, c.Gen().Params())
	liar := slices.Clone(g)
	for i := range liar {
		liar[i] += 100
	}
	if err := c.Update(now, &Update{Community: "liar", Round: 0, Loss: 1e30, Params: liar}); err == nil {
		t.Fatal("loss 1e30 accepted")
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gen = tinyGen(t)
	d, err := NewCloud(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Restore(snap); err != nil {
		t.Fatal(err)
	}
	d.Start(now)
	if err := d.Update(now, &Update{Community: "a", Round: 0, Loss: -0.7, Params: g}); err != nil {
		t.Fatal(err)
	}
	if got := nn.Flatten(nil, d.Gen().Params()); !slices.Equal(got, g) {
		t.Errorf("the rejected update reached G after a restore")
	}
}
