package experiment

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"path/filepath"

	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
)

// fig3Gap is the white space between and around the panels of fig3.png.
const fig3Gap = 8

// writeFig3 writes fig3.md, fig3.json and fig3.png into o.Dir.
func writeFig3(o Fig3Options, f *Fig3Figure) error {
	js, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(o.Dir, "fig3.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(o.Dir, "fig3.md"), []byte(f.Markdown()), 0o644); err != nil {
		return err
	}
	pic, err := f.picture(o.Scenarios, o.Panel)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(o.Dir, "fig3.png"), pic, 0o644)
}

// picture is fig3.png: a row per scenario of scenarios, a column per
// method (the scenario's runs, in order), each cell the eval.Scatter plot
// (size×size) of that run's first seed, drawn when it has been made and
// left grey otherwise, with the method's label above it; above each row,
// the scenario's label.
func (f *Fig3Figure) picture(scenarios []Fig3Scenario, size int) ([]byte, error) {
	cols := 0
	for _, sc := range scenarios {
		cols = max(cols, len(sc.Runs))
	}
	cellH := 2*labelHeight + size
	canvas := image.NewRGBA(image.Rect(0, 0, fig3Gap+cols*(size+fig3Gap), fig3Gap+len(scenarios)*(cellH+fig3Gap)))
	draw.Draw(canvas, canvas.Bounds(), image.White, image.Point{}, draw.Src)
	for row, sc := range scenarios {
		drawLabel(canvas, fig3Gap, fig3Gap+row*(cellH+fig3Gap), canvas.Bounds().Dx()-2*fig3Gap, sc.Label, false)
		for col, r := range sc.Runs {
			x0, y0 := fig3Gap+col*(size+fig3Gap), fig3Gap+row*(cellH+fig3Gap)+labelHeight
			drawLabel(canvas, x0, y0, size, r.Label, true)
			cell := image.Rect(x0, y0+labelHeight, x0+size, y0+labelHeight+size)
			p, ok := f.panels[r.Name]
			if !ok {
				draw.Draw(canvas, cell, image.NewUniform(color.RGBA{240, 240, 240, 255}), image.Point{}, draw.Src)
				continue
			}
			var buf bytes.Buffer
			if err := eval.Scatter(&buf, deploy.GlobalMixture(p.top), p.samples, p.top.Model.DataDim, size); err != nil {
				return nil, err
			}
			img, err := png.Decode(&buf)
			if err != nil {
				return nil, err
			}
			draw.Draw(canvas, cell, img, img.Bounds().Min, draw.Src)
			frame(canvas, cell, color.RGBA{160, 160, 160, 255})
		}
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, canvas); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// frame draws a one-pixel border just outside r.
func frame(img *image.RGBA, r image.Rectangle, c color.Color) {
	for x := r.Min.X - 1; x <= r.Max.X; x++ {
		img.Set(x, r.Min.Y-1, c)
		img.Set(x, r.Max.Y, c)
	}
	for y := r.Min.Y - 1; y <= r.Max.Y; y++ {
		img.Set(r.Min.X-1, y, c)
		img.Set(r.Max.X, y, c)
	}
}
