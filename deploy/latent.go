package deploy

import (
	"math/rand/v2"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// Latents returns n rows of the global generator's input, reusing dst when
// it is large enough: z ~ N(0, I_m) and, in FR with a source code
// (model.source_code), the one-hot code (of magnitude
// model.source_code_scale) of a source drawn with probability
// top.SourceShares(), so that G of these rows is a sample of the mixture
// of all the communities' data. With a class-conditional G
// (model.class_code) the one-hot class is drawn with top.ClassShares().
// In the LR scenario the domain columns are left zero for the caller to
// set.
//
// Each row's z is drawn before its codes, source before class.
func Latents(top *config.Topology, dst []float32, n int, rng *rand.Rand) []float32 {
	l := top.GenLayout()
	cols := l.Width()
	if cap(dst) < n*cols {
		dst = make([]float32, n*cols)
	}
	dst = dst[:n*cols]
	shares, classes := top.SourceShares(), top.ClassShares()
	for i := range n {
		row := dst[i*cols : (i+1)*cols]
		l.Fill(row, rng, fed.NoCodes)
		c := fed.NoCodes
		if len(shares) > 0 {
			c.Source, c.SourceScale = draw(shares, rng.Float64()), float32(top.Model.SourceCodeScale)
		}
		if len(classes) > 0 {
			c.Class = draw(classes, rng.Float64())
		}
		l.SetCodes(row, c)
	}
	return dst
}

// draw returns the index i with cumulative share just above u in [0, 1).
func draw(shares []float64, u float64) int {
	for i, p := range shares {
		if u < p {
			return i
		}
		u -= p
	}
	return len(shares) - 1
}

// Sample returns n samples of the global generator gen (FR): G at
// Latents. The result is a new slice of n rows of top.Model.DataDim.
func Sample(top *config.Topology, gen *nn.Sequential, n int, rng *rand.Rand) []float32 {
	z := Latents(top, nil, n, rng)
	out := gen.Forward(nn.Mat{Rows: n, Cols: top.GenLayout().Width(), Data: z})
	return append([]float32(nil), out.Data[:n*out.Cols]...)
}

// rowCodes is the source code of each batch row position of community c's
// edge: the community's code, or with model.source_code: device one code
// per device in order (rows go to the devices in turn).
func rowCodes(top *config.Topology, c *config.Community) (codes []int, perDevice bool) {
	switch top.Model.SourceCode {
	case config.SourceCommunity:
		return []int{top.SourceCode(c.ID, 0)}, false
	case config.SourceDevice:
		for j := range c.Devices {
			codes = append(codes, top.SourceCode(c.ID, j))
		}
		return codes, true
	}
	return nil, false
}
