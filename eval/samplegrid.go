package eval

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/nn"
)

// GridSide is the number of rows and columns of the sample grids.
const GridSide = 10

// GridLatents returns n generator inputs drawn from a fixed stream (the
// same for every run and round): deploy.Latents and, in the LR scenario,
// the domain code of grid row r set to r mod K; with an FR source code,
// grid row r uses source r mod (number of codes); with a class-conditional
// G, the classes that G draws (ClassShares > 0) share the n cells in
// order, in runs of equal length (5 cells per class for 20 classes in a
// 10×10 grid).
func GridLatents(top *config.Topology, n int) []float32 {
	z := deploy.Latents(top, nil, n, gridRNG())
	l := top.GenLayout()
	var ys []int
	for y, p := range top.ClassShares() {
		if p > 0 {
			ys = append(ys, y)
		}
	}
	w := l.Width()
	for i := range n {
		row := z[i*w : (i+1)*w]
		c := codesOf(l, row)
		if l.Domains > 0 {
			c.Domain = (i / GridSide) % l.Domains
		}
		if l.SourceCodes > 0 {
			c.Source = (i / GridSide) % l.SourceCodes
		}
		if len(ys) > 0 {
			c.Class = ys[i*len(ys)/n]
		}
		l.SetCodes(row, c)
	}
	return z
}

// gridRNG is the fixed stream the grids' latents are drawn from, the
// same for every run and round.
func gridRNG() *rand.Rand { return rand.New(rand.NewPCG(0x67726964, 1)) } // "grid"

// GridPNG draws G(z) for the inputs z as a PNG grid of GridSide columns of
// square images of DataDim pixels (28×28 for MNIST), at scale 2. It
// returns an error if DataDim is not a square.
func GridPNG(w io.Writer, top *config.Topology, gen *nn.Sequential, z []float32) error {
	return gridPNG(w, top, gen, z, GridSide)
}

// gridPNG draws G(z) for the inputs z as a PNG grid of cols columns.
func gridPNG(w io.Writer, top *config.Topology, gen *nn.Sequential, z []float32, cols int) error {
	in := gen.InDim()
	out := gen.Forward(nn.Mat{Rows: len(z) / in, Cols: in, Data: z})
	side, ok := squareSide(top.Model.DataDim)
	if !ok {
		return fmt.Errorf("eval: rows of %d values are not square images", top.Model.DataDim)
	}
	return Grid(w, out.Data[:out.Rows*out.Cols], side, side, cols, 2)
}

// squareSide returns the side of a square of dim pixels, and whether dim
// is a square.
func squareSide(dim int) (int, bool) {
	side := int(math.Round(math.Sqrt(float64(dim))))
	return side, side*side == dim
}

// IsSquare says whether rows of dim values are square images, which
// GridPNG can draw.
func IsSquare(dim int) bool {
	_, ok := squareSide(dim)
	return ok
}

// WriteGridFile writes the grid of GridLatents (GridSide × GridSide
// samples of gen) as a PNG file, creating its folder.
func WriteGridFile(path string, top *config.Topology, gen *nn.Sequential) error {
	var buf bytes.Buffer
	if err := GridPNG(&buf, top, gen, GridLatents(top, GridSide*GridSide)); err != nil {
		return err
	}
	return writeFile(path, buf.Bytes())
}

// LRGridLatents returns the inputs of an LR topology's Fig. 5 grid:
// columns latents z_0 … z_{columns−1} drawn from the fixed grid stream
// (deploy.Latents), repeated in K rows with the domain code of row k set
// to k, so that input k·columns + j is [z_j, c_k]. With a class code
// (model.class_code) the latent of column j is (z_j, y_j), y_j = j mod
// the number of classes (every class in turn), shared by the K rows. It
// returns an error if top is not in the LR scenario or columns < 1.
func LRGridLatents(top *config.Topology, columns int) ([]float32, error) {
	l := top.GenLayout()
	if l.Domains == 0 {
		return nil, fmt.Errorf("eval: %s is not a label-related topology (scenario %q): its G takes no domain code, so it has no grid of one row per domain", top.Name, top.Scenario)
	}
	if columns < 1 {
		return nil, fmt.Errorf("eval: a grid of %d columns", columns)
	}
	z := deploy.Latents(top, nil, columns, gridRNG())
	if l.Classes > 0 {
		w := l.Width()
		for j := range columns {
			l.SetCodes(z[j*w:(j+1)*w], fed.Codes{Domain: -1, Source: -1, Class: j % l.Classes})
		}
	}
	out := make([]float32, 0, l.Domains*len(z))
	for k := range l.Domains {
		row := append([]float32(nil), z...)
		setDomain(l, row, k)
		out = append(out, row...)
	}
	return out, nil
}

// LRGridPNG draws an LR topology's Fig. 5 grid as a PNG: one row per
// domain k and one column per latent z_j of LRGridLatents, cell (k, j)
// being G(z_j, c_k), so that each column shows what one z draws in every
// domain (the same digit, when G keeps the label across domains). It
// returns an error if top is not in the LR scenario, columns < 1 or the
// rows are not square images.
func LRGridPNG(w io.Writer, top *config.Topology, gen *nn.Sequential, columns int) error {
	z, err := LRGridLatents(top, columns)
	if err != nil {
		return err
	}
	return gridPNG(w, top, gen, z, columns)
}

// WriteLRGridFile writes LRGridPNG's grid as a PNG file, creating its
// folder.
func WriteLRGridFile(path string, top *config.Topology, gen *nn.Sequential, columns int) error {
	var buf bytes.Buffer
	if err := LRGridPNG(&buf, top, gen, columns); err != nil {
		return err
	}
	return writeFile(path, buf.Bytes())
}

// writeFile writes b to path atomically, creating its folder.
func writeFile(path string, b []byte) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return atomicfile.Write(path, b, 0o644)
}
