package cli

import (
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/experiment"
)

// TestFig3Miniature makes Fig. 3 from the shipped Gaussian files with
// their rounds cut to two of two local iterations, over two seeds: every
// method of both scenarios trains in the simulator, and the table, the
// JSON and the picture come out whole; then -reuse scores them again
// without training, to the same numbers.
func TestFig3Miniature(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fig3")
	args := []string{"experiment", "-fig3", "-configs", "../configs", "-o", out, "-rounds", "2", "-iters", "2", "-seeds", "1,2", "-n", "300"}
	got, err := run(t, args...)
	if err != nil {
		t.Fatalf("experiment -fig3: %v\n%s", err, got)
	}
	md, err := os.ReadFile(filepath.Join(out, "fig3.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 9-community Gaussian | Cent. GAN | 1, 2 | ", "| 9-community Gaussian | Fed GAN | 1, 2 | ",
		"| 9-community Gaussian | M-D GAN | 1, 2 | ", "| 9-community Gaussian | FR (sync) | 1, 2 | ", "| 9-community Gaussian | FR (async) | 1, 2 | ",
		"| 25-mode grid | Cent. GAN | 1, 2 | ", "| 25-mode grid | FR (async) | 1, 2 | ", " /9 | ", " /25 | ", "| 2 × 2 |", "![Fig. 3](fig3.png)",
		"Reproduce with: `fedgan experiment -fig3 "} {
		if !strings.Contains(string(md), want) {
			t.Errorf("fig3.md lacks %q:\n%s", want, md)
		}
	}
	first := readFig3(t, out)
	if len(first.Runs) != 2*5*2 {
		t.Fatalf("fig3.json holds %d runs, want 20", len(first.Runs))
	}
	for i, r := range first.Runs {
		wantModes := map[string]int{"gaussian": 9, "grid25": 25}[r.Scenario]
		if r.Scores.Modes != wantModes || r.Scores.Samples != 300 || r.Rounds != 2 || r.WallSeconds <= 0 || r.Seed != uint64(i%2+1) {
			t.Errorf("run %d: %+v", i, r)
		}
		if r.Label == "Fed GAN" && r.Algorithm != "fedgan" || r.Label == "FR (async)" && r.Mode != "async" {
			t.Errorf("run %d (%s): algorithm %q, mode %q", i, r.Label, r.Algorithm, r.Mode)
		}
	}
	f, err := os.Open(filepath.Join(out, "fig3.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	// Five 256-pixel panels a row, two rows with two label strips each
	// (the scenario, the methods), 8-pixel gaps.
	if w, h := 8+5*(256+8), 8+2*(20+20+256+8); cfg.Width != w || cfg.Height != h {
		t.Errorf("fig3.png is %d×%d, want %d×%d", cfg.Width, cfg.Height, w, h)
	}

	got, err = run(t, append(args, "-reuse")...)
	if err != nil || strings.Count(got, "reusing the generator") != 20 {
		t.Fatalf("experiment -fig3 -reuse: %v\n%s", err, got)
	}
	again := readFig3(t, out)
	for i := range first.Runs {
		if a, b := first.Runs[i].Scores, again.Runs[i].Scores; a.Covered != b.Covered || a.HighQuality != b.HighQuality {
			t.Errorf("run %d scored %+v, then %+v on reuse", i, a, b)
		}
	}

	for _, bad := range [][]string{{"-scenarios", "nope"}, {"-runs", "centralized"}, {"-sim"}, {"-seeds", "0"}} {
		if _, err := run(t, append([]string{"experiment", "-fig3", "-configs", "../configs", "-o", out}, bad...)...); !errors.Is(err, ErrUsage) {
			t.Errorf("experiment -fig3 %v: %v, want a usage error", bad, err)
		}
	}
	if _, err := run(t, "experiment", "-scenarios", "gaussian", "-o", out); !errors.Is(err, ErrUsage) {
		t.Errorf("experiment -scenarios without -fig3: %v, want a usage error", err)
	}
}

func readFig3(t *testing.T, dir string) experiment.Fig3Figure {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "fig3.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f experiment.Fig3Figure
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}
