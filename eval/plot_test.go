package eval_test

import (
	"bytes"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/eval"
)

// darkPixels counts the pixels of a PNG darker than light grey: drawn
// lines, text and glyphs.
func darkPixels(t *testing.T, b []byte) (n, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if g := color.GrayModel.Convert(img.At(x, y)).(color.Gray); g.Y < 160 {
				n++
			}
		}
	}
	return n, r.Dx(), r.Dy()
}

func TestChartPNG(t *testing.T) {
	draw := func(c eval.Chart) []byte {
		var buf bytes.Buffer
		if err := c.WritePNG(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	axes := draw(eval.Chart{Title: "t", XLabel: "round", YLabel: "FID"})
	line := draw(eval.Chart{Title: "t", XLabel: "round", YLabel: "FID", Series: []eval.Series{
		{Name: "FID", X: []float64{1, 2, 3, 4}, Y: []float64{300, math.NaN(), 120, math.Inf(1)}},
	}})
	na, w, h := darkPixels(t, axes)
	nl, _, _ := darkPixels(t, line)
	if w != 720 || h != 432 {
		t.Errorf("chart is %d×%d, want the default 720×432", w, h)
	}
	if nl <= na {
		t.Errorf("a chart with a line has %d dark pixels, the empty one %d", nl, na)
	}
}

func TestScatterPlot(t *testing.T) {
	m := &data.Mixture{Means: [][]float64{{0, 0}, {4, 4}}, Std: []float64{0.1, 0.1}, Weights: []float64{1, 1}}
	var buf bytes.Buffer
	if err := eval.ScatterPlot(&buf, m, []float32{0, 0.1, 4, 3.9, float32(math.NaN()), 1, 100, 100}, 2, 400, "round 1"); err != nil {
		t.Fatal(err)
	}
	if n, w, h := darkPixels(t, buf.Bytes()); w != 400 || h != 400 || n == 0 {
		t.Errorf("scatter %d×%d with %d dark pixels", w, h, n)
	}
	if err := eval.ScatterPlot(&buf, m, nil, 1, 400, ""); err == nil {
		t.Error("a 1-D scatter plot drew")
	}
}
