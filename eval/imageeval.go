package eval

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// EvalOptions tune the evaluation of image topologies; the zero value is
// what the cloud service uses.
type EvalOptions struct {
	// CacheDir holds the evaluation classifiers; default
	// DefaultCacheDir() ($FEDGAN_CACHE or ~/.cache/fedgan/eval).
	CacheDir string
	// Settings are the classifier's training settings (part of its cache
	// key); the zero value means the defaults.
	Settings ClassifierSettings
	// Train trains and caches a missing classifier (minutes for MNIST +
	// Fashion-MNIST). Without it a missing classifier is reported in every
	// evaluation's "eval_error" and only sample grids are written: the
	// cloud never blocks a round on training one.
	Train bool
	// Progress, if not nil, receives a line per step of loading or
	// training the classifier.
	Progress func(string)
}

// ImageEval is an image topology's evaluation: its real data, its
// evaluation classifier and the reference statistics of ReferenceRows
// real test images.
type ImageEval struct {
	Real *deploy.RealData
	Cls  *Classifier
	Info *ClassifierInfo
	Ref  *Reference
	// Trained is true when the classifier was trained by this call.
	Trained bool
}

// ReferenceSeed fixes which real test images make up the reference, so
// that every run of a scenario is compared with the same images.
const ReferenceSeed = 0x72656631 // "ref1"

// OpenImageEval loads top's real data, finds its evaluation classifier in
// the cache (training and caching it if opts.Train, otherwise returning
// the *MissingError) and fits the reference.
func OpenImageEval(top *config.Topology, opts EvalOptions) (*ImageEval, error) {
	dir := opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	rd, err := deploy.Real(top)
	if err != nil {
		return nil, err
	}
	if rd.Train == nil {
		return nil, fmt.Errorf("eval: %s holds no image data: FID, IS and the class scores are for image models (a Gaussian mixture is scored by its modes covered and high-quality share, in the progress lines and metrics.jsonl of its run, and drawn by fedgan sample -m MODEL -c CONFIG)", top.Name)
	}
	if rd.Train.Classes == 0 {
		return nil, fmt.Errorf("eval: the image data of %s has no labels: no classifier, only sample grids", top.Name)
	}
	opts.say("real data: %d training and %d test images of %d classes from %v", rd.Train.Len(), rd.Test.Len(), rd.Train.Classes, rd.Names)
	ie := &ImageEval{Real: rd}
	key := ClassifierKey(rd.Train, opts.Settings.WithDefaults())
	if err := ie.loadClassifier(Cache{Dir: dir}, key, opts); err != nil {
		return nil, err
	}
	opts.say("evaluation classifier %.16s… (%s)", key, filepath.Join(dir, "classifier-"+key[:16]+".nnw"))
	ie.Ref, err = ie.Cls.Reference(rd.Test, ReferenceRows, rand.New(rand.NewPCG(ReferenceSeed, 0)))
	if err != nil {
		return nil, err
	}
	return ie, nil
}

// say reports one step to o.Progress.
func (o EvalOptions) say(format string, args ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, args...))
	}
}

// loadClassifier finds the classifier of key in cache, or, if it is
// missing and opts.Train, trains it on ie.Real and caches it with its
// test accuracies.
func (ie *ImageEval) loadClassifier(cache Cache, key string, opts EvalOptions) error {
	var err error
	ie.Cls, ie.Info, err = cache.Load(key)
	if !errors.Is(err, ErrNoClassifier) || !opts.Train {
		return err
	}
	rd, s := ie.Real, opts.Settings.WithDefaults()
	opts.say("training the evaluation classifier (key %.16s…, %d epochs over %d rows); it is cached in %s", key, s.Epochs, rd.Train.Len(), cache.Dir)
	ie.Cls, err = TrainClassifier(rd.Train, s, func(epoch int, loss float64) { opts.say("epoch %d/%d: loss %.4f", epoch, s.Epochs, loss) })
	if err != nil {
		return err
	}
	info := ClassifierInfo{Rows: rd.Train.Len(), Sources: rd.Names, Accuracy: map[string]float64{}}
	for i, ts := range rd.TestSets {
		acc, err := ie.Cls.Accuracy(ts)
		if err != nil {
			return err
		}
		info.Accuracy[rd.Names[i]] = acc
	}
	if err := cache.Save(ie.Cls, info); err != nil {
		return err
	}
	info.Key, info.Settings, info.Dim, info.Classes = ie.Cls.Key, ie.Cls.Settings, ie.Cls.Dim(), ie.Cls.Classes
	ie.Info, ie.Trained = &info, true
	return nil
}

// Score scores generated rows against the reference.
func (ie *ImageEval) Score(x []float32) (Report, error) {
	return ie.Cls.Score(ie.Ref, x)
}

// RealTraining draws n real training images (the classifier has seen
// them, the reference test images it has not): what a perfect generator
// would produce, which gives the floor of FID at n samples.
func (ie *ImageEval) RealTraining(n int, seed uint64) ([]float32, error) {
	tr := ie.Real.Train
	if n > tr.Len() {
		return nil, fmt.Errorf("eval real: %d samples asked, %d training images", n, tr.Len())
	}
	idx := rand.New(rand.NewPCG(seed, 0)).Perm(tr.Len())[:n]
	x := make([]float32, n*tr.Dim)
	tr.Rows(x, idx)
	return x, nil
}

// TSTR is the train-on-synthetic, test-on-real accuracy of a
// class-conditional G (model.class_code): a classifier with the
// evaluation classifier's settings is trained on n rows of gen, each
// labelled with the class it was drawn with (deploy.Latents), and scored
// on all the real test images. It returns an error without a class code.
// progress, if not nil, is called after every training epoch.
func (ie *ImageEval) TSTR(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand, progress func(epoch int, loss float64)) (float64, error) {
	syn, err := ie.labelled(top, gen, n, rng)
	if err != nil {
		return 0, err
	}
	cls, err := TrainClassifier(syn, ie.Cls.Settings, progress)
	if err != nil {
		return 0, err
	}
	return cls.Accuracy(ie.Real.Test)
}

// Acc is the paper's "Acc" for a class-conditional G: the share of n rows
// of G(z, y) that the evaluation classifier (trained on real images)
// assigns to the class y they were drawn with. It says whether G draws
// the class it is asked for; an unconditional G has no y to compare
// with, and Acc returns an error for it, as TSTR does.
func (ie *ImageEval) Acc(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand) (float64, error) {
	syn, err := ie.labelled(top, gen, n, rng)
	if err != nil {
		return 0, err
	}
	return ie.Cls.Accuracy(syn)
}

// labelled draws n rows of a class-conditional gen, each labelled with
// the class it was drawn with.
func (ie *ImageEval) labelled(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand) (*data.Dataset, error) {
	c := top.Model.ClassCode
	if c == 0 {
		return nil, fmt.Errorf("eval: a labelled sample needs a class-conditional generator (model.class_code)")
	}
	if c != ie.Real.Test.Classes {
		return nil, fmt.Errorf("eval: model.class_code is %d, the real test images have %d classes", c, ie.Real.Test.Classes)
	}
	l := top.GenLayout()
	z := deploy.Latents(top, nil, n, rng)
	labels := classLabels(l, z)
	out := gen.Forward(nn.Mat{Rows: n, Cols: l.Width(), Data: z})
	return data.NewNumeric("synthetic", top.Model.DataDim, out.Data[:n*out.Cols], labels, c)
}

// classLabels are the classes of the input rows z of l: the column of
// each row's one-hot class code (-1 for a row without one).
func classLabels(l fed.Layout, z []float32) []int {
	w := l.Width()
	labels := make([]int, len(z)/w)
	for i := range labels {
		labels[i] = slices.Index(z[i*w+l.ClassOff():(i+1)*w], 1) // the one-hot class Latents drew
	}
	return labels
}

// ReportMap is rep as the keys of metrics.jsonl and the status: fid, is,
// classes, classes_covered, class_kl, samples, histogram.
func ReportMap(rep Report) map[string]any {
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

// MixtureMap is rep as the keys of metrics.jsonl and the status: samples,
// modes, modes_covered, high_quality, reverse_kl.
func MixtureMap(rep MixtureReport) map[string]any {
	return map[string]any{
		"samples": rep.Samples, "modes": rep.Modes, "modes_covered": rep.Covered,
		"high_quality": rep.HighQuality, "reverse_kl": finiteOrNil(rep.ReverseKL),
	}
}

// finiteOrNil is v, or nil (JSON null) when v is NaN or infinite.
func finiteOrNil(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}
