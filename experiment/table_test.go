package experiment

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/eval"
)

func TestMarkdown(t *testing.T) {
	tab := &Table{
		Args: []string{"-runs", "centralized,fr-sync-iid,fr-sync-noniid"},
		Real: &eval.Report{Samples: 200, IS: 9.5, FID: 1.234, Classes: 20, Covered: 20, ClassKL: 0.001, TSTR: 0.9},
		Runs: []Result{
			{RunInfo: RunInfo{Name: "centralized", Label: "Cent. GAN", Split: "all data on one device", Rounds: 10, LocalIters: 5, WallSeconds: 61.4,
				Devices: 1, Bytes: 3 << 19, Traffic: &Traffic{DevicesToEdges: 1 << 20, EdgesToDevices: 1 << 19, CloudIn: 20 << 10, CloudOut: 30 << 10, Updates: 10}, Transport: "mqtt", Grid: "grids/centralized.png"},
				Classifier: "0123456789abcdef",
				Report:     eval.Report{Samples: 200, IS: 8, FID: 20, Classes: 20, Covered: 20, ClassKL: 0.01, TSTR: 0.75, Acc: 0.8125}},
			{RunInfo: RunInfo{Name: "fr-sync-iid", Label: "FR (sync)", Split: "iid", Rounds: 10, LocalIters: 5, WallSeconds: 2.6, Transport: "sim", Grid: "grids/fr-sync-iid.png"},
				LastFID: 25.5, Missing: []int{3},
				Report: eval.Report{Samples: 200, IS: 7.25, FID: 23, Classes: 20, Covered: 19, ClassKL: 0.02}},
			{RunInfo: RunInfo{Name: "fr-sync-noniid", Label: "FR (sync)", Split: "non-iid", Rounds: 10, LocalIters: 5, Transport: "sim", Grid: "g.png"},
				Report: eval.Report{Samples: 200, IS: 6, FID: 50, Classes: 20, Covered: 20}},
		},
	}
	md := tab.Markdown()
	for _, want := range []string{
		"Reproduce with: `fedgan experiment -runs centralized,fr-sync-iid,fr-sync-noniid`\n",
		"Scores of 200 samples of each run's result generator against 10000 real test images",
		// 1.5 MiB over one device and 10 rounds: 153.6 KiB.
		"| Cent. GAN | all data on one device | 8.000 | 20.00 | — | 81.2% | 20/20 | 0.0100 | 75.0% | 10 × 5 | 1m1s | 153.6 KiB | 1.5 MiB | ![centralized](grids/centralized.png) |\n",
		"| FR (sync) | iid | 7.250 | 23.00 | 25.50 | — | 19/20 (missing [3]) | 0.0200 | — | 10 × 5 | 3s | (simulated) | (simulated) | ![fr-sync-iid](grids/fr-sync-iid.png) |\n",
		"| real training images | — | 9.500 | 1.23 | — | — | 20/20 | 0.0010 | 90.0% | — | — | — | — | — |\n",
		"Targets (FID relative to the centralized baseline's 20.00):\n\n",
		// 23/20 = 1.15 ≤ 1.2, but a class is missing.
		"- FR (sync) iid: FID ratio 1.15 (target ≤ 1.2, classes covered 19/20): NOT met\n",
		// 50/20 = 2.5 > 2.
		"- FR (sync) non-iid: FID ratio 2.50 (target ≤ 2.0): NOT met\n",
		"Classifier: 0123456789abcdef….\n",
		// 1 MiB and 512 KiB over 1 device × 10 rounds; 20 KiB over 10
		// updates; 30 KiB over 10 rounds; the sum.
		"| Cent. GAN | all data on one device | 0 | 102.4 KiB | 51.2 KiB | 2.0 KiB | 3.0 KiB | 1.5 MiB |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table1.md lacks %q:\n%s", want, md)
		}
	}
	tab.Runs[1].Missing, tab.Runs[1].Report.Covered, tab.Runs[2].Report.FID = nil, 20, 40
	md = tab.Markdown()
	for _, want := range []string{"FID ratio 1.15 (target ≤ 1.2, classes covered 20/20): met\n", "FID ratio 2.00 (target ≤ 2.0): met\n"} {
		if !strings.Contains(md, want) {
			t.Errorf("table1.md lacks %q:\n%s", want, md)
		}
	}
	// Without the centralized baseline, no targets.
	tab.Runs = tab.Runs[1:]
	if md := tab.Markdown(); strings.Contains(md, "Targets") {
		t.Errorf("targets without a baseline:\n%s", md)
	}

	// table1.json: the keys of the previous versions, in the same order.
	dir := t.TempDir()
	if err := writeTable(dir, tab); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "table1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil || len(keys) != 3 {
		t.Fatalf("table1.json: %v, keys %v", err, keys)
	}
	s := string(b)
	if a, r, u := strings.Index(s, `"args"`), strings.Index(s, `"real"`), strings.Index(s, `"runs"`); !(a < r && r < u) || strings.Contains(s, `"Config"`) {
		t.Errorf("table1.json:\n%s", s)
	}
}

func TestMarkdownSeeds(t *testing.T) {
	run := func(name, label string, seed uint64, fid, is, tstr float64, covered int) Result {
		return Result{RunInfo: RunInfo{Name: name, Label: label, Split: "iid", Seed: seed, Rounds: 10, LocalIters: 5, WallSeconds: 10, Transport: "sim",
			Grid: "g.png"}, Report: eval.Report{Samples: 200, IS: is, FID: fid, Classes: 20, Covered: covered, TSTR: tstr, Acc: tstr / 2}}
	}
	tab := &Table{Runs: []Result{
		run("centralized", "Cent. GAN", 1, 20, 8, 0.7, 20),
		run("fr-sync-iid", "FR (sync)", 1, 22, 7, 0.6, 20),
		run("fr-sync-iid", "FR (sync)", 2, 24, 9, 0.8, 19),
		run("fr-sync-iid", "FR (sync)", 3, 26, 8, 0.7, 20),
	}}
	md := tab.Markdown()
	for _, want := range []string{
		// One seed of a run: no seed in its label, no summary line.
		"| Cent. GAN | iid | 8.000 | 20.00 |",
		"| FR (sync), seed 2 | iid | 9.000 | 24.00 |",
		// FID 22, 24, 26: mean 24, sample sd 2; IS 7, 9, 8: 8 ± 1.
		"| FR (sync) | iid | 1, 2, 3 | 8.000 ± 1.000 | 24.00 ± 2.00 | 35.0 ± 5.0% | 19–20/20 | 70.0 ± 10.0% | 10s |\n",
		// The mean FID against the baseline's; one seed missed a class.
		"- FR (sync) iid: FID ratio 1.20 (target ≤ 1.2, classes covered 19/20): NOT met\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("table1.md lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(md, "FID ratio") != 1 || strings.Contains(md, "| Cent. GAN | all") || strings.Contains(md, "| Cent. GAN | iid | 1 |") {
		t.Errorf("table1.md:\n%s", md)
	}
}
