package fed

import (
	"math/rand/v2"

	"github.com/fedgan/fedgan/nn"
)

// domainLoss evaluates λ1·L_inv(G) + λ2·L_spe(G) (Eq. 8 and 9) on rows
// latent vectors z (rows×m) over all K domain codes of layout l (m =
// l.Latent, K = l.Domains), with C frozen. With a class code (l.Classes >
// 0) ys holds the class of each row, which its K domain rows share (the
// latent of the LR scenario is then (z, y)); otherwise ys is nil. When
// backprop is true it accumulates the gradient of that sum into G's
// parameter gradients. It returns the two unweighted losses.
type domainLoss struct {
	in     [][]float32 // [z, c_k, e_y] per k
	h, dh  [][]float32
	lg, dl [][]float32
}

func (d *domainLoss) eval(gen, cls *nn.Sequential, firstLayers int, z []float32, ys []int, rows int, l Layout, l1, l2 float64, backprop bool) (linv, lspe float64, err error) {
	k, cols := l.Domains, l.Width()
	code := func(c, i int) Codes { return Codes{Domain: c, Source: -1, Class: rowClass(ys, i)} }
	linv, err = d.invariant(gen, firstLayers, z, rows, l, k, code, l1, backprop)
	if err != nil {
		return 0, 0, err
	}
	d.lg = growMats(d.lg, k, rows*k)
	for c := 0; c < k; c++ {
		x := gen.Forward(nn.Mat{Rows: rows, Cols: cols, Data: d.in[c]})
		copy(d.lg[c], cls.Forward(x).Data[:rows*k])
	}
	d.dl = growMats(d.dl, k, rows*k)
	lspe, err = DomainSpecific(d.dl, d.lg, rows, k)
	if err != nil {
		return 0, 0, err
	}
	if backprop {
		for c := 0; c < k; c++ {
			x := gen.Forward(nn.Mat{Rows: rows, Cols: cols, Data: d.in[c]})
			cls.Forward(x)
			scale(d.dl[c], float32(l2))
			dx := cls.BackwardInput(nn.Mat{Rows: rows, Cols: k, Data: d.dl[c]})
			gen.Backward(dx)
		}
	}
	return linv, lspe, nil
}

// invariant evaluates Eq. 8 on rows latent vectors z over k codes of
// layout l (code(c, i) are row i's codes under the c-th: a domain, with
// the row's class in LR with a class code, or a class for RegGAN's
// regulariser), filling d.in with the rows [z, code(c, i)]; when backprop
// is true it accumulates l1·∂L_inv/∂G into G's parameter gradients. It
// returns the unweighted L_inv.
func (d *domainLoss) invariant(gen *nn.Sequential, firstLayers int, z []float32, rows int, l Layout, k int, code func(c, i int) Codes, l1 float64, backprop bool) (float64, error) {
	m, cols := l.Latent, l.Width()
	d.in = growMats(d.in, k, rows*cols)
	for c := 0; c < k; c++ {
		in := d.in[c]
		for i := 0; i < rows; i++ {
			row := in[i*cols : (i+1)*cols]
			copy(row, z[i*m:(i+1)*m])
			l.SetCodes(row, code(c, i))
		}
	}
	first := gen.Slice(0, firstLayers)
	hc := 0
	for c := 0; c < k; c++ {
		out := first.Forward(nn.Mat{Rows: rows, Cols: cols, Data: d.in[c]})
		hc = out.Cols
		d.h = growMats(d.h, k, rows*hc)
		copy(d.h[c], out.Data[:rows*hc])
	}
	d.dh = growMats(d.dh, k, rows*hc)
	linv, err := DomainInvariant(d.dh, d.h, rows, hc)
	if err != nil {
		return 0, err
	}
	if backprop {
		for c := 0; c < k; c++ {
			first.Forward(nn.Mat{Rows: rows, Cols: cols, Data: d.in[c]})
			scale(d.dh[c], float32(l1))
			first.Backward(nn.Mat{Rows: rows, Cols: hc, Data: d.dh[c]})
		}
	}
	return linv, nil
}

// rowClass is ys[i], or -1 (no class) when ys is nil.
func rowClass(ys []int, i int) int {
	if ys == nil {
		return -1
	}
	return ys[i]
}

// drawClasses draws rows classes uniformly from set (nil when set is
// empty: no class code).
func drawClasses(rng *rand.Rand, set []int, rows int) []int {
	if len(set) == 0 {
		return nil
	}
	ys := make([]int, rows)
	for i := range ys {
		ys[i] = set[rng.IntN(len(set))]
	}
	return ys
}

func growMats(m [][]float32, n, size int) [][]float32 {
	for len(m) < n {
		m = append(m, nil)
	}
	m = m[:n]
	for i := range m {
		m[i] = grow(m[i], size)
	}
	return m
}

func scale(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// domainLosses reports whether e adds the LR domain losses: LR with the
// cloud's domain classifier.
func (e *Edge) domainLosses() bool { return e.cfg.Layout.Domains > 0 && !e.cfg.NoDomainLosses }

// domainTerms adds the LR objective's gradient to G_k's (docs/DESIGN.md §2.6),
// on fresh latent rows, with the received C frozen. With a class code
// each row's class is drawn from the community's (ClassSet) and shared by
// its K domain rows.
func (e *Edge) domainTerms() {
	b := e.cfg.Batch
	z := make([]float32, b*e.cfg.Layout.Latent)
	fillNormal(z, e.rng)
	ys := drawClasses(e.rng, e.cfg.ClassSet, b)
	if e.dom == nil {
		e.dom = &domainLoss{}
	}
	linv, lspe, err := e.dom.eval(e.cfg.Gen, e.cfg.Classifier, e.cfg.FirstLayers, z, ys, b, e.cfg.Layout, e.lambda1, e.lambda2, true)
	if err != nil {
		e.note("domain losses failed: LR terms skipped", "error", err)
		return
	}
	e.stats.LInv, e.stats.LSpe = linv, lspe
}

// classTerms adds λ·∂L_inv/∂G_k over the class codes (RegGAN's
// regulariser; EdgeConfig.ClassInvariance) to G_k's gradient, on fresh
// latent rows.
func (e *Edge) classTerms() {
	b := e.cfg.Batch
	z := make([]float32, b*e.cfg.Layout.Latent)
	fillNormal(z, e.rng)
	if e.dom == nil {
		e.dom = &domainLoss{}
	}
	code := func(y, _ int) Codes { return Codes{Domain: -1, Source: -1, Class: y} }
	linv, err := e.dom.invariant(e.cfg.Gen, e.cfg.FirstLayers, z, b, e.cfg.Layout, e.cfg.Layout.Classes, code, e.cfg.ClassInvariance, true)
	if err != nil {
		e.note("class invariance failed: term skipped", "error", err)
		return
	}
	e.stats.LInv = linv
}

func fillNormal(x []float32, rng *rand.Rand) {
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
}
