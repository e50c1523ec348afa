package fed

import (
	"math/rand/v2"

	"github.com/fedgan/fedgan/nn"
)

// domainLoss evaluates λ1·L_inv(G) + λ2·L_spe(G) (Eq. 8 and 9) on rows
// latent vectors z (rows×m) over all K domain codes of layout l (m =
// l.Latent, K = l.Domains), with C frozen. When
// backprop is true it accumulates the gradient of that sum into G's
// parameter gradients. It returns the two unweighted losses.
type domainLoss struct {
	in     [][]float32 // [z, c_k] per k
	h, dh  [][]float32
	lg, dl [][]float32
}

func (d *domainLoss) eval(gen, cls *nn.Sequential, firstLayers int, z []float32, rows int, l Layout, l1, l2 float64, backprop bool) (linv, lspe float64, err error) {
	m, k, cols := l.Latent, l.Domains, l.Width()
	d.in = growMats(d.in, k, rows*cols)
	for c := 0; c < k; c++ {
		in := d.in[c]
		for i := 0; i < rows; i++ {
			row := in[i*cols : (i+1)*cols]
			copy(row, z[i*m:(i+1)*m])
			l.SetCodes(row, Codes{Domain: c, Source: -1, Class: -1})
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
	linv, err = DomainInvariant(d.dh, d.h, rows, hc)
	if err != nil {
		return 0, 0, err
	}
	if backprop {
		for c := 0; c < k; c++ {
			first.Forward(nn.Mat{Rows: rows, Cols: cols, Data: d.in[c]})
			scale(d.dh[c], float32(l1))
			first.Backward(nn.Mat{Rows: rows, Cols: hc, Data: d.dh[c]})
		}
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
// on fresh latent rows, with the received C frozen.
func (e *Edge) domainTerms() {
	b := e.cfg.Batch
	z := make([]float32, b*e.cfg.Layout.Latent)
	fillNormal(z, e.rng)
	if e.dom == nil {
		e.dom = &domainLoss{}
	}
	linv, lspe, err := e.dom.eval(e.cfg.Gen, e.cfg.Classifier, e.cfg.FirstLayers, z, b, e.cfg.Layout, e.lambda1, e.lambda2, true)
	if err != nil {
		e.note("domain losses failed: LR terms skipped", "error", err)
		return
	}
	e.stats.LInv, e.stats.LSpe = linv, lspe
}

func fillNormal(x []float32, rng *rand.Rand) {
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
}
