package fed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// classGen is G: [z (1), e_y (4)] → 4, one Dense layer copying the class
// columns to the output: a batch row is the one-hot class it was drawn
// with.
func classGen(t *testing.T) *nn.Sequential {
	g, err := nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: 5, Out: 4}}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	w := g.Params()[0].Value // [in=5, out=4], row-major
	clear(w)
	for y := range 4 {
		w[(1+y)*4+y] = 1
	}
	clear(g.Params()[1].Value)
	return g
}

func classEdge(t *testing.T, mutate func(*EdgeConfig)) (*Edge, error) {
	cfg := EdgeConfig{
		Community: "c", Devices: []string{"a"}, Mode: Sync, SyncPeriod: time.Second, Weights: WeightsConstant,
		LocalIters: 5, Batch: 64, DataDim: 4, Gen: classGen(t), Opt: nn.NewSGD(0.1, 0), RNG: rand.NewPCG(3, 3),
		Layout: Layout{Latent: 1, Classes: 4}, ClassSet: []int{1, 3},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return NewEdge(cfg)
}

// TestEdgeClassRows checks that every row of a batch is G at its own
// class, that the batch carries those classes, and that the edge draws
// only (and every one of) its community's classes.
func TestEdgeClassRows(t *testing.T) {
	e, err := classEdge(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := firstBatch(t, e)
	count := map[byte]int{}
	for _, tc := range labelledParts(b) {
		if len(tc.labels) != 64 {
			t.Fatalf("%s: %d labels, want 64", tc.name, len(tc.labels))
		}
		for i, y := range tc.labels {
			want := make([]float32, 4)
			want[y] = 1
			if got := tc.rows[i*4 : (i+1)*4]; !slices.Equal(got, want) {
				t.Fatalf("%s row %d: G gave %v, want e_%d", tc.name, i, got, y)
			}
			count[y]++
		}
	}
	if len(count) != 2 || count[1] == 0 || count[3] == 0 {
		t.Errorf("classes drawn %v, want both 1 and 3 and nothing else", count)
	}
	if slices.Equal(b.FakeLabels, b.GenLabels) {
		t.Error("X_d and X_g have the same classes: they should be drawn independently")
	}
}

// batchPart is one labelled part of a batch: X_d ("fake") or X_g ("gen").
type batchPart struct {
	name   string
	rows   []float32
	labels []byte
}

// labelledParts are b's two parts with their row classes.
func labelledParts(b *wire.Batch) []batchPart {
	return []batchPart{{"fake", must(b.Fake.Float32s(nil)), b.FakeLabels}, {"gen", must(b.Gen.Float32s(nil)), b.GenLabels}}
}

// firstBatch brings device "a" of a classEdge online, starts round 0 with
// G's own parameters and returns the first batch the edge emits.
func firstBatch(t *testing.T, e *Edge) *wire.Batch {
	t.Helper()
	t0 := time.Unix(0, 0)
	if err := e.Presence(t0, "a", true); err != nil {
		t.Fatal(err)
	}
	if err := e.Global(t0, &Global{Round: 0, Params: nn.Flatten(nil, e.cfg.Gen.Params())}); err != nil {
		t.Fatal(err)
	}
	return e.Ready().Batches[0]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestEdgeClassErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*EdgeConfig)
		want   string
	}{
		{"no class columns", func(c *EdgeConfig) { c.Layout.Classes = 0 }, "G maps 5→4, want 1→4"},
		{"class set without classes", func(c *EdgeConfig) { c.Layout.Classes, c.Layout.Latent = 0, 5 }, "ClassSet needs Classes > 0"},
		{"no class set", func(c *EdgeConfig) { c.ClassSet = nil }, "needs the classes of the community's data"},
		{"class out of range", func(c *EdgeConfig) { c.ClassSet = []int{1, 4} }, "ClassSet[1] = 4, want a class in [0, 4)"},
		{"too many classes", func(c *EdgeConfig) {
			c.Layout.Classes, c.Gen = 300, must(nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: 301, Out: 4}}, nil))
		}, "Classes = 300, want 0 to 256"},
	} {
		_, err := classEdge(t, tc.mutate)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// classD is D: [x (2), e_y (3)] → 1 logit, w = (1, −1, 0.5, −2, 3), b = 0.25.
func classD(t *testing.T) *nn.Sequential {
	d, err := nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: 5, Out: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(d.Params()[0].Value, []float32{1, -1, 0.5, -2, 3})
	d.Params()[1].Value[0] = 0.25
	return d
}

// TestDeviceClassLoss checks the loss of a class-conditional D by hand:
// with a frozen D (learning rate 0), L = mean_i log(1 − σ(w·[x_i, e_yi] + b)).
func TestDeviceClassLoss(t *testing.T) {
	dev, err := NewDevice(DeviceConfig{D: classD(t), Opt: nn.NewSGD(0, 0), DataDim: 2, Classes: 3})
	if err != nil {
		t.Fatal(err)
	}
	real, gen := []float32{1, 1, 0, 0}, []float32{1, 0, 0, 1}
	res, err := dev.StepLabeled(real, gen, gen, Labels{Real: []int{0, 1}, Fake: []int{1, 2}, Gen: []int{1, 2}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Row 1: x = (1, 0), class 1: logit 1 − 2 + 0.25 = −0.75.
	// Row 2: x = (0, 1), class 2: logit −1 + 3 + 0.25 = 2.25.
	l := func(a float64) float64 { return math.Log(1 - 1/(1+math.Exp(-a))) }
	if want := (l(-0.75) + l(2.25)) / 2; math.Abs(res.Loss-want) > 1e-6 {
		t.Errorf("loss %.7g, want %.7g", res.Loss, want)
	}
	// Minimax feedback: ∂/∂x of mean log(1 − σ(a)) is −σ(a)·w_x / 2.
	s := func(a float64) float64 { return 1 / (1 + math.Exp(-a)) }
	want := []float64{-s(-0.75) / 2, s(-0.75) / 2, -s(2.25) / 2, s(2.25) / 2}
	for i, g := range res.Grad {
		if math.Abs(float64(g)-want[i]) > 1e-6 {
			t.Errorf("F = %v, want %v", res.Grad, want)
			break
		}
	}
}

// TestDeviceClassFeedback checks the feedback of a class-conditional D
// with hidden layers and the minibatch-std column against finite
// differences, and that the class changes the verdict.
func TestDeviceClassFeedback(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	d, err := nn.Build([]nn.LayerSpec{
		{Kind: nn.KindDense, In: 3 + 4, Out: 8}, {Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindMinibatchStd, Group: 4}, {Kind: nn.KindDense, In: 9, Out: 1},
	}, rng)
	if err != nil {
		t.Fatal(err)
	}
	real, gen := make([]float32, 8*3), make([]float32, 8*3)
	for i := range real {
		real[i], gen[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	l := Labels{Real: []int{0, 1, 2, 3, 3, 2, 1, 0}, Fake: []int{1, 1, 2, 2, 3, 3, 0, 0}, Gen: []int{3, 0, 1, 2, 3, 0, 1, 2}}
	const h = 1e-2
	mm, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(0, 0), DataDim: 3, Classes: 4})
	if err != nil {
		t.Fatal(err)
	}
	mstep := func() StepResult {
		t.Helper()
		res, err := mm.StepLabeled(real, gen, gen, l, 0)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	grad := append([]float32(nil), mstep().Grad...)
	for i := range gen {
		v := gen[i]
		gen[i] = v + h
		up := mstep().Loss
		gen[i] = v - h
		down := mstep().Loss
		gen[i] = v
		want := (up - down) / (2 * h)
		if math.Abs(float64(grad[i])-want) > 2e-3*math.Max(1, math.Abs(want)) {
			t.Errorf("F[%d] = %.6g, finite difference %.6g", i, grad[i], want)
		}
	}
	other := l
	other.Gen = []int{0, 1, 2, 3, 0, 1, 2, 3}
	res2, err := mm.StepLabeled(real, gen, gen, other, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Loss == mstep().Loss {
		t.Error("the generated rows' classes do not change D's verdict")
	}
}

func TestDeviceClassErrors(t *testing.T) {
	dev, err := NewDevice(DeviceConfig{D: classD(t), Opt: nn.NewSGD(0, 0), DataDim: 2, Classes: 3})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := NewDevice(DeviceConfig{D: classD(t), Opt: nn.NewSGD(0, 0), DataDim: 5})
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 1, 0, 0}
	ok := Labels{Real: []int{0, 1}, Fake: []int{1, 2}, Gen: []int{2, 2}}
	for _, tc := range []struct {
		name string
		dev  *Device
		x    []float32
		l    Labels
		want string
	}{
		{"no labels", dev, x, Labels{}, "0 real labels for 2 rows"},
		{"short gen", dev, x, Labels{Real: ok.Real, Fake: ok.Fake, Gen: []int{1}}, "1 gen labels for 2 rows"},
		{"class too big", dev, x, Labels{Real: ok.Real, Fake: []int{1, 3}, Gen: ok.Gen}, "fake row 1 has class 3, want 0 to 2"},
		{"negative class", dev, x, Labels{Real: []int{-1, 0}, Fake: ok.Fake, Gen: ok.Gen}, "real row 0 has class -1"},
		{"labels for a plain D", plain, []float32{1, 2, 3, 4, 5}, Labels{Real: []int{0}}, "1 real labels for a discriminator that is not class-conditional"},
	} {
		_, err := tc.dev.StepLabeled(tc.x, tc.x, tc.x, tc.l, 0)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := NewDevice(DeviceConfig{D: classD(t), Opt: nn.NewSGD(0, 0), DataDim: 2, Classes: 2}); err == nil || !strings.Contains(err.Error(), "want d+K+classes = 4") {
		t.Errorf("D of the wrong width: got %v", err)
	}
}

// TestDeviceAuxClassifier checks the AC-GAN head by hand on a linear D
// x (2) → [a, c_0, c_1]: D's loss adds λ·CE of the real rows' class
// logits, and the feedback is the gradient of
// mean log(1 − σ(a)) + λ·mean CE(c, y) over the generated rows.
func TestDeviceAuxClassifier(t *testing.T) {
	d, err := nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: 2, Out: 3}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := []float64{0.5, 1, -1, -0.25, 2, 0.5} // [in=2, out=3], row-major
	for i, v := range w {
		d.Params()[0].Value[i] = float32(v)
	}
	const lambda = 0.5
	dev, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(0, 0), DataDim: 2, Classes: 2, ClassMode: ClassAux, AuxWeight: lambda})
	if err != nil {
		t.Fatal(err)
	}
	x := []float32{1, 0, 0, 1}
	l := Labels{Real: []int{1, 0}, Fake: []int{0, 0}, Gen: []int{0, 1}}
	res, err := dev.StepLabeled(x, x, x, l, 0)
	if err != nil {
		t.Fatal(err)
	}
	sig := func(a float64) float64 { return 1 / (1 + math.Exp(-a)) }
	// Row x = (1, 0): a = 0.5, c = (1, −1); row (0, 1): a = −0.25, c = (2, 0.5).
	a := []float64{0.5, -0.25}
	c := [][]float64{{1, -1}, {2, 0.5}}
	ce := func(c []float64, y int) float64 { return math.Log(math.Exp(c[0])+math.Exp(c[1])) - c[y] }
	bce := func(a, t float64) float64 { return math.Log(1+math.Exp(a)) - t*a }
	wantD := (bce(a[0], 1)+bce(a[1], 1))/2 + (bce(a[0], 0)+bce(a[1], 0))/2 + lambda*(ce(c[0], 1)+ce(c[1], 0))/2
	if math.Abs(res.DLoss-wantD) > 1e-6 {
		t.Errorf("D loss %.7g, want %.7g", res.DLoss, wantD)
	}
	if want := (math.Log(1-sig(a[0])) + math.Log(1-sig(a[1]))) / 2; math.Abs(res.Loss-want) > 1e-6 {
		t.Errorf("loss %.7g, want Eq. 3's %.7g (without the class term)", res.Loss, want)
	}
	for i := range 2 {
		y := l.Gen[i]
		p0 := math.Exp(c[i][0]) / (math.Exp(c[i][0]) + math.Exp(c[i][1]))
		p := []float64{p0 - b2f(y == 0), 1 - p0 - b2f(y == 1)}
		for k := range 2 { // ∂/∂x_k: row k of W
			want := (-sig(a[i])*w[k*3] + lambda*(p[0]*w[k*3+1]+p[1]*w[k*3+2])) / 2
			if got := float64(res.Grad[i*2+k]); math.Abs(got-want) > 1e-6 {
				t.Errorf("F[%d][%d] = %.7g, want %.7g", i, k, got, want)
			}
		}
	}
	if _, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(0, 0), DataDim: 2, Classes: 3, ClassMode: ClassAux}); err == nil || !strings.Contains(err.Error(), "D has 3 outputs, want 4") {
		t.Errorf("a head of the wrong width: got %v", err)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// TestDeviceHeldClasses checks that a device judges only the generated
// rows of the classes it holds: the other rows get a zero feedback row and
// the held ones the feedback of a step on the held rows alone.
func TestDeviceHeldClasses(t *testing.T) {
	held := []bool{true, false, true}
	mk := func(h []bool) *Device {
		dev, err := NewDevice(DeviceConfig{D: classD(t), Opt: nn.NewSGD(0.1, 0), DataDim: 2, Classes: 3, Held: h})
		if err != nil {
			t.Fatal(err)
		}
		return dev
	}
	real := []float32{1, 1, 0, 0}
	fake := []float32{1, 0, 5, 5, 0, 1}
	gen := []float32{0.5, 0.5, 9, 9, 1, -1}
	res, err := mk(held).StepLabeled(real, fake, gen, Labels{Real: []int{0, 2}, Fake: []int{0, 1, 2}, Gen: []int{2, 1, 0}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := mk(nil).StepLabeled(real, []float32{1, 0, 0, 1}, []float32{0.5, 0.5, 1, -1}, Labels{Real: []int{0, 2}, Fake: []int{0, 2}, Gen: []int{2, 0}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g := res.Grad; !slices.Equal(g[:2], want.Grad[:2]) || !slices.Equal(g[2:4], []float32{0, 0}) || !slices.Equal(g[4:], want.Grad[2:]) {
		t.Errorf("F = %v, want %v with a zero row 1", res.Grad, want.Grad)
	}
	if res.Loss != want.Loss || res.DLoss != want.DLoss {
		t.Errorf("losses %g, %g; want %g, %g (the held rows only)", res.Loss, res.DLoss, want.Loss, want.DLoss)
	}
	none, err := mk(held).StepLabeled(real, fake, gen[2:4], Labels{Real: []int{0, 2}, Fake: []int{0, 1, 2}, Gen: []int{1}}, 0)
	if err != nil || !slices.Equal(none.Grad, []float32{0, 0}) || none.Loss != 0 {
		t.Errorf("no held generated row: got %+v, %v; want a zero feedback and loss", none, err)
	}
	if _, err := NewDevice(DeviceConfig{D: classD(t), Opt: nn.NewSGD(0, 0), DataDim: 2, Classes: 3, Held: []bool{true}}); err == nil || !strings.Contains(err.Error(), "Held has 1 entries, want one per class (3)") {
		t.Errorf("short Held: got %v", err)
	}
}

// TestEdgeClassDrawOrder pins the order in which an edge draws its input
// rows from its random stream: X_d's rows, then X_g's, each row's z
// before its class (a snapshot's stream, and so every reproduced run,
// depends on it).
func TestEdgeClassDrawOrder(t *testing.T) {
	e, err := classEdge(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := firstBatch(t, e)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []struct {
		name   string
		z      []float32
		labels []byte
	}{{"X_d", e.zIn, b.FakeLabels}, {"X_g", e.cur.zg, b.GenLabels}} {
		for i := range 64 {
			want := make([]float32, 5)
			want[0] = float32(rng.NormFloat64())
			y := []int{1, 3}[rng.IntN(2)]
			want[1+y] = 1
			if got := tc.z[i*5 : (i+1)*5]; !slices.Equal(got, want) || int(tc.labels[i]) != y {
				t.Fatalf("%s row %d: %v with class %d, want %v with class %d", tc.name, i, got, tc.labels[i], want, y)
			}
		}
	}
}

// TestEdgeClassInvariance: with ClassInvariance, an update with zero
// feedback still moves G: the first-layer outputs of one z under the four
// class codes (here G's rows of the codes) come closer, and the edge
// reports L_inv; without it the same update leaves G as it was.
func TestEdgeClassInvariance(t *testing.T) {
	spread := func(g *nn.Sequential) float64 { // Σ_{y<y'} ‖G¹(0, e_y) − G¹(0, e_y')‖
		w, b := g.Params()[0].Value, g.Params()[1].Value
		s := 0.0
		for y := range 4 {
			for y2 := y + 1; y2 < 4; y2++ {
				d := 0.0
				for o := range 4 {
					v := float64((w[(1+y)*4+o] + b[o]) - (w[(1+y2)*4+o] + b[o]))
					d += v * v
				}
				s += math.Sqrt(d)
			}
		}
		return s
	}
	run := func(lambda float64) (*Edge, float64, float64) {
		e, err := classEdge(t, func(c *EdgeConfig) { c.ClassInvariance, c.FirstLayers = lambda, 1 })
		if err != nil {
			t.Fatal(err)
		}
		before := spread(e.cfg.Gen)
		b := firstBatch(t, e)
		e.Advance()
		if err := e.Feedback(time.Unix(0, 0), &Feedback{Device: "a", Round: 0, Iter: b.Iter, Version: b.Version, Loss: -0.5, Grad: make([]float32, 64*4)}); err != nil {
			t.Fatal(err)
		}
		if e.Stats().Updates != 1 {
			t.Fatalf("%d generator updates, want 1", e.Stats().Updates)
		}
		return e, before, spread(e.cfg.Gen)
	}
	e, before, after := run(0.5)
	if !(after < before) || !(e.Stats().LInv > 0) {
		t.Errorf("λ 0.5: spread of the codes' first-layer outputs %g → %g, L_inv %g; want it smaller and L_inv > 0", before, after, e.Stats().LInv)
	}
	if _, before, after := run(0); after != before {
		t.Errorf("λ 0: spread %g → %g with zero feedback, want unchanged", before, after)
	}
	for _, bad := range []func(*EdgeConfig){
		func(c *EdgeConfig) { c.ClassInvariance, c.FirstLayers = -1, 1 },
		func(c *EdgeConfig) { c.ClassInvariance, c.FirstLayers = math.Inf(1), 1 },
		func(c *EdgeConfig) { c.ClassInvariance = 1 }, // no FirstLayers
	} {
		if _, err := classEdge(t, bad); err == nil || !strings.Contains(err.Error(), "ClassInvariance") {
			t.Errorf("got %v, want a ClassInvariance error", err)
		}
	}
}
