package cloud_test

import (
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/fixture"
)

// writeStripes writes the fixture's stripes images into dir.
func writeStripes(t *testing.T, dir string, n int) {
	t.Helper()
	if err := fixture.WriteStripes(dir, n); err != nil {
		t.Fatal(err)
	}
}

const stripes = fixture.Stripes

func TestEvaluateImages(t *testing.T) {
	dir := t.TempDir()
	writeStripes(t, filepath.Join(dir, "stripes"), 200)
	top, err := config.FromBytes([]byte(stripes), "stripes.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	settings := eval.ClassifierSettings{Hidden: []int{8}, Epochs: 3}

	// Without a cached classifier: the grid, and the reason there are no
	// scores.
	out := filepath.Join(dir, "out1")
	ev, err := cloud.NewEvaluator(top, out, eval.EvalOptions{CacheDir: cache, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ev.Evaluate(gen, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	if msg, _ := res["eval_error"].(string); !strings.Contains(msg, "no cached evaluation classifier") || res["fid"] != nil {
		t.Errorf("no classifier: got %v, want eval_error saying so and no fid", res)
	}
	checkGrid(t, filepath.Join(out, "samples_r0001.png"))

	// Training it: every score, and the grid of this round.
	out = filepath.Join(dir, "out2")
	ev, err = cloud.NewEvaluator(top, out, eval.EvalOptions{CacheDir: cache, Settings: settings, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err = ev.Evaluate(gen, 7, true)
	if err != nil {
		t.Fatal(err)
	}
	if res["eval_error"] != nil || res["fid"] == nil || res["is"] == nil || res["classes"] != 2 || res["samples"] != 200 || res["picture"] != "samples_r0007.png" {
		t.Errorf("with a classifier: got %v, want fid, is, 2 classes of 200 samples and samples_r0007.png", res)
	}
	checkGrid(t, filepath.Join(out, "samples_r0007.png"))
	checkGrid(t, filepath.Join(out, "samples.png"))

	// The cached classifier is found by the next evaluator.
	out = filepath.Join(dir, "out3")
	ev, err = cloud.NewEvaluator(top, out, eval.EvalOptions{CacheDir: cache, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	if res, err = ev.Evaluate(gen, 2, false); err != nil || res["eval_error"] != nil || res["fid"] == nil {
		t.Errorf("with the cached classifier: got %v, %v; want scores", res, err)
	}
}

// checkGrid checks a grid of 10 columns and rows of 4×4 images at scale 2
// with 2-pixel gaps.
func checkGrid(t *testing.T, path string) {
	t.Helper()
	if err := fixture.CheckSquarePNG(path, 10*(8+2)+2); err != nil {
		t.Error(err)
	}
}

func TestEvaluateMixture(t *testing.T) {
	top, err := config.FromBytes([]byte(`
model: {latent: 2, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true, eval_samples: 100}
communities:
  - id: a
    data: {kind: gaussian, means: [[0, 0], [5, 5]], std: 0.1}
    edge: {allow_anonymous: true}
    device_count: 1
`), "g.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	ev, err := cloud.NewEvaluator(top, out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ev.Evaluate(gen, 3, false)
	if err != nil {
		t.Fatal(err)
	}
	if res["modes"] != 2 || res["picture"] != "scatter_r0003.png" || res["fid"] != nil {
		t.Errorf("got %v, want the mixture scores of 2 modes and scatter_r0003.png", res)
	}
	// Lines with an evaluation redraw the charts over every round so far.
	for r := range 3 {
		line := map[string]any{"round": r, "summary": map[string]any{"losses": map[string]float64{"a": -0.1 * float64(r)}}}
		if r == 2 {
			line["eval"] = res
		}
		if err := ev.AppendMetrics(line); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"scatter.png", "loss.png", "quality.png"} {
		f, err := os.Open(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 400 {
			t.Errorf("%s is %v", name, b)
		}
	}
}

// TestEvaluateLR checks the label-related scenario (eval.SampleAll draws
// from every domain code): two communities holding the same folder make
// one source of real data.
func TestEvaluateLR(t *testing.T) {
	dir := t.TempDir()
	writeStripes(t, filepath.Join(dir, "stripes"), 100)
	lr := strings.Replace(stripes, "name: stripes", "name: stripes-lr\nscenario: lr", 1) + `  - id: b
    data: {kind: idx, path: stripes}
    edge: {allow_anonymous: true}
    device_count: 1
`
	top, err := config.FromBytes([]byte(lr), "lr.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := cloud.NewEvaluator(top, filepath.Join(dir, "out"), eval.EvalOptions{CacheDir: filepath.Join(dir, "cache"),
		Settings: eval.ClassifierSettings{Hidden: []int{8}, Epochs: 2}, Train: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ev.Evaluate(gen, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if res["fid"] == nil || res["classes"] != 2 || res["eval_error"] != nil {
		t.Errorf("got %v, want scores over the 2 classes of the one real source", res)
	}
}
