package eval

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
)

// LROptions tune the evaluation of a label-related topology (OpenLREval).
type LROptions struct {
	// EvalOptions are the digit classifier's (OpenImageEval's): the cache
	// folder, its settings, whether to train it, progress lines. The domain
	// classifier uses the same folder, Train and Progress.
	EvalOptions
	// DomainSettings are the domain classifier's training settings; the
	// zero value means EvalOptions.Settings.
	DomainSettings ClassifierSettings
}

// LREval is a label-related (scenario lr) topology's evaluation: the
// communities hold the same labels in different domains (MNIST and
// inverted MNIST), and G(z, c_k) takes a one-hot domain code c_k, no
// class. It holds two classifiers trained on real images:
//
//   - the digit classifier, trained on the real training images of every
//     domain with their shared labels (10 classes for MNIST + inverted
//     MNIST): it is the evaluation classifier of OpenImageEval for the
//     topology, the same cache entry;
//   - the domain classifier, trained on the same images labelled with their
//     community's domain index (K classes), cached beside it.
//
// and each domain's real test images, with the digit classifier's
// reference (features and class histogram) fitted on them.
type LREval struct {
	// Digits is the image evaluation of the whole topology: Digits.Cls is
	// the digit classifier, Digits.Ref its reference over all domains.
	Digits *ImageEval
	// DomainCls is the domain classifier and DomainInfo its cache
	// description; DomainTrained is true when this call trained it.
	DomainCls     *Classifier
	DomainInfo    *ClassifierInfo
	DomainTrained bool
	// Domains holds each domain's real test data, domain k at index k.
	Domains []LRDomain
	// RealDomainAccuracy is the domain classifier's accuracy on the real
	// test images of every domain together: the ceiling of the samples'
	// domain accuracy.
	RealDomainAccuracy float64
}

// LRDomain is one domain's real test data and the classifiers' view of it.
type LRDomain struct {
	// Communities are the ids of the communities of the domain; Sources
	// names their image sources (deploy.RealData.Names).
	Communities, Sources []string
	// Test is the domain's real test images (the training images again for
	// a source without a test split), with their digit labels.
	Test *data.Dataset
	// Ref is the digit classifier's reference on ReferenceRows of Test
	// (all of them when there are fewer): what the domain's FID and class
	// coverage are measured against.
	Ref *Reference
	// DigitAccuracy is the digit classifier's accuracy on Test;
	// DomainAccuracy the share of Test the domain classifier assigns to
	// this domain.
	DigitAccuracy, DomainAccuracy float64
}

// OpenLREval opens the evaluation of top, which must be in the LR scenario
// with image data in every domain: it opens the digit classifier as
// OpenImageEval does, loads each domain's real data (deploy.Real of its
// communities), finds the domain classifier in the cache (training and
// caching it if opts.Train, otherwise returning the *MissingError), and
// measures both classifiers on every domain's test images.
func OpenLREval(top *config.Topology, opts LROptions) (*LREval, error) {
	if top.Scenario != "lr" || top.Domains() == 0 {
		return nil, fmt.Errorf("eval: %s is not a label-related topology (scenario %q): the LR evaluation needs scenario: lr", top.Name, top.Scenario)
	}
	ie, err := OpenImageEval(top, opts.EvalOptions)
	if err != nil {
		return nil, err
	}
	le := &LREval{Digits: ie}
	reals, err := le.loadDomains(top)
	if err != nil {
		return nil, err
	}
	if err := le.openDomainClassifier(reals, opts); err != nil {
		return nil, err
	}
	return le, le.measureReal()
}

// loadDomains fills le.Domains (all but the accuracies) and returns each
// domain's real data.
func (le *LREval) loadDomains(top *config.Topology) ([]*deploy.RealData, error) {
	k := top.Domains()
	le.Domains = make([]LRDomain, k)
	reals := make([]*deploy.RealData, k)
	cls := le.Digits.Cls
	for d := range k {
		rd, ids, err := deploy.DomainReal(top, d)
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("eval: domain %d of %s has no community, so no real data to compare G(z, c_%d) with", d, top.Name, d)
		}
		le.Domains[d].Communities = ids
		if rd.Train == nil || rd.Test.Classes == 0 {
			return nil, fmt.Errorf("eval: domain %d of %s (%s) holds no labelled images", d, top.Name, strings.Join(le.Domains[d].Communities, ", "))
		}
		dom := &le.Domains[d]
		dom.Sources, dom.Test = rd.Names, rd.Test
		if dom.Ref, err = cls.Reference(rd.Test, ReferenceRows, rand.New(rand.NewPCG(ReferenceSeed, uint64(d)))); err != nil {
			return nil, fmt.Errorf("eval: domain %d: %w", d, err)
		}
		reals[d] = rd
	}
	return reals, nil
}

// openDomainClassifier finds or trains the domain classifier on the real
// training images of every domain, labelled with their domain.
func (le *LREval) openDomainClassifier(reals []*deploy.RealData, opts LROptions) error {
	dir := opts.CacheDir
	if dir == "" {
		var err error
		if dir, err = DefaultCacheDir(); err != nil {
			return err
		}
	}
	k := len(reals)
	trains, labels := make([]*data.Dataset, k), make([]int, k)
	rd := &deploy.RealData{}
	for d, r := range reals {
		trains[d], labels[d] = r.Train, d
		test, err := domainLabelled(fmt.Sprintf("domain-%d-test", d), []*data.Dataset{r.Test}, []int{d}, k)
		if err != nil {
			return err
		}
		rd.TestSets = append(rd.TestSets, test)
		rd.Names = append(rd.Names, fmt.Sprintf("domain %d (%s)", d, strings.Join(r.Names, " + ")))
	}
	var err error
	if rd.Train, err = domainLabelled("domain-train", trains, labels, k); err != nil {
		return err
	}
	s := opts.DomainSettings
	if s.isZero() {
		s = opts.Settings
	}
	eo := opts.EvalOptions
	eo.Settings = s
	eo.say("domain classifier: %d training images of %d domains", rd.Train.Len(), k)
	dc := &ImageEval{Real: rd}
	key := ClassifierKey(rd.Train, s.WithDefaults())
	if err := dc.loadClassifier(Cache{Dir: dir}, key, eo); err != nil {
		return err
	}
	le.DomainCls, le.DomainInfo, le.DomainTrained = dc.Cls, dc.Info, dc.Trained
	for d, ts := range rd.TestSets {
		if le.Domains[d].DomainAccuracy, err = dc.Cls.Accuracy(ts); err != nil {
			return err
		}
	}
	return nil
}

// measureReal fills the accuracies of both classifiers on each domain's
// real test images.
func (le *LREval) measureReal() error {
	var right float64
	rows := 0
	for d := range le.Domains {
		dom := &le.Domains[d]
		var err error
		if dom.DigitAccuracy, err = le.Digits.Cls.Accuracy(dom.Test); err != nil {
			return fmt.Errorf("eval: domain %d: %w", d, err)
		}
		right += dom.DomainAccuracy * float64(dom.Test.Len())
		rows += dom.Test.Len()
	}
	le.RealDomainAccuracy = right / float64(rows)
	return nil
}

// domainLabelled returns the rows of sets as one numeric dataset of the
// given classes in which every row of sets[i] has the label labels[i].
func domainLabelled(name string, sets []*data.Dataset, labels []int, classes int) (*data.Dataset, error) {
	n := 0
	for _, s := range sets {
		n += s.Len()
	}
	dim := sets[0].Dim
	rows := make([]float32, n*dim)
	ys := make([]int, 0, n)
	r := 0
	for i, s := range sets {
		if s.Dim != dim {
			return nil, fmt.Errorf("%w: %s has rows of %d values, %s of %d", ErrData, s.Name, s.Dim, sets[0].Name, dim)
		}
		for j := range s.Len() {
			s.Row(rows[r*dim:(r+1)*dim], j)
			ys = append(ys, labels[i])
			r++
		}
	}
	return data.NewNumeric(name, dim, rows, ys, classes)
}

// isZero says whether s is the zero value (every setting its default).
func (s ClassifierSettings) isZero() bool {
	return len(s.Hidden) == 0 && s.Epochs == 0 && s.Batch == 0 && s.LR == 0 && s.Seed == 0 && s.MaxRows == 0
}
