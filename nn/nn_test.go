package nn_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgan/fedgan/nn"
)

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestDenseKnownValues checks Dense against products written out by hand.
func TestDenseKnownValues(t *testing.T) {
	d := nn.NewDense(3, 2, nil)
	copy(d.W.Value, []float32{1, 2, 3, 4, 5, 6}) // W = [[1 2] [3 4] [5 6]]
	copy(d.B.Value, []float32{0.5, -1})
	x := nn.Mat{Rows: 2, Cols: 3, Data: []float32{1, 0, -1, 2, 1, 0}}
	y := d.Forward(x)
	// Row 0: [1·1+0·3−1·5+0.5, 1·2+0·4−1·6−1] = [−3.5, −5]
	// Row 1: [2·1+1·3+0·5+0.5, 2·2+1·4+0·6−1] = [5.5, 7]
	if want := []float32{-3.5, -5, 5.5, 7}; !equal32(y.Data, want) {
		t.Errorf("Forward: got %v, want %v", y.Data, want)
	}
	dy := nn.Mat{Rows: 2, Cols: 2, Data: []float32{1, 0, 0, 1}}
	dx := d.Backward(dy)
	// dx = dy·Wᵀ: row 0 is W's first column, row 1 its second.
	if want := []float32{1, 3, 5, 2, 4, 6}; !equal32(dx.Data, want) {
		t.Errorf("dx: got %v, want %v", dx.Data, want)
	}
	// dW = xᵀ·dy = [[1 2] [0 1] [−1 0]]; db = column sums of dy = [1 1].
	if want := []float32{1, 2, 0, 1, -1, 0}; !equal32(d.W.Grad, want) {
		t.Errorf("dW: got %v, want %v", d.W.Grad, want)
	}
	if want := []float32{1, 1}; !equal32(d.B.Grad, want) {
		t.Errorf("db: got %v, want %v", d.B.Grad, want)
	}
	// A second Backward accumulates.
	d.Forward(x)
	d.Backward(dy)
	if want := []float32{2, 4, 0, 2, -2, 0}; !equal32(d.W.Grad, want) {
		t.Errorf("dW after two Backwards: got %v, want %v", d.W.Grad, want)
	}
	if want := []float32{2, 2}; !equal32(d.B.Grad, want) {
		t.Errorf("db after two Backwards: got %v, want %v", d.B.Grad, want)
	}
}

// TestDenseOneOutput covers the dot-product path for Out == 1.
func TestDenseOneOutput(t *testing.T) {
	d := nn.NewDense(3, 1, nil)
	copy(d.W.Value, []float32{1, -2, 0.5})
	d.B.Value[0] = 0.25
	x := nn.Mat{Rows: 2, Cols: 3, Data: []float32{2, 1, 4, -1, 0, 2}}
	y := d.Forward(x)
	// [2−2+2+0.25, −1+0+1+0.25]
	if want := []float32{2.25, 0.25}; !equal32(y.Data, want) {
		t.Errorf("Forward: got %v, want %v", y.Data, want)
	}
	dx := d.Backward(nn.Mat{Rows: 2, Cols: 1, Data: []float32{2, -1}})
	if want := []float32{2, -4, 1, -1, 2, -0.5}; !equal32(dx.Data, want) {
		t.Errorf("dx: got %v, want %v", dx.Data, want)
	}
	// dW = 2·[2 1 4] − 1·[−1 0 2] = [5 2 6]; db = 2 − 1.
	if want := []float32{5, 2, 6}; !equal32(d.W.Grad, want) {
		t.Errorf("dW: got %v, want %v", d.W.Grad, want)
	}
	if want := []float32{1}; !equal32(d.B.Grad, want) {
		t.Errorf("db: got %v, want %v", d.B.Grad, want)
	}
}

func TestActivationKnownValues(t *testing.T) {
	x := []float32{-2, -0.5, 0, 0.5, 3}
	dy := []float32{1, 1, 1, 1, 2}
	for _, tc := range []struct {
		name   string
		layer  nn.Layer
		y, dx  []float32
		approx bool
	}{
		{"leaky_relu 0.2", nn.NewLeakyReLU(0.2), []float32{-0.4, -0.1, 0, 0.5, 3}, []float32{0.2, 0.2, 0.2, 1, 2}, false},
		{"relu", nn.NewReLU(), []float32{0, 0, 0, 0.5, 3}, []float32{0, 0, 0, 1, 2}, false},
		// tanh(0.5) = 0.46211716, tanh(2) = 0.96402758, tanh(3) = 0.99505475;
		// 1 − tanh² at those points: 0.78644773, 0.07065082, 0.00986604.
		{"tanh", nn.NewTanh(), []float32{-0.96402758, -0.46211716, 0, 0.46211716, 0.99505475},
			[]float32{0.07065082, 0.78644773, 1, 0.78644773, 2 * 0.00986604}, true},
		// σ(−2) = 0.11920292, σ(−0.5) = 0.37754067, σ(3) = 0.95257413;
		// σ(1−σ): 0.10499359, 0.23500371, 0.25, 0.04517666.
		{"sigmoid", nn.NewSigmoid(), []float32{0.11920292, 0.37754067, 0.5, 0.62245933, 0.95257413},
			[]float32{0.10499359, 0.23500371, 0.25, 0.23500371, 2 * 0.04517666}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.layer.Forward(nn.Mat{Rows: 1, Cols: 5, Data: x})
			dx := tc.layer.Backward(nn.Mat{Rows: 1, Cols: 5, Data: dy})
			for i := range x {
				if !near(y.Data[i], tc.y[i], tc.approx) {
					t.Errorf("y[%d]: got %v, want %v", i, y.Data[i], tc.y[i])
				}
				if !near(dx.Data[i], tc.dx[i], tc.approx) {
					t.Errorf("dx[%d]: got %v, want %v", i, dx.Data[i], tc.dx[i])
				}
			}
		})
	}
}

func near(got, want float32, approx bool) bool {
	if !approx {
		return got == want
	}
	return math.Abs(float64(got-want)) <= 1e-6
}

func TestLossKnownValues(t *testing.T) {
	logits := []float32{2, -1}
	// softplus(x) = log(1+eˣ); σ(2) = 0.88079708, σ(−1) = 0.26894142.
	for _, tc := range []struct {
		name string
		f    func(dst, a []float32) float64
		want float64
		grad []float64
	}{
		// [softplus(2) − 2 + softplus(−1) + 1]/2; grad (σ(a) − 1)/2.
		{"SigmoidBCE t=1", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 1) },
			0.7200948492805977, []float64{-0.05960146101105884, -0.36552928931500245}},
		// [softplus(2) + softplus(−1)]/2; grad σ(a)/2.
		{"SigmoidBCE t=0", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 0) },
			1.2200948492805979, []float64{0.44039853898894116, 0.13447071068499755}},
		// −[softplus(2) + softplus(−1)]/2; grad −σ(a)/2.
		{"LogOneMinusSigmoid", nn.LogOneMinusSigmoid,
			-1.2200948492805979, []float64{-0.44039853898894116, -0.13447071068499755}},
		// [softplus(−2) + softplus(1)]/2; grad −σ(−a)/2.
		{"NegLogSigmoid", nn.NegLogSigmoid,
			0.7200948492805976, []float64{-0.05960146101105877, -0.36552928931500245}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, 2)
			got := tc.f(dst, logits)
			if math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("loss: got %.17g, want %.17g", got, tc.want)
			}
			for i := range dst {
				if math.Abs(float64(dst[i])-tc.grad[i]) > 1e-7 {
					t.Errorf("grad[%d]: got %v, want %v", i, dst[i], tc.grad[i])
				}
			}
			if got2 := tc.f(nil, logits); got2 != got {
				t.Errorf("loss with nil dst: got %v, want %v", got2, got)
			}
		})
	}
	t.Run("SoftmaxCrossEntropy", func(t *testing.T) {
		lg := nn.Mat{Rows: 2, Cols: 3, Data: []float32{1, 2, 3, 0, 0, 0}}
		dst := nn.NewMat(2, 3)
		got := nn.SoftmaxCrossEntropy(dst, lg, []int{2, 0})
		// Row 0: log(e+e²+e³) − 3 = 0.40760596; row 1: log 3 = 1.09861229.
		if want := 0.7531091265562452; math.Abs(got-want) > 1e-12 {
			t.Errorf("loss: got %.17g, want %.17g", got, want)
		}
		want := []float64{0.04501528658519022, 0.12236423552739879, -0.16737952211258916,
			-1.0 / 3, 1.0 / 6, 1.0 / 6}
		for i := range want {
			if math.Abs(float64(dst.Data[i])-want[i]) > 1e-7 {
				t.Errorf("grad[%d]: got %v, want %v", i, dst.Data[i], want[i])
			}
		}
	})
}

// TestLossExtremeLogits checks that the losses and gradients stay finite
// and exact for logits of ±1000, where naive σ and log overflow.
func TestLossExtremeLogits(t *testing.T) {
	a := []float32{1000, -1000}
	for _, tc := range []struct {
		name string
		f    func(dst, a []float32) float64
		want float64 // mean over both logits
		grad []float32
	}{
		// t=1: softplus(1000)−1000 = 0, softplus(−1000)+1000 = 1000.
		{"SigmoidBCE t=1", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 1) }, 500, []float32{0, -0.5}},
		// t=0: softplus(1000) = 1000, softplus(−1000) = 0.
		{"SigmoidBCE t=0", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 0) }, 500, []float32{0.5, 0}},
		{"LogOneMinusSigmoid", nn.LogOneMinusSigmoid, -500, []float32{-0.5, 0}},
		{"NegLogSigmoid", nn.NegLogSigmoid, 500, []float32{0, -0.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, 2)
			if got := tc.f(dst, a); got != tc.want {
				t.Errorf("loss: got %v, want %v", got, tc.want)
			}
			for i := range dst {
				if dst[i] != tc.grad[i] { // −0 == 0 here
					t.Errorf("grad: got %v, want %v", dst, tc.grad)
					break
				}
			}
		})
	}
	t.Run("SoftmaxCrossEntropy", func(t *testing.T) {
		lg := nn.Mat{Rows: 1, Cols: 3, Data: []float32{1000, -1000, 0}}
		dst := nn.NewMat(1, 3)
		// logsumexp = 1000 (the others underflow), minus a[1] = −1000.
		if got, want := nn.SoftmaxCrossEntropy(dst, lg, []int{1}), 2000.0; got != want {
			t.Errorf("loss: got %v, want %v", got, want)
		}
		if want := []float32{1, -1, 0}; !equal32(dst.Data, want) {
			t.Errorf("grad: got %v, want %v", dst.Data, want)
		}
	})
}

// TestAdamFirstSteps compares two Adam steps on one scalar with the
// arithmetic done by hand (lr 0.1, β1 0.9, β2 0.999, ε 1e-8, θ0 = 1).
func TestAdamFirstSteps(t *testing.T) {
	p := &nn.Param{Name: "w", Shape: []int{1}, Value: []float32{1}, Grad: []float32{0.5}}
	a := nn.NewAdam(0.1, 0.9, 0.999, 1e-8)
	// Step 1, g = 0.5: m = 0.05, v = 0.00025, bias corrections 0.1 and
	// 0.001: θ = 1 − (0.1/0.1)·0.05/(√0.00025/√0.001 + 1e−8) = 0.9.
	a.Step([]*nn.Param{p})
	if got, want := p.Value[0], float32(0.9); math.Abs(float64(got-want)) > 1e-7 {
		t.Errorf("after step 1: got %v, want %v", got, want)
	}
	// Step 2, g = −0.25: m = 0.045 − 0.025 = 0.02,
	// v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225, corrections 0.19 and
	// 0.001999: θ = 0.9 − (0.1/0.19)·0.02/(√0.00031225/√0.001999 + 1e−8)
	// = 0.9 − 0.5263158·0.02/0.3952246 = 0.87336630.
	p.Grad[0] = -0.25
	a.Step([]*nn.Param{p})
	if got, want := p.Value[0], float32(0.8733662987078463); math.Abs(float64(got-want)) > 2e-7 {
		t.Errorf("after step 2: got %v, want %v", got, want)
	}
	if a.Steps() != 2 {
		t.Errorf("Steps: got %d, want 2", a.Steps())
	}
}

// TestSGDSteps checks SGD with and without momentum by hand.
func TestSGDSteps(t *testing.T) {
	for _, tc := range []struct {
		name     string
		momentum float32
		want     [2]float32
	}{
		// θ = 1 − 0.1·0.5 = 0.95; then 0.95 − 0.1·(−0.25) = 0.975.
		{"plain", 0, [2]float32{0.95, 0.975}},
		// b = 0.5, θ = 0.95; b = 0.9·0.5 − 0.25 = 0.2, θ = 0.95 − 0.02 = 0.93.
		{"momentum 0.9", 0.9, [2]float32{0.95, 0.93}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &nn.Param{Name: "w", Shape: []int{1}, Value: []float32{1}, Grad: []float32{0.5}}
			o := nn.NewSGD(0.1, tc.momentum)
			o.Step([]*nn.Param{p})
			if got := p.Value[0]; math.Abs(float64(got-tc.want[0])) > 1e-7 {
				t.Errorf("step 1: got %v, want %v", got, tc.want[0])
			}
			p.Grad[0] = -0.25
			o.Step([]*nn.Param{p})
			if got := p.Value[0]; math.Abs(float64(got-tc.want[1])) > 1e-7 {
				t.Errorf("step 2: got %v, want %v", got, tc.want[1])
			}
		})
	}
}

func TestOptimizerShapeMismatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, _ := nn.MLP([]int{3, 4, 2}, 0.2, "", rng)
	b, _ := nn.MLP([]int{3, 5, 2}, 0.2, "", rng)
	for _, o := range []interface {
		nn.Optimizer
		Check([]*nn.Param) error
	}{nn.NewAdam(1e-3, 0.9, 0.999, 1e-8), nn.NewSGD(0.1, 0.9)} {
		if err := o.Check(b.Params()); err != nil {
			t.Errorf("%T.Check before any step: got %v, want nil", o, err)
		}
		o.Step(a.Params())
		if err := o.Check(a.Params()); err != nil {
			t.Errorf("%T.Check(same params): got %v, want nil", o, err)
		}
		if err := o.Check(b.Params()); err == nil {
			t.Errorf("%T.Check(other shapes): got nil, want ErrShape", o)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%T.Step(other shapes) did not panic", o)
				}
			}()
			o.Step(b.Params())
		}()
	}
}

func TestConcatCols(t *testing.T) {
	a := nn.Mat{Rows: 2, Cols: 2, Data: []float32{1, 2, 3, 4}}
	b := nn.Mat{Rows: 2, Cols: 1, Data: []float32{9, 8}}
	got := nn.ConcatCols(nn.Mat{}, a, b)
	if want := []float32{1, 2, 9, 3, 4, 8}; got.Rows != 2 || got.Cols != 3 || !equal32(got.Data, want) {
		t.Errorf("got %d×%d %v, want 2×3 %v", got.Rows, got.Cols, got.Data, want)
	}
	// Reuses storage that is large enough.
	buf := make([]float32, 10)
	got = nn.ConcatCols(nn.Mat{Data: buf}, b, a)
	if want := []float32{9, 1, 2, 8, 3, 4}; !equal32(got.Data, want) || &got.Data[0] != &buf[0] {
		t.Errorf("got %v (shared %v), want %v in the given buffer", got.Data, &got.Data[0] == &buf[0], want)
	}
}

func TestSliceSharesLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	g, err := nn.MLP([]int{4, 6, 5, 3}, 0.2, "tanh", rng)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(g.Layers), 6; got != want {
		t.Fatalf("layers: got %d, want %d", got, want)
	}
	x := randMat(2, 4, rng)
	first := g.Slice(0, 2).Forward(x)
	want := append([]float32(nil), first.Data...)
	// The first block of a full Forward is the Slice's output.
	g.Forward(x)
	inner := g.Layers[1].Forward(g.Layers[0].Forward(x))
	if !equal32(inner.Data, want) {
		t.Errorf("Slice(0,2) output differs from the first block's")
	}
	s := g.Slice(2, 6)
	if s.InDim() != 6 || s.OutDim() != 3 || len(s.Params()) != 4 {
		t.Errorf("Slice(2,6): InDim %d OutDim %d params %d, want 6, 3, 4", s.InDim(), s.OutDim(), len(s.Params()))
	}
	if s.Params()[0] != g.Params()[2] {
		t.Errorf("Slice does not share parameters")
	}
	if g.InDim() != 4 || g.OutDim() != 3 {
		t.Errorf("InDim, OutDim: got %d, %d, want 4, 3", g.InDim(), g.OutDim())
	}
	// 4·6+6 + 6·5+5 + 5·3+3
	if got, want := g.NumParams(), 83; got != want {
		t.Errorf("NumParams: got %d, want %d", got, want)
	}
}

func TestFlattenUnflatten(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	g, _ := nn.MLP([]int{3, 4, 2}, 0.2, "", rng)
	flat := nn.Flatten(nil, g.Params())
	if len(flat) != g.NumParams() {
		t.Fatalf("Flatten: got %d values, want %d", len(flat), g.NumParams())
	}
	// Order: W1 (3×4), b1 (4), W2 (4×2), b2 (2).
	if flat[0] != g.Params()[0].Value[0] || flat[12] != g.Params()[1].Value[0] || flat[16] != g.Params()[2].Value[0] {
		t.Errorf("Flatten order is not Params order")
	}
	h, _ := nn.MLP([]int{3, 4, 2}, 0.2, "", rand.New(rand.NewPCG(3, 3)))
	if err := nn.Unflatten(h.Params(), flat); err != nil {
		t.Fatal(err)
	}
	if got := nn.Flatten(make([]float32, 0, 100), h.Params()); !equal32(got, flat) {
		t.Errorf("Unflatten then Flatten: got %v, want %v", got, flat)
	}
	if err := nn.Unflatten(h.Params(), flat[1:]); err == nil {
		t.Errorf("Unflatten of a short slice: got nil, want ErrShape")
	}
}

func TestBuildErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		specs []nn.LayerSpec
	}{
		{"unknown kind", []nn.LayerSpec{{Kind: "conv"}}},
		{"zero width", []nn.LayerSpec{{Kind: "dense", In: 0, Out: 3}}},
		{"mismatch", []nn.LayerSpec{{Kind: "dense", In: 2, Out: 3}, {Kind: "relu"}, {Kind: "dense", In: 4, Out: 1}}},
		{"huge", []nn.LayerSpec{{Kind: "dense", In: 1 << 30, Out: 1}}},
		{"nan alpha", []nn.LayerSpec{{Kind: "leaky_relu", Alpha: float32(math.NaN())}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nn.Build(tc.specs, nil)
			if !errorsIs(err, nn.ErrSpec) {
				t.Errorf("got %v, want an error wrapping ErrSpec", err)
			}
		})
	}
	if _, err := nn.MLP([]int{3}, 0.2, "", nil); !errorsIs(err, nn.ErrSpec) {
		t.Errorf("MLP with one size: got %v, want ErrSpec", err)
	}
	if _, err := nn.MLP([]int{3, 2}, 0.2, "softmax", nil); !errorsIs(err, nn.ErrSpec) {
		t.Errorf("MLP with unknown output: got %v, want ErrSpec", err)
	}
}

// TestLearnXOR trains a tiny network on XOR until it classifies all four
// points with margin.
func TestLearnXOR(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 0))
	net, err := nn.MLP([]int{2, 8, 1}, 0.1, "", rng)
	if err != nil {
		t.Fatal(err)
	}
	// Rows 0-1 have target 1, rows 2-3 target 0.
	x := nn.Mat{Rows: 4, Cols: 2, Data: []float32{0, 1, 1, 0, 0, 0, 1, 1}}
	opt := nn.NewAdam(0.05, 0.9, 0.999, 1e-8)
	dl := nn.NewMat(4, 1)
	var loss float64
	for step := 0; step < 2000; step++ {
		net.ZeroGrad()
		y := net.Forward(x)
		loss = nn.SigmoidBCE(dl.Data[:2], y.Data[:2], 1) + nn.SigmoidBCE(dl.Data[2:], y.Data[2:], 0)
		net.BackwardParams(dl)
		opt.Step(net.Params())
	}
	y := net.Forward(x)
	t.Logf("final loss %.4g, logits %v", loss, y.Data)
	if loss > 0.05 {
		t.Errorf("loss after 2000 steps: got %.4g, want < 0.05", loss)
	}
	for i, v := range y.Data {
		if (i < 2) != (v > 0) {
			t.Errorf("logit %d = %v has the wrong sign", i, v)
		}
	}
}

// TestEmptyBatch checks that a batch of zero rows passes through.
func TestEmptyBatch(t *testing.T) {
	net, err := nn.MLP([]int{3, 4, 1}, 0.2, "sigmoid", rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	y := net.Forward(nn.NewMat(0, 3))
	if y.Rows != 0 || y.Cols != 1 {
		t.Errorf("Forward: got %d×%d, want 0×1", y.Rows, y.Cols)
	}
	dx := net.Backward(nn.NewMat(0, 1))
	if dx.Rows != 0 || dx.Cols != 3 {
		t.Errorf("Backward: got %d×%d, want 0×3", dx.Rows, dx.Cols)
	}
}
