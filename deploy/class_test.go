package deploy_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

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

// TestRowsDraw checks that a device's step input has its real rows'
// labels and the batch's row classes, and none without a class code.
func TestRowsDraw(t *testing.T) {
	top := classTop(t)
	ds, err := deploy.DeviceData(top, "b-d1")
	if err != nil {
		t.Fatal(err)
	}
	if err := deploy.CheckClasses(top, "b-d1", ds); err != nil {
		t.Fatal(err)
	}
	b := &wire.Batch{Fake: wire.NewTensor([]int{4, 2}, make([]float32, 8)), FakeLabels: []byte{2, 3, 4, 2}, GenLabels: []byte{4, 4, 3, 2}}
	var r deploy.Rows
	r.Draw(top, ds, b, rand.New(rand.NewPCG(1, 1)))
	if len(r.Real) != 8 || len(r.Labels.Real) != 4 {
		t.Fatalf("drew %d values and %d labels, want 8 and 4", len(r.Real), len(r.Labels.Real))
	}
	for _, y := range r.Labels.Real {
		if y < 2 || y > 4 {
			t.Errorf("real label %d, want one of b's classes 2–4", y)
		}
	}
	if !slices.Equal(r.Labels.Fake, []int{2, 3, 4, 2}) || !slices.Equal(r.Labels.Gen, []int{4, 4, 3, 2}) {
		t.Errorf("batch classes %v, %v; want the batch's", r.Labels.Fake, r.Labels.Gen)
	}
	w, err := deploy.Device(top, "b-d1", ds)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 8)
	if _, err := w.StepLabeled(r.Real, x, x, r.Labels, 0); err != nil {
		t.Errorf("step with the drawn rows: %v", err)
	}

	top.Model.ClassCode = 0
	r.Draw(top, ds, &wire.Batch{Fake: b.Fake}, rand.New(rand.NewPCG(1, 1)))
	if r.Labels.Real != nil || r.Labels.Fake != nil || len(r.Real) != 8 {
		t.Errorf("without a class code: labels %+v, %d values", r.Labels, len(r.Real))
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
