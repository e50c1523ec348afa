package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/experiment"
)

const experimentUsage = `Usage: fedgan experiment [flags]

Runs the paper's Table 1 on MNIST + Fashion-MNIST — the centralized baseline, the Fed GAN and M-D GAN
baselines and the FR scenario in sync and async mode on the i.i.d. and non-i.i.d. splits — each over real MQTT on this machine (fedgan run), then
scores every final generator with the cached evaluation classifier (10,000 samples) and writes
table1.md, table1.json and the sample grids to the output folder. With -seeds every run is made once per
seed and the table adds each run's mean ± standard deviation; -set changes a key of every run's
configuration (e.g. -set training.robust=none for the paper's exact arithmetic).

With -fig3 it makes the paper's Fig. 3 instead, in the simulator: on the 9-community Gaussian and the 25-mode
grid (-scenarios), the centralized GAN, Fed GAN, M-D GAN and FR in sync and async mode from the shipped
Gaussian files, once per seed (default 1,2,3), scoring 2,500 samples of every final G (modes covered, high
quality, reverse KL), and writes fig3.md, fig3.json and fig3.png (a row of scatter plots per scenario) to the
output folder (default results/fig3). -runs, -sim, -eval-every and -cache are Table 1's only.

With -table2 it makes the paper's Table 2 instead, the label-related scenario on MNIST and inverted MNIST
(configs/lr-mnist-inverted-{iid,noniid}.yaml, lr-mnist-3domains.yaml, reggan-mnist-inverted.yaml): the
centralized RegGAN baseline, LR in sync and async mode, the FED GAN baseline, LR with its domain losses off
and LR on three domains (-runs picks among them), with the
same flags as Table 1, scoring every final G with the LR evaluation (per-domain FID and IS, the
cross-domain label agreement of shared z, the samples' domain accuracy) and writing table2.md,
table2.json and Fig. 5 grids (one row per domain, one column per z) to the output folder (default
results/table2).
`

// runExperiment parses the flags of `fedgan experiment` and makes Table 1
// with package experiment, which prints its progress to stdout.
func runExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fedgan experiment", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, experimentUsage); fs.PrintDefaults() }
	out := fs.String("o", "results/table1", "results folder")
	cfgDir := fs.String("configs", "configs", "folder holding centralized.yaml, mnist-fmnist-{iid,noniid}.yaml and mdgan-mnist-fmnist-{iid,noniid}.yaml")
	runs := fs.String("runs", "", "comma-separated runs (default all: "+experiment.RunNames()+")")
	rounds := fs.Int("rounds", 0, "override training.global_rounds of every run (0: the files')")
	iters := fs.Int("iters", 0, "override training.local_iters of every run (0: the files')")
	evalEvery := fs.Int("eval-every", 0, "override cloud.eval_every (0: the files')")
	n := fs.Int("n", eval.ReferenceRows, "samples scored per final generator")
	cache := fs.String("cache", "", "classifier cache folder (default $FEDGAN_CACHE or ~/.cache/fedgan/eval)")
	useSim := fs.Bool("sim", false, "train with the in-process simulator instead of MQTT (no bytes; quicker tuning)")
	reuse := fs.Bool("reuse", false, "score the generators of runs already in the folder instead of training them again")
	collect := fs.Bool("collect", false, "make the table of the runs and seeds already finished in the folder, leaving the others out (a table made in pieces)")
	seedList := fs.String("seeds", "", "comma-separated seeds: every run once per seed, in folders NAME-seedS, with mean ± sd in the table (default: once, the files' seed)")
	set := keyValues{}
	fs.Var(set, "set", "override a key of every run's configuration, key=value (e.g. training.robust=none); repeatable")
	fig3 := fs.Bool("fig3", false, "make Fig. 3 (the Gaussian scenarios, five methods, in the simulator) instead of Table 1")
	table2 := fs.Bool("table2", false, "make Table 2 (the label-related scenario: "+experiment.Table2RunNames()+") instead of Table 1")
	scenarios := fs.String("scenarios", "", "with -fig3: comma-separated scenarios (default all: "+experiment.Fig3ScenarioNames()+")")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if *fig3 && *table2 {
		return fmt.Errorf("%w: -fig3 and -table2 are two experiments: give one", ErrUsage)
	}
	if *fig3 {
		return runFig3(ctx, given, fig3Flags{out: *out, cfgDir: *cfgDir, scenarios: *scenarios, seeds: *seedList, rounds: *rounds,
			iters: *iters, n: *n, reuse: *reuse, set: set}, args, stdout, stderr)
	}
	if given["scenarios"] {
		return fmt.Errorf("%w: -scenarios needs -fig3", ErrUsage)
	}
	pickRuns := experiment.PickRuns
	if *table2 {
		pickRuns = experiment.PickTable2Runs
		if !given["o"] {
			*out = "results/table2"
		}
	}
	chosen, err := pickRuns(*runs)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	seeds, err := parseSeeds(*seedList)
	if err != nil {
		return fmt.Errorf("%w: -seeds: %w", ErrUsage, err)
	}
	o := experiment.Options{
		Dir: *out, Configs: *cfgDir, Runs: chosen, Rounds: *rounds, Iters: *iters, EvalEvery: *evalEvery,
		Samples: *n, Cache: *cache, Sim: *useSim, Reuse: *reuse, Collect: *collect, Seeds: seeds, Set: set, Args: args,
		Stdout: stdout, Logger: (&common{}).logger(stderr, true),
	}
	if *table2 {
		_, err = experiment.MakeTable2(ctx, o)
		return err
	}
	_, err = experiment.Table1(ctx, o)
	return err
}

// fig3Flags are the flags of `fedgan experiment -fig3`.
type fig3Flags struct {
	out, cfgDir, scenarios, seeds string
	rounds, iters, n              int
	reuse                         bool
	set                           keyValues
}

// runFig3 makes Fig. 3 with package experiment; given are the flags set
// on the command line.
func runFig3(ctx context.Context, given map[string]bool, f fig3Flags, args []string, stdout, stderr io.Writer) error {
	for _, name := range []string{"runs", "sim", "eval-every", "cache"} {
		if given[name] {
			return fmt.Errorf("%w: -%s is not a -fig3 flag", ErrUsage, name)
		}
	}
	if !given["o"] {
		f.out = "results/fig3"
	}
	if !given["n"] {
		f.n = experiment.Fig3Samples
	}
	chosen, err := experiment.PickFig3Scenarios(f.scenarios)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	seeds, err := parseSeeds(f.seeds)
	if err != nil {
		return fmt.Errorf("%w: -seeds: %w", ErrUsage, err)
	}
	_, err = experiment.Fig3(ctx, experiment.Fig3Options{
		Dir: f.out, Configs: f.cfgDir, Scenarios: chosen, Seeds: seeds, Rounds: f.rounds, Iters: f.iters,
		Samples: f.n, Reuse: f.reuse, Set: f.set, Args: args, Stdout: stdout, Logger: (&common{}).logger(stderr, true),
	})
	return err
}

// MergeRealData writes top's real data as an IDX folder in dir: the data
// of the centralized baseline (experiment.MergeRealData, which `fedgan
// eval merge` calls).
func MergeRealData(top *config.Topology, dir string, stdout io.Writer) error {
	return experiment.MergeRealData(top, dir, stdout)
}

// parseSeeds parses a comma-separated list of distinct positive seeds
// ("" is none).
func parseSeeds(list string) ([]uint64, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var seeds []uint64
	for _, f := range strings.Split(list, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil || v == 0 {
			return nil, fmt.Errorf("%q is not a positive integer", strings.TrimSpace(f))
		}
		if slices.Contains(seeds, v) {
			return nil, fmt.Errorf("seed %d given twice", v)
		}
		seeds = append(seeds, v)
	}
	return seeds, nil
}

// keyValues is a repeatable key=value flag.
type keyValues map[string]string

func (kv keyValues) String() string {
	var s []string
	for k, v := range kv {
		s = append(s, k+"="+v)
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}
