package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/experiment"
	"github.com/fedgan/fedgan/nn"
)

// The evaluation commands (issue: real image data and evaluation).

const evalUsage = `Usage:
  fedgan eval train -c CONFIG      train the scenario's evaluation classifier (once; cached) and print its test accuracy
  fedgan eval -m MODEL -c CONFIG   score a generator: FID, IS, class coverage, class KL (10,000 samples); for a
                                   label-related topology per domain, with the label agreement of shared z
  fedgan eval real -c CONFIG       score real training images the same way (the floor a generator can reach)
  fedgan eval merge -c CONFIG -o DIR
                                   write the scenario's real data (all datasets, labels offset) as one IDX folder:
                                   the data of the centralized baseline (configs/centralized.yaml)

The classifier is cached under -cache (default $FEDGAN_CACHE or ~/.cache/fedgan/eval), keyed by the SHA-256
of its training data and settings; a missing one is trained by "eval train" (and by "eval -train"), and
reported otherwise.
`

// evalFlags are the flags shared by the eval sub-modes.
type evalFlags struct {
	common
	cache string
	n     int
	seed  uint64
	train bool
	json  bool
}

func (f *evalFlags) register(fs *flag.FlagSet) {
	f.common.register(fs, false)
	fs.StringVar(&f.cache, "cache", "", "classifier cache folder (default $FEDGAN_CACHE or ~/.cache/fedgan/eval)")
	fs.IntVar(&f.n, "n", eval.ReferenceRows, "number of samples scored")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the latent vectors")
	fs.BoolVar(&f.train, "train", false, "train the classifier if the cache has none for this data")
	fs.BoolVar(&f.json, "json", false, "print the scores as JSON")
}

func (f *evalFlags) options(stderr io.Writer, train bool) eval.EvalOptions {
	return eval.EvalOptions{CacheDir: f.cache, Train: train || f.train, Progress: func(s string) { fmt.Fprintln(stderr, s) }}
}

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	mode := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		mode, args = args[0], args[1:]
	}
	var f evalFlags
	fs := flag.NewFlagSet("fedgan eval "+mode, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, evalUsage); fs.PrintDefaults() }
	f.register(fs)
	model := fs.String("m", "", "generator file (generator.nnw of a run)")
	outDir := fs.String("o", "", "merge: output folder")
	grid := fs.String("grid", "", "also write a 10×10 sample grid PNG here")
	switch mode {
	case "", "train", "real", "merge":
	default:
		fmt.Fprint(stderr, evalUsage)
		return fmt.Errorf("%w: unknown eval mode %q", ErrUsage, mode)
	}
	top, err := parse(fs, args, &f.common, false)
	if err != nil {
		return err
	}
	switch mode {
	case "train":
		return evalTrain(top, &f, stdout, stderr)
	case "merge":
		if *outDir == "" {
			return fmt.Errorf("%w: eval merge needs -o DIR", ErrUsage)
		}
		return experiment.MergeRealData(top, *outDir, stdout)
	case "real":
		ie, err := eval.OpenImageEval(top, f.options(stderr, false))
		if err != nil {
			return withTrainHint(err, f.config)
		}
		x, err := ie.RealTraining(f.n, f.seed)
		if err != nil {
			return err
		}
		rep, err := ie.Score(x)
		if err != nil {
			return err
		}
		return printReport(stdout, "real training images", rep, ie, f.json)
	}
	if *model == "" {
		return fmt.Errorf("%w: eval needs -m MODEL (or a mode: train, real, merge)", ErrUsage)
	}
	gen, err := eval.LoadGenerator(*model, top)
	if err != nil {
		return err
	}
	if top.Domains() > 0 {
		return evalLR(top, gen, &f, *model, *grid, stdout, stderr)
	}
	ie, err := eval.OpenImageEval(top, f.options(stderr, false))
	if err != nil {
		return withTrainHint(err, f.config)
	}
	rep, err := ie.Score(eval.SampleAll(top, gen, f.n, rand.New(rand.NewPCG(f.seed, 0))))
	if err != nil {
		return err
	}
	if top.Model.ClassCode > 0 {
		if rep.TSTR, err = ie.TSTR(top, gen, f.n, rand.New(rand.NewPCG(f.seed, 1)), nil); err != nil {
			return err
		}
	}
	if *grid != "" {
		if err := eval.WriteGridFile(*grid, top, gen); err != nil {
			return err
		}
	}
	return printReport(stdout, *model, rep, ie, f.json)
}

// evalLR scores a generator of a label-related topology with the LR
// evaluation (per-domain scores, the cross-domain label agreement of
// shared z, the samples' domain accuracy) and, with grid, draws its Fig. 5
// grid.
func evalLR(top *config.Topology, gen *nn.Sequential, f *evalFlags, model, grid string, stdout, stderr io.Writer) error {
	le, err := eval.OpenLREval(top, eval.LROptions{EvalOptions: f.options(stderr, false)})
	if err != nil {
		return withTrainHint(err, f.config)
	}
	rep, err := le.Score(top, gen, f.n, rand.New(rand.NewPCG(f.seed, 0)))
	if err != nil {
		return err
	}
	if grid != "" {
		if err := eval.WriteLRGridFile(grid, top, gen, eval.GridSide); err != nil {
			return err
		}
	}
	if f.json {
		b, err := json.MarshalIndent(map[string]any{"what": model, "scores": rep}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(stdout, string(b))
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: %s\n", model, rep)
	return err
}

// withTrainHint adds the command that trains a missing classifier.
func withTrainHint(err error, cfg string) error {
	if errors.Is(err, eval.ErrNoClassifier) {
		return fmt.Errorf("%w\ntrain it with: fedgan eval train -c %s (or add -train)", err, cfg)
	}
	return err
}

func evalTrain(top *config.Topology, f *evalFlags, stdout, stderr io.Writer) error {
	start := time.Now()
	ie, err := eval.OpenImageEval(top, f.options(stderr, true))
	if err != nil {
		return err
	}
	verb := "found cached"
	if ie.Trained {
		verb = fmt.Sprintf("trained in %s and cached", time.Since(start).Round(time.Second))
	}
	fmt.Fprintf(stdout, "evaluation classifier %s: key %s\n", verb, ie.Cls.Key)
	fmt.Fprintf(stdout, "  %d classes, features %d, settings %+v\n", ie.Cls.Classes, ie.Cls.FeatureDim(), ie.Cls.Settings)
	for i, ts := range ie.Real.TestSets {
		acc, err := ie.Cls.Accuracy(ts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  test accuracy on %-40s %6.2f%% (%d images)\n", ie.Real.Names[i], 100*acc, ts.Len())
	}
	acc, err := ie.Cls.Accuracy(ie.Real.Test)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  test accuracy overall %33s %6.2f%% (%d images)\n", "", 100*acc, ie.Real.Test.Len())
	return nil
}

func printReport(w io.Writer, what string, rep eval.Report, ie *eval.ImageEval, asJSON bool) error {
	if asJSON {
		m := eval.ReportMap(rep)
		m["what"], m["classifier"] = what, ie.Cls.Key
		b, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	}
	fmt.Fprintf(w, "%s: %d samples, classifier %.16s…\n", what, rep.Samples, ie.Cls.Key)
	fmt.Fprintf(w, "  FID       %.3f\n", rep.FID)
	fmt.Fprintf(w, "  IS        %.3f\n", rep.IS)
	fmt.Fprintf(w, "  coverage  %d/%d classes", rep.Covered, rep.Classes)
	if miss := rep.Missing(ie.Ref); len(miss) > 0 {
		fmt.Fprintf(w, " (missing %v)", miss)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  class KL  %.4f\n", rep.ClassKL)
	if rep.TSTR > 0 {
		fmt.Fprintf(w, "  TSTR      %.2f%% (a classifier trained on %d labelled samples, tested on the real test images)\n", 100*rep.TSTR, rep.Samples)
	}
	fmt.Fprintf(w, "  classes %%  %s\n", rep.HistString())
	return nil
}

// runSample writes a sample grid of a saved generator.
func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fedgan sample", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("m", "", "generator file (generator.nnw of a run)")
	cfg := fs.String("c", "", "topology (needed for the LR domain codes and FR source codes; default: latent = the generator's input width)")
	out := fs.String("o", "samples.png", "PNG file to write")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	if *model == "" {
		return fmt.Errorf("%w: sample needs -m MODEL", ErrUsage)
	}
	var top *config.Topology
	if *cfg != "" {
		var err error
		if top, err = config.Load(*cfg); err != nil {
			return err
		}
	}
	gen, err := eval.LoadGenerator(*model, top)
	if err != nil {
		return err
	}
	if top == nil { // a plain FR generator: latent = input width
		top = &config.Topology{Model: config.Model{Latent: gen.InDim(), DataDim: gen.OutDim()}}
	}
	if top.Domains() > 0 {
		// The paper's Fig. 5: a row per domain, the same z down a column.
		if err := eval.WriteLRGridFile(*out, top, gen, eval.GridSide); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %d latents (columns) drawn in each of %d domains (rows) by %s\n", *out, eval.GridSide, top.Domains(), *model)
		return nil
	}
	if err := eval.WriteGridFile(*out, top, gen); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d×%d samples of %s\n", *out, eval.GridSide, eval.GridSide, *model)
	return nil
}
