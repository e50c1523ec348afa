package deploy_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/wire"
)

// classTop has community a (two devices, 100 samples each, classes 0–1)
// and b (one device, 300 samples, classes 2–4) with a class-conditional G
// of 6 classes (class 5 is nobody's).
func classTop(t *testing.T) *config.Topology {
	t.Helper()
	top, err := config.FromBytes([]byte(`
model: {latent: 3, data_dim: 2, generator: [8], discriminator: [8], class_code: 6}
training: {global_rounds: 2, local_iters: 1, batch_size: 4}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0], [2, 0]], std: 1, samples: 100}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: b, data: {kind: gaussian, means: [[1, 0], [2, 2], [3, 3]], std: 1, samples: 300, label_offset: 2}, edge: {allow_anonymous: true}, device_count: 1}
`), "inline", "")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// TestLatentsClasses checks that the global G's rows carry one class,
// drawn with the communities' data shares spread over their classes.
func TestLatentsClasses(t *testing.T) {
	top := classTop(t)
	const n = 20000
	z := deploy.Latents(top, nil, n, rand.New(rand.NewPCG(1, 2)))
	cols := 3 + 6
	counts := make([]float64, 6)
	for i := range n {
		code := z[i*cols+3 : (i+1)*cols]
		set := 0
		for y, v := range code {
			switch v {
			case 0:
			case 1:
				set++
				counts[y]++
			default:
				t.Fatalf("row %d class code %v, want one entry of 1", i, code)
			}
		}
		if set != 1 {
			t.Fatalf("row %d class code %v, want one entry of 1", i, code)
		}
	}
	// a: 200 of 500 samples over 2 classes; b: 300 over 3.
	for y, want := range []float64{0.2, 0.2, 0.2, 0.2, 0.2, 0} {
		if got := counts[y] / n; math.Abs(got-want) > 0.015 {
			t.Errorf("class %d drawn %.3f of the time, want %.3f", y, got, want)
		}
	}
}

// TestAgentClasses checks that a device's agent steps on its real rows'
// labels and the batch's row classes, and on unlabeled rows without a
// class code. (fed's TestAgentDraw checks what it draws.)
func TestAgentClasses(t *testing.T) {
	top := classTop(t)
	ds, err := deploy.DeviceData(top, "b-d1")
	if err != nil {
		t.Fatal(err)
	}
	x := wire.NewTensor([]int{4, 2}, make([]float32, 8))
	b := &wire.Batch{Round: 1, Iter: 3, Fake: x, Gen: x, FakeLabels: []byte{2, 3, 4, 2}, GenLabels: []byte{4, 4, 3, 2}}
	a, err := deploy.Agent(top, "b-d1", ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Work(time.Unix(0, 0), b, time.Unix(0, 0)); err != nil {
		t.Fatalf("step with the drawn rows: %v", err)
	}
	if fb := a.Ready().Feedback; fb == nil || fb.Device != "b-d1" || fb.Community != "b" || fb.NReal != 4 || !slices.Equal(fb.Grad.Shape, []int{4, 2}) {
		t.Errorf("feedback %+v", fb)
	}

	top.Model.ClassCode = 0
	if a, err = deploy.Agent(top, "b-d1", ds); err != nil {
		t.Fatal(err)
	}
	if err := a.Work(time.Unix(0, 0), &wire.Batch{Fake: x, Gen: x}, time.Unix(0, 0)); err != nil {
		t.Errorf("without a class code: %v", err)
	}
}

// TestAgentData checks that an agent is built only on local data that
// fits the model and the community.
func TestAgentData(t *testing.T) {
	top := classTop(t)
	wide, _ := data.NewNumeric("x", 3, []float32{0, 0, 0}, []int{2}, 6)
	empty, _ := data.NewNumeric("x", 2, nil, []int{}, 6)
	other, _ := data.NewNumeric("x", 2, []float32{0, 0}, []int{0}, 6)
	for _, c := range []struct {
		ds   *data.Dataset
		want string
	}{
		{wide, "device b-d1: local data has 3 columns, model.data_dim is 2"},
		{empty, "device b-d1: no local data"},
		{other, "device b-d1: row 0 has label 0"},
	} {
		if _, err := deploy.Agent(top, "b-d1", c.ds); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
	if _, err := deploy.Agent(top, "nope", other); err == nil {
		t.Error("unknown device: no error")
	}
}

func TestCheckClasses(t *testing.T) {
	top := classTop(t)
	ds, err := data.NewNumeric("x", 2, []float32{0, 0, 1, 1, 2, 2}, []int{2, 5, 3}, 6)
	if err != nil {
		t.Fatal(err)
	}
	err = deploy.CheckClasses(top, "b-d1", ds)
	if want := "device b-d1: row 1 has label 5, but model.class_code and community b's data (label_offset 2, classes 3) allow 2 to 4"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error containing %q", err, want)
	}
	if err := deploy.CheckClasses(top, "a-d1", ds); err == nil {
		t.Error("labels 2–5 on a device of community a (classes 0–1): no error")
	}
}
