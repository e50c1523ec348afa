package eval

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fedgan/fedgan/data"
)

// Series is one named line of a Chart.
type Series struct {
	Name string
	X, Y []float64
}

// Chart is a line chart over rounds (loss.png, quality.png).
type Chart struct {
	Title, XLabel, YLabel string
	Series                []Series
	// Width and Height in pixels; zero means 720×432.
	Width, Height int
}

// palette is Okabe and Ito's colour-blind-safe set.
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{86, 180, 233, 255},
	color.RGBA{0, 0, 0, 255}, color.RGBA{240, 228, 66, 255},
}

// WritePNG draws c as a PNG with labelled axes, a title, a grid and a
// legend. Points with a non-finite Y are left out (a gap, not a spike).
func (c Chart) WritePNG(w io.Writer) error {
	p := plot.New()
	p.Title.Padding = vg.Points(6)
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = c.Title, c.XLabel, c.YLabel
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	legend := 0
	for i, s := range c.Series {
		var xy plotter.XYs
		for j := range min(len(s.X), len(s.Y)) {
			if !math.IsNaN(s.Y[j]) && !math.IsInf(s.Y[j], 0) {
				xy = append(xy, plotter.XY{X: s.X[j], Y: s.Y[j]})
			}
		}
		if len(xy) == 0 {
			continue
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return fmt.Errorf("eval: chart %q, series %q: %w", c.Title, s.Name, err)
		}
		l.Color = palette[i%len(palette)]
		l.Width = vg.Points(1.2)
		p.Add(l)
		if s.Name != "" {
			p.Legend.Add(s.Name, l)
			legend++
		}
		if len(xy) == 1 { // one point draws no line: mark it
			sc, _ := plotter.NewScatter(xy)
			sc.Color = l.Color
			p.Add(sc)
		}
	}
	roomForLegend(p, legend)
	width, height := c.Width, c.Height
	if width == 0 || height == 0 {
		width, height = 720, 432
	}
	return writePlot(w, p, width, height)
}

// roomForLegend raises the top of p's y axis so that a legend of n
// entries in the top corner sits above the data instead of over it.
func roomForLegend(p *plot.Plot, n int) {
	if n == 0 || !(p.Y.Max > p.Y.Min) {
		return
	}
	p.Y.Max += (p.Y.Max - p.Y.Min) * 0.09 * float64(n)
}

// writePlot renders p as a PNG of width×height pixels.
func writePlot(w io.Writer, p *plot.Plot, width, height int) error {
	const dpi = 96
	canvas := vgimg.NewWith(vgimg.UseWH(vg.Length(width)*vg.Inch/dpi, vg.Length(height)*vg.Inch/dpi), vgimg.UseDPI(dpi))
	p.Draw(draw.New(canvas))
	_, err := vgimg.PngCanvas{Canvas: canvas}.WriteTo(w)
	return err
}

// ScatterPlot draws the first two coordinates of points (dim values each)
// over the mixture m: each mode's mean as a cross and its 3σ circle, the
// samples as dots, with axes, a grid and title (e.g. the round and its
// scores). size is the side in pixels.
func ScatterPlot(w io.Writer, m *data.Mixture, points []float32, dim, size int, title string) error {
	if dim < 2 {
		return fmt.Errorf("eval: a scatter plot needs 2 dimensions, got %d", dim)
	}
	p := plot.New()
	p.Title.Padding = vg.Points(6)
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, "x₁", "x₂"
	p.Add(plotter.NewGrid())
	var xy plotter.XYs
	for i := 0; i+dim <= len(points); i += dim {
		x, y := float64(points[i]), float64(points[i+1])
		if !math.IsNaN(x) && !math.IsNaN(y) && !math.IsInf(x, 0) && !math.IsInf(y, 0) {
			xy = append(xy, plotter.XY{X: x, Y: y})
		}
	}
	var means plotter.XYs
	var rings []plotter.XYs
	for k, mu := range m.Means {
		if len(mu) < 2 {
			continue
		}
		means = append(means, plotter.XY{X: mu[0], Y: mu[1]})
		ring := make(plotter.XYs, 65)
		for a := range ring {
			t := 2 * math.Pi * float64(a) / 64
			ring[a] = plotter.XY{X: mu[0] + 3*m.Std[k]*math.Cos(t), Y: mu[1] + 3*m.Std[k]*math.Sin(t)}
		}
		rings = append(rings, ring)
	}
	// The view is the modes' extent with a margin, as the old picture's:
	// samples far off are outside the frame, not shrinking the modes.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, mu := range means {
		lo, hi = math.Min(lo, math.Min(mu.X, mu.Y)), math.Max(hi, math.Max(mu.X, mu.Y))
	}
	if math.IsInf(lo, 0) {
		lo, hi = -1, 1
	}
	margin := math.Max((hi-lo)*0.25, 1)
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo-margin, hi+margin, lo-margin, hi+margin
	var inView plotter.XYs
	for _, q := range xy {
		if q.X >= p.X.Min && q.X <= p.X.Max && q.Y >= p.Y.Min && q.Y <= p.Y.Max {
			inView = append(inView, q)
		}
	}
	if len(inView) > 0 {
		sc, err := plotter.NewScatter(inView)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.NRGBA{30, 90, 220, 150}, Radius: vg.Points(1.1), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("samples (%d of %d in view)", len(inView), len(xy)), sc)
	}
	if len(means) > 0 {
		for _, ring := range rings {
			c, err := plotter.NewLine(ring)
			if err != nil {
				return err
			}
			c.Color, c.Width = color.RGBA{170, 170, 170, 255}, vg.Points(0.6)
			p.Add(c)
		}
		mk, err := plotter.NewScatter(means)
		if err != nil {
			return err
		}
		mk.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(4), Shape: draw.CrossGlyph{}}
		p.Add(mk)
		p.Legend.Add("modes (mean, 3σ)", mk)
	}
	p.Legend.Top = true
	roomForLegend(p, 2)
	return writePlot(w, p, size, size)
}
