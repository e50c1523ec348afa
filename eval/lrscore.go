package eval

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/nn"
)

// LRReport holds the scores of a label-related generator G(z, c_k)
// (LREval.Score, docs/DESIGN.md §8.2). Every domain is scored on the same
// Samples latents z: row i of domain k is G(z_i, c_k).
//
// There is no train-on-synthetic accuracy (TSTR) and no "Acc" per domain:
// both need the class a sample was drawn with, and an LR G takes a domain
// code, not a class.
type LRReport struct {
	// Samples is the number of latents z drawn, and of rows per domain.
	Samples int `json:"samples"`
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
	for _, d := range r.Domains {
		fmt.Fprintf(&b, "\ndomain %d %v: %s  domain accuracy %.4f  (real: digits %.4f, domain %.4f)",
			d.Domain, d.Sources, d.Scores, d.DomainAccuracy, d.RealDigitAccuracy, d.RealDomainAccuracy)
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
	z := deploy.Latents(top, nil, n, rng)
	zk := make([]float32, len(z))
	rep := LRReport{Samples: n, Domains: make([]LRDomainReport, k), RealDomainAccuracy: le.RealDomainAccuracy}
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
		hists[d] = rep.Domains[d].Scores.Hist
		rep.DomainAccuracy += rep.Domains[d].DomainAccuracy / float64(k)
	}
	rep.Agreement, rep.PairAgreement = agreement(labels)
	rep.ChanceAgreement = chanceAgreement(hists)
	both := 0
	for i, ok := range inDomain {
		if ok && sameLabel(labels, i) {
			both++
		}
	}
	rep.AgreementInDomain = float64(both) / float64(n)
	return rep, nil
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
