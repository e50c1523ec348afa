package nn_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/diff/fd"

	"github.com/fedgan/fedgan/nn"
)

// projLoss is L = Σ r_ij·y_ij in float64, a scalar whose gradient with
// respect to y is r.
func projLoss(y nn.Mat, r []float32) float64 {
	var s float64
	for i, v := range y.Data[:y.Rows*y.Cols] {
		s += float64(v) * float64(r[i])
	}
	return s
}

// awayFromZero returns n values in ±[0.1, 1.1), so that finite
// differences with step 1e-2 never straddle a ReLU kink.
func awayFromZero(n int, rng *rand.Rand) []float32 {
	v := make([]float32, n)
	for i := range v {
		a := 0.1 + rng.Float32()
		if rng.IntN(2) == 0 {
			a = -a
		}
		v[i] = a
	}
	return v
}

func randMat(r, c int, rng *rand.Rand) nn.Mat {
	m := nn.NewMat(r, c)
	nn.FillNormal(m.Data, rng)
	return m
}

// checkClose reports entries of got and want that differ by more than
// tol·max(1, |want|).
func checkClose(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); d > tol*math.Max(1, math.Abs(want[i])) || math.IsNaN(d) {
			if bad < 5 {
				t.Errorf("%s[%d]: got %.6g, want %.6g (finite difference)", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 5 {
		t.Errorf("%s: %d of %d entries differ", what, bad, len(got))
	}
}

var fdSettings = &fd.Settings{Formula: fd.Central, Step: 1e-2}

// gradCheck verifies Backward and BackwardInput of net against central
// finite differences of L = Σ r⊙net(x), for the input and for every
// parameter.
func gradCheck(t *testing.T, net nn.Layer, x nn.Mat, rng *rand.Rand) {
	t.Helper()
	y := net.Forward(x)
	r := make([]float32, y.Rows*y.Cols)
	nn.FillNormal(r, rng)
	dy := nn.Mat{Rows: y.Rows, Cols: y.Cols, Data: r}

	for _, p := range net.Params() {
		clear(p.Grad)
	}
	net.Forward(x)
	dx := net.Backward(dy)
	gotDX := append([]float32(nil), dx.Data[:x.Rows*x.Cols]...)

	// BackwardInput must give the same dx and leave the gradients alone.
	var before [][]float32
	for _, p := range net.Params() {
		before = append(before, append([]float32(nil), p.Grad...))
	}
	net.Forward(x)
	dx2 := net.BackwardInput(dy)
	for i := range gotDX {
		if dx2.Data[i] != gotDX[i] {
			t.Fatalf("BackwardInput dx[%d] = %v, Backward gave %v", i, dx2.Data[i], gotDX[i])
		}
	}
	for k, p := range net.Params() {
		for i := range p.Grad {
			if p.Grad[i] != before[k][i] {
				t.Fatalf("BackwardInput changed %s.Grad[%d] from %v to %v", p.Name, i, before[k][i], p.Grad[i])
			}
		}
	}

	// Input gradient.
	x0 := append([]float32(nil), x.Data...)
	xv := make([]float64, len(x0))
	for i, v := range x0 {
		xv[i] = float64(v)
	}
	want := fd.Gradient(nil, func(v []float64) float64 {
		for i := range v {
			x.Data[i] = float32(v[i])
		}
		return projLoss(net.Forward(x), r)
	}, xv, fdSettings)
	copy(x.Data, x0)
	checkClose(t, "dL/dx", gotDX, want, 2e-3)

	// Parameter gradients.
	for _, p := range net.Params() {
		p0 := append([]float32(nil), p.Value...)
		pv := make([]float64, len(p0))
		for i, v := range p0 {
			pv[i] = float64(v)
		}
		want := fd.Gradient(nil, func(v []float64) float64 {
			for i := range v {
				p.Value[i] = float32(v[i])
			}
			return projLoss(net.Forward(x), r)
		}, pv, fdSettings)
		copy(p.Value, p0)
		checkClose(t, "dL/d"+p.Name, p.Grad, want, 2e-3)
	}
}

func TestLayerGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name    string
		layer   func() nn.Layer
		rows    int
		in      int
		awayOf0 bool
	}{
		{"dense 5→3", func() nn.Layer { return nn.NewDense(5, 3, rng) }, 4, 5, false},
		{"dense 7→1", func() nn.Layer { return nn.NewDense(7, 1, rng) }, 6, 7, false},
		{"dense 1→4", func() nn.Layer { return nn.NewDense(1, 4, rng) }, 3, 1, false},
		{"dense 70→90 (blocked)", func() nn.Layer { return nn.NewDense(70, 90, rng) }, 67, 70, false},
		{"leaky_relu 0.2", func() nn.Layer { return nn.NewLeakyReLU(0.2) }, 3, 6, true},
		{"relu", func() nn.Layer { return nn.NewReLU() }, 3, 6, true},
		{"tanh", func() nn.Layer { return nn.NewTanh() }, 3, 6, false},
		{"sigmoid", func() nn.Layer { return nn.NewSigmoid() }, 3, 6, false},
		{"minibatch_std 4 (6 rows: groups of 4 and 2)", func() nn.Layer { return nn.NewMinibatchStd(4) }, 6, 5, false},
		{"minibatch_std 2 (5 rows: a last group of 1)", func() nn.Layer { return nn.NewMinibatchStd(2) }, 5, 3, false},
		{"dense_carry 5→3 carrying 2", func() nn.Layer { return nn.NewDenseCarry(5, 3, 2, rng) }, 4, 7, false},
		{"dense_carry 1→4 carrying 3", func() nn.Layer { return nn.NewDenseCarry(1, 4, 3, rng) }, 3, 4, false},
		{"dense_heads 5→3, 2 heads", func() nn.Layer { return nn.NewDenseHeads(5, 3, 2, rng) }, 4, 7, false},
		{"dense_heads 1→4, 3 heads", func() nn.Layer { return nn.NewDenseHeads(1, 4, 3, rng) }, 3, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.layer()
			var x nn.Mat
			if tc.awayOf0 {
				x = nn.Mat{Rows: tc.rows, Cols: tc.in, Data: awayFromZero(tc.rows*tc.in, rng)}
			} else {
				x = randMat(tc.rows, tc.in, rng)
			}
			gradCheck(t, l, x, rng)
		})
	}
}

// seqLayer adapts a Sequential to nn.Layer for gradCheck.
type seqLayer struct{ *nn.Sequential }

func (s seqLayer) Spec() nn.LayerSpec { return nn.LayerSpec{} }

func TestSequentialGradients(t *testing.T) {
	for _, out := range []string{"", "tanh", "sigmoid"} {
		t.Run(fmt.Sprintf("out=%q", out), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			net, err := nn.MLP([]int{6, 9, 5, 2}, 0.2, out, rng)
			if err != nil {
				t.Fatal(err)
			}
			// Push the biases away from 0 so that no hidden unit sits on the
			// LeakyReLU kink within a finite-difference step.
			for _, p := range net.Params() {
				if p.Name == "bias" {
					copy(p.Value, awayFromZero(len(p.Value), rng))
				}
			}
			gradCheck(t, seqLayer{net}, randMat(5, 6, rng), rng)
		})
	}
}

// TestBackwardParams checks that BackwardParams accumulates exactly the
// gradients Backward does.
func TestBackwardParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	net, err := nn.MLP([]int{4, 8, 3}, 0.1, "tanh", rng)
	if err != nil {
		t.Fatal(err)
	}
	x := randMat(5, 4, rng)
	dy := randMat(5, 3, rng)
	net.ZeroGrad()
	net.Forward(x)
	net.Backward(dy)
	want := nn.Flatten(nil, gradsOf(net.Params()))
	net.ZeroGrad()
	net.Forward(x)
	net.BackwardParams(dy)
	got := nn.Flatten(nil, gradsOf(net.Params()))
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("grad[%d]: got %v, want %v", i, got[i], want[i])
		}
	}
}

// gradsOf returns Params whose Values are the gradients, for Flatten.
func gradsOf(ps []*nn.Param) []*nn.Param {
	out := make([]*nn.Param, len(ps))
	for i, p := range ps {
		out[i] = &nn.Param{Name: p.Name, Shape: p.Shape, Value: p.Grad}
	}
	return out
}

func TestLossGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	logits := make([]float32, 9)
	nn.FillNormal(logits, rng)
	for i := range logits {
		logits[i] *= 3
	}
	for _, tc := range []struct {
		name string
		f    func(dst, a []float32) float64
	}{
		{"SigmoidBCE t=1", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 1) }},
		{"SigmoidBCE t=0", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 0) }},
		{"SigmoidBCE t=0.3", func(d, a []float32) float64 { return nn.SigmoidBCE(d, a, 0.3) }},
		{"LogOneMinusSigmoid", nn.LogOneMinusSigmoid},
		{"NegLogSigmoid", nn.NegLogSigmoid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make([]float32, len(logits))
			tc.f(got, logits)
			a := make([]float32, len(logits))
			x := make([]float64, len(logits))
			for i, v := range logits {
				x[i] = float64(v)
			}
			want := fd.Gradient(nil, func(v []float64) float64 {
				for i := range v {
					a[i] = float32(v[i])
				}
				return tc.f(nil, a)
			}, x, &fd.Settings{Formula: fd.Central, Step: 1e-3})
			checkClose(t, "dL/da", got, want, 1e-4)
		})
	}
	t.Run("SoftmaxCrossEntropy", func(t *testing.T) {
		lg := randMat(4, 5, rng)
		labels := []int{0, 4, 2, 2}
		got := nn.NewMat(4, 5)
		nn.SoftmaxCrossEntropy(got, lg, labels)
		x := make([]float64, len(lg.Data))
		for i, v := range lg.Data {
			x[i] = float64(v)
		}
		a := nn.NewMat(4, 5)
		want := fd.Gradient(nil, func(v []float64) float64 {
			for i := range v {
				a.Data[i] = float32(v[i])
			}
			return nn.SoftmaxCrossEntropy(nn.Mat{}, a, labels)
		}, x, &fd.Settings{Formula: fd.Central, Step: 1e-3})
		checkClose(t, "dL/da", got.Data, want, 1e-4)
	})
}

// checkCodeNet checks a 6→3 net whose input ends with a code (carryNet,
// headsNet): its widths, its gradients against finite differences, and
// that BackwardParams accumulates what Backward does.
func checkCodeNet(t *testing.T, net *nn.Sequential, rng *rand.Rand) {
	t.Helper()
	if net.InDim() != 6 || net.OutDim() != 3 {
		t.Errorf("InDim %d, OutDim %d; want 6 and 3", net.InDim(), net.OutDim())
	}
	for _, p := range net.Params() {
		if p.Name == "bias" {
			copy(p.Value, awayFromZero(len(p.Value), rng))
		}
	}
	gradCheck(t, seqLayer{net}, randMat(5, 6, rng), rng)

	xb, dy := randMat(5, 6, rng), randMat(5, 3, rng)
	net.ZeroGrad()
	net.Forward(xb)
	net.Backward(dy)
	want := nn.Flatten(nil, gradsOf(net.Params()))
	net.ZeroGrad()
	net.Forward(xb)
	net.BackwardParams(dy)
	if got := nn.Flatten(nil, gradsOf(net.Params())); !slices.Equal(got, want) {
		t.Errorf("BackwardParams: %v, Backward: %v", got, want)
	}
}

// carryNet is a generator-like net whose first layer does not see the
// last 2 input columns (a code), which the second layer does: dense_carry
// 4→6 (+2), LeakyReLU, dense 8→3, tanh.
func carryNet(t testing.TB, rng *rand.Rand) *nn.Sequential {
	t.Helper()
	net, err := nn.Build([]nn.LayerSpec{
		{Kind: nn.KindDenseCarry, In: 4, Out: 6, Carry: 2},
		{Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindDense, In: 8, Out: 3},
		{Kind: nn.KindTanh},
	}, rng)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestDenseCarry: the carried columns pass through unchanged and reach the
// next layer; the first Out columns do not depend on them; a network of
// it has the gradients finite differences give, and BackwardParams
// accumulates what Backward does.
func TestDenseCarry(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	l := nn.NewDenseCarry(3, 2, 2, rng)
	x := nn.Mat{Rows: 2, Cols: 5, Data: []float32{1, 2, 3, 1, 0, 1, 2, 3, 0, 1}}
	y := l.Forward(x)
	if y.Cols != 4 || y.Data[2] != 1 || y.Data[3] != 0 || y.Data[6] != 0 || y.Data[7] != 1 {
		t.Fatalf("output %v (%d columns), want the codes [1 0] and [0 1] in the last two", y.Data, y.Cols)
	}
	if y.Data[0] != y.Data[4] || y.Data[1] != y.Data[5] {
		t.Errorf("rows with the same first columns and other codes: %v and %v, want the same dense part", y.Data[:2], y.Data[4:6])
	}
	if sp := l.Spec(); sp != (nn.LayerSpec{Kind: nn.KindDenseCarry, In: 3, Out: 2, Carry: 2}) {
		t.Errorf("spec %+v", sp)
	}

	checkCodeNet(t, carryNet(t, rng), rng)

	for _, bad := range [][]nn.LayerSpec{
		{{Kind: nn.KindDenseCarry, In: 4, Out: 6}},                                                // carries nothing
		{{Kind: nn.KindDenseCarry, In: 4, Out: 6, Carry: 2}, {Kind: nn.KindDense, In: 6, Out: 3}}, // the next layer ignores the carried columns
		{{Kind: nn.KindDense, In: 4, Out: 5}, {Kind: nn.KindDenseCarry, In: 4, Out: 6, Carry: 2}}, // 4 + 2 ≠ 5
	} {
		if _, err := nn.Build(bad, rng); !errors.Is(err, nn.ErrSpec) {
			t.Errorf("Build(%+v): %v, want ErrSpec", bad, err)
		}
	}
}

// headsNet is a generator-like net whose hidden layer does not see the
// last 2 input columns (a domain code) and whose output layer has a head
// per code: dense_carry 4→6 (+2), LeakyReLU, dense_heads 6→3 (2 heads),
// tanh.
func headsNet(t testing.TB, rng *rand.Rand) *nn.Sequential {
	t.Helper()
	net, err := nn.Build([]nn.LayerSpec{
		{Kind: nn.KindDenseCarry, In: 4, Out: 6, Carry: 2},
		{Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindDenseHeads, In: 6, Out: 3, Carry: 2},
		{Kind: nn.KindTanh},
	}, rng)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestDenseHeads: a one-hot code selects its head's x·W_k + b_k + b
// (computed here by hand from the stacked weight), the heads start as one
// layer, a network of it has the gradients finite differences give, and
// BackwardParams accumulates what Backward does.
func TestDenseHeads(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	l := nn.NewDenseHeads(3, 2, 2, rng)
	x := nn.Mat{Rows: 2, Cols: 5, Data: []float32{1, 2, 3, 1, 0, 1, 2, 3, 0, 1}}
	if y := l.Forward(x); y.Data[0] != y.Data[2] || y.Data[1] != y.Data[3] {
		t.Errorf("fresh heads: code 0 gives %v, code 1 %v; want the same (one draw)", y.Data[:2], y.Data[2:])
	}
	if sp := l.Spec(); sp != (nn.LayerSpec{Kind: nn.KindDenseHeads, In: 3, Out: 2, Carry: 2}) {
		t.Errorf("spec %+v", sp)
	}
	w, b := l.Params()[0], l.Params()[1]
	if !slices.Equal(w.Shape, []int{8, 2}) || !slices.Equal(b.Shape, []int{2}) {
		t.Fatalf("shapes %v %v, want [8 2] [2]", w.Shape, b.Shape)
	}
	copy(w.Value, randMat(8, 2, rng).Data)
	copy(b.Value, []float32{0.5, -0.25})
	y := l.Forward(x)
	for i, k := range []int{0, 1} {
		for j := range 2 {
			want := b.Value[j] + w.Value[(6+k)*2+j] // b + b_k
			for c := range 3 {
				want += x.Data[i*5+c] * w.Value[(k*3+c)*2+j]
			}
			if got := y.Data[i*2+j]; math.Abs(float64(got-want)) > 1e-6 {
				t.Errorf("row %d (head %d), column %d: %v, want %v", i, k, j, got, want)
			}
		}
	}

	checkCodeNet(t, headsNet(t, rng), rng)

	for _, bad := range [][]nn.LayerSpec{
		{{Kind: nn.KindDenseHeads, In: 4, Out: 6}},                                                // no heads
		{{Kind: nn.KindDense, In: 4, Out: 5}, {Kind: nn.KindDenseHeads, In: 4, Out: 6, Carry: 2}}, // 4 + 2 ≠ 5
		{{Kind: nn.KindDenseHeads, In: 1 << 20, Out: 1, Carry: 64}},                               // too wide
	} {
		if _, err := nn.Build(bad, rng); !errors.Is(err, nn.ErrSpec) {
			t.Errorf("Build(%+v): %v, want ErrSpec", bad, err)
		}
	}
}

// TestRelease: a network whose buffers were released computes the same
// outputs and gradients as before, for every layer kind.
func TestRelease(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	net, err := nn.Build([]nn.LayerSpec{
		{Kind: nn.KindDenseCarry, In: 4, Out: 8, Carry: 2}, {Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindDenseHeads, In: 8, Out: 6, Carry: 2}, {Kind: nn.KindReLU},
		{Kind: nn.KindMinibatchStd, Group: 2}, {Kind: nn.KindDense, In: 7, Out: 3}, {Kind: nn.KindTanh},
		{Kind: nn.KindDense, In: 3, Out: 1}, {Kind: nn.KindSigmoid},
	}, rng)
	if err != nil {
		t.Fatal(err)
	}
	x, dy := randMat(4, 6, rng), randMat(4, 1, rng)
	run := func() ([]float32, []float32, []float32) {
		net.ZeroGrad()
		y := append([]float32(nil), net.Forward(x).Data...)
		dx := append([]float32(nil), net.Backward(dy).Data...)
		return y, dx, nn.Flatten(nil, gradsOf(net.Params()))
	}
	y0, dx0, g0 := run()
	net.Release()
	y1, dx1, g1 := run()
	if !slices.Equal(y0, y1) || !slices.Equal(dx0, dx1) || !slices.Equal(g0, g1) {
		t.Errorf("after Release: outputs %v / %v, input gradients %v / %v", y0, y1, dx0, dx1)
	}
}
