package fed

import (
	"slices"
	"testing"

	"github.com/fedgan/fedgan/wire"
)

func TestGlobalOf(t *testing.T) {
	m := &wire.GlobalModel{Round: 3, Final: true, Lambda1: 0.5, Lambda2: 0.25,
		Params:     []wire.Tensor{wire.NewTensor([]int{2}, []float32{1, 2}), wire.NewTensor([]int{1, 1}, []float32{3})},
		Classifier: []wire.Tensor{wire.NewTensor([]int{1}, []float32{4})}}
	g, err := GlobalOf(m)
	if err != nil {
		t.Fatal(err)
	}
	if g.Round != 3 || !g.Final || g.Lambda1 != 0.5 || g.Lambda2 != 0.25 || !slices.Equal(g.Params, []float32{1, 2, 3}) || !slices.Equal(g.Classifier, []float32{4}) {
		t.Errorf("got %+v", g)
	}
	if g, err := GlobalOf(&wire.GlobalModel{Params: m.Params}); err != nil || len(g.Classifier) != 0 {
		t.Errorf("no classifier: %+v, %v", g, err)
	}
}

func TestUpdateOf(t *testing.T) {
	m := &wire.GeneratorUpdate{Community: "c2", Round: 7, Loss: -0.5, Iters: 4,
		Params: []wire.Tensor{wire.NewTensor([]int{3}, []float32{1, -2, 3})}}
	u, err := UpdateOf(m)
	if err != nil {
		t.Fatal(err)
	}
	if u.Community != "c2" || u.Round != 7 || u.Loss != -0.5 || !slices.Equal(u.Params, []float32{1, -2, 3}) {
		t.Errorf("got %+v", u)
	}
}

func TestFeedbackOf(t *testing.T) {
	m := &wire.Feedback{Community: "c", Device: "d1", Round: 2, Iter: 9, Version: 8, Loss: -0.25, DLoss: 1.5, NReal: 2,
		Grad: wire.NewTensor([]int{2, 2}, []float32{0.5, -1, 2, 0})}
	fb, err := FeedbackOf(m)
	if err != nil {
		t.Fatal(err)
	}
	if fb.Device != "d1" || fb.Round != 2 || fb.Iter != 9 || fb.Version != 8 || fb.Loss != -0.25 || !slices.Equal(fb.Grad, []float32{0.5, -1, 2, 0}) {
		t.Errorf("got %+v", fb)
	}
	// No copy: the gradient is the message's own memory (where Values
	// can give it: a little-endian host).
	v1, _ := m.Grad.Values()
	if v2, _ := m.Grad.Values(); &v1[0] == &v2[0] && &fb.Grad[0] != &v1[0] {
		t.Error("FeedbackOf copied the gradient")
	}
}

// TestConvertErrors: a tensor that does not decode gives wire's error.
func TestConvertErrors(t *testing.T) {
	bad := wire.Tensor{Shape: []int{2}, DType: "f16", Data: make([]byte, 8)}
	good := wire.NewTensor([]int{1}, []float32{1})
	for name, f := range map[string]func() error{
		"global params": func() error { _, err := GlobalOf(&wire.GlobalModel{Params: []wire.Tensor{good, bad}}); return err },
		"global classifier": func() error {
			_, err := GlobalOf(&wire.GlobalModel{Params: []wire.Tensor{good}, Classifier: []wire.Tensor{bad}})
			return err
		},
		"update":   func() error { _, err := UpdateOf(&wire.GeneratorUpdate{Params: []wire.Tensor{bad}}); return err },
		"feedback": func() error { _, err := FeedbackOf(&wire.Feedback{Grad: bad}); return err },
	} {
		if err := f(); wire.CodeOf(err) == 0 {
			t.Errorf("%s: got %v, want a wire error", name, err)
		}
	}
}
