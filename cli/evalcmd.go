package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/experiment"
	"github.com/fedgan/fedgan/nn"
)

// The evaluation commands (issue: real image data and evaluation).

const evalLong = `Scores generators with the scenario's evaluation classifier.

  fedgan eval train -c CONFIG      train the scenario's evaluation classifier (once; cached) and print its test accuracy
  fedgan eval -m MODEL -c CONFIG   score a generator: FID, IS, class coverage, class KL (10,000 samples); for a
                                   label-related topology per domain, with the label agreement of shared z
  fedgan eval real -c CONFIG       score real training images the same way (the floor a generator can reach)
  fedgan eval merge -c CONFIG -o DIR
                                   write the scenario's real data (all datasets, labels offset) as one IDX folder:
                                   the data of the centralized baseline (configs/centralized.yaml)

The classifier is cached under --cache (default $FEDGAN_CACHE or ~/.cache/fedgan/eval), keyed by the SHA-256
of its training data and settings; a missing one is trained by "eval train" (and by "eval --train"), and
reported otherwise.`

// evalFlags are the flags shared by the eval sub-modes.
type evalFlags struct {
	common
	cache string
	n     int
	seed  uint64
	train bool
	json  bool
}

func (f *evalFlags) register(fs *pflag.FlagSet) {
	f.common.register(fs, false)
	fs.StringVar(&f.cache, "cache", "", "classifier cache folder (default $FEDGAN_CACHE or ~/.cache/fedgan/eval)")
	fs.IntVarP(&f.n, "samples", "n", eval.ReferenceRows, "number of samples scored")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the latent vectors")
	fs.BoolVar(&f.train, "train", false, "train the classifier if the cache has none for this data")
	fs.BoolVar(&f.json, "json", false, "print the scores as JSON")
}

func (f *evalFlags) options(stderr io.Writer, train bool) eval.EvalOptions {
	return eval.EvalOptions{CacheDir: f.cache, Train: train || f.train, Progress: func(s string) { fmt.Fprintln(stderr, s) }}
}

// evalCommand is `fedgan eval [train|real|merge]`.
func evalCommand(stdout, stderr io.Writer) *cobra.Command {
	var f evalFlags
	var model, outDir, grid string
	cmd := &cobra.Command{
		Use:       "eval [train|real|merge] -c CONFIG [-m MODEL]",
		Short:     "evaluation classifier, FID, IS, coverage of a generator or of real data",
		Long:      evalLong,
		ValidArgs: []string{"train", "real", "merge"},
		Args:      cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			mode := ""
			if len(args) > 0 {
				mode = args[0]
			}
			return runEval(mode, &f, model, outDir, grid, stdout, stderr)
		},
	}
	fs := cmd.Flags()
	f.register(fs)
	fs.StringVarP(&model, "model", "m", "", "generator file (generator.nnw of a run)")
	fs.StringVarP(&outDir, "output", "o", "", "merge: output folder")
	fs.StringVar(&grid, "grid", "", "also write a 10×10 sample grid PNG here")
	return cmd
}

func runEval(mode string, f *evalFlags, model, outDir, grid string, stdout, stderr io.Writer) error {
	switch mode {
	case "", "train", "real", "merge":
	default:
		return fmt.Errorf("%w: unknown eval mode %q (train, real or merge)", ErrUsage, mode)
	}
	top, err := load(&f.common, false)
	if err != nil {
		return err
	}
	switch mode {
	case "train":
		return evalTrain(top, f, stdout, stderr)
	case "merge":
		if outDir == "" {
			return fmt.Errorf("%w: eval merge needs -o/--output DIR", ErrUsage)
		}
		return experiment.MergeRealData(top, outDir, stdout)
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
	if model == "" {
		return fmt.Errorf("%w: eval needs -m/--model MODEL (or a mode: train, real, merge)", ErrUsage)
	}
	gen, err := eval.LoadGenerator(model, top)
	if err != nil {
		return err
	}
	if top.Domains() > 0 {
		return evalLR(top, gen, f, model, grid, stdout, stderr)
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
	if grid != "" {
		if err := eval.WriteGridFile(grid, top, gen); err != nil {
			return err
		}
	}
	return printReport(stdout, model, rep, ie, f.json)
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
	if err := le.AddTSTR(top, gen, f.n, rand.New(rand.NewPCG(f.seed, 1)), &rep); err != nil {
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
		return fmt.Errorf("%w\ntrain it with: fedgan eval train -c %s (or add --train)", err, cfg)
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
	settings, err := json.Marshal(ie.Cls.Settings)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %d classes, features %d, settings %s\n", ie.Cls.Classes, ie.Cls.FeatureDim(), settings)
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
		fmt.Fprintf(w, " (missing %s)", ints(miss))
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  class KL  %.4f\n", rep.ClassKL)
	if rep.TSTR > 0 {
		fmt.Fprintf(w, "  TSTR      %.2f%% (a classifier trained on %d labelled samples, tested on the real test images)\n", 100*rep.TSTR, rep.Samples)
	}
	fmt.Fprintf(w, "  classes %%  %s\n", rep.HistString())
	return nil
}

// sampleCommand is `fedgan sample`: a sample grid of a saved generator.
func sampleCommand(stdout io.Writer) *cobra.Command {
	var model, cfg, out string
	cmd := &cobra.Command{
		Use:   "sample -m MODEL [-c CONFIG] [-o FILE]",
		Short: "a sample grid of a saved generator (per domain for a label-related topology: Fig. 5)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSample(&model, &cfg, &out, stdout)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&model, "model", "m", "", "generator file (generator.nnw of a run)")
	fs.StringVarP(&cfg, "config", "c", "", "topology (needed for the LR domain codes and FR source codes; default: latent = the generator's input width)")
	fs.StringVarP(&out, "output", "o", "samples.png", "PNG file to write")
	return cmd
}

// runSample writes a sample grid of a saved generator.
func runSample(model, cfg, out *string, stdout io.Writer) error {
	if *model == "" {
		return fmt.Errorf("%w: sample needs -m/--model MODEL", ErrUsage)
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
	if !eval.IsSquare(top.Model.DataDim) {
		return sampleScatter(*model, *cfg, *out, top, gen, stdout)
	}
	if err := eval.WriteGridFile(*out, top, gen); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d×%d samples of %s\n", *out, eval.GridSide, eval.GridSide, *model)
	return nil
}

// scatterSamples is how many points sample draws for a 2-D mixture.
const scatterSamples = 2000

// sampleScatter draws a generator of points (not images) over its
// topology's Gaussian mixture, with the scores the cloud reports.
func sampleScatter(model, cfg, out string, top *config.Topology, gen *nn.Sequential, stdout io.Writer) error {
	d := top.Model.DataDim
	var m *data.Mixture
	if cfg != "" {
		m = deploy.GlobalMixture(top)
	}
	if d < 2 || m == nil {
		how := "give -c with its Gaussian topology for a scatter plot"
		if cfg != "" {
			how = "its topology holds no Gaussian mixture to draw it over"
		}
		return fmt.Errorf("%w: %s makes rows of %d values, not square images: sample draws image grids, and scatter plots of 2-D Gaussian mixtures; %s", ErrUsage, model, d, how)
	}
	x := eval.SampleAll(top, gen, scatterSamples, rand.New(rand.NewPCG(1, 2)))
	rep, err := eval.ScoreMixture(m, x)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s: %d of %d modes covered, %.1f%% high quality", filepath.Base(model), rep.Covered, rep.Modes, 100*rep.HighQuality)
	var buf bytes.Buffer
	if err := eval.ScatterPlot(&buf, m, x, d, 512, title); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d samples of %s over its %d modes (%d covered, %.1f%% high quality)\n", out, scatterSamples, model, rep.Modes, rep.Covered, 100*rep.HighQuality)
	return nil
}

// ints is a list of integers as JSON: "[3,7]".
func ints(v []int) string {
	b, _ := json.Marshal(v)
	return string(b)
}
