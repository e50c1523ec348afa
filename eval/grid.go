package eval

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/fedgan/fedgan/data"
)

// GridGap is the width in pixels of the border around and between the
// images of a grid.
const GridGap = 2

// Grid writes the images x (row-major, height×width values each, in model
// space: −1 black … 1 white, see data.Pixel) as one grayscale PNG of cols
// columns, each pixel drawn as scale×scale, on a mid-grey background. A
// last row that is not full is left grey. It returns an error wrapping
// ErrData if x holds no whole image or the sizes are not positive.
func Grid(w io.Writer, x []float32, height, width, cols, scale int) error {
	if height <= 0 || width <= 0 || cols <= 0 || scale <= 0 {
		return fmt.Errorf("%w: grid of %d columns of %d×%d images at scale %d", ErrData, cols, height, width, scale)
	}
	dim := height * width
	n := len(x) / dim
	if n == 0 || len(x)%dim != 0 {
		return fmt.Errorf("%w: %d values are not images of %d×%d", ErrData, len(x), height, width)
	}
	cols = min(cols, n)
	rows := (n + cols - 1) / cols
	cw, ch := width*scale+GridGap, height*scale+GridGap
	img := image.NewGray(image.Rect(0, 0, cols*cw+GridGap, rows*ch+GridGap))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	for k := range n {
		x0, y0 := GridGap+(k%cols)*cw, GridGap+(k/cols)*ch
		for r := range height {
			for c := range width {
				v := color.Gray{Y: data.PixelByte(x[k*dim+r*width+c])}
				for dy := range scale {
					for dx := range scale {
						img.SetGray(x0+c*scale+dx, y0+r*scale+dy, v)
					}
				}
			}
		}
	}
	return png.Encode(w, img)
}
