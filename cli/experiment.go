package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/local"
	"github.com/fedgan/fedgan/nn"
)

// expRun is one column of the paper's Table 1.
type expRun struct {
	Name   string // folder name and -runs key
	Label  string // row label in the table
	Config string // file under -configs
	Split  string // "iid" or "non-iid", for the table
	Mode   string // training.mode override ("" keeps the file's)
	// Set holds further overrides of the file's keys (DeriveConfig).
	Set map[string]string
}

// table1Runs are the runs of Table 1 that this project has: the
// centralized baseline and the FR scenario in sync and async mode on the
// i.i.d. and the non-i.i.d. split, plus the paper's plain FR (an
// unconditional G(z) and D, Eq. 3's minimax, Eq. 1 without the server
// optimizer) in sync mode on both splits, which shows why the
// configurations depart from it, and the centralized baseline with the
// previous unconditional model (the paper's MLP with the minibatch-std
// column), which shows what the class condition adds. (Fed. GAN and M-D
// GAN are other algorithms and are not implemented.)
var table1Runs = []expRun{
	{Name: "centralized", Label: "Cent. GAN", Config: "centralized.yaml", Split: "all data on one device"},
	{Name: "centralized-uncond", Label: "Cent. GAN, unconditional G(z)", Config: "centralized.yaml", Split: "all data on one device", Set: unconditional},
	{Name: "fr-sync-iid-plain", Label: "FR (sync), plain G(z)", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "sync", Set: plainFR},
	{Name: "fr-sync-iid", Label: "FR (sync)", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "sync"},
	{Name: "fr-async-iid", Label: "FR (async)", Config: "mnist-fmnist-iid.yaml", Split: "iid", Mode: "async"},
	{Name: "fr-sync-noniid-plain", Label: "FR (sync), plain G(z)", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "sync", Set: plainFR},
	{Name: "fr-sync-noniid", Label: "FR (sync)", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "sync"},
	{Name: "fr-async-noniid", Label: "FR (async)", Config: "mnist-fmnist-noniid.yaml", Split: "non-iid", Mode: "async"},
}

// plainFR turns the configurations' additions off: the paper's FR (its
// MLP discriminator, Eq. 3's minimax objective, Eq. 1's plain average).
var plainFR = map[string]string{"model.class_code": "0", "model.source_code": "none", "model.d_minibatch_std": "0",
	"training.objective": "minimax", "training.server_optimizer": "none", "training.server_lr_decay": "0",
	"training.server_momentum": "0", "training.mode_seeking": "0"}

// unconditional turns the class condition off (G(z), D(x) with the
// minibatch-std column: the model of the previous Table 1).
var unconditional = map[string]string{"model.class_code": "0", "training.mode_seeking": "0"}

// expResult is one run's line of the table (and of table1.json).
type expResult struct {
	Name        string      `json:"name"`
	Label       string      `json:"label"`
	Split       string      `json:"split"`
	Mode        string      `json:"mode"`
	Rounds      int         `json:"global_rounds"`
	LocalIters  int         `json:"local_iters"`
	Devices     int         `json:"devices"`
	WallSeconds float64     `json:"wall_seconds"`
	Bytes       int64       `json:"bytes_moved"`
	Transport   string      `json:"transport"`
	Classifier  string      `json:"classifier"`
	Report      eval.Report `json:"scores"`
	// LastFID is the FID of the last global G when the scored generator
	// is its moving average (cloud.ema); 0 otherwise.
	LastFID float64 `json:"fid_last_g,omitempty"`
	Grid    string  `json:"grid"`
	Missing []int   `json:"missing_classes,omitempty"`
}

// runRecord is what a finished training run leaves in run.json, so that
// -reuse can score it again without training.
type runRecord struct {
	WallSeconds float64 `json:"wall_seconds"`
	Bytes       int64   `json:"bytes_moved"`
	Transport   string  `json:"transport"`
}

const experimentUsage = `Usage: fedgan experiment [flags]

Runs the paper's Table 1 on MNIST + Fashion-MNIST — the centralized baseline and the FR scenario in sync
and async mode on the i.i.d. and non-i.i.d. splits — each over real MQTT on this machine (fedgan run), then
scores every final generator with the cached evaluation classifier (10,000 samples) and writes
table1.md, table1.json and the sample grids to the output folder.
`

func runExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fedgan experiment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, experimentUsage); fs.PrintDefaults() }
	out := fs.String("o", "results/table1", "results folder")
	cfgDir := fs.String("configs", "configs", "folder holding centralized.yaml, mnist-fmnist-iid.yaml and mnist-fmnist-noniid.yaml")
	runs := fs.String("runs", "", "comma-separated runs (default all: "+runNames()+")")
	rounds := fs.Int("rounds", 0, "override training.global_rounds of every run (0: the files')")
	iters := fs.Int("iters", 0, "override training.local_iters of every run (0: the files')")
	evalEvery := fs.Int("eval-every", 0, "override cloud.eval_every (0: the files')")
	n := fs.Int("n", eval.ReferenceRows, "samples scored per final generator")
	cache := fs.String("cache", "", "classifier cache folder (default $FEDGAN_CACHE or ~/.cache/fedgan/eval)")
	useSim := fs.Bool("sim", false, "train with the in-process simulator instead of MQTT (no bytes; quicker tuning)")
	reuse := fs.Bool("reuse", false, "score the generators of runs already in the folder instead of training them again")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	chosen, err := pickRuns(*runs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(*out, "grids"), 0o755); err != nil {
		return err
	}
	say := func(format string, args ...any) { fmt.Fprintf(stdout, "experiment: "+format+"\n", args...) }
	opts := eval.EvalOptions{CacheDir: *cache, Train: true, Progress: func(s string) { say("%s", s) }}
	var results []expResult
	var realRep *eval.Report
	for _, r := range chosen {
		if err := ctx.Err(); err != nil {
			return err
		}
		dir := filepath.Join(*out, r.Name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		set := map[string]string{}
		for k, v := range r.Set {
			set[k] = v
		}
		if r.Mode != "" {
			set["training.mode"] = r.Mode
		}
		if *rounds > 0 {
			set["training.global_rounds"] = strconv.Itoa(*rounds)
		}
		if *iters > 0 {
			set["training.local_iters"] = strconv.Itoa(*iters)
		}
		if *evalEvery > 0 {
			set["cloud.eval_every"] = strconv.Itoa(*evalEvery)
		}
		cfgPath := filepath.Join(dir, "config.yaml")
		if err := DeriveConfig(filepath.Join(*cfgDir, r.Config), cfgPath, set); err != nil {
			return err
		}
		top, err := config.Load(cfgPath)
		if err != nil {
			return err
		}
		if err := ensureIDXData(top, *cfgDir, stdout); err != nil {
			return err
		}
		// The classifier first, so that the cloud's periodic evaluation
		// during the run finds it (the cloud only reports a missing one).
		ie, err := eval.OpenImageEval(top, opts)
		if err != nil {
			return err
		}
		if realRep == nil {
			x, err := ie.RealTraining(min(*n, ie.Real.Train.Len()), 1)
			if err != nil {
				return err
			}
			rep, err := ie.Score(x)
			if err != nil {
				return err
			}
			// The real images' own "TSTR": the evaluation classifier,
			// trained on the real training images.
			if rep.TSTR, err = ie.Cls.Accuracy(ie.Real.Test); err != nil {
				return err
			}
			realRep = &rep
		}
		rec, err := trainRun(ctx, r, top, cfgPath, dir, *useSim, *reuse, *cache, stdout, stderr)
		if err != nil {
			return fmt.Errorf("experiment: run %s: %w", r.Name, err)
		}
		// score loads a generator file of the run and scores *n samples.
		score := func(file string) (*nn.Sequential, eval.Report, error) {
			g, err := eval.LoadGenerator(filepath.Join(dir, file), top)
			if err != nil {
				return nil, eval.Report{}, err
			}
			rep, err := ie.Score(eval.SampleAll(top, g, *n, rand.New(rand.NewPCG(1, 0))))
			if err != nil {
				return nil, eval.Report{}, fmt.Errorf("experiment: scoring %s's %s: %w", r.Name, file, err)
			}
			return g, rep, nil
		}
		gen, rep, err := score(cloud.GeneratorFile)
		if err != nil {
			return err
		}
		if top.Model.ClassCode > 0 {
			if rep.TSTR, err = ie.TSTR(top, gen, *n, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
				return fmt.Errorf("experiment: %s: train on synthetic: %w", r.Name, err)
			}
		}
		var lastFID float64
		if _, err := os.Stat(filepath.Join(dir, cloud.LastGeneratorFile)); err == nil {
			_, last, err := score(cloud.LastGeneratorFile)
			if err != nil {
				return err
			}
			lastFID = last.FID
		}
		grid := filepath.Join("grids", r.Name+".png")
		if err := eval.WriteGridFile(filepath.Join(*out, grid), top, gen); err != nil {
			return err
		}
		devices := 0
		for _, c := range top.Communities {
			devices += len(c.Devices)
		}
		res := expResult{Name: r.Name, Label: r.Label, Split: r.Split, Mode: top.Training.Mode,
			Rounds: top.Training.GlobalRounds, LocalIters: top.Training.LocalIters, Devices: devices,
			WallSeconds: rec.WallSeconds, Bytes: rec.Bytes, Transport: rec.Transport,
			Classifier: ie.Cls.Key[:16], Report: rep, LastFID: lastFID, Grid: grid, Missing: rep.Missing(ie.Ref)}
		say("%s: %s; %s, %s moved", r.Name, rep, time.Duration(rec.WallSeconds*float64(time.Second)).Round(time.Second), local.BytesHuman(rec.Bytes))
		results = append(results, res)
		if err := writeTable(*out, results, realRep, args); err != nil {
			return err
		}
	}
	say("table in %s", filepath.Join(*out, "table1.md"))
	return nil
}

// tstr formats a train-on-synthetic accuracy; "—" when not measured.
func tstr(acc float64) string {
	if acc == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*acc)
}

func runNames() string {
	var s []string
	for _, r := range table1Runs {
		s = append(s, r.Name)
	}
	return strings.Join(s, ",")
}

// pickRuns returns the runs named in list (all if empty), in table order.
func pickRuns(list string) ([]expRun, error) {
	if list == "" {
		return table1Runs, nil
	}
	want := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if !slices.ContainsFunc(table1Runs, func(r expRun) bool { return r.Name == name }) {
			return nil, fmt.Errorf("%w: unknown run %q (have %s)", ErrUsage, name, runNames())
		}
		want[name] = true
	}
	var out []expRun
	for _, r := range table1Runs {
		if want[r.Name] {
			out = append(out, r)
		}
	}
	return out, nil
}

// ensureIDXData writes the merged MNIST + Fashion-MNIST folder that the
// centralized baseline reads, from the i.i.d. topology, if it is missing.
func ensureIDXData(top *config.Topology, cfgDir string, stdout io.Writer) error {
	for _, c := range top.Communities {
		d := c.Data
		if d.Kind != "idx" {
			continue
		}
		path := top.Path(d.Path)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		iid, err := config.Load(filepath.Join(cfgDir, "mnist-fmnist-iid.yaml"))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "experiment: writing the centralized baseline's data to %s\n", path)
		if err := MergeRealData(iid, path, stdout); err != nil {
			return err
		}
	}
	return nil
}

// trainRun trains one run into dir (or reuses what is there).
func trainRun(ctx context.Context, r expRun, top *config.Topology, cfgPath, dir string, useSim, reuse bool, cache string, stdout, stderr io.Writer) (runRecord, error) {
	recPath := filepath.Join(dir, "run.json")
	if reuse {
		if b, err := os.ReadFile(recPath); err == nil {
			var rec runRecord
			if err := json.Unmarshal(b, &rec); err == nil {
				if _, err := os.Stat(filepath.Join(dir, cloud.GeneratorFile)); err == nil {
					fmt.Fprintf(stdout, "experiment: %s: reusing the generator in %s\n", r.Name, dir)
					return rec, nil
				}
			}
		}
	}
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		return runRecord{}, err
	}
	defer logf.Close()
	var captured bytes.Buffer
	w := io.MultiWriter(stdout, logf, &captured)
	fmt.Fprintf(stdout, "experiment: %s: training %s (%d rounds × %d local iterations, %s)\n", r.Name, cfgPath, top.Training.GlobalRounds, top.Training.LocalIters, top.Training.Mode)
	start := time.Now()
	rec := runRecord{Transport: "mqtt"}
	if useSim {
		rec.Transport = "sim"
		err = simRun(ctx, top, dir, cache, w)
	} else {
		err = runAll(ctx, []string{"-c", cfgPath, "-o", dir}, w, stderr)
	}
	if err != nil {
		return rec, err
	}
	rec.WallSeconds = time.Since(start).Seconds()
	if !useSim {
		if rec.Bytes, err = parseBrokerBytes(captured.String()); err != nil {
			return rec, err
		}
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	return rec, atomicfile.Write(recPath, append(b, '\n'), 0o644)
}

// simRun trains top with the in-process simulator, evaluating as the
// cloud does, and writes generator.nnw; it prints progress at evaluations.
func simRun(ctx context.Context, top *config.Topology, dir, cache string, w io.Writer) error {
	_, err := local.Simulate(ctx, top, dir, eval.EvalOptions{CacheDir: cache}, func(p cloud.Progress) {
		if p.Eval != nil {
			fmt.Fprintln(w, local.ProgressLine(p))
		}
	})
	return err
}

var brokerLine = regexp.MustCompile(`broker in ([0-9.]+) (B|KiB|MiB|GiB) out ([0-9.]+) (B|KiB|MiB|GiB)`)

// parseBrokerBytes sums the bytes received and sent by every edge broker
// as `fedgan run` prints them at the end (rounded as printed: to 0.1 MiB
// or 0.01 GiB).
func parseBrokerBytes(out string) (int64, error) {
	unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	var total float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		m := brokerLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		found = true
		in, _ := strconv.ParseFloat(m[1], 64)
		o, _ := strconv.ParseFloat(m[3], 64)
		total += in*unit[m[2]] + o*unit[m[4]]
	}
	if !found {
		return 0, errors.New("no edge broker counters in the output of fedgan run")
	}
	return int64(math.Round(total)), nil
}

// DeriveConfig writes the topology file src to dst with the dotted keys
// of set (e.g. "training.mode") replaced, and with every relative file
// path made absolute against src's folder, so that dst works from
// anywhere. The result is not validated; config.Load it.
func DeriveConfig(src, dst string, set map[string]string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a YAML mapping", src)
	}
	root := doc.Content[0]
	for key, val := range set {
		if err := setPath(root, strings.Split(key, "."), val); err != nil {
			return fmt.Errorf("%s: %s: %w", src, key, err)
		}
	}
	abs, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return err
	}
	absolutize(root, "", abs)
	out, err := yaml.Marshal(&doc)
	if err != nil {
		return err
	}
	header := fmt.Sprintf("# Derived from %s by fedgan experiment", src)
	if len(set) > 0 {
		var keys []string
		for k, v := range set {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		header += " with " + strings.Join(keys, ", ")
	}
	return atomicfile.Write(dst, append([]byte(header+"\n"), out...), 0o644)
}

func setPath(m *yaml.Node, path []string, val string) error {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		v := m.Content[i+1]
		if len(path) == 1 {
			*v = yaml.Node{Kind: yaml.ScalarNode, Value: val}
			return nil
		}
		if v.Kind != yaml.MappingNode {
			return fmt.Errorf("%s is not a mapping", path[0])
		}
		return setPath(v, path[1:], val)
	}
	if len(path) == 1 {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: path[0]}, &yaml.Node{Kind: yaml.ScalarNode, Value: val})
		return nil
	}
	child := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: path[0]}, child)
	return setPath(child, path[1:], val)
}

// pathKeys are the topology keys that hold file paths ("output" only
// under cloud: model.output is an activation).
var pathKeys = map[string]bool{"path": true, "labels": true, "state": true, "credentials": true,
	"password_file": true, "queue_dir": true, "cert": true, "key": true, "ca": true}

// absolutize makes the relative paths under n absolute; parent is the key
// n is the value of.
func absolutize(n *yaml.Node, parent, dir string) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			isPath := pathKeys[k.Value] || k.Value == "output" && parent == "cloud"
			if isPath && v.Kind == yaml.ScalarNode && v.Value != "" && !filepath.IsAbs(v.Value) {
				v.Value = filepath.Join(dir, v.Value)
				v.Style = 0
				continue
			}
			absolutize(v, k.Value, dir)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			absolutize(c, parent, dir)
		}
	}
}

// writeTable writes table1.md and table1.json.
func writeTable(out string, results []expResult, real *eval.Report, args []string) error {
	js, err := json.MarshalIndent(map[string]any{"runs": results, "real": real, "args": args}, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, "table1.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Table 1: MNIST + Fashion-MNIST, feature-related scenario\n\n")
	fmt.Fprintf(&b, "Reproduce with: `fedgan experiment %s`\n\n", strings.Join(args, " "))
	fmt.Fprintf(&b, "Scores of %d samples of each run's result generator against %d real test images (half MNIST, half Fashion-MNIST), "+
		"from the evaluation classifier's penultimate features (FID) and class probabilities (IS, coverage, class KL); "+
		"on this project's own scale, not the paper's. With `cloud.ema` the result generator is the moving average of the "+
		"global G over the rounds, and the FID of the last global G is shown beside it.\n\n", results[0].Report.Samples, eval.ReferenceRows)
	fmt.Fprintln(&b, "| run | split | IS ↑ | FID ↓ | FID of the last G ↓ | classes covered | class KL ↓ | TSTR ↑ | G updates | wall time | bytes moved | grid |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	var cent *expResult
	for i, r := range results {
		if r.Name == "centralized" {
			cent = &results[i]
		}
		bytesCol := local.BytesHuman(r.Bytes)
		if r.Transport == "sim" {
			bytesCol = "(simulated)"
		}
		cov := fmt.Sprintf("%d/%d", r.Report.Covered, r.Report.Classes)
		if len(r.Missing) > 0 {
			cov += fmt.Sprintf(" (missing %v)", r.Missing)
		}
		last := "—"
		if r.LastFID > 0 {
			last = fmt.Sprintf("%.2f", r.LastFID)
		}
		fmt.Fprintf(&b, "| %s | %s | %.3f | %.2f | %s | %s | %.4f | %s | %d × %d | %s | %s | ![%s](%s) |\n",
			r.Label, r.Split, r.Report.IS, r.Report.FID, last, cov, r.Report.ClassKL, tstr(r.Report.TSTR), r.Rounds, r.LocalIters,
			time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Second), bytesCol, r.Name, r.Grid)
	}
	if real != nil {
		fmt.Fprintf(&b, "| real training images | — | %.3f | %.2f | — | %d/%d | %.4f | %s | — | — | — | — |\n", real.IS, real.FID, real.Covered, real.Classes, real.ClassKL, tstr(real.TSTR))
	}
	if cent != nil {
		fmt.Fprintf(&b, "\nTargets (FID relative to the centralized baseline's %.2f):\n\n", cent.Report.FID)
		for _, r := range results {
			target := map[string]float64{"fr-sync-iid": 1.2, "fr-sync-noniid": 2}[r.Name]
			if target == 0 {
				continue
			}
			ratio := r.Report.FID / cent.Report.FID
			verdict := "met"
			if ratio > target {
				verdict = "NOT met"
			}
			extra := ""
			if r.Name == "fr-sync-iid" {
				extra = fmt.Sprintf(", classes covered %d/%d", r.Report.Covered, r.Report.Classes)
				if r.Report.Covered < r.Report.Classes {
					verdict = "NOT met"
				}
			}
			fmt.Fprintf(&b, "- %s %s: FID ratio %.2f (target ≤ %.1f%s): %s\n", r.Label, r.Split, ratio, target, extra, verdict)
		}
	}
	fmt.Fprintf(&b, "\nWall time is the whole run on this machine (all devices, edges and the cloud in one process, every message over MQTT on loopback, "+
		"periodic evaluations included); bytes moved is the sum of what every edge broker received and sent. Classifier: %s….\n", results[0].Classifier)
	return atomicfile.Write(filepath.Join(out, "table1.md"), []byte(b.String()), 0o644)
}
