package cloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/nn"
)

// EvalOptions tune the evaluation of image topologies; the zero value is
// what the cloud service uses.
type EvalOptions struct {
	// CacheDir holds the evaluation classifiers; default
	// eval.DefaultCacheDir() ($FEDGAN_CACHE or ~/.cache/fedgan/eval).
	CacheDir string
	// Settings are the classifier's training settings (part of its cache
	// key); the zero value means eval's defaults.
	Settings eval.ClassifierSettings
	// Train trains and caches a missing classifier (minutes for MNIST +
	// Fashion-MNIST). Without it a missing classifier is reported in every
	// evaluation's "eval_error" and only sample grids are written: the
	// cloud never blocks a round on training one.
	Train bool
	// Progress, if not nil, receives a line per step of loading or
	// training the classifier.
	Progress func(string)
}

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
	opts    EvalOptions
	mixture *data.Mixture // nil unless every community holds Gaussian data
	rng     *rand.Rand
	z       []float32

	images  bool // the topology's data are images
	imgOnce sync.Once
	img     *ImageEval
	imgErr  error
	gridZ   []float32
}

// NewEvaluator prepares the evaluation of top, writing into out. At most
// one EvalOptions may be given. Loading the real data and the classifier
// of an image topology is deferred to the first Evaluate.
func NewEvaluator(top *config.Topology, out string, opts ...EvalOptions) (*Evaluator, error) {
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
				switch c.DeviceData(j).Kind {
				case data.MNIST, data.FashionMNIST, data.InvertedMNIST, "idx":
				default:
					e.images = false
				}
			}
		}
	}
	return e, nil
}

// Sample draws n rows from gen: G(z) in the FR scenario (with a source
// code drawn by data share when the topology has one, see
// deploy.Latents), G(z, c_domain) in the LR scenario. z is scratch space,
// returned for reuse.
func Sample(top *config.Topology, gen *nn.Sequential, n, domain int, rng *rand.Rand, z []float32) ([]float32, []float32) {
	z = deploy.Latents(top, z, n, rng)
	if k := top.Domains(); k > 0 {
		cols, m := top.GenInDim(), top.Model.Latent
		for i := range n {
			row := z[i*cols : (i+1)*cols]
			clear(row[m : m+k])
			row[m+domain] = 1
		}
	}
	out := gen.Forward(nn.Mat{Rows: n, Cols: top.GenInDim(), Data: z})
	return append([]float32(nil), out.Data[:n*out.Cols]...), z
}

// SampleAll draws n rows from gen: in the LR scenario an equal share from
// every domain code (domain 0 first), otherwise n rows of G(z).
func SampleAll(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand) []float32 {
	k := max(top.Domains(), 1)
	out := make([]float32, 0, n*top.Model.DataDim)
	var z []float32
	for d := range k {
		m := n / k
		if d < n%k {
			m++
		}
		var x []float32
		x, z = Sample(top, gen, m, d, rng, z)
		out = append(out, x...)
	}
	return out
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
	var x []float32
	x, e.z = Sample(e.top, gen, n, 0, e.rng, e.z)
	rep, err := eval.ScoreMixture(e.mixture, x)
	if err != nil {
		return nil, err
	}
	res := map[string]any{
		"samples": rep.Samples, "modes": rep.Modes, "modes_covered": rep.Covered,
		"high_quality": rep.HighQuality, "reverse_kl": finiteOrNil(rep.ReverseKL),
	}
	if e.top.Model.DataDim >= 2 {
		var buf bytes.Buffer
		if err := eval.Scatter(&buf, e.mixture, x, e.top.Model.DataDim, 512); err != nil {
			return res, err
		}
		name := fmt.Sprintf("scatter_r%04d.png", round)
		if err := atomicfile.Write(filepath.Join(e.out, name), buf.Bytes(), 0o644); err != nil {
			return res, err
		}
		if err := atomicfile.Write(filepath.Join(e.out, "scatter.png"), buf.Bytes(), 0o644); err != nil {
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
	if side := int(math.Round(math.Sqrt(float64(e.top.Model.DataDim)))); side*side == e.top.Model.DataDim {
		name := fmt.Sprintf("samples_r%04d.png", round)
		if err := e.writeGrid(gen, name); err != nil {
			return res, err
		}
		res["picture"] = name
	}
	e.imgOnce.Do(func() { e.img, e.imgErr = OpenImageEval(e.top, e.opts) })
	if e.imgErr != nil {
		// Reported with every evaluation, never fatal: training goes on.
		res["eval_error"] = e.imgErr.Error()
		return res, nil
	}
	rep, err := e.img.Score(SampleAll(e.top, gen, n, e.rng))
	if err != nil {
		res["eval_error"] = err.Error()
		return res, nil
	}
	for k, v := range ReportMap(rep) {
		res[k] = v
	}
	return res, nil
}

// GridSide is the number of rows and columns of the sample grids.
const GridSide = 10

// writeGrid draws the grid of the fixed latent vectors as name and as
// samples.png.
func (e *Evaluator) writeGrid(gen *nn.Sequential, name string) error {
	if e.gridZ == nil {
		e.gridZ = GridLatents(e.top, GridSide*GridSide)
	}
	var buf bytes.Buffer
	if err := GridPNG(&buf, e.top, gen, e.gridZ); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(e.out, name), buf.Bytes(), 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(e.out, "samples.png"), buf.Bytes(), 0o644)
}

// GridLatents returns n generator inputs drawn from a fixed stream (the
// same for every run and round): deploy.Latents and, in the LR scenario,
// the domain code of grid row r set to r mod K; with an FR source code,
// grid row r uses source r mod (number of codes); with a class-conditional
// G, the classes that G draws (ClassShares > 0) share the n cells in
// order, in runs of equal length (5 cells per class for 20 classes in a
// 10×10 grid).
func GridLatents(top *config.Topology, n int) []float32 {
	rng := rand.New(rand.NewPCG(0x67726964, 1)) // "grid"
	z := deploy.Latents(top, nil, n, rng)
	m, k, s := top.Model.Latent, top.Domains(), top.SourceCodes()
	var ys []int
	for y, p := range top.ClassShares() {
		if p > 0 {
			ys = append(ys, y)
		}
	}
	cols := top.GenInDim()
	for i := range n {
		row := z[i*cols : (i+1)*cols]
		if k > 0 {
			clear(row[m : m+k])
			row[m+(i/GridSide)%k] = 1
		}
		if s > 0 {
			code := row[m+k : m+k+s]
			scale := slices.Max(code)
			clear(code)
			code[(i/GridSide)%s] = scale
		}
		if len(ys) > 0 {
			code := row[m+k+s:]
			clear(code)
			code[ys[i*len(ys)/n]] = 1
		}
	}
	return z
}

// GridPNG draws G(z) for the inputs z as a PNG grid of GridSide columns of
// square images of DataDim pixels (28×28 for MNIST), at scale 2. It
// returns an error if DataDim is not a square.
func GridPNG(w io.Writer, top *config.Topology, gen *nn.Sequential, z []float32) error {
	cols := gen.InDim()
	out := gen.Forward(nn.Mat{Rows: len(z) / cols, Cols: cols, Data: z})
	side := int(math.Round(math.Sqrt(float64(top.Model.DataDim))))
	if side*side != top.Model.DataDim {
		return fmt.Errorf("cloud: rows of %d values are not square images", top.Model.DataDim)
	}
	return eval.Grid(w, out.Data[:out.Rows*out.Cols], side, side, GridSide, 2)
}

// ReportMap is rep as the keys of metrics.jsonl and the status: fid, is,
// classes, classes_covered, class_kl, samples, histogram.
func ReportMap(rep eval.Report) map[string]any {
	m := map[string]any{
		"samples": rep.Samples, "fid": finiteOrNil(rep.FID), "is": finiteOrNil(rep.IS),
		"classes": rep.Classes, "classes_covered": rep.Covered, "class_kl": finiteOrNil(rep.ClassKL),
		"histogram": rep.Hist,
	}
	if rep.TSTR > 0 {
		m["tstr_accuracy"] = rep.TSTR
	}
	return m
}

// ImageEval is an image topology's evaluation: its real data, its
// evaluation classifier and the reference statistics of
// eval.ReferenceRows real test images.
type ImageEval struct {
	Real *deploy.RealData
	Cls  *eval.Classifier
	Info *eval.ClassifierInfo
	Ref  *eval.Reference
	// Trained is true when the classifier was trained by this call.
	Trained bool
}

// ReferenceSeed fixes which real test images make up the reference, so
// that every run of a scenario is compared with the same images.
const ReferenceSeed = 0x72656631 // "ref1"

// OpenImageEval loads top's real data, finds its evaluation classifier in
// the cache (training and caching it if opts.Train, otherwise returning
// the *eval.MissingError) and fits the reference.
func OpenImageEval(top *config.Topology, opts EvalOptions) (*ImageEval, error) {
	say := func(format string, args ...any) {
		if opts.Progress != nil {
			opts.Progress(fmt.Sprintf(format, args...))
		}
	}
	dir := opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = eval.DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	rd, err := deploy.Real(top)
	if err != nil {
		return nil, err
	}
	if rd.Train == nil {
		return nil, fmt.Errorf("cloud: %s holds no image data to evaluate", top.Name)
	}
	if rd.Train.Classes == 0 {
		return nil, fmt.Errorf("cloud: the image data of %s has no labels: no classifier, only sample grids", top.Name)
	}
	say("real data: %d training and %d test images of %d classes from %v", rd.Train.Len(), rd.Test.Len(), rd.Train.Classes, rd.Names)
	cache := eval.Cache{Dir: dir}
	s := opts.Settings.WithDefaults()
	key := eval.ClassifierKey(rd.Train, s)
	ie := &ImageEval{Real: rd}
	ie.Cls, ie.Info, err = cache.Load(key)
	if errors.Is(err, eval.ErrNoClassifier) && opts.Train {
		say("training the evaluation classifier (key %.16s…, %d epochs over %d rows); it is cached in %s", key, s.Epochs, rd.Train.Len(), dir)
		ie.Cls, err = eval.TrainClassifier(rd.Train, s, func(epoch int, loss float64) { say("epoch %d/%d: loss %.4f", epoch, s.Epochs, loss) })
		if err != nil {
			return nil, err
		}
		info := eval.ClassifierInfo{Rows: rd.Train.Len(), Sources: rd.Names, Accuracy: map[string]float64{}}
		for i, ts := range rd.TestSets {
			acc, err := ie.Cls.Accuracy(ts)
			if err != nil {
				return nil, err
			}
			info.Accuracy[rd.Names[i]] = acc
		}
		if err := cache.Save(ie.Cls, info); err != nil {
			return nil, err
		}
		info.Key, info.Settings, info.Dim, info.Classes = ie.Cls.Key, ie.Cls.Settings, ie.Cls.Dim(), ie.Cls.Classes
		ie.Info, ie.Trained = &info, true
	} else if err != nil {
		return nil, err
	}
	say("evaluation classifier %.16s… (%s)", key, filepath.Join(dir, "classifier-"+key[:16]+".nnw"))
	ie.Ref, err = ie.Cls.Reference(rd.Test, eval.ReferenceRows, rand.New(rand.NewPCG(ReferenceSeed, 0)))
	if err != nil {
		return nil, err
	}
	return ie, nil
}

// Score scores generated rows against the reference.
func (ie *ImageEval) Score(x []float32) (eval.Report, error) {
	return ie.Cls.Score(ie.Ref, x)
}

// TSTR is the train-on-synthetic, test-on-real accuracy of a
// class-conditional G (model.class_code): a classifier with the
// evaluation classifier's settings is trained on n rows of gen, each
// labelled with the class it was drawn with (deploy.Latents), and scored
// on all the real test images. It returns an error without a class code.
// progress, if not nil, is called after every training epoch.
func (ie *ImageEval) TSTR(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand, progress func(epoch int, loss float64)) (float64, error) {
	c := top.Model.ClassCode
	if c == 0 {
		return 0, fmt.Errorf("cloud: train-on-synthetic accuracy needs a class-conditional generator (model.class_code)")
	}
	if c != ie.Real.Test.Classes {
		return 0, fmt.Errorf("cloud: model.class_code is %d, the real test images have %d classes", c, ie.Real.Test.Classes)
	}
	z := deploy.Latents(top, nil, n, rng)
	cols, off := top.GenInDim(), top.GenInDim()-c
	labels := make([]int, n)
	for i := range labels {
		labels[i] = slices.Index(z[i*cols+off:(i+1)*cols], 1) // the one-hot class Latents drew
	}
	out := gen.Forward(nn.Mat{Rows: n, Cols: cols, Data: z})
	syn, err := data.NewNumeric("synthetic", top.Model.DataDim, out.Data[:n*out.Cols], labels, c)
	if err != nil {
		return 0, err
	}
	cls, err := eval.TrainClassifier(syn, ie.Cls.Settings, progress)
	if err != nil {
		return 0, err
	}
	return cls.Accuracy(ie.Real.Test)
}

func finiteOrNil(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// AppendMetrics appends one JSON line to metrics.jsonl (fsynced).
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
	return f.Close()
}
