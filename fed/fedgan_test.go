package fed

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

func TestParseAlgorithm(t *testing.T) {
	for _, s := range []string{"fr", "fedgan"} {
		a, err := ParseAlgorithm(s)
		if err != nil || a.String() != s {
			t.Errorf("ParseAlgorithm(%q) = %v, %v", s, a, err)
		}
	}
	if _, err := ParseAlgorithm("fedavg"); !errors.Is(err, ErrMode) || !strings.Contains(err.Error(), `"fr" or "fedgan"`) && !strings.Contains(err.Error(), "fr or fedgan") {
		t.Errorf("ParseAlgorithm(fedavg): %v", err)
	}
}

func TestFedAvgWeights(t *testing.T) {
	for _, c := range []struct {
		name    string
		samples []int64
		cap     float64
		want    []float64
		capped  int
	}{
		{"one", []int64{7}, 0, []float64{1}, 0},
		{"equal", []int64{5, 5}, 0, []float64{0.5, 0.5}, 0},
		{"by_samples", []int64{1, 3}, 0, []float64{0.25, 0.75}, 0},
		{"three", []int64{1000, 3000, 6000}, 0, []float64{0.1, 0.3, 0.6}, 0},
		// c = 1.5 over 3: no weight above 0.5; 0.98 → 0.5 and the rest in proportion.
		{"capped", []int64{1, 1, 98}, 1.5, []float64{0.25, 0.25, 0.5}, 1},
		{"cap_not_reached", []int64{1000, 3000, 6000}, 3, []float64{0.1, 0.3, 0.6}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w, n, err := FedAvgWeights(nil, c.samples, c.cap)
			if err != nil || n != c.capped || len(w) != len(c.want) {
				t.Fatalf("got %v, %d capped, %v; want %v, %d", w, n, err, c.want, c.capped)
			}
			for i := range w {
				if math.Abs(w[i]-c.want[i]) > 1e-15 {
					t.Fatalf("got %v, want %v", w, c.want)
				}
			}
		})
	}
	for _, bad := range [][]int64{nil, {0}, {3, -1}, {wire.MaxSamples + 1}} {
		if _, _, err := FedAvgWeights(nil, bad, 0); err == nil {
			t.Errorf("FedAvgWeights(%v) accepted", bad)
		}
	}
	if _, _, err := FedAvgWeights(nil, []int64{1}, math.NaN()); err == nil {
		t.Error("a NaN cap accepted")
	}
}

func TestFedAvg(t *testing.T) {
	dst := make([]float32, 3)
	if err := FedAvg(dst, []float64{0.25, 0.75}, [][]float32{{1, 2, -4}, {3, 4, 4}}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{2.5, 3.5, 2}; !slices.Equal(dst, want) {
		t.Fatalf("got %v, want %v", dst, want)
	}
	if err := FedAvg(dst, []float64{1}, [][]float32{{1, float32(math.Inf(1)), 0}}); err == nil {
		t.Fatal("an infinite parameter accepted")
	}
	if err := FedAvg(dst, []float64{1}, [][]float32{{1, 2}}); err == nil {
		t.Fatal("a model of the wrong size accepted")
	}
}

// TestFedAvgProperties checks on random inputs that the weights are a
// convex combination (non-negative, summing to 1, each at most c/n when
// capped, in the samples' order when not), and that the average lies
// coordinate-wise between the models and is the model itself when all
// are equal.
func TestFedAvgProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(8)
		samples := make([]int64, n)
		for i := range samples {
			samples[i] = 1 + rng.Int64N(1<<uint(1+rng.IntN(30)))
		}
		c := 0.0
		if trial%2 == 1 {
			c = 1 + rng.Float64()*2
		}
		w, _, err := FedAvgWeights(nil, samples, c)
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for i, v := range w {
			if v < 0 || c > 0 && v > max(c, 1)/float64(n)+1e-12 {
				t.Fatalf("samples %v cap %g: weight %d is %g", samples, c, i, v)
			}
			sum += v
		}
		if math.Abs(sum-1) > 1e-12 {
			t.Fatalf("samples %v: weights sum to %g", samples, sum)
		}
		for i := range n {
			for j := range n {
				if c == 0 && samples[i] < samples[j] && w[i] > w[j] {
					t.Fatalf("samples %v: weights %v out of order", samples, w)
				}
			}
		}
		dim := 1 + rng.IntN(20)
		models := make([][]float32, n)
		for k := range models {
			models[k] = make([]float32, dim)
			for i := range models[k] {
				models[k][i] = float32(rng.NormFloat64() * 10)
			}
		}
		avg := make([]float32, dim)
		if err := FedAvg(avg, w, models); err != nil {
			t.Fatal(err)
		}
		for i := range dim {
			lo, hi := models[0][i], models[0][i]
			for _, m := range models {
				lo, hi = min(lo, m[i]), max(hi, m[i])
			}
			tol := 1e-5 * (1 + max(abs32(lo), abs32(hi)))
			if avg[i] < lo-tol || avg[i] > hi+tol {
				t.Fatalf("coordinate %d: average %g outside [%g, %g]", i, avg[i], lo, hi)
			}
		}
		same := make([][]float32, n)
		for k := range same {
			same[k] = models[0]
		}
		if err := FedAvg(avg, w, same); err != nil {
			t.Fatal(err)
		}
		for i := range dim {
			if math.Abs(float64(avg[i]-models[0][i])) > 1e-5*(1+math.Abs(float64(models[0][i]))) {
				t.Fatalf("the average of equal models moved coordinate %d: %g → %g", i, models[0][i], avg[i])
			}
		}
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// tinyLocal returns the two halves of a Fed GAN device "a" of community
// "c", built the same way on every call: G 2 → 4 → 2, D 2 → 4 → 1, on the
// rows (0, 0), (1, 1), (2, 2).
func tinyLocal(t *testing.T, iters int) LocalGANConfig {
	t.Helper()
	g := must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 2}}, rand.New(rand.NewPCG(1, 1))))
	d := must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 1}}, rand.New(rand.NewPCG(4, 4))))
	w := must(NewDevice(DeviceConfig{D: d, Opt: nn.NewAdam(1e-2, 0.5, 0.999, 1e-8), DataDim: 2, Objective: NonSaturating}))
	return LocalGANConfig{
		G: EdgeConfig{Layout: Layout{Latent: 2}, LocalIters: iters, Batch: 8, DataDim: 2, Gen: g, Opt: nn.NewAdam(1e-2, 0.5, 0.999, 1e-8), RNG: rand.NewPCG(7, 7)},
		D: AgentConfig{Community: "c", Device: "a", Worker: w, Data: testRows{[]float32{0, 0, 1, 1, 2, 2}}, Dim: 2, RNG: rand.New(rand.NewPCG(6, 6))},
	}
}

// tinyLocalLR is tinyLocal in the LR scenario: device "a" of the
// community of domain 1 of 2; G takes [z, c_1] (2 + 2 → 4 → 2), D [x, c_1]
// (2 + 2 → 4 → 1).
func tinyLocalLR(t *testing.T, iters int) LocalGANConfig {
	t.Helper()
	cfg := tinyLocal(t, iters)
	cfg.G.Gen = must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 4, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 2}}, rand.New(rand.NewPCG(1, 1))))
	cfg.G.Layout.Domains, cfg.G.Domain = 2, 1
	d := must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 4, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 1}}, rand.New(rand.NewPCG(4, 4))))
	cfg.D.Worker = must(NewDevice(DeviceConfig{D: d, Opt: nn.NewAdam(1e-2, 0.5, 0.999, 1e-8), DataDim: 2, Domains: 2, Domain: 1, Objective: NonSaturating}))
	return cfg
}

// TestLocalGANLR: in the LR scenario a Fed GAN device trains the
// conditional GAN of its domain, G(z, c_k) against D(x, c_k), without the
// cloud's domain classifier or losses: its round moves G and D, and G's
// gradient reaches only the weights of its own domain's code (the other
// code's input is 0 in every row it draws).
func TestLocalGANLR(t *testing.T) {
	cfg := tinyLocalLR(t, 5)
	g0 := nn.Flatten(nil, cfg.G.Gen.Params())
	start := &Global{Round: 0, Params: g0, DParams: nn.Flatten(nil, cfg.D.Worker.cfg.D.Params())}
	l := must(NewLocalGAN(cfg))
	t0 := time.Unix(100, 0)
	got, err := l.Train(t0, start, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Steps != 5 || len(got.DParams) == 0 {
		t.Fatalf("local model %+v", got)
	}
	w := values(t, got.Params) // the first layer first: 4 inputs × 4 units, row-major
	for u := range 4 {
		if w[2*4+u] != g0[2*4+u] { // input 2: the code of domain 0
			t.Errorf("unit %d: the weight of the other domain's code moved, %g → %g", u, g0[2*4+u], w[2*4+u])
		}
		if w[3*4+u] == g0[3*4+u] { // input 3: the device's own code
			t.Errorf("unit %d: the weight of the device's domain code did not move", u)
		}
	}
}

// TestLocalGANIsFR checks that a Fed GAN device's round is, bit for bit,
// I_lo iterations of FR with a community of that one device: FR's edge
// step on G with the device's feedback, FR's device step on D.
func TestLocalGANIsFR(t *testing.T) {
	const iters = 5
	cfg := tinyLocal(t, iters)
	start := &Global{Round: 3, Params: nn.Flatten(nil, cfg.G.Gen.Params()), DParams: nn.Flatten(nil, cfg.D.Worker.cfg.D.Params())}
	l := must(NewLocalGAN(cfg))
	t0 := time.Unix(100, 0)
	got, err := l.Train(t0.Add(time.Second), start, t0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Round != 3 || got.Steps != iters || got.Samples != 3 || got.Timings.WaitUS != 1e6 || got.Device != "a" || got.Community != "c" {
		t.Fatalf("local model %+v", got)
	}

	// FR by hand: an edge whose only device is "a", and that device.
	ref := tinyLocal(t, iters)
	ref.G.Community, ref.G.Devices, ref.G.SyncPeriod = "c", []string{"a"}, time.Second
	e := must(NewEdge(ref.G))
	a := must(NewAgent(ref.D))
	must(0, e.Presence(t0, "a", true))
	must(0, e.Global(t0, start))
	var up *wire.GeneratorUpdate
	for up == nil {
		r := e.Ready()
		e.Advance()
		if len(r.Updates) > 0 {
			up = r.Updates[0]
			break
		}
		must(0, a.Work(t0, r.Batches[0], t0))
		f := must(FeedbackOf(a.Ready().Feedback))
		a.Advance()
		must(0, e.Feedback(t0, f))
	}
	for i := range up.Params {
		if !slices.Equal(up.Params[i].Data, got.Params[i].Data) {
			t.Fatalf("G tensor %d differs from FR's", i)
		}
	}
	wantD := ParamTensors(ref.D.Worker.cfg.D.Params())
	for i := range wantD {
		if !slices.Equal(wantD[i].Data, got.DParams[i].Data) {
			t.Fatalf("D tensor %d differs from FR's", i)
		}
	}
	if slices.Equal(got.Params[0].Data, wire.NewTensor(up.Params[0].Shape, start.Params[:8]).Data) {
		t.Fatal("G did not move")
	}

	// TrainModel, on the message, trains the same.
	l2 := must(NewLocalGAN(tinyLocal(t, iters)))
	cm := &wire.CommunityModel{V: wire.Version, Community: "c", Round: 3,
		Params: ParamTensors(tinyLocal(t, iters).G.Gen.Params()), DParams: ParamTensors(tinyLocal(t, iters).D.Worker.cfg.D.Params())}
	got2 := must(l2.TrainModel(t0.Add(time.Second), cm, t0))
	for i := range got.Params {
		if !slices.Equal(got.Params[i].Data, got2.Params[i].Data) {
			t.Fatalf("TrainModel: G tensor %d differs from Train's", i)
		}
	}
	for i := range got.DParams {
		if !slices.Equal(got.DParams[i].Data, got2.DParams[i].Data) {
			t.Fatalf("TrainModel: D tensor %d differs from Train's", i)
		}
	}
	bad := *cm
	bad.Round, bad.DParams = 5, cm.DParams[:1]
	if _, err := l2.TrainModel(t0, &bad, t0); err == nil {
		t.Fatal("TrainModel accepted a D of the wrong shapes")
	}
	bad.DParams, bad.Params = cm.DParams, []wire.Tensor{cm.Params[1], cm.Params[0], cm.Params[2], cm.Params[3]}
	if _, err := l2.TrainModel(t0, &bad, t0); err == nil {
		t.Fatal("TrainModel accepted G's tensors in the wrong order")
	}

	// The same round again: the same answer, not a second training.
	again, err := l.Train(t0, start, t0)
	if err != nil || again != got || l.Stats().Repeated != 1 || l.Stats().Rounds != 1 || l.Stats().Steps != iters {
		t.Fatalf("repeat: %p %v, stats %+v", again, err, l.Stats())
	}
	if m, err := l.Train(t0, &Global{Round: 4, Final: true}, t0); m != nil || err != nil {
		t.Fatalf("final model: %v, %v", m, err)
	}
	if _, err := l.Train(t0, &Global{Round: 4, Params: start.Params, DParams: start.DParams[:3]}, t0); err == nil {
		t.Fatal("a D of the wrong size accepted")
	}
	// An older round (an edge restarted from an older checkpoint) is trained.
	if m, err := l.Train(t0, &Global{Round: 1, Params: start.Params, DParams: start.DParams}, t0); err != nil || m.Round != 1 {
		t.Fatalf("older round: %v, %v", m, err)
	}
}

func TestNewLocalGANErrors(t *testing.T) {
	cfg := tinyLocal(t, 2)
	cfg.D.Worker = nil
	if _, err := NewLocalGAN(cfg); err == nil {
		t.Error("no worker accepted")
	}
	cfg = tinyLocalLR(t, 2)
	cfg.G.Domain = 2
	if _, err := NewLocalGAN(cfg); err == nil {
		t.Error("an LR device of domain 2 of 2 accepted")
	}
	cfg = tinyLocal(t, 0)
	if _, err := NewLocalGAN(cfg); err == nil {
		t.Error("zero local iterations accepted")
	}
}

// avgEdge is a Fed GAN edge of devices d1, d2, d3 whose G has 2
// parameters and D 1.
func avgEdge(t *testing.T, rob RobustConfig) *AvgEdge {
	t.Helper()
	return must(NewAvgEdge(AvgEdgeConfig{Community: "c", Devices: []string{"d1", "d2", "d3"}, RoundWait: 10 * time.Second,
		LocalIters: 5, GenShapes: [][]int{{2}}, DiscShapes: [][]int{{1}}, Robust: rob}))
}

func local(dev string, round int, n int64, g0, g1, d float32) *Local {
	return &Local{Device: dev, Round: round, Samples: n, Loss: -0.5, G: []float32{g0, g1}, D: []float32{d}}
}

func values(t *testing.T, ts []wire.Tensor) []float32 {
	t.Helper()
	v := must(flat(ts))
	return v
}

// TestAvgEdgeRound walks a Fed GAN edge through its rounds with
// hand-computed averages and every counter.
func TestAvgEdgeRound(t *testing.T) {
	e := avgEdge(t, RobustConfig{})
	t0 := time.Unix(0, 0)
	must(0, e.Presence(t0, "d1", true))
	must(0, e.Presence(t0, "d2", true))
	must(0, e.Global(t0, &Global{Round: 0, Params: []float32{0, 0}, DParams: []float32{0}}))
	r := e.Ready()
	e.Advance()
	if len(r.Models) != 1 || r.Models[0].Round != 0 || !r.Checkpoint || len(r.Updates) != 0 {
		t.Fatalf("round 0 start: %+v", r)
	}
	if dl, ok := e.Deadline(); !ok || !dl.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("deadline %v %v", dl, ok)
	}
	must(0, e.Local(t0, local("d1", 0, 1, 4, 8, 2)))
	if e.HasReady() {
		t.Fatal("closed before d2 answered")
	}
	if e.Local(t0, local("zz", 0, 1, 0, 0, 0)) == nil || e.Local(t0, local("d1", 0, 1, 4, 8, 2)) == nil {
		t.Fatal("unknown or duplicate accepted")
	}
	must(0, e.Local(t0, local("d2", 0, 3, 0, 4, 6)))
	r = e.Ready()
	e.Advance()
	if len(r.Updates) != 1 {
		t.Fatalf("no update after every live device answered: %+v", r)
	}
	u := r.Updates[0]
	if g, d := values(t, u.Params), values(t, u.DParams); !slices.Equal(g, []float32{1, 5}) || !slices.Equal(d, []float32{5}) || u.Samples != 4 || u.Iters != 5 || u.Round != 0 || u.Loss != -0.5 {
		t.Fatalf("update %+v: G %v, D %v; want G [1 5], D [5], 4 samples", u, values(t, u.Params), values(t, u.DParams))
	}
	if e.Local(t0, local("d2", 0, 3, 0, 4, 6)) == nil {
		t.Fatal("a model for the uploaded round accepted")
	}
	must(0, e.Global(t0, &Global{Round: 0, Params: []float32{0, 0}, DParams: []float32{0}}))
	if r := e.Ready(); len(r.Updates) != 1 || r.Updates[0] != u {
		t.Fatalf("the re-announced round did not re-send the update: %+v", r)
	}
	e.Advance()

	// Round 1: nobody answers in time; then answers that are all rejected;
	// then one valid answer and a timeout.
	must(0, e.Global(t0, &Global{Round: 1, Params: []float32{1, 5}, DParams: []float32{5}}))
	e.Advance()
	t1 := t0.Add(10 * time.Second)
	e.Tick(t1)
	if r := e.Ready(); len(r.Models) != 1 || r.Models[0].Round != 1 || len(r.Updates) > 0 {
		t.Fatalf("an empty round did not hand the model out again: %+v", r)
	}
	e.Advance()
	nan := float32(math.NaN())
	if e.Local(t1, local("d1", 1, 1, nan, 0, 0)) == nil || e.Local(t1, local("d2", 1, 0, 0, 0, 0)) == nil {
		t.Fatal("a non-finite model or a zero sample count accepted")
	}
	if r := e.Ready(); len(r.Models) != 1 || len(r.Updates) > 0 {
		t.Fatalf("a round of rejected models: %+v", r)
	}
	e.Advance()
	must(0, e.Local(t1, local("d1", 1, 2, 3, 3, 3)))
	e.Tick(t1.Add(10 * time.Second))
	r = e.Ready()
	e.Advance()
	if len(r.Updates) != 1 || !slices.Equal(values(t, r.Updates[0].Params), []float32{3, 3}) || r.Updates[0].Samples != 2 {
		t.Fatalf("partial round: %+v", r)
	}
	s := e.Stats()
	want := EdgeStats{Feedback: 7, Late: 1, Duplicate: 1, Unknown: 1, Empty: 2, Partial: 1, Updates: 2}
	if s.Feedback != want.Feedback || s.Late != want.Late || s.Duplicate != want.Duplicate || s.Unknown != want.Unknown ||
		s.Empty != want.Empty || s.Partial != want.Partial || s.Updates != want.Updates ||
		s.Rejected["non_finite"] != 1 || s.Rejected["samples"] != 1 || s.LastUpload != 1 {
		t.Fatalf("stats %+v", s)
	}
	must(0, e.Global(t0, &Global{Round: 2, Final: true, Params: []float32{3, 3}, DParams: []float32{3}}))
	if r := e.Ready(); !e.Done() || len(r.Models) != 1 || !r.Models[0].Final {
		t.Fatalf("final: done %v, %+v", e.Done(), r)
	}
}

// TestAvgEdgeWeightCap checks that a robust rule bounds one device's
// FedAvg weight however many samples it claims.
func TestAvgEdgeWeightCap(t *testing.T) {
	for _, c := range []struct {
		rob  RobustConfig
		want []float32 // G[0] of the average of 0, 0 and 1
	}{
		{RobustConfig{}, []float32{0.98}},
		{RobustConfig{Rule: RobustClip, WeightCap: 1.5}, []float32{0.5}},
	} {
		e := avgEdge(t, c.rob)
		t0 := time.Unix(0, 0)
		for _, d := range []string{"d1", "d2", "d3"} {
			must(0, e.Presence(t0, d, true))
		}
		must(0, e.Global(t0, &Global{Round: 0, Params: []float32{0, 0}, DParams: []float32{0}}))
		must(0, e.Local(t0, local("d1", 0, 1, 0, 0, 0)))
		must(0, e.Local(t0, local("d2", 0, 1, 0, 0, 0)))
		must(0, e.Local(t0, local("d3", 0, 98, 1, 1, 1)))
		r := e.Ready()
		if len(r.Updates) != 1 {
			t.Fatalf("%v: no update", c.rob.Rule)
		}
		if g := values(t, r.Updates[0].Params); math.Abs(float64(g[0]-c.want[0])) > 1e-6 {
			t.Fatalf("%v: G[0] = %g, want %g", c.rob.Rule, g[0], c.want[0])
		}
		if capped := e.Stats().Bounded["weight_capped"]; (c.rob.Rule != RobustNone) != (capped == 1) {
			t.Fatalf("%v: weight_capped %d", c.rob.Rule, capped)
		}
	}
}

func TestAvgEdgeSnapshot(t *testing.T) {
	e := avgEdge(t, RobustConfig{})
	t0 := time.Unix(0, 0)
	must(0, e.Presence(t0, "d1", true))
	must(0, e.Global(t0, &Global{Round: 2, Params: []float32{1, 2}, DParams: []float32{3}}))
	b := must(e.Snapshot())
	r := avgEdge(t, RobustConfig{})
	must(0, r.Restore(b))
	must(0, r.Presence(t0, "d1", true))
	r.Resume(t0)
	got := r.Ready()
	if r.Round() != 2 || len(got.Models) != 1 || !slices.Equal(values(t, got.Models[0].Params), []float32{1, 2}) {
		t.Fatalf("restored: round %d, %+v", r.Round(), got)
	}
	if _, ok := r.Deadline(); !ok {
		t.Fatal("the restored round is not open")
	}
	// An FR edge's checkpoint is refused, and an FR edge refuses this one.
	fr := must(classEdge(t, nil))
	frb := must(fr.Snapshot())
	if err := r.Restore(frb); !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "another algorithm") {
		t.Fatalf("restoring an FR checkpoint: %v", err)
	}
	if err := fr.Restore(b); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("an FR edge restored a Fed GAN checkpoint: %v", err)
	}
}

// fedganCloud is a Fed GAN cloud of communities c1 and c2, G 1 → 2 and
// D 2 → 1, every parameter 0.
func fedganCloud(t *testing.T) *Cloud {
	t.Helper()
	g := must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 1, Out: 2}}, rand.New(rand.NewPCG(1, 1))))
	d := must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 1}}, rand.New(rand.NewPCG(2, 2))))
	return must(NewCloud(CloudConfig{Communities: []string{"c1", "c2"}, GlobalRounds: 3, RoundTimeout: time.Minute, Gen: g, Disc: d, RNG: rand.NewPCG(3, 3)}))
}

func fill(n int, v float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func TestCloudFedAvg(t *testing.T) {
	c := fedganCloud(t)
	t0 := time.Unix(0, 0)
	c.Start(t0)
	if g := c.Ready().Global; len(g.DParams) != 2 {
		t.Fatalf("the initial model carries %d D tensors", len(g.DParams))
	}
	c.Advance()
	if c.Update(t0, &Update{Community: "c1", Round: 0, Loss: -1, Params: fill(4, 1), Samples: 1}) == nil {
		t.Fatal("an update without D accepted")
	}
	if c.Update(t0, &Update{Community: "c1", Round: 0, Loss: -1, Params: fill(4, 1), DParams: fill(3, 1)}) == nil {
		t.Fatal("an update without samples accepted")
	}
	must(0, c.Update(t0, &Update{Community: "c1", Round: 0, Loss: -1, Params: fill(4, 1), DParams: fill(3, 1), Samples: 1}))
	snap := must(c.Snapshot())
	must(0, c.Update(t0, &Update{Community: "c2", Round: 0, Loss: -3, Params: fill(4, 5), DParams: fill(3, 9), Samples: 3}))
	g := c.Ready().Global
	if g.Round != 1 || g.Weights["c1"] != 0.25 || g.Weights["c2"] != 0.75 {
		t.Fatalf("round 1 model %+v", g)
	}
	if gv, dv := values(t, g.Params), values(t, g.DParams); !slices.Equal(gv, fill(4, 4)) || !slices.Equal(dv, fill(3, 7)) {
		t.Fatalf("G %v, D %v; want all 4, all 7", gv, dv)
	}
	// A restored cloud has c1's update and closes the round the same way.
	r := fedganCloud(t)
	must(0, r.Restore(snap))
	must(0, r.Update(t0, &Update{Community: "c2", Round: 0, Loss: -3, Params: fill(4, 5), DParams: fill(3, 9), Samples: 3}))
	if dv := values(t, r.Ready().Global.DParams); !slices.Equal(dv, fill(3, 7)) {
		t.Fatalf("restored cloud: D %v", dv)
	}
	// Checkpoints of the other algorithm are refused, both ways.
	fr := must(NewCloud(CloudConfig{Communities: []string{"c1", "c2"}, GlobalRounds: 3, RoundTimeout: time.Minute,
		Gen: must(nn.Build([]nn.LayerSpec{{Kind: "dense", In: 1, Out: 2}}, nil)), RNG: rand.NewPCG(3, 3)}))
	if err := fr.Restore(snap); !errors.Is(err, ErrSnapshot) || !strings.Contains(err.Error(), "fedgan") {
		t.Fatalf("an FR cloud restored a Fed GAN checkpoint: %v", err)
	}
	frSnap := must(fr.Snapshot())
	if err := fedganCloud(t).Restore(frSnap); !errors.Is(err, ErrSnapshot) {
		t.Fatalf("a Fed GAN cloud restored an FR checkpoint: %v", err)
	}
	if fr.Update(t0, &Update{Community: "c1", Round: 0, Loss: -1, Params: fill(4, 1), DParams: fill(3, 1), Samples: 1}) == nil {
		t.Fatal("an FR cloud accepted an update with a discriminator")
	}
}
