package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/experiment"
)

const experimentLong = `Runs the paper's Table 1 on MNIST + Fashion-MNIST — the centralized baseline, the Fed GAN and M-D GAN
baselines and the FR scenario in sync and async mode on the i.i.d. and non-i.i.d. splits — each over real MQTT on this machine (fedgan run), then
scores every final generator with the cached evaluation classifier (10,000 samples) and writes
table1.md, table1.json and the sample grids to the output folder. With --seeds every run is made once per
seed and the table adds each run's mean ± standard deviation; --set changes a key of every run's
configuration (e.g. --set training.robust=none for the paper's exact arithmetic).

With --fig3 it makes the paper's Fig. 3 instead, in the simulator: on the 9-community Gaussian and the 25-mode
grid (--scenarios), the centralized GAN, Fed GAN, M-D GAN and FR in sync and async mode from the shipped
Gaussian files, once per seed (default 1,2,3), scoring 2,500 samples of every final G (modes covered, high
quality, reverse KL), and writes fig3.md, fig3.json and fig3.png (a row of scatter plots per scenario) to the
output folder (default results/fig3). --runs, --sim, --eval-every and --cache are Table 1's only.

With --table2 it makes the paper's Table 2 instead, the label-related scenario on MNIST and inverted MNIST
(configs/lr-mnist-inverted-{iid,noniid}.yaml, lr-mnist-3domains.yaml, reggan-mnist-inverted.yaml): the
centralized RegGAN baseline, LR in sync and async mode, the FED GAN baseline, LR with its domain losses off
and LR on three domains (--runs picks among them), with the
same flags as Table 1, scoring every final G with the LR evaluation (per-domain FID and IS, the
cross-domain label agreement of shared z, the samples' domain accuracy; with --set model.class_code=10
the latent is (z, y), and each domain's class accuracy and the agreement given y are added) and writing table2.md,
table2.json and Fig. 5 grids (one row per domain, one column per z) to the output folder (default
results/table2).`

// experimentCommand is `fedgan experiment`: it parses the flags and makes
// Table 1 (Table 2, Fig. 3) with package experiment, which prints its
// progress to stdout.
//
// line is its arguments as typed (before oldSpellings), which the tables
// record as the command that makes them.
func experimentCommand(line *[]string, stdout, stderr io.Writer) *cobra.Command {
	var (
		c                                  common
		out, cfgDir, runs, cache, seedList string
		scenarios                          string
		rounds, iters, evalEvery, n        int
		useSim, reuse, collect, fig3       bool
		table2                             bool
		set                                = keyValues{}
	)
	cmd := &cobra.Command{
		Use:   "experiment [flags]",
		Short: "the paper's Table 1 (--table2: Table 2, --fig3: Fig. 3)",
		Long:  experimentLong,
		Args:  noArgs,
	}
	fs := cmd.Flags()
	fs.StringVarP(&out, "output", "o", "results/table1", "results folder (results/table2 with --table2, results/fig3 with --fig3)")
	fs.StringVar(&cfgDir, "configs", "configs", "folder holding centralized.yaml, mnist-fmnist-{iid,noniid}.yaml and mdgan-mnist-fmnist-{iid,noniid}.yaml")
	fs.StringVar(&runs, "runs", "", "comma-separated runs (default all: "+experiment.RunNames()+")")
	fs.IntVar(&rounds, "rounds", 0, "override training.global_rounds of every run (0: the files')")
	fs.IntVar(&iters, "iters", 0, "override training.local_iters of every run (0: the files')")
	fs.IntVar(&evalEvery, "eval-every", 0, "override cloud.eval_every (0: the files')")
	fs.IntVarP(&n, "samples", "n", eval.ReferenceRows, "samples scored per final generator ("+strconv.Itoa(experiment.Fig3Samples)+" with --fig3)")
	fs.StringVar(&cache, "cache", "", "classifier cache folder (default $FEDGAN_CACHE or ~/.cache/fedgan/eval)")
	fs.BoolVar(&useSim, "sim", false, "train with the in-process simulator instead of MQTT (no bytes; quicker tuning)")
	fs.BoolVar(&reuse, "reuse", false, "score the generators of runs already in the folder instead of training them again")
	fs.BoolVar(&collect, "collect", false, "make the table of the runs and seeds already finished in the folder, leaving the others out (a table made in pieces)")
	fs.StringVar(&seedList, "seeds", "", "comma-separated seeds: every run once per seed, in folders NAME-seedS, with mean ± sd in the table (default: once, the files' seed)")
	fs.Var(set, "set", "override a key of every run's configuration, key=value (e.g. training.robust=none); repeatable")
	fs.BoolVar(&fig3, "fig3", false, "make Fig. 3 (the Gaussian scenarios, five methods, in the simulator) instead of Table 1")
	fs.BoolVar(&table2, "table2", false, "make Table 2 (the label-related scenario: "+experiment.Table2RunNames()+") instead of Table 1")
	fs.StringVar(&scenarios, "scenarios", "", "with --fig3: comma-separated scenarios (default all: "+experiment.Fig3ScenarioNames()+")")
	c.registerLogs(fs)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		given := fs.Changed
		line := *line // for the tables' "Reproduce with" line
		if fig3 && table2 {
			return fmt.Errorf("%w: --fig3 and --table2 are two experiments: give one", ErrUsage)
		}
		if fig3 {
			return runFig3(ctx, given, fig3Flags{out: out, cfgDir: cfgDir, scenarios: scenarios, seeds: seedList, rounds: rounds,
				iters: iters, n: n, reuse: reuse, set: set}, line, stdout, c.logger(stderr))
		}
		if given("scenarios") {
			return fmt.Errorf("%w: --scenarios needs --fig3", ErrUsage)
		}
		pickRuns := experiment.PickRuns
		if table2 {
			pickRuns = experiment.PickTable2Runs
			if !given("output") {
				out = "results/table2"
			}
		}
		chosen, err := pickRuns(runs)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUsage, err)
		}
		seeds, err := parseSeeds(seedList)
		if err != nil {
			return fmt.Errorf("%w: --seeds: %w", ErrUsage, err)
		}
		o := experiment.Options{
			Dir: out, Configs: cfgDir, Runs: chosen, Rounds: rounds, Iters: iters, EvalEvery: evalEvery,
			Samples: n, Cache: cache, Sim: useSim, Reuse: reuse, Collect: collect, Seeds: seeds, Set: set, Args: line,
			Stdout: stdout, Logger: c.logger(stderr),
		}
		if table2 {
			_, err = experiment.MakeTable2(ctx, o)
			return err
		}
		_, err = experiment.Table1(ctx, o)
		return err
	}
	return cmd
}

// fig3Flags are the flags of `fedgan experiment -fig3`.
type fig3Flags struct {
	out, cfgDir, scenarios, seeds string
	rounds, iters, n              int
	reuse                         bool
	set                           keyValues
}

// runFig3 makes Fig. 3 with package experiment; given tells the flags
// set on the command line.
func runFig3(ctx context.Context, given func(string) bool, f fig3Flags, args []string, stdout io.Writer, log *slog.Logger) error {
	for _, name := range []string{"runs", "sim", "eval-every", "cache"} {
		if given(name) {
			return fmt.Errorf("%w: --%s is not a --fig3 flag", ErrUsage, name)
		}
	}
	if !given("output") {
		f.out = "results/fig3"
	}
	if !given("samples") {
		f.n = experiment.Fig3Samples
	}
	chosen, err := experiment.PickFig3Scenarios(f.scenarios)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	seeds, err := parseSeeds(f.seeds)
	if err != nil {
		return fmt.Errorf("%w: --seeds: %w", ErrUsage, err)
	}
	_, err = experiment.Fig3(ctx, experiment.Fig3Options{
		Dir: f.out, Configs: f.cfgDir, Scenarios: chosen, Seeds: seeds, Rounds: f.rounds, Iters: f.iters,
		Samples: f.n, Reuse: f.reuse, Set: f.set, Args: args, Stdout: stdout, Logger: log,
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

func (kv keyValues) Type() string { return "key=value" }

func (kv keyValues) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not key=value", s)
	}
	kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
	return nil
}
