package eval

import (
	"image"
	"image/color"
	"image/png"
	"io"
	"math"

	"github.com/fedgan/fedgan/data"
)

// Scatter draws generated 2-D points (blue) over the modes of a mixture
// (black crosses with their 3σ circles) as a size×size PNG, the picture of
// the paper's Fig. 3. Only the first two coordinates are drawn. The view
// covers the modes with a margin of 1.5 spacing units; points outside it
// are clamped to the border so that outliers stay visible.
func Scatter(w io.Writer, m *data.Mixture, points []float32, dim, size int) error {
	if size < 64 {
		size = 64
	}
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, mu := range m.Means {
		for _, v := range mu[:min(2, len(mu))] {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = -1, 1
	}
	margin := math.Max((hi-lo)*0.25, 1)
	lo, hi = lo-margin, hi+margin
	px := func(v float64) int {
		p := int((v - lo) / (hi - lo) * float64(size-1))
		return max(0, min(size-1, p))
	}
	grey := color.RGBA{200, 200, 200, 255}
	black := color.RGBA{0, 0, 0, 255}
	blue := color.RGBA{30, 90, 220, 255}
	for k, mu := range m.Means {
		if len(mu) < 2 {
			continue
		}
		cx, cy := px(mu[0]), size-1-px(mu[1])
		r := float64(px(mu[0]+3*m.Std[k]) - px(mu[0]))
		for a := 0.0; a < 2*math.Pi; a += 0.02 {
			img.Set(cx+int(r*math.Cos(a)), cy+int(r*math.Sin(a)), grey)
		}
	}
	for i := 0; i+dim <= len(points) && dim >= 2; i += dim {
		x, y := float64(points[i]), float64(points[i+1])
		if math.IsNaN(x) || math.IsNaN(y) {
			continue
		}
		cx, cy := px(x), size-1-px(y)
		img.Set(cx, cy, blue)
		img.Set(cx+1, cy, blue)
		img.Set(cx, cy+1, blue)
		img.Set(cx+1, cy+1, blue)
	}
	for _, mu := range m.Means {
		if len(mu) < 2 {
			continue
		}
		cx, cy := px(mu[0]), size-1-px(mu[1])
		for d := -4; d <= 4; d++ {
			img.Set(cx+d, cy+d, black)
			img.Set(cx+d, cy-d, black)
		}
	}
	return png.Encode(w, img)
}
