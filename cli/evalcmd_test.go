package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/experiment"
	"github.com/fedgan/fedgan/internal/fixture"
	"github.com/fedgan/fedgan/nn"
)

// writePatterns writes an IDX folder of n 28×28 images of 10 classes:
// class c lights a 6×6 block (kind "block") or a 2-pixel-wide column
// (kind "stripe") at a position set by c, over noise.
func writePatterns(t *testing.T, dir, kind string, n int, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, base := range []string{"train", "t10k"} {
		img := binary.BigEndian.AppendUint32(nil, 0x00000803)
		img = binary.BigEndian.AppendUint32(img, uint32(n))
		img = binary.BigEndian.AppendUint32(img, 28)
		img = binary.BigEndian.AppendUint32(img, 28)
		lab := binary.BigEndian.AppendUint32(nil, 0x00000801)
		lab = binary.BigEndian.AppendUint32(lab, uint32(n))
		for i := range n {
			c := i % 10
			for r := range 28 {
				for col := range 28 {
					v := rng.IntN(30)
					on := false
					if kind == "block" {
						r0, c0 := 2+(c/5)*12, 1+(c%5)*5
						on = r >= r0 && r < r0+6 && col >= c0 && col < c0+5
					} else {
						on = col >= 2+c*2 && col < 4+c*2 && r > 3 && r < 24
					}
					if on {
						v += 220
					}
					img = append(img, byte(v))
				}
			}
			lab = append(lab, byte(c))
		}
		if err := os.WriteFile(filepath.Join(dir, base+"-images-idx3-ubyte"), img, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, base+"-labels-idx1-ubyte"), lab, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// miniature copies testdata/miniature to a temporary folder, writes its
// data and points the classifier cache there. It returns the folder.
func miniature(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"centralized.yaml", "mnist-fmnist-iid.yaml", "mnist-fmnist-noniid.yaml", "mdgan-mnist-fmnist-iid.yaml", "mdgan-mnist-fmnist-noniid.yaml",
		"lr-mnist-inverted-iid.yaml", "lr-mnist-inverted-noniid.yaml", "lr-mnist-3domains.yaml", "reggan-mnist-inverted.yaml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "miniature", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writePatterns(t, filepath.Join(dir, "data", "mnist"), "block", 200, 1)
	writePatterns(t, filepath.Join(dir, "data", "fashion"), "stripe", 200, 2)
	t.Setenv("FEDGAN_CACHE", filepath.Join(dir, "cache"))
	return dir
}

// run runs a fedgan command and returns its standard output (with its
// standard error appended when it fails).
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Main(context.Background(), args, &out, &errb)
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func TestEvalCommands(t *testing.T) {
	dir := miniature(t)
	iid := filepath.Join(dir, "mnist-fmnist-iid.yaml")
	cache := filepath.Join(dir, "cache")

	// Without a classifier, eval reports how to train one.
	top, err := config.Load(iid)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "generator.nnw")
	saveModel(t, gen, model)
	out, err := run(t, "eval", "-m", model, "-c", iid, "-n", "300")
	if !errors.Is(err, eval.ErrNoClassifier) || !strings.Contains(err.Error(), "fedgan eval train -c "+iid) {
		t.Fatalf("no classifier: got %v, want ErrNoClassifier with the command that trains it", err)
	}

	out, err = run(t, "eval", "train", "-c", iid)
	if err != nil {
		t.Fatalf("eval train: %v\n%s", err, out)
	}
	for _, want := range []string{"trained in", "test accuracy on idx:data/mnist", "test accuracy on idx:data/fashion (labels +10)", "20 classes"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval train output lacks %q:\n%s", want, out)
		}
	}
	if out, err := run(t, "eval", "train", "-c", iid); err != nil || !strings.Contains(out, "found cached") {
		t.Errorf("second eval train: %v, output:\n%s\nwant the cached classifier", err, out)
	}
	infos, err := eval.Cache{Dir: cache}.List()
	if err != nil || len(infos) != 1 {
		t.Fatalf("cache holds %v (%v), want one classifier", infos, err)
	}

	out, err = run(t, "eval", "-m", model, "-c", iid, "-n", "300", "-grid", filepath.Join(dir, "g.png"), "-json")
	if err != nil {
		t.Fatalf("eval -m: %v\n%s", err, out)
	}
	var scores map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &scores); err != nil {
		t.Fatalf("eval -json printed %q: %v", out, err)
	}
	if scores["samples"] != float64(300) || scores["fid"] == nil || scores["classes"] != float64(20) {
		t.Errorf("eval -m -json: got %v, want fid of 300 samples over 20 classes", scores)
	}
	checkPNG(t, filepath.Join(dir, "g.png"), 10*(56+2)+2)

	// The merged folder holds the same rows: the same classifier serves
	// the centralized topology.
	out, err = run(t, "eval", "merge", "-c", iid, "-o", filepath.Join(dir, "data", "merged"))
	if err != nil {
		t.Fatalf("eval merge: %v\n%s", err, out)
	}
	if !strings.Contains(out, "400 train images of 20 classes") {
		t.Errorf("eval merge output:\n%s", out)
	}
	out, err = run(t, "eval", "real", "-c", filepath.Join(dir, "centralized.yaml"), "-n", "300")
	if err != nil {
		t.Fatalf("eval real on the merged data: %v\n%s", err, out)
	}
	if !strings.Contains(out, infos[0].Key[:16]) || !strings.Contains(out, "coverage  20/20") {
		t.Errorf("eval real: want classifier %s and every class covered:\n%s", infos[0].Key[:16], out)
	}

	out, err = run(t, "sample", "-m", model, "-o", filepath.Join(dir, "s.png"))
	if err != nil {
		t.Fatalf("sample: %v\n%s", err, out)
	}
	checkPNG(t, filepath.Join(dir, "s.png"), 10*(56+2)+2)
	if _, err := run(t, "sample", "-m", model, "-c", filepath.Join(dir, "centralized.yaml"), "-o", filepath.Join(dir, "s2.png")); err != nil {
		t.Errorf("sample -c: %v", err)
	}
	if _, err := run(t, "eval", "nonsense"); !errors.Is(err, ErrUsage) {
		t.Errorf("eval nonsense: got %v, want ErrUsage", err)
	}
}

func checkPNG(t *testing.T, path string, side int) {
	t.Helper()
	if err := fixture.CheckSquarePNG(path, side); err != nil {
		t.Error(err)
	}
}

// TestExperimentMiniature runs the whole experiment on the miniature
// configurations: every run in the simulator, then the synchronous i.i.d.
// FR run over MQTT (the path that measures wall time and bytes), then a
// re-scoring of the saved generator.
func TestExperimentMiniature(t *testing.T) {
	dir := miniature(t)
	cfgs := dir
	out := filepath.Join(dir, "table")
	got, err := run(t, "experiment", "-configs", cfgs, "-o", out, "-n", "200", "-sim")
	if err != nil {
		t.Fatalf("experiment -sim: %v\n%s", err, got)
	}
	md, err := os.ReadFile(filepath.Join(out, "table1.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| Cent. GAN | all data on one device |", "| Fed GAN | iid |", "| Fed GAN | non-iid |", "| M-D GAN | iid |", "| M-D GAN | non-iid |", "| FR (sync) | iid |", "| FR (async) | iid |", "| FR (sync) | non-iid |",
		"| FR (async) | non-iid |", "| real training images |", "FID ratio", "2 × 2", "(simulated)", "grids/fr-sync-iid.png",
		"| Cent. GAN, unconditional G(z) |", "TSTR ↑", "Acc ↑", "bytes per device per round"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table1.md lacks %q:\n%s", want, md)
		}
	}
	for _, r := range experiment.Table1Runs {
		checkPNG(t, filepath.Join(out, "grids", r.Name+".png"), 10*(56+2)+2)
		if _, err := os.Stat(filepath.Join(out, r.Name, "metrics.jsonl")); err != nil {
			t.Errorf("%s: %v", r.Name, err)
		}
	}

	// Over MQTT: wall time and bytes from the edge brokers.
	out = filepath.Join(dir, "mqtt")
	got, err = run(t, "experiment", "-configs", cfgs, "-o", out, "-n", "200", "-runs", "fr-sync-iid")
	if err != nil {
		t.Fatalf("experiment over MQTT: %v\n%s", err, got)
	}
	var table struct {
		Runs []experiment.Result `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "table1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Runs) != 1 {
		t.Fatalf("table1.json holds %d runs, want 1", len(table.Runs))
	}
	for _, r := range table.Runs {
		// At least the 2×2 batches of 8 rows of 784 float32 to each of 2
		// devices of each of 3 communities: 2·2·3·2·8·784·4 bytes.
		if r.Transport != "mqtt" || r.Bytes < 2*2*3*2*8*784*4 || r.WallSeconds <= 0 || r.Report.Samples != 200 || r.Devices != 6 {
			t.Errorf("%s: transport %s, %d bytes in %.1fs, %d samples, %d devices", r.Name, r.Transport, r.Bytes, r.WallSeconds, r.Report.Samples, r.Devices)
		}
		// Three edges' bridges upload one update a round each.
		if tr := r.Traffic; tr == nil || tr.DevicesToEdges+tr.EdgesToDevices != r.Bytes || tr.CloudIn <= 0 || tr.CloudOut <= 0 || tr.Updates != 3*int64(r.Rounds) {
			t.Errorf("%s: traffic %+v (bytes %d, %d rounds)", r.Name, tr, r.Bytes, r.Rounds)
		}
		// The class-conditional G is asked for a class: Acc is measured.
		if r.Report.Acc <= 0 || r.Report.Acc > 1 {
			t.Errorf("%s: Acc %v, want in (0, 1]", r.Name, r.Report.Acc)
		}
	}
	metrics, err := os.ReadFile(filepath.Join(out, "fr-sync-iid", "metrics.jsonl"))
	if err != nil || !strings.Contains(string(metrics), `"fid"`) {
		t.Errorf("the cloud's metrics.jsonl (%v) holds no fid:\n%s", err, metrics)
	}

	// -reuse scores the saved generators without training.
	got, err = run(t, "experiment", "-configs", cfgs, "-o", out, "-n", "200", "-runs", "fr-sync-iid", "-reuse")
	if err != nil || !strings.Contains(got, "reusing the generator") {
		t.Errorf("experiment -reuse: %v\n%s", err, got)
	}
	// -collect makes the table of what is finished and trains nothing.
	got, err = run(t, "experiment", "-configs", cfgs, "-o", out, "-n", "200", "-runs", "fr-sync-iid,fr-async-iid", "-collect")
	if err != nil || !strings.Contains(got, "reusing the generator") || !strings.Contains(got, "fr-async-iid: not finished") {
		t.Errorf("experiment -collect: %v\n%s", err, got)
	}
	if _, err := os.Stat(filepath.Join(out, "fr-async-iid")); !os.IsNotExist(err) {
		t.Errorf("experiment -collect made the folder of a run it left out: %v", err)
	}
	if md, err := os.ReadFile(filepath.Join(out, "table1.md")); err != nil || !strings.Contains(string(md), "| FR (sync) | iid |") || strings.Contains(string(md), "FR (async)") {
		t.Errorf("table1.md after -collect (%v):\n%s", err, md)
	}

	// -seeds and -set: a run per seed, each configuration with its seed
	// and the override, and the mean ± sd line.
	out = filepath.Join(dir, "seeds")
	got, err = run(t, "experiment", "-configs", cfgs, "-o", out, "-n", "200", "-runs", "fr-sync-iid", "-sim", "-seeds", "2,3", "-set", "training.robust=none")
	if err != nil {
		t.Fatalf("experiment -seeds: %v\n%s", err, got)
	}
	for _, seed := range []string{"2", "3"} {
		cfg, err := os.ReadFile(filepath.Join(out, "fr-sync-iid-seed"+seed, "config.yaml"))
		if err != nil || !strings.Contains(string(cfg), "\nseed: "+seed+"\n") || !strings.Contains(string(cfg), "robust: none") {
			t.Errorf("seed %s: %v\n%s", seed, err, cfg)
		}
		checkPNG(t, filepath.Join(out, "grids", "fr-sync-iid-seed"+seed+".png"), 10*(56+2)+2)
	}
	md, err = os.ReadFile(filepath.Join(out, "table1.md"))
	if err != nil || !strings.Contains(string(md), "| FR (sync), seed 3 | iid |") || !strings.Contains(string(md), "| FR (sync) | iid | 2, 3 | ") {
		t.Errorf("table1.md over seeds (%v):\n%s", err, md)
	}
	for _, bad := range [][]string{{"-seeds", "1,x"}, {"-seeds", "0"}, {"-seeds", "1,1"}, {"-set", "novalue"}} {
		if _, err := run(t, append([]string{"experiment", "-configs", cfgs, "-o", out}, bad...)...); !errors.Is(err, ErrUsage) {
			t.Errorf("experiment %v: %v, want a usage error", bad, err)
		}
	}
}

// TestTable2Miniature runs every run of Table 2 on the miniature LR
// configurations in the simulator, then one over MQTT, and checks
// table2.md, table2.json and the Fig. 5 grids.
func TestTable2Miniature(t *testing.T) {
	dir := miniature(t)
	out := filepath.Join(dir, "table2")
	got, err := run(t, "experiment", "-table2", "-configs", dir, "-o", out, "-n", "100", "-sim")
	if err != nil {
		t.Fatalf("experiment -table2 -sim: %v\n%s", err, got)
	}
	md, err := os.ReadFile(filepath.Join(out, "table2.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Table 2", "| FED GAN | iid |", "| RegGAN (centralized) | all data on one device |", "| LR (sync) | iid |", "| LR (async) | non-iid |",
		"| LR (sync), λ1 = λ2 = 0 | iid |", "| LR (sync), three domains | iid |", "label agreement ↑",
		"`fedgan experiment -table2 -configs"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("table2.md lacks %q:\n%s", want, md)
		}
	}
	// Seeds: a line per seed and the mean ± sd.
	seeds := filepath.Join(dir, "table2-seeds")
	if got, err := run(t, "experiment", "-table2", "-configs", dir, "-o", seeds, "-n", "100", "-sim", "-runs", "lr-sync-iid", "-seeds", "2,3"); err != nil {
		t.Fatalf("experiment -table2 -seeds: %v\n%s", err, got)
	}
	if md, err := os.ReadFile(filepath.Join(seeds, "table2.md")); err != nil || !strings.Contains(string(md), "| LR (sync), seed 3 | iid |") || !strings.Contains(string(md), "| LR (sync) | iid | 2, 3 |") {
		t.Errorf("table2.md over seeds (%v):\n%s", err, md)
	}
	var table struct {
		Runs []experiment.Result2 `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(out, "table2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Runs) != len(experiment.Table2Runs) {
		t.Fatalf("table2.json holds %d runs, want %d", len(table.Runs), len(experiment.Table2Runs))
	}
	for _, r := range table.Runs {
		domains := 2
		if strings.HasPrefix(r.Name, "lr3") {
			domains = 3
		}
		rep := r.Report
		if len(rep.Domains) != domains || rep.Samples != 100 || rep.Agreement < 0 || rep.Agreement > 1 || rep.DomainAccuracy < 0 || rep.DomainAccuracy > 1 {
			t.Errorf("%s seed %d: %d domains, %+v", r.Name, r.Seed, len(rep.Domains), rep)
		}
		if want := r.Name == "lr-sync-iid-nolosses" || r.Name == "reggan"; (r.Lambdas == [2]float64{}) != want {
			t.Errorf("%s: lambdas %v", r.Name, r.Lambdas)
		}
		if want := strings.HasPrefix(r.Name, "fedgan"); (r.Algorithm == "fedgan") != want {
			t.Errorf("%s: algorithm %q", r.Name, r.Algorithm)
		}
		// One row per domain, GridColumns columns; cells of 28 pixels drawn
		// twice as large, 2 apart.
		if err := fixture.CheckPNG(filepath.Join(out, r.Grid), experiment.GridColumns*(56+2)+2, domains*(56+2)+2); err != nil {
			t.Errorf("%s: %v", r.Grid, err)
		}
	}

	// Over MQTT: wall time and bytes.
	out = filepath.Join(dir, "table2-mqtt")
	if got, err := run(t, "experiment", "-table2", "-configs", dir, "-o", out, "-n", "100", "-runs", "lr-sync-iid"); err != nil {
		t.Fatalf("experiment -table2 over MQTT: %v\n%s", err, got)
	}
	b, err = os.ReadFile(filepath.Join(out, "table2.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &table); err != nil || len(table.Runs) != 1 {
		t.Fatalf("table2.json: %v, %d runs", err, len(table.Runs))
	}
	if r := table.Runs[0]; r.Transport != "mqtt" || r.Bytes <= 0 || r.Traffic == nil || r.Traffic.CloudIn <= 0 {
		t.Errorf("over MQTT: transport %s, %d bytes, traffic %+v", r.Transport, r.Bytes, r.Traffic)
	}
	if _, err := run(t, "experiment", "-table2", "-fig3"); err == nil {
		t.Errorf("-table2 with -fig3 accepted")
	}
}

// TestEvalLR: `fedgan eval` scores a label-related generator per domain
// with the label agreement of shared z, and `fedgan sample` draws its
// Fig. 5 grid: a row per domain, a column per z.
func TestEvalLR(t *testing.T) {
	dir := miniature(t)
	cfg := filepath.Join(dir, "lr-mnist-inverted-iid.yaml")
	top, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "lr.nnw")
	saveModel(t, gen, model)
	grid := filepath.Join(dir, "fig5.png")
	got, err := run(t, "eval", "-m", model, "-c", cfg, "-n", "100", "-train", "-grid", grid)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, got)
	}
	for _, want := range []string{"label agreement", "in domain", "domain accuracy", "domain 0", "domain 1"} {
		if !strings.Contains(got, want) {
			t.Errorf("eval output lacks %q:\n%s", want, got)
		}
	}
	if err := fixture.CheckPNG(grid, eval.GridSide*(56+2)+2, 2*(56+2)+2); err != nil {
		t.Error(err)
	}
	out := filepath.Join(dir, "sample.png")
	if got, err := run(t, "sample", "-m", model, "-c", cfg, "-o", out); err != nil || !strings.Contains(got, "2 domains (rows)") {
		t.Fatalf("sample: %v\n%s", err, got)
	}
	if err := fixture.CheckPNG(out, eval.GridSide*(56+2)+2, 2*(56+2)+2); err != nil {
		t.Error(err)
	}

	// With a class code G(z, c_k, y) also has a class accuracy and a
	// train-on-synthetic accuracy per domain.
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ccfg := filepath.Join(dir, "lr-class.yaml")
	if err := os.WriteFile(ccfg, []byte(strings.Replace(string(b), "classifier: [8],", "classifier: [8], class_code: 10,", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctop, err := config.Load(ccfg)
	if err != nil || ctop.Model.ClassCode != 10 {
		t.Fatalf("class-code topology: %v, class code %d", err, ctop.Model.ClassCode)
	}
	cgen, err := deploy.Generator(ctop, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	saveModel(t, cgen, model)
	got, err = run(t, "eval", "-m", model, "-c", ccfg, "-n", "100", "-json")
	if err != nil {
		t.Fatalf("eval of a class-code generator: %v\n%s", err, got)
	}
	var rep struct {
		Scores eval.LRReport `json:"scores"`
	}
	if err := json.Unmarshal([]byte(got), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, got)
	}
	for _, d := range rep.Scores.Domains {
		if !(d.TSTR > 0 && d.TSTR <= 1) {
			t.Errorf("domain %d: TSTR %g, want in (0, 1]", d.Domain, d.TSTR)
		}
	}
}

// TestSampleAndEvalOfPoints: a generator of 2-D points (the default
// Gaussian run) is drawn by sample as a scatter plot over its topology's
// modes, and sample without the topology and eval say what they are for
// instead of failing on image shapes.
func TestSampleAndEvalOfPoints(t *testing.T) {
	cfg := filepath.Join("..", "configs", "gaussian.yaml")
	top, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model := filepath.Join(dir, "generator.nnw")
	saveModel(t, gen, model)
	pic := filepath.Join(dir, "points.png")
	out, err := run(t, "sample", "-m", model, "-c", cfg, "-o", pic)
	if err != nil || !strings.Contains(out, "over its 9 modes") {
		t.Fatalf("sample with the topology: %v\n%s", err, out)
	}
	if f, err := os.Open(pic); err != nil {
		t.Fatal(err)
	} else if _, err := png.Decode(f); err != nil {
		t.Errorf("%s: %v", pic, err)
	}
	if _, err := run(t, "sample", "-m", model, "-o", pic); ExitCode(err) != 2 || !strings.Contains(err.Error(), "give -c with its Gaussian topology") {
		t.Errorf("sample without the topology: %v, want a usage error saying what to give", err)
	}
	if _, err := run(t, "eval", "-m", model, "-c", cfg); err == nil || !strings.Contains(err.Error(), "for image models") {
		t.Errorf("eval of points: %v, want it to say eval is for image models", err)
	}
}

// saveModel writes gen to path, as a run writes generator.nnw.
func saveModel(t *testing.T, gen *nn.Sequential, path string) {
	t.Helper()
	var buf bytes.Buffer
	if err := nn.Save(&buf, gen); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
