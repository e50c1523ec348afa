package eval_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/fixture"
	"github.com/fedgan/fedgan/nn"
)

// writeStripes writes the fixture's stripes images into dir.
func writeStripes(t *testing.T, dir string, n int) {
	t.Helper()
	if err := fixture.WriteStripes(dir, n); err != nil {
		t.Fatal(err)
	}
}

const stripes = fixture.Stripes

// stripesTopology writes the stripes data into dir and returns the
// topology of yml, read in dir, and a generator of it.
func stripesTopology(t *testing.T, dir, yml string, n int) (*config.Topology, *nn.Sequential) {
	t.Helper()
	writeStripes(t, filepath.Join(dir, "stripes"), n)
	top, err := config.FromBytes([]byte(yml), "stripes.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return top, gen
}

func TestOpenImageEval(t *testing.T) {
	dir := t.TempDir()
	top, gen := stripesTopology(t, dir, stripes, 200)
	cache := filepath.Join(dir, "cache")
	settings := eval.ClassifierSettings{Hidden: []int{8}, Epochs: 3}

	// Without a cached classifier, and without Train: the reason.
	if _, err := eval.OpenImageEval(top, eval.EvalOptions{CacheDir: cache, Settings: settings}); !errors.Is(err, eval.ErrNoClassifier) {
		t.Fatalf("no classifier: got %v, want ErrNoClassifier", err)
	}

	// Training it, with progress lines.
	var lines []string
	ie, err := eval.OpenImageEval(top, eval.EvalOptions{CacheDir: cache, Settings: settings, Train: true,
		Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if !ie.Trained || ie.Info.Rows != 200 || len(ie.Info.Accuracy) != 1 {
		t.Errorf("trained: trained %v, info %+v; want a classifier of 200 rows with its accuracy", ie.Trained, ie.Info)
	}
	if got := strings.Join(lines, "\n"); !strings.Contains(got, "training the evaluation classifier") || !strings.Contains(got, "epoch 3/3") {
		t.Errorf("progress lines:\n%s", got)
	}
	rep, err := ie.Score(eval.SampleAll(top, gen, 200, rand.New(rand.NewPCG(1, 0))))
	if err != nil {
		t.Fatal(err)
	}
	m := eval.ReportMap(rep)
	if m["fid"] == nil || m["is"] == nil || m["classes"] != 2 || m["samples"] != 200 {
		t.Errorf("scores: got %v, want fid, is, 2 classes of 200 samples", m)
	}
	x, err := ie.RealTraining(50, 1)
	if err != nil || len(x) != 50*16 {
		t.Errorf("RealTraining(50): %d values, %v; want 50 rows of 16", len(x), err)
	}
	if _, err := ie.RealTraining(201, 1); err == nil {
		t.Errorf("RealTraining(201) of 200 images: no error")
	}
	if _, err := ie.TSTR(top, gen, 10, rand.New(rand.NewPCG(1, 1)), nil); err == nil || !strings.Contains(err.Error(), "model.class_code") {
		t.Errorf("TSTR without a class code: got %v", err)
	}

	// The cached classifier is found by the next call.
	ie, err = eval.OpenImageEval(top, eval.EvalOptions{CacheDir: cache, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	if ie.Trained || ie.Info.Rows != 200 || len(ie.Info.Accuracy) != 1 {
		t.Errorf("reopened: trained %v, info %+v; want the cached classifier of 200 rows with its accuracy", ie.Trained, ie.Info)
	}
}

// TestSampleAllLR checks that the label-related scenario draws from every
// domain code.
func TestSampleAllLR(t *testing.T) {
	dir := t.TempDir()
	lr := strings.Replace(stripes, "name: stripes", "name: stripes-lr\nscenario: lr", 1) + `  - id: b
    data: {kind: idx, path: stripes}
    edge: {allow_anonymous: true}
    device_count: 1
`
	top, gen := stripesTopology(t, dir, lr, 100)
	x := eval.SampleAll(top, gen, 5, rand.New(rand.NewPCG(1, 2)))
	if len(x) != 5*16 {
		t.Fatalf("SampleAll gave %d values, want 5 rows of 16", len(x))
	}
	// Domain 1 of 2, as Sample returns its inputs.
	_, z := eval.Sample(top, gen, 3, 1, rand.New(rand.NewPCG(1, 2)), nil)
	for i := range 3 {
		if code := z[i*6+4 : i*6+6]; code[0] != 0 || code[1] != 1 {
			t.Errorf("row %d: domain code %v, want [0 1]", i, code)
		}
	}
}

func hash32(x []float32) string {
	h := sha256.New()
	for _, v := range x {
		binary.Write(h, binary.LittleEndian, math.Float32bits(v))
	}
	return fmt.Sprintf("%x", h.Sum(nil))[:16]
}

// TestLatentsUnchanged pins the generator inputs of the sample grids and
// of Sample for every kind of input layout: the random draws, their order
// and the codes written (the values before sampling and grids moved
// here from the cloud package).
func TestLatentsUnchanged(t *testing.T) {
	const model = `model: {latent: 3, data_dim: 4, generator: [4], discriminator: [4]`
	tests := []struct {
		scenario, model string
		width           int
		grid, z         string
	}{
		{"fr", "", 3, "292132c9e1ec0fb7", "94803d820fa2b790"},
		{"lr", "", 5, "dd1a3be906072cf6", "afd05eb052620fb0"},
		{"fr", ", source_code: community", 5, "c7c2802514e361d2", "8dbf59b4f904b275"},
		{"fr", ", source_code: device", 6, "4f9309aee6da027b", "897acbda5b548263"},
		{"fr", ", class_code: 5", 8, "b3aeebd21b73b391", "b24c5e5c7f79644c"},
	}
	for _, tt := range tests {
		src := fmt.Sprintf(`{scenario: %s, %s%s}, training: {global_rounds: 1, local_iters: 1}, cloud: {allow_anonymous: true}, communities: [
  {id: a, data: {kind: gaussian, means: [[0, 0, 0, 0]], std: 0.1, samples: 30, classes: 2}, edge: {allow_anonymous: true}, device_count: 2},
  {id: b, data: {kind: gaussian, means: [[1, 0, 0, 0]], std: 0.1, samples: 50, classes: 3, label_offset: 2}, edge: {allow_anonymous: true}, device_count: 1}]}`,
			tt.scenario, model, tt.model)
		top, err := config.FromBytes([]byte(src), "g.yaml", "")
		if err != nil {
			t.Fatal(err)
		}
		gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		grid := eval.GridLatents(top, 100)
		_, z := eval.Sample(top, gen, 7, max(top.Domains()-1, 0), rand.New(rand.NewPCG(4, 5)), nil)
		if got := top.GenInDim(); got != tt.width || hash32(grid) != tt.grid || hash32(z) != tt.z {
			t.Errorf("%s%s: width %d, grid %s, z %s; want %d, %s, %s", tt.scenario, tt.model, got, hash32(grid), hash32(z), tt.width, tt.grid, tt.z)
		}
	}
}

func TestGridFiles(t *testing.T) {
	dir := t.TempDir()
	top, gen := stripesTopology(t, dir, stripes, 10)
	path := filepath.Join(dir, "sub", "g.png")
	if err := eval.WriteGridFile(path, top, gen); err != nil {
		t.Fatal(err)
	}
	checkGridPNG(t, path, 10*(8+2)+2)
	for dim, want := range map[int]bool{16: true, 784: true, 2: false, 15: false} {
		if got := eval.IsSquare(dim); got != want {
			t.Errorf("IsSquare(%d) = %v, want %v", dim, got, want)
		}
	}
	flat := *top
	flat.Model.DataDim = 15
	if err := eval.GridPNG(&bytes.Buffer{}, &flat, gen, eval.GridLatents(top, 4)); err == nil {
		t.Errorf("GridPNG of rows of 15 values: no error")
	}

	// LoadGenerator reads a saved generator back and checks its widths.
	var buf bytes.Buffer
	if err := nn.Save(&buf, gen); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "generator.nnw")
	if err := os.WriteFile(model, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if g, err := eval.LoadGenerator(model, top); err != nil || g.InDim() != 4 || g.OutDim() != 16 {
		t.Errorf("LoadGenerator: %v", err)
	}
	other := *top
	other.Model.Latent = 5
	if _, err := eval.LoadGenerator(model, &other); err == nil || !strings.Contains(err.Error(), "takes 4 inputs") {
		t.Errorf("LoadGenerator of another latent width: got %v", err)
	}
}

func checkGridPNG(t *testing.T, path string, side int) {
	t.Helper()
	if err := fixture.CheckSquarePNG(path, side); err != nil {
		t.Error(err)
	}
}

func TestReportMaps(t *testing.T) {
	m := eval.ReportMap(eval.Report{Samples: 10, FID: math.NaN(), IS: 2, Classes: 3, Covered: 2, ClassKL: math.Inf(1), TSTR: 0.5})
	if m["samples"] != 10 || m["fid"] != nil || m["is"] != 2.0 || m["classes"] != 3 || m["classes_covered"] != 2 || m["class_kl"] != nil || m["tstr_accuracy"] != 0.5 {
		t.Errorf("ReportMap: %v", m)
	}
	if _, ok := eval.ReportMap(eval.Report{})["tstr_accuracy"]; ok {
		t.Errorf("ReportMap without TSTR has tstr_accuracy")
	}
	mm := eval.MixtureMap(eval.MixtureReport{Samples: 4, Modes: 2, Covered: 1, HighQuality: 0.75, ReverseKL: math.NaN()})
	if mm["samples"] != 4 || mm["modes"] != 2 || mm["modes_covered"] != 1 || mm["high_quality"] != 0.75 || mm["reverse_kl"] != nil {
		t.Errorf("MixtureMap: %v", mm)
	}
}

// TestAcc: the paper's "Acc" is the evaluation classifier's agreement with
// the class a conditional G was asked for. A G wired to draw class y's
// stripe for code y scores (about) 1, the same G with its codes swapped
// (about) 0, and an unconditional G has no Acc.
func TestAcc(t *testing.T) {
	dir := t.TempDir()
	cond := strings.Replace(stripes, "output: tanh}", "output: tanh, class_code: 2}", 1)
	cond = strings.Replace(cond, "path: stripes}", "path: stripes, classes: 2}", 1)
	top, gen := stripesTopology(t, dir, cond, 200)
	ie, err := eval.OpenImageEval(top, eval.EvalOptions{CacheDir: filepath.Join(dir, "cache"), Settings: eval.ClassifierSettings{Hidden: []int{8}, Epochs: 5}, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	l := top.GenLayout()
	var dense []*nn.Dense
	for _, layer := range gen.Layers {
		if d, ok := layer.(*nn.Dense); ok {
			dense = append(dense, d)
		}
	}
	if len(dense) != 2 || l.Classes != 2 {
		t.Fatalf("generator of %d dense layers, %d classes: want 2 and 2", len(dense), l.Classes)
	}
	// wire makes hidden unit k copy class code k, and unit k draw the
	// stripe of class k^swap: top half bright for class 0, bottom for 1.
	wire := func(swap int) {
		for _, p := range gen.Params() {
			clear(p.Value)
		}
		h1, out := dense[0].W.Shape[1], dense[1].W.Shape[1]
		for k := range 2 {
			dense[0].W.Value[(l.ClassOff()+k)*h1+k] = 1
			for p := range out {
				v := float32(-5)
				if (p < out/2) == (k^swap == 0) {
					v = 5
				}
				dense[1].W.Value[k*out+p] = v
			}
		}
	}
	for _, tc := range []struct {
		swap   int
		lo, hi float64
	}{{0, 0.95, 1}, {1, 0, 0.05}} {
		wire(tc.swap)
		acc, err := ie.Acc(top, gen, 200, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if acc < tc.lo || acc > tc.hi {
			t.Errorf("codes swapped %d: Acc %.3f, want in [%.2f, %.2f]", tc.swap, acc, tc.lo, tc.hi)
		}
	}

	uncond, ug := stripesTopology(t, t.TempDir(), stripes, 200)
	if _, err := ie.Acc(uncond, ug, 10, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "model.class_code") {
		t.Errorf("Acc without a class code: got %v", err)
	}
}
