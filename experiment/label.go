package experiment

import (
	"image"
	"image/color"
)

// The panel labels of fig3.png are drawn with a built-in 5×7 bitmap font
// of the characters the method names use (the module has no font
// dependency); any other character is drawn as a hollow box.
const (
	glyphW, glyphH = 5, 7
	labelScale     = 2
	labelHeight    = glyphH*labelScale + 6 // the strip above each panel
)

// glyphs are the 5×7 bitmaps, '#' set.
var glyphs = map[rune][glyphH]string{
	' ': {".....", ".....", ".....", ".....", ".....", ".....", "....."},
	'.': {".....", ".....", ".....", ".....", ".....", ".##..", ".##.."},
	'-': {".....", ".....", ".....", "#####", ".....", ".....", "....."},
	'(': {"...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."},
	')': {".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."},
	'A': {".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"},
	'C': {".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."},
	'D': {"####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."},
	'F': {"#####", "#....", "#....", "####.", "#....", "#....", "#...."},
	'G': {".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"},
	'M': {"#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"},
	'N': {"#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#", "#...#"},
	'R': {"####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"},
	'a': {".....", ".....", ".###.", "....#", ".####", "#...#", ".####"},
	'c': {".....", ".....", ".###.", "#....", "#....", "#...#", ".###."},
	'd': {"....#", "....#", ".##.#", "#..##", "#...#", "#...#", ".####"},
	'e': {".....", ".....", ".###.", "#...#", "#####", "#....", ".###."},
	'n': {".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"},
	's': {".....", ".....", ".####", "#....", ".###.", "....#", "####."},
	't': {"..#..", "..#..", "#####", "..#..", "..#..", "..#..", "...##"},
	'y': {".....", ".....", "#...#", "#...#", ".####", "....#", ".###."},
}

// box is the glyph of a character the font lacks.
var box = [glyphH]string{"#####", "#...#", "#...#", "#...#", "#...#", "#...#", "#####"}

// drawLabel draws text in black, centred in the strip of width w whose
// top-left corner is (x0, y0), cut at the strip's width.
func drawLabel(img *image.RGBA, x0, y0, w int, text string) {
	runes := []rune(text)
	advance := (glyphW + 1) * labelScale
	width := len(runes)*advance - labelScale
	x := x0 + max(0, (w-width)/2)
	y := y0 + (labelHeight-glyphH*labelScale)/2
	for _, r := range runes {
		if x+glyphW*labelScale > x0+w {
			return
		}
		g, ok := glyphs[r]
		if !ok {
			g = box
		}
		for row, line := range g {
			for col, c := range line {
				if c != '#' {
					continue
				}
				for dy := range labelScale {
					for dx := range labelScale {
						img.Set(x+col*labelScale+dx, y+row*labelScale+dy, color.Black)
					}
				}
			}
		}
		x += advance
	}
}
