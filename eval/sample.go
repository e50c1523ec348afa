package eval

import (
	"math/rand/v2"
	"slices"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// codesOf reads back the one-hot conditions of an input row of l: the
// column of each part's largest entry (-1 when the part is empty or all
// zero), and the source code's magnitude.
func codesOf(l fed.Layout, row []float32) fed.Codes {
	c := fed.NoCodes
	c.Domain = hot(row[l.DomainOff():l.SourceOff()])
	if c.Source = hot(row[l.SourceOff():l.ClassOff()]); c.Source >= 0 {
		c.SourceScale = row[l.SourceOff()+c.Source]
	}
	c.Class = hot(row[l.ClassOff():l.Width()])
	return c
}

// hot is the index of the largest entry of code if it is positive, else -1.
func hot(code []float32) int {
	if len(code) == 0 {
		return -1
	}
	i := slices.Index(code, slices.Max(code))
	if code[i] <= 0 {
		return -1
	}
	return i
}

// Sample draws n rows from gen: G(z) in the FR scenario (with a source
// code drawn by data share when the topology has one, see
// deploy.Latents), G(z, c_domain) in the LR scenario. z is scratch space,
// returned for reuse.
func Sample(top *config.Topology, gen *nn.Sequential, n, domain int, rng *rand.Rand, z []float32) ([]float32, []float32) {
	z = deploy.Latents(top, z, n, rng)
	l := top.GenLayout()
	if l.Domains > 0 {
		setDomain(l, z, domain)
	}
	return forward(gen, l, z), z
}

// setDomain writes the domain code d into every input row of z (rows of
// l), keeping the row's other codes.
func setDomain(l fed.Layout, z []float32, d int) {
	w := l.Width()
	for i := range len(z) / w {
		row := z[i*w : (i+1)*w]
		c := codesOf(l, row)
		c.Domain = d
		l.SetCodes(row, c)
	}
}

// forward returns a new slice of G's rows for the input rows z of l.
func forward(gen *nn.Sequential, l fed.Layout, z []float32) []float32 {
	n := len(z) / l.Width()
	out := gen.Forward(nn.Mat{Rows: n, Cols: l.Width(), Data: z})
	return append([]float32(nil), out.Data[:n*out.Cols]...)
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
