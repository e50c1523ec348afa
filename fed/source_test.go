package fed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

func TestOwnRows(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6, 7, 8} // 4 rows of d = 2
	cases := []struct {
		name   string
		pos, n int
		want   []float32
	}{
		{"first of two", 0, 2, []float32{1, 2, 0, 0, 5, 6, 0, 0}},
		{"second of two", 1, 2, []float32{0, 0, 3, 4, 0, 0, 7, 8}},
		{"third of three", 2, 3, []float32{0, 0, 0, 0, 5, 6, 0, 0}},
		{"only one", 0, 1, []float32{1, 2, 3, 4, 5, 6, 7, 8}},
	}
	for _, c := range cases {
		dst := []float32{9, 9, 9, 9, 9, 9, 9, 9}
		OwnRows(dst, src, 2, c.pos, c.n)
		if !slices.Equal(dst, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, dst, c.want)
		}
	}
}

// codeGen is G: [z (2), code (3)] → 2, one Dense layer whose output is the
// code's columns 1 and 2: a batch row shows which code it was drawn with.
func codeGen(t *testing.T) *nn.Sequential {
	g, err := nn.Build([]nn.LayerSpec{{Kind: "dense", In: 5, Out: 2}}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	w := g.Params()[0].Value // [in=5, out=2], row-major
	clear(w)
	w[3*2+0] = 1 // code column 1 → output 0
	w[4*2+1] = 1 // code column 2 → output 1
	clear(g.Params()[1].Value)
	return g
}

func sourceEdge(t *testing.T, mutate func(*EdgeConfig)) (*Edge, error) {
	cfg := EdgeConfig{
		Community: "c", Devices: []string{"a", "b"}, Mode: Sync, SyncPeriod: time.Second, Weights: WeightsConstant,
		LocalIters: 5, Batch: 4, DataDim: 2, Gen: codeGen(t), Opt: nn.NewSGD(0.1, 0), RNG: rand.NewPCG(3, 3),
		Layout: Layout{Latent: 2, SourceCodes: 3}, RowCodes: []int{1, 2}, PerDevice: true, CodeScale: 3,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return NewEdge(cfg)
}

// TestEdgePerDeviceRows checks that rows carry their device's source code
// (scaled) and that each device's feedback reaches its own rows only.
func TestEdgePerDeviceRows(t *testing.T) {
	e, err := sourceEdge(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	for _, d := range []string{"a", "b"} {
		if err := e.Presence(t0, d, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Global(t0, &Global{Round: 0, Params: nn.Flatten(nil, e.cfg.Gen.Params())}); err != nil {
		t.Fatal(err)
	}
	r := e.Ready()
	e.Advance()
	if len(r.Batches) != 1 {
		t.Fatalf("got %d batches, want 1", len(r.Batches))
	}
	xg, err := r.Batches[0].Gen.Float32s(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rows 0 and 2 belong to device a (code 1), rows 1 and 3 to b (code 2).
	if want := []float32{3, 0, 0, 3, 3, 0, 0, 3}; !slices.Equal(xg, want) {
		t.Errorf("X_g: got %v, want %v", xg, want)
	}
	ones := []float32{1, 1, 1, 1, 1, 1, 1, 1}
	twos := []float32{2, 2, 2, 2, 2, 2, 2, 2}
	it := r.Batches[0].Iter
	if err := e.Feedback(t0, &Feedback{Device: "a", Round: 0, Iter: it, Loss: -0.5, Grad: ones}); err != nil {
		t.Fatal(err)
	}
	if err := e.Feedback(t0, &Feedback{Device: "b", Round: 0, Iter: it, Loss: -0.5, Grad: twos}); err != nil {
		t.Fatal(err)
	}
	// Equal losses: w = (0.5, 0.5). Unmasked every row would get
	// 0.5·1 + 0.5·2 = 1.5; masked, a's rows get 0.5 and b's rows 1.
	if want := []float32{0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1}; !slices.Equal(e.dx, want) {
		t.Errorf("aggregated feedback: got %v, want %v", e.dx, want)
	}
	if got := e.Stats().Updates; got != 1 {
		t.Errorf("updates: got %d, want 1", got)
	}
}

func TestEdgeCommunityCode(t *testing.T) {
	e, err := sourceEdge(t, func(c *EdgeConfig) { c.RowCodes, c.PerDevice, c.CodeScale = []int{2}, false, 0 })
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	_ = e.Presence(t0, "a", true)
	if err := e.Global(t0, &Global{Round: 0, Params: nn.Flatten(nil, e.cfg.Gen.Params())}); err != nil {
		t.Fatal(err)
	}
	xg, err := e.Ready().Batches[0].Gen.Float32s(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Every row has code 2 with the default scale 1.
	if want := []float32{0, 1, 0, 1, 0, 1, 0, 1}; !slices.Equal(xg, want) {
		t.Errorf("X_g: got %v, want %v", xg, want)
	}
}

func TestEdgeSourceCodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*EdgeConfig)
		want   string
	}{
		{"codes without width", func(c *EdgeConfig) { c.Layout.SourceCodes = 0 }, "G maps 5→2, want 2→2"},
		{"row codes without width", func(c *EdgeConfig) { c.Layout.SourceCodes, c.Gen = 0, tinyGen(t) }, "need SourceCodes > 0"},
		{"code out of range", func(c *EdgeConfig) { c.RowCodes = []int{1, 3} }, "RowCodes[1] = 3"},
		{"per device count", func(c *EdgeConfig) { c.RowCodes = []int{1} }, "1 codes, 2 devices"},
		{"no row codes", func(c *EdgeConfig) { c.RowCodes, c.PerDevice = nil, false }, "needs RowCodes"},
		{"negative scale", func(c *EdgeConfig) { c.CodeScale = -1 }, "CodeScale = -1"},
		{"decay of 1", func(c *EdgeConfig) { c.LRDecay, c.Rounds = 1, 10 }, "LRDecay = 1"},
		{"decay without rounds", func(c *EdgeConfig) { c.LRDecay = 0.5 }, "Rounds > 0"},
	}
	for _, c := range cases {
		_, err := sourceEdge(t, c.mutate)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

// TestEdgeLRDecay checks lr·(1 − decay·r/I_gl) at each round start and
// after a restore.
func TestEdgeLRDecay(t *testing.T) {
	opt := nn.NewAdam(0.01, 0.5, 0.999, 1e-8)
	e, err := sourceEdge(t, func(c *EdgeConfig) { c.Opt, c.LRDecay, c.Rounds = opt, 0.5, 10 })
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	_ = e.Presence(t0, "a", true)
	params := nn.Flatten(nil, e.cfg.Gen.Params())
	for _, c := range []struct {
		round int
		want  float32
	}{{0, 0.01}, {4, 0.008}, {10, 0.005}} {
		if err := e.Global(t0, &Global{Round: c.round, Params: params}); err != nil {
			t.Fatal(err)
		}
		if math.Abs(float64(opt.LR-c.want)) > 1e-9 {
			t.Errorf("round %d: lr %g, want %g", c.round, opt.LR, c.want)
		}
	}
	snap, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	opt.LR = 1
	if err := e.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if opt.LR != 0.005 {
		t.Errorf("after restore: lr %g, want 0.005", opt.LR)
	}
}

// sigmaMax estimates the largest singular value of p by many power
// iterations.
func sigmaMax(p *nn.Param) float64 {
	var s spectralClip
	u := make([]float64, p.Shape[1])
	for i := range u {
		u[i] = 1 / math.Sqrt(float64(len(u)))
	}
	var sig float64
	for range 200 {
		sig = s.power(p, u)
	}
	return sig
}

func TestSpectralClip(t *testing.T) {
	cases := []struct {
		name       string
		rows, cols int
		w          []float32
		c          float64
		want       []float32
	}{
		// diag(3, 1) has σ_max 3: scaled by 2/3.
		{"diagonal", 2, 2, []float32{3, 0, 0, 1}, 2, []float32{2, 0, 0, 2.0 / 3}},
		// a bᵀ with a = (1, 2, 2), b = (3, 4): σ_max = ‖a‖‖b‖ = 15.
		{"rank one", 3, 2, []float32{3, 4, 6, 8, 6, 8}, 1, []float32{0.2, 4.0 / 15, 0.4, 8.0 / 15, 0.4, 8.0 / 15}},
		{"inside the bound", 2, 2, []float32{0.5, 0, 0, 0.25}, 1, []float32{0.5, 0, 0, 0.25}},
		{"zero", 2, 2, []float32{0, 0, 0, 0}, 1, []float32{0, 0, 0, 0}},
	}
	for _, c := range cases {
		p := &nn.Param{Shape: []int{c.rows, c.cols}, Value: slices.Clone(c.w), Grad: make([]float32, len(c.w))}
		bias := &nn.Param{Shape: []int{c.cols}, Value: []float32{7, 7}, Grad: make([]float32, 2)}
		s := spectralClip{c: c.c}
		s.apply([]*nn.Param{p, bias})
		for i := range c.want {
			if math.Abs(float64(p.Value[i]-c.want[i])) > 1e-5 {
				t.Errorf("%s: got %v, want %v", c.name, p.Value, c.want)
				break
			}
		}
		if bias.Value[0] != 7 || bias.Value[1] != 7 {
			t.Errorf("%s: bias changed to %v", c.name, bias.Value)
		}
	}
}

// TestDeviceSpectralNorm checks that every weight matrix of D is within
// the bound after training steps.
func TestDeviceSpectralNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	d, err := nn.MLP([]int{2, 16, 16, 1}, 0.2, "", rng)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewAdam(0.05, 0.5, 0.999, 1e-8), DataDim: 2, SpectralNorm: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	real, fake := make([]float32, 32), make([]float32, 32)
	for step := range 20 {
		for i := range real {
			real[i] = float32(rng.NormFloat64() + 3)
			fake[i] = float32(rng.NormFloat64())
		}
		if _, err := dev.Step(real, fake, fake, 0); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	for _, p := range d.Params() {
		if len(p.Shape) == 2 {
			if s := sigmaMax(p); s > 0.5*1.01 {
				t.Errorf("%s: σ_max %.4f, want ≤ 0.5", p.Name, s)
			}
		}
	}
	if _, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(1, 0), DataDim: 2, SpectralNorm: -1}); err == nil {
		t.Error("SpectralNorm -1: got no error")
	}
}

// TestDeviceFeedbackMinibatchStd checks the feedback of a discriminator
// with a minibatch standard deviation column, where every generated row's
// gradient depends on the other rows of its group, against central finite
// differences of the minimax loss (D frozen by a zero learning rate).
func TestDeviceFeedbackMinibatchStd(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	d, err := nn.Build([]nn.LayerSpec{
		{Kind: nn.KindDense, In: 3, Out: 8}, {Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindMinibatchStd, Group: 4}, {Kind: nn.KindDense, In: 9, Out: 1},
	}, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Make the statistic matter: a large weight on the extra column.
	last := d.Layers[3].Params()[0]
	last.Value[8] = 3
	dev, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(0, 0), DataDim: 3})
	if err != nil {
		t.Fatal(err)
	}
	real, gen := make([]float32, 8*3), make([]float32, 8*3)
	for i := range real {
		real[i], gen[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	res, err := dev.Step(real, gen, gen, 0)
	if err != nil {
		t.Fatal(err)
	}
	grad := append([]float32(nil), res.Grad...)
	const h = 1e-2
	for i := range gen {
		v := gen[i]
		gen[i] = v + h
		up, err := dev.Step(real, gen, gen, 0)
		if err != nil {
			t.Fatal(err)
		}
		gen[i] = v - h
		down, err := dev.Step(real, gen, gen, 0)
		if err != nil {
			t.Fatal(err)
		}
		gen[i] = v
		want := (up.Loss - down.Loss) / (2 * h)
		if math.Abs(float64(grad[i])-want) > 2e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("F[%d] = %.6g, finite difference %.6g", i, grad[i], want)
		}
	}
}
