package experiment

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/local"
)

// writeTable writes table1.md and table1.json into dir.
func writeTable(dir string, t *Table) error {
	js, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(dir, "table1.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "table1.md"), []byte(t.Markdown()), 0o644)
}

// Markdown is the table as table1.md: a header, a row per run and one for
// the real images, the FID targets met or not, and a footer. It needs at
// least one run.
func (t *Table) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Table 1: MNIST + Fashion-MNIST, feature-related scenario\n\n")
	fmt.Fprintf(&b, "Reproduce with: `fedgan experiment %s`\n\n", strings.Join(t.Args, " "))
	fmt.Fprintf(&b, "Scores of %d samples of each run's result generator against %d real test images (half MNIST, half Fashion-MNIST), "+
		"from the evaluation classifier's penultimate features (FID) and class probabilities (IS, coverage, class KL); "+
		"on this project's own scale, not the paper's. With `cloud.ema` the result generator is the moving average of the "+
		"global G over the rounds, and the FID of the last global G is shown beside it.\n\n", t.Runs[0].Report.Samples, eval.ReferenceRows)
	fmt.Fprintln(&b, "| run | split | IS ↑ | FID ↓ | FID of the last G ↓ | classes covered | class KL ↓ | TSTR ↑ | G updates | wall time | bytes moved | grid |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	var cent *Result
	for i, r := range t.Runs {
		if r.Name == "centralized" {
			cent = &t.Runs[i]
		}
		b.WriteString(r.row())
	}
	if real := t.Real; real != nil {
		fmt.Fprintf(&b, "| real training images | — | %.3f | %.2f | — | %d/%d | %.4f | %s | — | — | — | — |\n", real.IS, real.FID, real.Covered, real.Classes, real.ClassKL, tstr(real.TSTR))
	}
	if cent != nil {
		b.WriteString(targets(cent, t.Runs))
	}
	fmt.Fprintf(&b, "\nWall time is the whole run on this machine (all devices, edges and the cloud in one process, every message over MQTT on loopback, "+
		"periodic evaluations included); bytes moved is the sum of what every edge broker received and sent. Classifier: %s….\n", t.Runs[0].Classifier)
	return b.String()
}

// row is r's line of table1.md.
func (r Result) row() string {
	bytesCol := local.BytesHuman(r.Bytes)
	if r.Transport == "sim" {
		bytesCol = "(simulated)"
	}
	cov := fmt.Sprintf("%d/%d", r.Report.Covered, r.Report.Classes)
	if len(r.Missing) > 0 {
		cov += fmt.Sprintf(" (missing %v)", r.Missing)
	}
	last := "—"
	if r.LastFID > 0 {
		last = fmt.Sprintf("%.2f", r.LastFID)
	}
	return fmt.Sprintf("| %s | %s | %.3f | %.2f | %s | %s | %.4f | %s | %d × %d | %s | %s | ![%s](%s) |\n",
		r.Label, r.Split, r.Report.IS, r.Report.FID, last, cov, r.Report.ClassKL, tstr(r.Report.TSTR), r.Rounds, r.LocalIters,
		time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Second), bytesCol, r.Name, r.Grid)
}

// targets is the section of table1.md that says whether the FR runs met
// their targets: FID at most 1.2 times the centralized baseline's on the
// i.i.d. split (with every class covered), at most twice on the
// non-i.i.d. split.
func targets(cent *Result, runs []Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nTargets (FID relative to the centralized baseline's %.2f):\n\n", cent.Report.FID)
	for _, r := range runs {
		target := map[string]float64{"fr-sync-iid": 1.2, "fr-sync-noniid": 2}[r.Name]
		if target == 0 {
			continue
		}
		ratio := r.Report.FID / cent.Report.FID
		verdict := "met"
		if ratio > target {
			verdict = "NOT met"
		}
		extra := ""
		if r.Name == "fr-sync-iid" {
			extra = fmt.Sprintf(", classes covered %d/%d", r.Report.Covered, r.Report.Classes)
			if r.Report.Covered < r.Report.Classes {
				verdict = "NOT met"
			}
		}
		fmt.Fprintf(&b, "- %s %s: FID ratio %.2f (target ≤ %.1f%s): %s\n", r.Label, r.Split, ratio, target, extra, verdict)
	}
	return b.String()
}

// tstr formats a train-on-synthetic accuracy; "—" when not measured.
func tstr(acc float64) string {
	if acc == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*acc)
}
