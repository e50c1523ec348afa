package nn_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fedgan/fedgan/nn"
)

// TestMinibatchStdForward checks the statistic against hand-computed
// values: rows {0,2} and {1,3} of feature 0, {0,0} and {4,0} of feature 1.
func TestMinibatchStdForward(t *testing.T) {
	l := nn.NewMinibatchStd(2)
	x := nn.Mat{Rows: 4, Cols: 2, Data: []float32{
		0, 0,
		2, 0, // group 1: σ = (1, 0) → s = 0.5
		1, 4,
		3, 0, // group 2: σ = (1, 2) → s = 1.5
	}}
	y := l.Forward(x)
	want := []float32{0, 0, 0.5, 2, 0, 0.5, 1, 4, 1.5, 3, 0, 1.5}
	if y.Rows != 4 || y.Cols != 3 {
		t.Fatalf("output %d×%d, want 4×3", y.Rows, y.Cols)
	}
	for i, w := range want {
		if math.Abs(float64(y.Data[i]-w)) > 1e-4 {
			t.Errorf("y[%d] = %v, want %v", i, y.Data[i], w)
		}
	}
}

// TestMinibatchStdGroupsDoNotMix checks that a group's statistic depends
// only on its own rows: stacking real and generated rows of a
// group-aligned batch must not mix them.
func TestMinibatchStdGroupsDoNotMix(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	l := nn.NewMinibatchStd(4)
	x := randMat(8, 3, rng)
	a := append([]float32(nil), l.Forward(x).Data...)
	for i := 4 * 3; i < 8*3; i++ {
		x.Data[i] *= 10 // change the second group only
	}
	b := l.Forward(x).Data
	for i := 0; i < 4; i++ {
		if a[i*4+3] != b[i*4+3] {
			t.Fatalf("row %d: statistic changed from %v to %v when only the other group changed", i, a[i*4+3], b[i*4+3])
		}
	}
	if a[4*4+3] == b[4*4+3] {
		t.Fatal("second group's statistic did not change")
	}
}

func TestMinibatchStdSpecAndSave(t *testing.T) {
	specs := []nn.LayerSpec{
		{Kind: nn.KindDense, In: 4, Out: 3},
		{Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindMinibatchStd, Group: 4},
		{Kind: nn.KindDense, In: 4, Out: 1},
	}
	net, err := nn.Build(specs, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := nn.Save(&buf, net); err != nil {
		t.Fatal(err)
	}
	back, err := nn.Load(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Specs()[2]; got != specs[2] {
		t.Fatalf("loaded spec %+v, want %+v", got, specs[2])
	}
	x := randMat(8, 4, rand.New(rand.NewPCG(3, 3)))
	a, b := net.Forward(x).Data, back.Forward(x).Data
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("output %d: %v after a round trip, %v before", i, b[i], a[i])
		}
	}

	for _, tc := range []struct {
		name  string
		specs []nn.LayerSpec
	}{
		{"group 1", []nn.LayerSpec{{Kind: nn.KindDense, In: 2, Out: 2}, {Kind: nn.KindMinibatchStd, Group: 1}}},
		{"first layer", []nn.LayerSpec{{Kind: nn.KindMinibatchStd, Group: 4}, {Kind: nn.KindDense, In: 3, Out: 1}}},
		{"width not counted", []nn.LayerSpec{{Kind: nn.KindDense, In: 2, Out: 2}, {Kind: nn.KindMinibatchStd, Group: 4}, {Kind: nn.KindDense, In: 2, Out: 1}}},
	} {
		if _, err := nn.Build(tc.specs, nil); !errors.Is(err, nn.ErrSpec) {
			t.Errorf("%s: got %v, want an error wrapping ErrSpec", tc.name, err)
		}
	}
}
