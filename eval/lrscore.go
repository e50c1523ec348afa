package eval

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/nn"
)

// LRReport holds the scores of a label-related generator G(z, c_k)
// (LREval.Score, docs/DESIGN.md §8.2). Every domain is scored on the same
// Samples latents z: row i of domain k is G(z_i, c_k). With a class code
// (model.class_code) the latent is (z, y): row i of domain k is G(z_i,
// c_k, y_i), the class y_i shared by the domains.
//
// The train-on-synthetic accuracy per domain (LRDomainReport.TSTR) is
// LREval.TSTR's, for a generator with a class code.
type LRReport struct {
	// Samples is the number of latents z drawn, and of rows per domain.
	Samples int `json:"samples"`
	// ClassCode is the number of classes of G's class code
	// (model.class_code; 0: none, and the class scores are left out).
	ClassCode int `json:"class_code,omitempty"`
	// Domains holds each domain's scores, domain k at index k.
	Domains []LRDomainReport `json:"domains"`
	// Agreement is the cross-domain label agreement: the share of the z
	// whose K samples G(z, c_1) … G(z, c_K) the digit classifier assigns
	// one and the same label. It is 1 when one z draws the same digit in
	// every domain (the paper's Fig. 5), and in [0, 1]. Read it with
	// DomainAccuracy: a G that ignores the domain code draws the same
	// image in every domain and agrees trivially (an untrained G does,
	// nearly), which AgreementInDomain does not count.
	Agreement float64 `json:"label_agreement"`
	// AgreementInDomain is the share of the z whose K samples are each
	// assigned their own domain by the domain classifier and all one
	// label by the digit classifier: 1 for the paper's Fig. 5, at most
	// Agreement.
	AgreementInDomain float64 `json:"label_agreement_in_domain"`
	// ChanceAgreement is Σ_y Π_k h_k(y), h_k the histogram of domain k's
	// labels (its Scores.Hist): what Agreement would be if each domain drew
	// its labels independently of z with the same histograms. Agreement
	// says that z decides the label only where it exceeds this (a G that
	// draws one class everywhere agrees by chance, ChanceAgreement 1).
	ChanceAgreement float64 `json:"chance_agreement"`
	// ChanceGivenClass, with a class code only, is Σ_y p(y) Σ_c Π_k
	// h_k(c | y), h_k(· | y) the histogram of domain k's labels among the
	// samples drawn with class y: what Agreement would be if each domain
	// drew its label from the class alone, independently of z. With a class
	// code the class is part of the shared latent, so ChanceAgreement (near
	// 1/10 for ten balanced classes) says little; Agreement above
	// ChanceGivenClass says that z, beyond y, ties the digit across the
	// domains, and ChanceGivenClass near 1 that y alone does (the domains
	// draw the class asked for, LRDomainReport.ClassAccuracy).
	ChanceGivenClass float64 `json:"chance_agreement_given_class,omitempty"`
	// PairAgreement[k][k'] is the share of the z whose samples in domains
	// k and k' get the same label (symmetric, 1 on the diagonal).
	PairAgreement [][]float64 `json:"pair_agreement"`
	// DomainAccuracy is the share of all K·Samples samples that the domain
	// classifier assigns to the domain whose code they were drawn with:
	// whether G draws the domain it is asked for.
	DomainAccuracy float64 `json:"domain_accuracy"`
	// RealDomainAccuracy is the domain classifier's accuracy on the real
	// test images of every domain: the ceiling of DomainAccuracy.
	RealDomainAccuracy float64 `json:"real_domain_accuracy"`
}

// LRDomainReport is one domain's part of an LRReport.
type LRDomainReport struct {
	// Domain is the domain index k; Sources names its real images.
	Domain  int      `json:"domain"`
	Sources []string `json:"sources"`
	// Scores are the FID, IS, class coverage and class KL of the Samples
	// rows G(z, c_k) against this domain's real test images (its
	// LRDomain.Ref), on the digit classifier: FID and IS as
	// ImageEval.Score computes them over all data. TSTR and Acc stay 0.
	Scores Report `json:"scores"`
	// DomainAccuracy is the share of the domain's samples that the domain
	// classifier assigns to it.
	DomainAccuracy float64 `json:"domain_accuracy"`
	// ClassAccuracy, with a class code only, is the share of the domain's
	// samples G(z, c_k, y) that the digit classifier assigns to y: whether G
	// draws the class it is asked for in this domain (the paper's "Acc").
	ClassAccuracy float64 `json:"class_accuracy,omitempty"`
	// TSTR, with a class code only and when LREval.TSTR has filled it,
	// is the accuracy on the domain's real test images of a classifier
	// trained on samples G(z, c_k, y) labelled y (0: not measured).
	TSTR float64 `json:"tstr_accuracy,omitempty"`
	// RealDigitAccuracy is the digit classifier's accuracy on the domain's
	// real test images, RealDomainAccuracy the domain classifier's: how far
	// the scores of this domain can be trusted.
	RealDigitAccuracy  float64 `json:"real_digit_accuracy"`
	RealDomainAccuracy float64 `json:"real_domain_accuracy"`
}

// String is a summary: one line for the cross-domain scores, then one per
// domain.
func (r LRReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "label agreement %.4f (chance %.4f, in domain %.4f)  domain accuracy %.4f (real %.4f)  (%d latents)",
		r.Agreement, r.ChanceAgreement, r.AgreementInDomain, r.DomainAccuracy, r.RealDomainAccuracy, r.Samples)
	if r.ClassCode > 0 {
		fmt.Fprintf(&b, "  chance given the class %.4f", r.ChanceGivenClass)
	}
	for _, d := range r.Domains {
		fmt.Fprintf(&b, "\ndomain %d %v: %s  domain accuracy %.4f", d.Domain, d.Sources, d.Scores, d.DomainAccuracy)
		if r.ClassCode > 0 {
			fmt.Fprintf(&b, "  class accuracy %.4f", d.ClassAccuracy)
		}
		if d.TSTR > 0 {
			fmt.Fprintf(&b, "  TSTR %.4f", d.TSTR)
		}
		fmt.Fprintf(&b, "  (real: digits %.4f, domain %.4f)", d.RealDigitAccuracy, d.RealDomainAccuracy)
	}
	return b.String()
}

// Score scores the LR generator gen of top on n latents z drawn with rng
// (deploy.Latents), each passed through G with every domain code: the
// per-domain scores, the cross-domain label agreement and the samples'
// domain accuracy (see LRReport). The same rng state gives the same
// report. It returns an error if top's domains or gen's widths do not
// match the evaluation, if n < 2, or (wrapping ErrData) if G's rows hold
// NaN or ±Inf.
func (le *LREval) Score(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand) (LRReport, error) {
	k, l := len(le.Domains), top.GenLayout()
	if l.Domains != k {
		return LRReport{}, fmt.Errorf("eval: %s has %d domain codes, the LR evaluation %d domains", top.Name, l.Domains, k)
	}
	if gen.InDim() != l.Width() || gen.OutDim() != le.Digits.Cls.Dim() {
		return LRReport{}, fmt.Errorf("eval: the generator maps %d inputs to %d values; %s gives %d inputs and the classifiers take %d values",
			gen.InDim(), gen.OutDim(), top.Name, l.Width(), le.Digits.Cls.Dim())
	}
	if n < 2 {
		return LRReport{}, fmt.Errorf("eval: the LR scores need at least 2 latents, got %d", n)
	}
	if l.Classes > 0 && l.Classes != le.Digits.Cls.Classes {
		return LRReport{}, fmt.Errorf("eval: model.class_code is %d, the digit classifier has %d classes", l.Classes, le.Digits.Cls.Classes)
	}
	z := deploy.Latents(top, nil, n, rng)
	var ys []int // each latent's class (nil without a class code)
	if l.Classes > 0 {
		ys = classLabels(l, z)
	}
	zk := make([]float32, len(z))
	rep := LRReport{Samples: n, ClassCode: l.Classes, Domains: make([]LRDomainReport, k), RealDomainAccuracy: le.RealDomainAccuracy}
	labels, hists := make([][]int, k), make([][]float64, k)
	inDomain := make([]bool, n) // z_i's samples are all in their domains
	for i := range inDomain {
		inDomain[i] = true
	}
	for d := range k {
		copy(zk, z)
		setDomain(l, zk, d)
		var err error
		if rep.Domains[d], labels[d], err = le.scoreDomain(d, forward(gen, l, zk), inDomain); err != nil {
			return LRReport{}, err
		}
		rep.Domains[d].ClassAccuracy = classAccuracy(labels[d], ys)
		hists[d] = rep.Domains[d].Scores.Hist
		rep.DomainAccuracy += rep.Domains[d].DomainAccuracy / float64(k)
	}
	rep.Agreement, rep.PairAgreement = agreement(labels)
	rep.ChanceAgreement = chanceAgreement(hists)
	rep.ChanceGivenClass = chanceGivenClass(labels, ys)
	both := 0
	for i, ok := range inDomain {
		if ok && sameLabel(labels, i) {
			both++
		}
	}
	rep.AgreementInDomain = float64(both) / float64(n)
	return rep, nil
}

// TSTR is the train-on-synthetic, test-on-real accuracy of an LR
// generator with a class code (model.class_code), per domain: for each
// domain k a classifier with the digit classifier's settings is trained
// on n rows G(z, c_k, y), each labelled with the class y it was drawn with
// (deploy.Latents), and scored on domain k's real test images. Domain k's
// accuracy is at index k. It returns an error without a class code.
// progress, if not nil, is called after every training epoch.
func (le *LREval) TSTR(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand, progress func(domain, epoch int, loss float64)) ([]float64, error) {
	l := top.GenLayout()
	if l.Classes == 0 {
		return nil, fmt.Errorf("eval: a train-on-synthetic accuracy needs a class-conditional generator (model.class_code)")
	}
	if l.Domains != len(le.Domains) || l.Classes != le.Digits.Cls.Classes || gen.InDim() != l.Width() {
		return nil, fmt.Errorf("eval: %s: %d domain codes and %d classes into %d inputs; the LR evaluation has %d domains and %d digit classes, the generator %d inputs",
			top.Name, l.Domains, l.Classes, l.Width(), len(le.Domains), le.Digits.Cls.Classes, gen.InDim())
	}
	z := deploy.Latents(top, nil, n, rng)
	ys := classLabels(l, z)
	accs := make([]float64, len(le.Domains))
	for d := range le.Domains {
		setDomain(l, z, d)
		syn, err := data.NewNumeric("synthetic", top.Model.DataDim, forward(gen, l, z), ys, l.Classes)
		if err != nil {
			return nil, err
		}
		var epochs func(int, float64)
		if progress != nil {
			epochs = func(e int, loss float64) { progress(d, e, loss) }
		}
		cls, err := TrainClassifier(syn, le.Digits.Cls.Settings, epochs)
		if err != nil {
			return nil, fmt.Errorf("eval: domain %d: %w", d, err)
		}
		if accs[d], err = cls.Accuracy(le.Domains[d].Test); err != nil {
			return nil, fmt.Errorf("eval: domain %d: %w", d, err)
		}
	}
	return accs, nil
}

// AddTSTR fills rep's train-on-synthetic accuracy per domain
// (LRDomainReport.TSTR, TSTR on n labelled samples of each domain) when
// top's generator has a class code; without one it leaves rep as it is.
func (le *LREval) AddTSTR(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand, rep *LRReport) error {
	if top.Model.ClassCode == 0 {
		return nil
	}
	accs, err := le.TSTR(top, gen, n, rng, nil)
	if err != nil {
		return err
	}
	for d, a := range accs {
		rep.Domains[d].TSTR = a
	}
	return nil
}

// sameLabel says whether every row of labels holds one value at column i.
func sameLabel(labels [][]int, i int) bool {
	for _, row := range labels {
		if row[i] != labels[0][i] {
			return false
		}
	}
	return true
}

// scoreDomain scores the rows x = G(z, c_d) against domain d and returns
// their digit labels; it clears inDomain[i] when the domain classifier
// does not assign row i to d.
func (le *LREval) scoreDomain(d int, x []float32, inDomain []bool) (LRDomainReport, []int, error) {
	dom := &le.Domains[d]
	sc, err := le.Digits.Cls.Score(dom.Ref, x)
	if err != nil {
		return LRDomainReport{}, nil, fmt.Errorf("eval: domain %d: %w", d, err)
	}
	r := LRDomainReport{Domain: d, Sources: dom.Sources, Scores: sc,
		RealDigitAccuracy: dom.DigitAccuracy, RealDomainAccuracy: dom.DomainAccuracy}
	doms := le.DomainCls.predict(x)
	for i, y := range doms {
		if y == d {
			r.DomainAccuracy++
		} else {
			inDomain[i] = false
		}
	}
	r.DomainAccuracy /= float64(len(doms))
	return r, le.Digits.Cls.predict(x), nil
}

// predict returns the most likely class of each row of x.
func (c *Classifier) predict(x []float32) []int {
	c.checkRows(x)
	out := make([]int, len(x)/c.Dim())
	c.run(c.Net, x, func(first int, logits nn.Mat) {
		for r := range logits.Rows {
			out[first+r] = argmax(logits.Row(r))
		}
	})
	return out
}

// agreement returns the share of the columns i at which every row of
// labels (one row per domain, all of one length) holds the same value,
// and the share for each pair of rows (symmetric, 1 on the diagonal).
// Both are 0 for rows of no columns.
func agreement(labels [][]int) (all float64, pair [][]float64) {
	k := len(labels)
	pair = make([][]float64, k)
	for a := range pair {
		pair[a] = make([]float64, k)
	}
	if k == 0 || len(labels[0]) == 0 {
		return 0, pair
	}
	n := len(labels[0])
	for i := range n {
		same := true
		for a := range k {
			for b := a; b < k; b++ {
				if labels[a][i] == labels[b][i] {
					pair[a][b]++
				} else {
					same = false
				}
			}
		}
		if same {
			all++
		}
	}
	for a := range k {
		for b := a; b < k; b++ {
			pair[a][b] /= float64(n)
			pair[b][a] = pair[a][b]
		}
	}
	return all / float64(n), pair
}

// chanceAgreement is Σ_y Π_k hists[k][y]: the chance that K independent
// draws, one from each histogram, agree. It is 0 for no histograms.
func chanceAgreement(hists [][]float64) float64 {
	if len(hists) == 0 {
		return 0
	}
	var s float64
	for y := range hists[0] {
		p := 1.0
		for _, h := range hists {
			p *= h[y]
		}
		s += p
	}
	return s
}

// classAccuracy is the share of the rows whose label is their class ys[i];
// 0 without classes (ys nil).
func classAccuracy(labels, ys []int) float64 {
	if len(ys) == 0 {
		return 0
	}
	right := 0
	for i, y := range ys {
		if labels[i] == y {
			right++
		}
	}
	return float64(right) / float64(len(ys))
}

// chanceGivenClass is Σ_y p(y) Σ_c Π_k h_k(c | y) over the columns i of
// labels (one row per domain), grouped by their class ys[i]: what
// agreement would be if each domain drew its label from the class alone
// (LRReport.ChanceGivenClass). It is 0 without classes (ys nil).
func chanceGivenClass(labels [][]int, ys []int) float64 {
	if len(ys) == 0 || len(labels) == 0 {
		return 0
	}
	byClass := map[int][]int{}
	for i, y := range ys {
		byClass[y] = append(byClass[y], i)
	}
	n := labelCount(labels)
	var s float64
	for _, y := range slices.Sorted(maps.Keys(byClass)) { // one order: one sum
		cols := byClass[y]
		hists := make([][]float64, len(labels))
		for k, row := range labels {
			hists[k] = make([]float64, n)
			for _, i := range cols {
				hists[k][row[i]] += 1 / float64(len(cols))
			}
		}
		s += float64(len(cols)) / float64(len(ys)) * chanceAgreement(hists)
	}
	return s
}

// labelCount is one more than the largest label in labels.
func labelCount(labels [][]int) int {
	n := 0
	for _, row := range labels {
		for _, c := range row {
			n = max(n, c+1)
		}
	}
	return n
}
