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
	"gonum.org/v1/gonum/stat"
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
		"global G over the rounds, and the FID of the last global G is shown beside it. Acc is the share of a class-conditional "+
		"G(z, y)'s samples that the classifier assigns to y (— for an unconditional G, which is not asked for a class); "+
		"TSTR the real test accuracy of a classifier trained on G(z, y) labelled y.\n\n", t.Runs[0].Report.Samples, eval.ReferenceRows)
	fmt.Fprintln(&b, "| run | split | IS ↑ | FID ↓ | FID of the last G ↓ | Acc ↑ | classes covered | class KL ↓ | TSTR ↑ | G updates | wall time | bytes per device per round | bytes moved | grid |")
	fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	groups := t.groups()
	for _, r := range t.Runs {
		if len(groups[r.Name]) > 1 {
			r.Label += ", seed " + r.seed()
		}
		b.WriteString(r.row())
	}
	if real := t.Real; real != nil {
		fmt.Fprintf(&b, "| real training images | — | %.3f | %.2f | — | — | %d/%d | %.4f | %s | — | — | — | — | — |\n", real.IS, real.FID, real.Covered, real.Classes, real.ClassKL, tstr(real.TSTR))
	}
	b.WriteString(t.summary(groups))
	b.WriteString(t.traffic())
	if cent := groups["centralized"]; cent != nil {
		b.WriteString(targets(cent, t.Runs, groups))
	}
	fmt.Fprintf(&b, "\nWall time is the whole run on this machine (all devices, edges and the cloud in one process, every message over MQTT on loopback, "+
		"periodic evaluations included); bytes moved is the sum of what every edge broker received and sent (the devices' traffic; the cloud broker's is in the communication table). Classifier: %s….\n", t.Runs[0].Classifier)
	return b.String()
}

// row is r's line of table1.md.
func (r Result) row() string {
	bytesCol, perDevice := local.BytesHuman(r.Bytes), "—"
	if r.Devices > 0 && r.Rounds > 0 {
		perDevice = local.BytesHuman(r.Bytes / int64(r.Devices*r.Rounds))
	}
	if r.Transport == "sim" {
		bytesCol, perDevice = "(simulated)", "(simulated)"
	}
	cov := fmt.Sprintf("%d/%d", r.Report.Covered, r.Report.Classes)
	if len(r.Missing) > 0 {
		cov += fmt.Sprintf(" (missing %v)", r.Missing)
	}
	last := "—"
	if r.LastFID > 0 {
		last = fmt.Sprintf("%.2f", r.LastFID)
	}
	return fmt.Sprintf("| %s | %s | %.3f | %.2f | %s | %s | %s | %.4f | %s | %d × %d | %s | %s | %s | ![%s](%s) |\n",
		r.Label, r.Split, r.Report.IS, r.Report.FID, last, tstr(r.Report.Acc), cov, r.Report.ClassKL, tstr(r.Report.TSTR), r.Rounds, r.LocalIters,
		time.Duration(r.WallSeconds*float64(time.Second)).Round(time.Second), perDevice, bytesCol, r.Name, r.Grid)
}

// traffic is the section of table1.md with what every run over MQTT
// moved, from the brokers' counters; "" when there is none.
func (t *Table) traffic() string {
	var b strings.Builder
	for _, r := range t.Runs {
		tr := r.Traffic
		if tr == nil || r.Devices == 0 || r.Rounds == 0 {
			continue
		}
		if b.Len() == 0 {
			fmt.Fprintln(&b, "\nCommunication over MQTT (the brokers' socket counters): the devices' traffic per device and round; the cloud broker's, "+
				"which holds the edges' bridges and the cloud service's own client (in: every update, and each round's global model once; "+
				"out: each global model to every edge, and every update once more), per generator update accepted and per round:")
			fmt.Fprintln(&b, "\n| run | split | seed | devices → edge | edge → devices | cloud broker in, per update | cloud broker out, per round | total |")
			fmt.Fprintln(&b, "|---|---|---:|---:|---:|---:|---:|---:|")
		}
		perDevice := int64(r.Devices * r.Rounds)
		perUpdate := "—"
		if tr.Updates > 0 {
			perUpdate = local.BytesHuman(tr.CloudIn / tr.Updates)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", r.Label, r.Split, r.Seed,
			local.BytesHuman(tr.DevicesToEdges/perDevice), local.BytesHuman(tr.EdgesToDevices/perDevice), perUpdate,
			local.BytesHuman(tr.CloudOut/int64(r.Rounds)), local.BytesHuman(tr.Total()))
	}
	return b.String()
}

// groups are the results of t by run name, in table order: one per seed.
func (t *Table) groups() map[string][]Result { return byName(t.Runs, resultName) }

func resultName(r Result) string { return r.Name }

// byName groups runs by name, each group in table order: one per seed.
func byName[R any](runs []R, name func(R) string) map[string][]R {
	g := map[string][]R{}
	for _, r := range runs {
		g[name(r)] = append(g[name(r)], r)
	}
	return g
}

// overSeeds is the groups of runs made over more than one seed, in the
// order their names first appear.
func overSeeds[R any](runs []R, groups map[string][]R, name func(R) string) [][]R {
	var out [][]R
	done := map[string]bool{}
	for _, r := range runs {
		if rs := groups[name(r)]; len(rs) > 1 && !done[name(r)] {
			done[name(r)] = true
			out = append(out, rs)
		}
	}
	return out
}

// seed is the run's seed, with "over MQTT" when it ran over real brokers
// (a table's seeds may mix the simulator's runs and MQTT ones).
func (r RunInfo) seed() string {
	if r.Transport == "mqtt" {
		return fmt.Sprintf("%d over MQTT", r.Seed)
	}
	return fmt.Sprint(r.Seed)
}

// seedsHeader is the head of the section of a table's means over seeds.
func seedsHeader(b *strings.Builder, columns string) {
	fmt.Fprintln(b, "\nOver seeds (mean ± sample standard deviation; a difference smaller than the spread is no difference):")
	fmt.Fprintln(b, "\n| run | split | seeds | "+columns+" |")
	fmt.Fprintln(b, "|---|---|---"+strings.Repeat("|---:", strings.Count(columns, "|")+1)+"|")
}

// summary is the section of table1.md with every run made over more than
// one seed: the mean ± sample standard deviation of its scores; "" when
// there is none.
func (t *Table) summary(groups map[string][]Result) string {
	var b strings.Builder
	for i, rs := range overSeeds(t.Runs, groups, resultName) {
		if i == 0 {
			seedsHeader(&b, "IS ↑ | FID ↓ | Acc ↑ | classes covered | TSTR ↑ | wall time")
		}
		r := rs[0]
		var seeds []string
		var is, fid, accs, tstrs, wall []float64
		lo, hi := rs[0].Report.Covered, rs[0].Report.Covered
		for _, x := range rs {
			seeds = append(seeds, x.seed())
			is, fid, accs, tstrs, wall = append(is, x.Report.IS), append(fid, x.Report.FID), append(accs, 100*x.Report.Acc), append(tstrs, 100*x.Report.TSTR), append(wall, x.WallSeconds)
			lo, hi = min(lo, x.Report.Covered), max(hi, x.Report.Covered)
		}
		cov := fmt.Sprintf("%d/%d", lo, r.Report.Classes)
		if lo != hi {
			cov = fmt.Sprintf("%d–%d/%d", lo, hi, r.Report.Classes)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Label, r.Split, strings.Join(seeds, ", "),
			meanSD(is, 3), meanSD(fid, 2), percentSD(accs), cov, percentSD(tstrs), time.Duration(mean(wall)*float64(time.Second)).Round(time.Second))
	}
	return b.String()
}

// mean is the mean of xs (0 for none).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return stat.Mean(xs, nil)
}

// sd is the sample standard deviation of xs (0 for fewer than two).
func sd(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	return stat.StdDev(xs, nil)
}

// percentSD formats percentages as "mean ± sd%"; "—" when the first is
// 0 (not measured).
func percentSD(xs []float64) string {
	if xs[0] == 0 {
		return "—"
	}
	return meanSD(xs, 1) + "%"
}

// meanSD formats "mean ± sd" with prec decimals.
func meanSD(xs []float64, prec int) string {
	return fmt.Sprintf("%.*f ± %.*f", prec, mean(xs), prec, sd(xs))
}

// targets is the section of table1.md that says whether the FR runs met
// their targets: FID at most 1.2 times the centralized baseline's on the
// i.i.d. split (with every class covered), at most twice on the
// non-i.i.d. split. Over seeds, the mean FIDs are compared and every seed
// must cover every class.
func targets(cent []Result, runs []Result, groups map[string][]Result) string {
	var b strings.Builder
	centFID := meanFID(cent)
	fmt.Fprintf(&b, "\nTargets (FID relative to the centralized baseline's %.2f):\n\n", centFID)
	done := map[string]bool{}
	for _, r := range runs {
		target := map[string]float64{"fr-sync-iid": 1.2, "fr-sync-noniid": 2}[r.Name]
		if target == 0 || done[r.Name] {
			continue
		}
		done[r.Name] = true
		ratio := meanFID(groups[r.Name]) / centFID
		verdict := "met"
		if ratio > target {
			verdict = "NOT met"
		}
		extra := ""
		if r.Name == "fr-sync-iid" {
			lo := r.Report.Covered
			for _, x := range groups[r.Name] {
				lo = min(lo, x.Report.Covered)
			}
			extra = fmt.Sprintf(", classes covered %d/%d", lo, r.Report.Classes)
			if lo < r.Report.Classes {
				verdict = "NOT met"
			}
		}
		fmt.Fprintf(&b, "- %s %s: FID ratio %.2f (target ≤ %.1f%s): %s\n", r.Label, r.Split, ratio, target, extra, verdict)
	}
	return b.String()
}

// meanFID is the mean FID of rs.
func meanFID(rs []Result) float64 {
	var fid []float64
	for _, r := range rs {
		fid = append(fid, r.Report.FID)
	}
	return mean(fid)
}

// tstr formats a train-on-synthetic accuracy; "—" when not measured.
func tstr(acc float64) string {
	if acc == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*acc)
}
