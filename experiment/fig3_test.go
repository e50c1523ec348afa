package experiment

import (
	"bytes"
	"image"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/fixture"
)

func TestFig3Markdown(t *testing.T) {
	kl := 0.01
	res := func(name, label string, seed uint64, covered int, hq float64, wall float64) Fig3Result {
		return Fig3Result{Scenario: "gaussian", Name: name, Label: label, Seed: seed, Rounds: 100, LocalIters: 10, WallSeconds: wall,
			Scores: MixtureScores{Samples: 2500, Modes: 9, Covered: covered, HighQuality: hq, ReverseKL: &kl}}
	}
	f := &Fig3Figure{Args: []string{"-fig3", "-seeds", "1,2"}, Scenarios: map[string]string{"gaussian": "9-community Gaussian"},
		Runs: []Fig3Result{res("gaussian-mdgan", "M-D GAN", 1, 1, 0.5, 10), res("gaussian-mdgan", "M-D GAN", 2, 3, 0.7, 20),
			res("gaussian-fr-sync", "FR (sync)", 1, 9, 0.98, 5)}}
	f.Runs[2].Scores.ReverseKL = nil
	md := f.Markdown()
	for _, want := range []string{
		"Reproduce with: `fedgan experiment -fig3 -seeds 1,2`\n",
		"Scores of 2500 samples",
		// covered 1, 3: mean 2, sd √2; high quality 50, 70: mean 60, sd 14.1.
		"| 9-community Gaussian | M-D GAN | 1, 2 | 2.00 ± 1.41 /9 | 60.0 ± 14.1% | 0.0100 | 1/9, 50.0%; 3/9, 70.0% | 100 × 10 | 15s |\n",
		// One seed: sd 0; no reverse KL without high-quality samples.
		"| 9-community Gaussian | FR (sync) | 1 | 9.00 ± 0.00 /9 | 98.0 ± 0.0% | — | 9/9, 98.0% | 100 × 10 | 5s |\n",
		"one row per scenario (9-community Gaussian), one panel per method, left to right Cent. GAN, Fed GAN, M-D GAN, FR (sync), FR (async)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("fig3.md lacks %q:\n%s", want, md)
		}
	}
}

func TestPickFig3Scenarios(t *testing.T) {
	tests := []struct {
		list    string
		want    []string
		wantErr string
	}{
		{"", []string{"gaussian", "grid25"}, ""},
		{" grid25,gaussian", []string{"gaussian", "grid25"}, ""},
		{"grid25", []string{"grid25"}, ""},
		{"mnist", nil, `unknown scenario "mnist" (have gaussian,grid25)`},
	}
	for _, tt := range tests {
		got, err := PickFig3Scenarios(tt.list)
		var names []string
		for _, sc := range got {
			names = append(names, sc.Name)
		}
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("PickFig3Scenarios(%q): %v, want an error with %q", tt.list, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(names, tt.want) {
			t.Errorf("PickFig3Scenarios(%q) = %v, %v; want %v", tt.list, names, err, tt.want)
		}
	}
	// Every scenario has the five methods in the paper's order.
	for _, sc := range Fig3Scenarios {
		var labels []string
		for _, r := range sc.Runs {
			labels = append(labels, r.Label)
		}
		if want := []string{"Cent. GAN", "Fed GAN", "M-D GAN", "FR (sync)", "FR (async)"}; !reflect.DeepEqual(labels, want) {
			t.Errorf("%s: methods %v, want %v", sc.Name, labels, want)
		}
	}
}

// TestFig3Picture draws one drawn panel and four missing ones: the
// layout's size, the drawn panel's blue samples, the grey of the missing
// ones, and black label text above each.
func TestFig3Picture(t *testing.T) {
	top, err := config.FromBytes([]byte(fixture.Tiny), "tiny", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc := Fig3Scenarios[0]
	f := &Fig3Figure{panels: map[string]panel{sc.Runs[0].Name: {top: top, samples: []float32{0, 0.5, 0, -0.5, -0.5, -0.5}}}}
	b, err := f.picture([]Fig3Scenario{sc}, 100)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := img.Bounds().Size(), image.Pt(8+5*108, 8+40+100+8); got != want {
		t.Fatalf("picture %v, want %v", got, want)
	}
	count := func(r image.Rectangle, ok func(r, g, b uint32) bool) int {
		n := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				r, g, b, _ := img.At(x, y).RGBA()
				if ok(r, g, b) {
					n++
				}
			}
		}
		return n
	}
	blue := func(r, g, b uint32) bool { return b>>8 > 200 && r>>8 < 100 }
	black := func(r, g, b uint32) bool { return r == 0 && g == 0 && b == 0 }
	grey := func(r, g, b uint32) bool { return r>>8 == 240 && g>>8 == 240 && b>>8 == 240 }
	for col := range 5 {
		x0 := 8 + col*108
		panelRect := image.Rect(x0, 48, x0+100, 148)
		if n := count(image.Rect(x0, 28, x0+100, 48), black); n == 0 {
			t.Errorf("panel %d: no label", col)
		}
		if col == 0 {
			if n := count(panelRect, blue); n < 3*4 {
				t.Errorf("panel 0: %d blue pixels, want the 3 samples' 4 each", n)
			}
		} else if n := count(panelRect, grey); n != 100*100 {
			t.Errorf("panel %d (not made): %d grey pixels, want all", col, n)
		}
	}
	if n := count(image.Rect(8, 8, 8+5*108, 28), black); n == 0 {
		t.Error("no scenario label")
	}
}
