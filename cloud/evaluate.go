package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// Evaluator scores the global generator during training and writes the
// results folder: metrics.jsonl and pictures.
//
// For 2-D (or any-D) Gaussian mixtures it reports mode coverage and draws
// a scatter plot. For image data (MNIST, Fashion-MNIST, inverted MNIST,
// IDX files) it reports FID, IS, class coverage and
// the class KL of EvalSamples generated images against the real test
// images, scored by the scenario's cached evaluation classifier, and
// draws a 10×10 grid of samples (samples_rNNNN.png and samples.png)
// from a fixed set of latent vectors, so that grids of successive rounds
// show the same z.
type Evaluator struct {
	top     *config.Topology
	out     string
	opts    eval.EvalOptions
	mixture *data.Mixture // nil unless every community holds Gaussian data
	rng     *rand.Rand

	images  bool // the topology's data are images
	imgOnce sync.Once
	img     *eval.ImageEval
	imgErr  error
	gridZ   []float32
	picture []byte // the latest picture written (PNG)
}

// NewEvaluator prepares the evaluation of top, writing into out. At most
// one eval.EvalOptions may be given. Loading the real data and the
// classifier of an image topology is deferred to the first Evaluate.
func NewEvaluator(top *config.Topology, out string, opts ...eval.EvalOptions) (*Evaluator, error) {
	e := &Evaluator{top: top, out: out, mixture: deploy.GlobalMixture(top), rng: rand.New(deploy.PCG(top, "cloud/eval"))}
	if len(opts) > 1 {
		return nil, errors.New("cloud: NewEvaluator takes at most one EvalOptions")
	}
	if len(opts) == 1 {
		e.opts = opts[0]
	}
	if e.mixture == nil {
		e.images = true
		for _, c := range top.Communities {
			for j := range c.Devices {
				if k := c.DeviceData(j).Kind; !data.Builtin(k) && k != "idx" {
					e.images = false
				}
			}
		}
	}
	return e, nil
}

// Evaluate scores gen after round (1-based count of finished rounds).
func (e *Evaluator) Evaluate(gen *nn.Sequential, round int, final bool) (map[string]any, error) {
	n := e.top.Cloud.EvalSamples
	if n <= 0 {
		return nil, nil
	}
	if e.images {
		return e.evaluateImages(gen, round, n)
	}
	if e.mixture == nil {
		return nil, nil
	}
	// Every domain's share in the LR scenario (domain 0 alone scored half
	// the modes of a two-domain mixture); in FR the same draws as one Sample.
	x := eval.SampleAll(e.top, gen, n, e.rng)
	rep, err := eval.ScoreMixture(e.mixture, x)
	if err != nil {
		return nil, err
	}
	res := eval.MixtureMap(rep)
	if e.top.Model.DataDim >= 2 {
		var buf bytes.Buffer
		title := fmt.Sprintf("round %d: %d of %d modes covered, %.1f%% high quality", round, rep.Covered, rep.Modes, 100*rep.HighQuality)
		if err := eval.ScatterPlot(&buf, e.mixture, x, e.top.Model.DataDim, 512, title); err != nil {
			return res, err
		}
		name := fmt.Sprintf("scatter_r%04d.png", round)
		if err := e.writePicture(name, "scatter.png", buf.Bytes()); err != nil {
			return res, err
		}
		res["picture"] = name
	}
	return res, nil
}

// evaluateImages writes the sample grid and, when the classifier is at
// hand, scores n samples.
func (e *Evaluator) evaluateImages(gen *nn.Sequential, round, n int) (map[string]any, error) {
	res := map[string]any{}
	if eval.IsSquare(e.top.Model.DataDim) {
		name := fmt.Sprintf("samples_r%04d.png", round)
		if err := e.writeGrid(gen, name); err != nil {
			return res, err
		}
		res["picture"] = name
	}
	e.imgOnce.Do(func() { e.img, e.imgErr = eval.OpenImageEval(e.top, e.opts) })
	if e.imgErr != nil {
		// Reported with every evaluation, never fatal: training goes on.
		res["eval_error"] = e.imgErr.Error()
		return res, nil
	}
	rep, err := e.img.Score(eval.SampleAll(e.top, gen, n, e.rng))
	if err != nil {
		res["eval_error"] = err.Error()
		return res, nil
	}
	for k, v := range eval.ReportMap(rep) {
		res[k] = v
	}
	return res, nil
}

// writeGrid draws the grid of the fixed latent vectors as name and as
// samples.png.
func (e *Evaluator) writeGrid(gen *nn.Sequential, name string) error {
	if e.gridZ == nil {
		e.gridZ = eval.GridLatents(e.top, eval.GridSide*eval.GridSide)
	}
	var buf bytes.Buffer
	if err := eval.GridPNG(&buf, e.top, gen, e.gridZ); err != nil {
		return err
	}
	return e.writePicture(name, "samples.png", buf.Bytes())
}

// Picture is the latest picture Evaluate drew (the scatter plot or the
// grid of samples, PNG), nil before the first.
func (e *Evaluator) Picture() []byte { return e.picture }

// writePicture writes a picture as name and as latest, the copy that
// always shows the latest round.
func (e *Evaluator) writePicture(name, latest string, b []byte) error {
	e.picture = b
	if err := atomicfile.Write(filepath.Join(e.out, name), b, 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(e.out, latest), b, 0o644)
}

// MetricsLine is metrics.jsonl's line for the closed round sum, elapsed
// into the run, with the round's evaluation ev (nil when none): `round`
// and the summary's `round` count from 1, as everything the services
// write (wire.RoundNumber), so that the line of round 100 is the one whose
// pictures are samples_r0100.png.
func MetricsLine(sum fed.RoundSummary, elapsed time.Duration, ev map[string]any) map[string]any {
	sum.Round = wire.RoundNumber(sum.Round, false)
	line := map[string]any{"round": sum.Round, "summary": sum, "elapsed_seconds": elapsed.Seconds()}
	if ev != nil {
		line["eval"] = ev
	}
	return line
}

// AppendMetrics appends one JSON line to metrics.jsonl (fsynced) and,
// when the line has an evaluation, draws loss.png and quality.png again.
func (e *Evaluator) AppendMetrics(line map[string]any) error {
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.out, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(e.out, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if line["eval"] != nil {
		return e.writeCharts()
	}
	return nil
}
