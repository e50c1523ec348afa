package experiment

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
)

// Fig3Samples is how many samples of each final generator Fig3 scores
// (as the simulator's quality tests do).
const Fig3Samples = 2500

// Fig3Scenario is one row of the paper's Fig. 3: a Gaussian scenario and
// its five methods, in the paper's order.
type Fig3Scenario struct {
	Name  string // -scenarios key and folder prefix
	Label string // row label
	Runs  []Run
}

// Fig3Scenarios are the rows of Fig. 3: the 9-community Gaussian (one
// mode of a 3×3 grid per community) and the 25-mode grid, each with the
// centralized GAN, Fed GAN (the FR file with training.algorithm: fedgan),
// M-D GAN (the mdgan-* file) and FR in sync and async mode, each from
// its shipped file.
var Fig3Scenarios = []Fig3Scenario{
	{Name: "gaussian", Label: "9-community Gaussian", Runs: fig3Runs("gaussian", "centralized-gaussian.yaml", "mdgan-gaussian.yaml", "gaussian.yaml")},
	{Name: "grid25", Label: "25-mode grid", Runs: fig3Runs("grid25", "centralized-grid25.yaml", "mdgan-grid25.yaml", "grid25.yaml")},
}

// fig3Runs are a scenario's five methods from its three files.
func fig3Runs(scenario, centralized, mdgan, fr string) []Run {
	return []Run{
		{Name: scenario + "-centralized", Label: "Cent. GAN", Config: centralized, Split: scenario},
		{Name: scenario + "-fedgan", Label: "Fed GAN", Config: fr, Split: scenario, Mode: "sync", Set: fedGAN},
		{Name: scenario + "-mdgan", Label: "M-D GAN", Config: mdgan, Split: scenario, Mode: "sync"},
		{Name: scenario + "-fr-sync", Label: "FR (sync)", Config: fr, Split: scenario, Mode: "sync"},
		{Name: scenario + "-fr-async", Label: "FR (async)", Config: fr, Split: scenario, Mode: "async"},
	}
}

// Fig3Options set up a run of Fig3.
type Fig3Options struct {
	// Dir is the results folder: fig3.md, fig3.json, fig3.png and a
	// folder per run (SCENARIO-METHOD-seedS).
	Dir string
	// Configs is the folder holding the runs' files (Run.Config).
	Configs string
	// Scenarios are the rows to make; default Fig3Scenarios.
	Scenarios []Fig3Scenario
	// Seeds: every run once per seed (the files' seed replaced); default
	// 1, 2, 3. The picture shows the first seed's generators.
	Seeds []uint64
	// Rounds and Iters override training.global_rounds and
	// training.local_iters of every run (0: the files').
	Rounds, Iters int
	// Samples is the number of samples scored and drawn per final
	// generator; default Fig3Samples.
	Samples int
	// Panel is the side of each scatter plot in pixels; default 256.
	Panel int
	// Reuse scores the generators of runs already in Dir instead of
	// training them again.
	Reuse bool
	// Set overrides keys of every run's configuration, after the run's
	// own overrides.
	Set map[string]string
	// Args is the command line that reproduces the figure, recorded in it.
	Args []string
	// Stdout receives the progress lines and every run's output (also in
	// the run's run.log); default io.Discard.
	Stdout io.Writer
	// Logger receives the simulator's logs; default slog.Default().
	Logger *slog.Logger
}

// MixtureScores are eval.MixtureReport's scores of one generator, as
// fig3.json holds them (ReverseKL is null when no sample is high quality).
type MixtureScores struct {
	Samples     int      `json:"samples"`
	Modes       int      `json:"modes"`
	Covered     int      `json:"modes_covered"`
	Captured    int      `json:"modes_captured"`
	HighQuality float64  `json:"high_quality"`
	ReverseKL   *float64 `json:"reverse_kl"`
}

// Fig3Result is one run of Fig. 3: a method on a scenario with one seed.
type Fig3Result struct {
	Scenario    string        `json:"scenario"`
	Name        string        `json:"name"`
	Label       string        `json:"label"`
	Seed        uint64        `json:"seed"`
	Mode        string        `json:"mode"`
	Algorithm   string        `json:"algorithm"`
	Rounds      int           `json:"global_rounds"`
	LocalIters  int           `json:"local_iters"`
	Devices     int           `json:"devices"`
	WallSeconds float64       `json:"wall_seconds"`
	Scores      MixtureScores `json:"scores"`
}

// Fig3Figure is Fig. 3 as far as it has been made.
type Fig3Figure struct {
	Args []string `json:"args"`
	// Scenarios are the labels of the rows, by scenario name.
	Scenarios map[string]string `json:"scenarios"`
	Runs      []Fig3Result      `json:"runs"`
	// panels are the drawn samples of each run's first seed, by run name.
	panels map[string]panel
}

// panel is what one scatter plot of fig3.png draws.
type panel struct {
	top     *config.Topology
	samples []float32
}

// Fig3 makes the paper's Fig. 3 in the simulator: for each scenario and
// each of its five methods, once per seed, it derives the configuration,
// trains it, scores Samples samples of the final global G against the
// scenario's global mixture (eval.ScoreMixture: modes covered, high
// quality, reverse KL) and rewrites fig3.md, fig3.json and fig3.png (one
// row of scatter plots per scenario, the first seed's), so that the
// figure grows run by run.
func Fig3(ctx context.Context, o Fig3Options) (*Fig3Figure, error) {
	o = o.withDefaults()
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	s := &session{o: Options{Dir: o.Dir, Configs: o.Configs, Rounds: o.Rounds, Iters: o.Iters, Sim: true, Reuse: o.Reuse,
		Set: o.Set, Stdout: o.Stdout, Logger: o.Logger}}
	f := &Fig3Figure{Args: o.Args, Scenarios: map[string]string{}, panels: map[string]panel{}}
	for _, sc := range o.Scenarios {
		f.Scenarios[sc.Name] = sc.Label
		for _, r := range sc.Runs {
			for i, seed := range o.Seeds {
				if err := ctx.Err(); err != nil {
					return f, err
				}
				res, p, err := s.fig3Run(ctx, o, sc, r, seed)
				if err != nil {
					return f, err
				}
				f.Runs = append(f.Runs, res)
				if i == 0 {
					f.panels[r.Name] = p
				}
				if err := writeFig3(o, f); err != nil {
					return f, err
				}
			}
		}
	}
	s.say("figure in %s", filepath.Join(o.Dir, "fig3.md"))
	return f, nil
}

func (o Fig3Options) withDefaults() Fig3Options {
	if o.Scenarios == nil {
		o.Scenarios = Fig3Scenarios
	}
	if len(o.Seeds) == 0 {
		o.Seeds = []uint64{1, 2, 3}
	}
	if o.Samples == 0 {
		o.Samples = Fig3Samples
	}
	if o.Panel == 0 {
		o.Panel = 256
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// fig3Run trains run r of scenario sc with seed and scores its final
// global G; it returns the samples it scored for the picture.
func (s *session) fig3Run(ctx context.Context, o Fig3Options, sc Fig3Scenario, r Run, seed uint64) (Fig3Result, panel, error) {
	folder := r.folder(seed)
	dir := filepath.Join(o.Dir, folder)
	top, cfgPath, err := s.configure(r, seed, dir)
	if err != nil {
		return Fig3Result{}, panel{}, err
	}
	if deploy.GlobalMixture(top) == nil {
		return Fig3Result{}, panel{}, fmt.Errorf("experiment: run %s: %s holds no Gaussian data", r.Name, r.Config)
	}
	rec, err := s.train(ctx, r, top, cfgPath, dir)
	if err != nil {
		return Fig3Result{}, panel{}, fmt.Errorf("experiment: run %s: %w", r.Name, err)
	}
	g, err := eval.LoadGenerator(filepath.Join(dir, cloud.GeneratorFile), top)
	if err != nil {
		return Fig3Result{}, panel{}, err
	}
	x := deploy.Sample(top, g, o.Samples, rand.New(rand.NewPCG(0x5eed, 9)))
	rep, err := eval.ScoreMixture(deploy.GlobalMixture(top), x)
	if err != nil {
		return Fig3Result{}, panel{}, fmt.Errorf("experiment: scoring %s: %w", folder, err)
	}
	devices := 0
	for _, c := range top.Communities {
		devices += len(c.Devices)
	}
	res := Fig3Result{Scenario: sc.Name, Name: r.Name, Label: r.Label, Seed: top.Seed, Mode: top.Training.Mode,
		Algorithm: top.Training.Algorithm, Rounds: top.Training.GlobalRounds, LocalIters: top.Training.LocalIters,
		Devices: devices, WallSeconds: rec.WallSeconds, Scores: mixtureScores(rep)}
	s.say("%s: %s; %s", folder, rep, time.Duration(rec.WallSeconds*float64(time.Second)).Round(time.Second))
	return res, panel{top: top, samples: x}, nil
}

// mixtureScores are rep's scores for fig3.json.
func mixtureScores(rep eval.MixtureReport) MixtureScores {
	m := MixtureScores{Samples: rep.Samples, Modes: rep.Modes, Covered: rep.Covered, Captured: rep.Captured, HighQuality: rep.HighQuality}
	if !math.IsNaN(rep.ReverseKL) && !math.IsInf(rep.ReverseKL, 0) {
		kl := rep.ReverseKL
		m.ReverseKL = &kl
	}
	return m
}

// Markdown is the figure's table as fig3.md: per scenario and method the
// mean ± sample standard deviation over the seeds of the modes covered
// and the high-quality share, each seed's numbers, the mean reverse KL and
// the mean wall time; then the picture and its legend.
func (f *Fig3Figure) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Fig. 3: the Gaussian scenarios, five methods\n\n")
	fmt.Fprintf(&b, "Reproduce with: `fedgan experiment %s`\n\n", strings.Join(f.Args, " "))
	if len(f.Runs) > 0 {
		fmt.Fprintf(&b, "Scores of %d samples of each run's final global G against the scenario's global mixture (eval.ScoreMixture: "+
			"a mode is covered with at least a quarter of its expected share; a sample is high quality within 3σ of its nearest mode), "+
			"trained in the simulator. Mean ± sample standard deviation over the seeds; a difference smaller than the spread is no difference.\n\n",
			f.Runs[0].Scores.Samples)
	}
	fmt.Fprintln(&b, "| scenario | method | seeds | modes covered | high quality | reverse KL (mean) | per seed: covered, high quality | rounds × local iterations | wall time (mean) |")
	fmt.Fprintln(&b, "|---|---|---|---:|---:|---:|---|---:|---:|")
	var order []string
	groups := map[string][]Fig3Result{}
	for _, r := range f.Runs {
		if groups[r.Name] == nil {
			order = append(order, r.Name)
		}
		groups[r.Name] = append(groups[r.Name], r)
	}
	for _, name := range order {
		b.WriteString(fig3Row(f.Scenarios[groups[name][0].Scenario], groups[name]))
	}
	fmt.Fprintf(&b, "\n![Fig. 3](fig3.png)\n\nfig3.png: one row per scenario (%s), one panel per method, left to right %s; "+
		"each panel the samples of the first seed's final G (blue) over the real modes (black crosses, grey 3σ circles).\n",
		strings.Join(f.scenarioLabels(), ", then "), strings.Join(fig3Methods(), ", "))
	fmt.Fprintln(&b, "\nWall time is the whole simulated run on this machine, periodic evaluations included.")
	return b.String()
}

// fig3Row is one method's line of fig3.md: rs are its runs, one per seed.
func fig3Row(scenario string, rs []Fig3Result) string {
	var seeds, per []string
	var cov, hq, kl, wall []float64
	for _, r := range rs {
		seeds = append(seeds, fmt.Sprint(r.Seed))
		per = append(per, fmt.Sprintf("%d/%d, %.1f%%", r.Scores.Covered, r.Scores.Modes, 100*r.Scores.HighQuality))
		cov, hq, wall = append(cov, float64(r.Scores.Covered)), append(hq, 100*r.Scores.HighQuality), append(wall, r.WallSeconds)
		if r.Scores.ReverseKL != nil {
			kl = append(kl, *r.Scores.ReverseKL)
		}
	}
	klCol := "—"
	if len(kl) == len(rs) {
		klCol = fmt.Sprintf("%.4f", mean(kl))
	}
	r := rs[0]
	return fmt.Sprintf("| %s | %s | %s | %s /%d | %s%% | %s | %s | %d × %d | %s |\n", scenario, r.Label, strings.Join(seeds, ", "),
		meanSD(cov, 2), r.Scores.Modes, meanSD(hq, 1), klCol, strings.Join(per, "; "), r.Rounds, r.LocalIters,
		time.Duration(mean(wall)*float64(time.Second)).Round(time.Second))
}

// scenarioLabels are the labels of the figure's scenarios, in run order.
func (f *Fig3Figure) scenarioLabels() []string {
	var out []string
	for _, r := range f.Runs {
		if l := f.Scenarios[r.Scenario]; !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// fig3Methods are the methods' labels in the paper's order.
func fig3Methods() []string {
	var out []string
	for _, r := range Fig3Scenarios[0].Runs {
		out = append(out, r.Label)
	}
	return out
}

// Fig3ScenarioNames are the names of Fig3Scenarios, comma-separated.
func Fig3ScenarioNames() string { return namesOf(Fig3Scenarios, scenarioName) }

func scenarioName(sc Fig3Scenario) string { return sc.Name }

// PickFig3Scenarios returns the scenarios of Fig3Scenarios named in the
// comma-separated list (all if empty), in figure order; an unknown name is
// an error.
func PickFig3Scenarios(list string) ([]Fig3Scenario, error) {
	if strings.TrimSpace(list) == "" {
		return Fig3Scenarios, nil
	}
	return pickNamed(Fig3Scenarios, list, "scenario", scenarioName)
}
