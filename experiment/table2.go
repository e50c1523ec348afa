package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/local"
)

// Table2Runs are the runs of the paper's Table 2 that this project has,
// the label-related scenario on MNIST and inverted MNIST: FR's LR
// algorithm in sync and async mode on the i.i.d. and the non-i.i.d.
// split; the paper's FED GAN (the same files with training.algorithm:
// fedgan: every device a conditional GAN of its domain, FedAvg, no
// domain classifier); LR sync with both domain losses off (λ1 = λ2 = 0:
// what the losses add to the label agreement); and LR on three domains
// (grey MNIST added), sync and async; and the paper's RegGAN, the centralized multi-domain
// cGAN: one device holding every domain's rows of the i.i.d. file, each
// domain a class of a class-conditional G and D, with RegGAN's regulariser
// of G (training.class_invariance; its regulariser of D is not built).
var Table2Runs = []Run{
	{Name: "reggan", Label: "RegGAN (centralized)", Config: "reggan-mnist-inverted.yaml", Split: "all data on one device", Mode: "sync", DomainsOf: "lr-mnist-inverted-iid.yaml"},
	{Name: "fedgan-lr-iid", Label: "FED GAN", Config: "lr-mnist-inverted-iid.yaml", Split: "iid", Mode: "sync", Set: fedGAN},
	{Name: "lr-sync-iid", Label: "LR (sync)", Config: "lr-mnist-inverted-iid.yaml", Split: "iid", Mode: "sync"},
	{Name: "lr-async-iid", Label: "LR (async)", Config: "lr-mnist-inverted-iid.yaml", Split: "iid", Mode: "async"},
	{Name: "lr-sync-iid-nolosses", Label: "LR (sync), λ1 = λ2 = 0", Config: "lr-mnist-inverted-iid.yaml", Split: "iid", Mode: "sync", Set: noDomainLosses},
	{Name: "fedgan-lr-noniid", Label: "FED GAN", Config: "lr-mnist-inverted-noniid.yaml", Split: "non-iid", Mode: "sync", Set: fedGAN},
	{Name: "lr-sync-noniid", Label: "LR (sync)", Config: "lr-mnist-inverted-noniid.yaml", Split: "non-iid", Mode: "sync"},
	{Name: "lr-async-noniid", Label: "LR (async)", Config: "lr-mnist-inverted-noniid.yaml", Split: "non-iid", Mode: "async"},
	{Name: "lr3-sync-iid", Label: "LR (sync), three domains", Config: "lr-mnist-3domains.yaml", Split: "iid", Mode: "sync"},
	{Name: "lr3-async-iid", Label: "LR (async), three domains", Config: "lr-mnist-3domains.yaml", Split: "iid", Mode: "async"},
}

// noDomainLosses switches both LR domain losses off.
var noDomainLosses = map[string]string{"training.lambda1": "0", "training.lambda2": "0"}

// GridColumns is the number of shared latents (columns) of a Table 2
// grid.
const GridColumns = 12

// Result2 is one run's line of Table 2 (and of table2.json).
type Result2 struct {
	RunInfo
	Report eval.LRReport `json:"scores"`
	// DomainNames are each domain's image sources, Lambdas λ1 and λ2 (0
	// for the centralized baseline, which has no domain losses),
	// Algorithm training.algorithm.
	DomainNames []string   `json:"domains"`
	Lambdas     [2]float64 `json:"lambdas"`
	Algorithm   string     `json:"algorithm"`
}

// Table2 is Table 2 as far as it has been made.
type Table2 struct {
	Args []string  `json:"args"`
	Runs []Result2 `json:"runs"`
}

// MakeTable2 makes the runs of Table 2 (o.Runs, default Table2Runs) as
// Table1 makes Table 1's (the same options, folders, seeds and reuse),
// scoring every final generator with the LR evaluation (eval.LREval: a
// digit and a domain classifier, per-domain FID and IS, the cross-domain
// label agreement on shared z) and drawing its Fig. 5 grid; it rewrites
// table2.md and table2.json after every run.
func MakeTable2(ctx context.Context, o Options) (*Table2, error) {
	if o.Runs == nil {
		o.Runs = Table2Runs
	}
	o = o.withDefaults()
	if err := os.MkdirAll(filepath.Join(o.Dir, "grids"), 0o755); err != nil {
		return nil, err
	}
	s := &session{o: o, opts: eval.EvalOptions{CacheDir: o.Cache, Train: true, Progress: func(s string) { fmt.Fprintf(o.Stdout, "experiment: %s\n", s) }}}
	t := &Table2{Args: o.Args}
	err := s.each(ctx, func(r Run, seed uint64) error {
		res, err := s.run2(ctx, r, seed)
		if errors.Is(err, errNotFinished) {
			return nil
		}
		if err != nil {
			return err
		}
		t.Runs = append(t.Runs, res)
		return writeTable2(o.Dir, t)
	})
	if err != nil {
		return t, err
	}
	s.say("table in %s", filepath.Join(o.Dir, "table2.md"))
	return t, nil
}

// run2 makes run r of Table 2 with seed (0: the file's).
func (s *session) run2(ctx context.Context, r Run, seed uint64) (Result2, error) {
	folder := r.folder(seed)
	dir := filepath.Join(s.o.Dir, folder)
	if err := s.collectable(folder, dir); err != nil {
		return Result2{}, err
	}
	top, cfgPath, err := s.configure(r, seed, dir)
	if err != nil {
		return Result2{}, err
	}
	// The LR file scored against: the run's own, or for the centralized
	// baseline the file whose domains it trains on (its G takes the same
	// input columns).
	scoreTop := top
	if r.DomainsOf != "" {
		if scoreTop, err = config.Load(filepath.Join(s.o.Configs, r.DomainsOf)); err != nil {
			return Result2{}, err
		}
	}
	// The classifiers first, as for Table 1: the cloud's periodic
	// evaluation finds the digit classifier.
	le, err := eval.OpenLREval(scoreTop, eval.LROptions{EvalOptions: s.opts})
	if err != nil {
		return Result2{}, err
	}
	rec, err := s.train(ctx, r, top, cfgPath, dir)
	if err != nil {
		return Result2{}, fmt.Errorf("experiment: run %s: %w", r.Name, err)
	}
	gen, err := eval.LoadGenerator(filepath.Join(dir, cloud.GeneratorFile), scoreTop)
	if err != nil {
		return Result2{}, err
	}
	rep, err := le.Score(scoreTop, gen, s.o.Samples, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		return Result2{}, fmt.Errorf("experiment: scoring %s: %w", r.Name, err)
	}
	if err := le.AddTSTR(scoreTop, gen, s.o.Samples, rand.New(rand.NewPCG(1, 1)), &rep); err != nil {
		return Result2{}, fmt.Errorf("experiment: scoring %s: %w", r.Name, err)
	}
	grid := filepath.Join("grids", folder+".png")
	if err := eval.WriteLRGridFile(filepath.Join(s.o.Dir, grid), scoreTop, gen, GridColumns); err != nil {
		return Result2{}, err
	}
	res := Result2{RunInfo: runInfo(r, top, cfgPath, grid, rec), Report: rep, Algorithm: top.Training.Algorithm}
	if top.Domains() > 0 {
		res.Lambdas[0], res.Lambdas[1] = top.Training.Lambdas()
	}
	for _, d := range rep.Domains {
		res.DomainNames = append(res.DomainNames, strings.Join(d.Sources, "+"))
	}
	s.say("%s: %s; %s, %s moved", folder, strings.SplitN(rep.String(), "\n", 2)[0],
		time.Duration(rec.WallSeconds*float64(time.Second)).Round(time.Second), local.BytesHuman(rec.Bytes))
	return res, nil
}

// devicesOf is the number of devices of top.
func devicesOf(top *config.Topology) int {
	n := 0
	for _, c := range top.Communities {
		n += len(c.Devices)
	}
	return n
}

// writeTable2 writes table2.md and table2.json into dir.
func writeTable2(dir string, t *Table2) error {
	js, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "table2.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "table2.md"), []byte(t.Markdown()), 0o644)
}
