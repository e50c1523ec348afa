package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/local"
	"github.com/fedgan/fedgan/nn"
)

// Options set up a run of Table 1.
type Options struct {
	// Dir is the results folder: table1.md, table1.json, grids/ and a
	// folder per run.
	Dir string
	// Configs is the folder holding the runs' files (Run.Config):
	// centralized.yaml, mnist-fmnist-iid.yaml, mnist-fmnist-noniid.yaml
	// and the mdgan-* versions of the last two.
	Configs string
	// Runs are the runs to make, in order; default Table1Runs.
	Runs []Run
	// Rounds, Iters and EvalEvery override training.global_rounds,
	// training.local_iters and cloud.eval_every of every run (0: the
	// files').
	Rounds, Iters, EvalEvery int
	// Samples is the number of samples scored per final generator;
	// default eval.ReferenceRows.
	Samples int
	// Cache is the classifier cache folder (default eval's).
	Cache string
	// Sim trains with the in-process simulator instead of MQTT (no bytes
	// measured).
	Sim bool
	// Reuse scores the generators of runs already in Dir instead of
	// training them again.
	Reuse bool
	// Collect makes the table of the runs and seeds already finished in
	// Dir, skipping the others instead of training them (it implies
	// Reuse): how a table made in pieces (other seeds, other sessions,
	// other machines) is put together.
	Collect bool
	// Seeds makes every run once per seed, each with the configuration's
	// seed replaced, in the folder NAME-seedS; empty makes every run once,
	// with its file's seed, in the folder NAME.
	Seeds []uint64
	// Set overrides keys of every run's configuration ("training.robust":
	// "none"), after the run's own overrides.
	Set map[string]string
	// Args is the command line that reproduces the table, recorded in it.
	Args []string
	// Stdout receives the progress lines, and every run's output (also
	// kept in the run's run.log); default io.Discard.
	Stdout io.Writer
	// Logger receives the services' logs; default slog.Default().
	Logger *slog.Logger
}

// RunInfo is what either table records of a run beside its scores.
type RunInfo struct {
	Name string `json:"name"`
	// Seed is the configuration's seed the run trained with.
	Seed        uint64  `json:"seed"`
	Label       string  `json:"label"`
	Split       string  `json:"split"`
	Mode        string  `json:"mode"`
	Rounds      int     `json:"global_rounds"`
	LocalIters  int     `json:"local_iters"`
	Devices     int     `json:"devices"`
	WallSeconds float64 `json:"wall_seconds"`
	// Bytes is what the edge brokers received and sent: the devices'
	// traffic. Traffic breaks it down and adds the cloud broker's.
	Bytes     int64    `json:"bytes_moved"`
	Transport string   `json:"transport"`
	Traffic   *Traffic `json:"traffic,omitempty"`
	Grid      string   `json:"grid"`
	// Config is the run's derived configuration file.
	Config string `json:"-"`
}

// runInfo is run r's RunInfo: its topology's and training record's.
func runInfo(r Run, top *config.Topology, cfgPath, grid string, rec record) RunInfo {
	return RunInfo{Name: r.Name, Seed: top.Seed, Label: r.Label, Split: r.Split, Mode: top.Training.Mode,
		Rounds: top.Training.GlobalRounds, LocalIters: top.Training.LocalIters, Devices: devicesOf(top),
		WallSeconds: rec.WallSeconds, Bytes: rec.Bytes, Transport: rec.Transport, Traffic: rec.Traffic, Grid: grid, Config: cfgPath}
}

// Result is one run's line of the table (and of table1.json).
type Result struct {
	RunInfo
	Classifier string      `json:"classifier"`
	Report     eval.Report `json:"scores"`
	// LastFID is the FID of the last global G when the scored generator
	// is its moving average (cloud.ema); 0 otherwise.
	LastFID float64 `json:"fid_last_g,omitempty"`
	Missing []int   `json:"missing_classes,omitempty"`
}

// Table is Table 1 as far as it has been made: the runs, and the scores of
// real training images (the floor a generator can reach).
type Table struct {
	Args []string     `json:"args"`
	Real *eval.Report `json:"real"`
	Runs []Result     `json:"runs"`
}

// Table1 makes the runs of Table 1 (o.Runs) on MNIST + Fashion-MNIST: for
// each it derives the configuration, trains it, scores its final
// generator with the cached evaluation classifier (trained first if
// missing) and rewrites table1.md and table1.json, so that the table
// grows run by run.
func Table1(ctx context.Context, o Options) (*Table, error) {
	o = o.withDefaults()
	if err := os.MkdirAll(filepath.Join(o.Dir, "grids"), 0o755); err != nil {
		return nil, err
	}
	s := &session{o: o, opts: eval.EvalOptions{CacheDir: o.Cache, Train: true, Progress: func(s string) { fmt.Fprintf(o.Stdout, "experiment: %s\n", s) }}}
	t := &Table{Args: o.Args}
	err := s.each(ctx, func(r Run, seed uint64) error {
		res, err := s.run(ctx, r, seed, t)
		if errors.Is(err, errNotFinished) {
			return nil
		}
		if err != nil {
			return err
		}
		t.Runs = append(t.Runs, res)
		return writeTable(o.Dir, t)
	})
	if err != nil {
		return t, err
	}
	s.say("table in %s", filepath.Join(o.Dir, "table1.md"))
	return t, nil
}

// errNotFinished is collectable's answer for a run that Collect skips.
var errNotFinished = errors.New("experiment: run not finished")

// collectable returns errNotFinished, after saying so, if the session
// collects finished runs and the one in dir is not.
func (s *session) collectable(folder, dir string) error {
	if !s.o.Collect {
		return nil
	}
	if _, ok := reusable(dir); !ok {
		s.say("%s: not finished in %s, left out", folder, dir)
		return errNotFinished
	}
	return nil
}

// each calls do for every run of the session and every seed (once, with
// seed 0, without Seeds), in order, until ctx ends or do fails.
func (s *session) each(ctx context.Context, do func(r Run, seed uint64) error) error {
	seeds := s.o.Seeds
	if len(seeds) == 0 {
		seeds = []uint64{0}
	}
	for _, r := range s.o.Runs {
		for _, seed := range seeds {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := do(r, seed); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o Options) withDefaults() Options {
	o.Reuse = o.Reuse || o.Collect
	if o.Runs == nil {
		o.Runs = Table1Runs
	}
	if o.Samples == 0 {
		o.Samples = eval.ReferenceRows
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// session is one call of Table1.
type session struct {
	o    Options
	opts eval.EvalOptions
}

// say prints one progress line.
func (s *session) say(format string, args ...any) {
	fmt.Fprintf(s.o.Stdout, "experiment: "+format+"\n", args...)
}

// run makes run r with seed (0: the file's): its configuration, the
// classifier (and, the first time, t.Real), its training and its scores.
func (s *session) run(ctx context.Context, r Run, seed uint64, t *Table) (Result, error) {
	folder := r.folder(seed)
	dir := filepath.Join(s.o.Dir, folder)
	if err := s.collectable(folder, dir); err != nil {
		return Result{}, err
	}
	top, cfgPath, err := s.configure(r, seed, dir)
	if err != nil {
		return Result{}, err
	}
	// The classifier first, so that the cloud's periodic evaluation
	// during the run finds it (the cloud only reports a missing one).
	ie, err := eval.OpenImageEval(top, s.opts)
	if err != nil {
		return Result{}, err
	}
	if t.Real == nil {
		if t.Real, err = s.realScores(ie); err != nil {
			return Result{}, err
		}
	}
	rec, err := s.train(ctx, r, top, cfgPath, dir)
	if err != nil {
		return Result{}, fmt.Errorf("experiment: run %s: %w", r.Name, err)
	}
	res, err := s.score(r, folder, top, dir, ie)
	if err != nil {
		return Result{}, err
	}
	res.RunInfo = runInfo(r, top, cfgPath, res.Grid, rec)
	s.say("%s: %s; %s, %s moved", folder, res.Report, time.Duration(rec.WallSeconds*float64(time.Second)).Round(time.Second), local.BytesHuman(rec.Bytes))
	return res, nil
}

// configure writes run r's configuration with seed (0: the file's) into
// dir, loads it and makes sure its IDX data exist.
func (s *session) configure(r Run, seed uint64, dir string) (*config.Topology, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := DeriveConfig(filepath.Join(s.o.Configs, r.Config), cfgPath, r.overrides(s.o.Rounds, s.o.Iters, s.o.EvalEvery, seed, s.o.Set)); err != nil {
		return nil, "", err
	}
	top, err := config.Load(cfgPath)
	if err != nil {
		return nil, "", err
	}
	if err := ensureIDXData(top, r, s.o.Configs, s.o.Stdout); err != nil {
		return nil, "", err
	}
	return top, cfgPath, nil
}

// realScores scores real training images, with as their own "TSTR" the
// evaluation classifier's accuracy (it was trained on them).
func (s *session) realScores(ie *eval.ImageEval) (*eval.Report, error) {
	x, err := ie.RealTraining(min(s.o.Samples, ie.Real.Train.Len()), 1)
	if err != nil {
		return nil, err
	}
	rep, err := ie.Score(x)
	if err != nil {
		return nil, err
	}
	if rep.TSTR, err = ie.Cls.Accuracy(ie.Real.Test); err != nil {
		return nil, err
	}
	return &rep, nil
}

// score scores the generators that run r left in dir and draws its grid
// (grids/FOLDER.png): every field of its Result but what training
// measured.
func (s *session) score(r Run, folder string, top *config.Topology, dir string, ie *eval.ImageEval) (Result, error) {
	gen, rep, err := s.scoreFile(r, top, dir, cloud.GeneratorFile, ie)
	if err != nil {
		return Result{}, err
	}
	if top.Model.ClassCode > 0 {
		if rep.TSTR, err = ie.TSTR(top, gen, s.o.Samples, rand.New(rand.NewPCG(1, 1)), nil); err != nil {
			return Result{}, fmt.Errorf("experiment: %s: train on synthetic: %w", r.Name, err)
		}
		if rep.Acc, err = ie.Acc(top, gen, s.o.Samples, rand.New(rand.NewPCG(1, 2))); err != nil {
			return Result{}, fmt.Errorf("experiment: %s: Acc: %w", r.Name, err)
		}
	}
	var lastFID float64
	if _, err := os.Stat(filepath.Join(dir, cloud.LastGeneratorFile)); err == nil {
		_, last, err := s.scoreFile(r, top, dir, cloud.LastGeneratorFile, ie)
		if err != nil {
			return Result{}, err
		}
		lastFID = last.FID
	}
	grid := filepath.Join("grids", folder+".png")
	if err := eval.WriteGridFile(filepath.Join(s.o.Dir, grid), top, gen); err != nil {
		return Result{}, err
	}
	return Result{RunInfo: RunInfo{Grid: grid}, Classifier: ie.Cls.Key[:16], Report: rep, LastFID: lastFID, Missing: rep.Missing(ie.Ref)}, nil
}

// scoreFile loads a generator file of run r and scores o.Samples of its
// samples.
func (s *session) scoreFile(r Run, top *config.Topology, dir, file string, ie *eval.ImageEval) (*nn.Sequential, eval.Report, error) {
	g, err := eval.LoadGenerator(filepath.Join(dir, file), top)
	if err != nil {
		return nil, eval.Report{}, err
	}
	rep, err := ie.Score(eval.SampleAll(top, g, s.o.Samples, rand.New(rand.NewPCG(1, 0))))
	if err != nil {
		return nil, eval.Report{}, fmt.Errorf("experiment: scoring %s's %s: %w", r.Name, file, err)
	}
	return g, rep, nil
}
