package cloud

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
)

// maxCommunityLines is the most communities loss.png draws one by one;
// beyond it only their mean.
const maxCommunityLines = 8

// metricsLine is what the charts read of a metrics.jsonl line.
type metricsLine struct {
	Round   int `json:"round"`
	Summary struct {
		Losses map[string]float64 `json:"losses"`
	} `json:"summary"`
	Eval map[string]any `json:"eval"`
}

// writeCharts draws loss.png (each community's aggregated loss and their
// mean, per round) and quality.png (FID for images; the share of modes
// covered and of high-quality samples for a mixture) from metrics.jsonl,
// so that a resumed run's charts show the whole run. Rounds are counted
// from 1, as in the progress lines and the pictures' names.
func (e *Evaluator) writeCharts() error {
	b, err := os.ReadFile(filepath.Join(e.out, "metrics.jsonl"))
	if err != nil {
		return err
	}
	var lines []metricsLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, len(b)+1)
	for sc.Scan() {
		var l metricsLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			lines = append(lines, l)
		}
	}
	if err := e.writeChart("loss.png", lossChart(lines)); err != nil {
		return err
	}
	return e.writeChart("quality.png", qualityChart(lines))
}

func (e *Evaluator) writeChart(name string, c eval.Chart) error {
	var buf bytes.Buffer
	if err := c.WritePNG(&buf); err != nil {
		return fmt.Errorf("cloud: %s: %w", name, err)
	}
	return atomicfile.Write(filepath.Join(e.out, name), buf.Bytes(), 0o644)
}

func lossChart(lines []metricsLine) eval.Chart {
	per := map[string]*eval.Series{}
	mean := eval.Series{Name: "mean"}
	for _, l := range lines {
		if len(l.Summary.Losses) == 0 {
			continue
		}
		x, sum := float64(l.Round), 0.0
		for id, v := range l.Summary.Losses {
			s := per[id]
			if s == nil {
				s = &eval.Series{Name: id}
				per[id] = s
			}
			s.X, s.Y = append(s.X, x), append(s.Y, v)
			sum += v
		}
		mean.X, mean.Y = append(mean.X, x), append(mean.Y, sum/float64(len(l.Summary.Losses)))
	}
	c := eval.Chart{Title: "Aggregated loss L_D*(G_k) of each community's last update", XLabel: "round", YLabel: "loss"}
	if len(per) <= maxCommunityLines {
		for _, id := range slices.Sorted(maps.Keys(per)) {
			c.Series = append(c.Series, *per[id])
		}
	}
	if len(per) > 1 {
		c.Series = append(c.Series, mean)
	}
	return c
}

func qualityChart(lines []metricsLine) eval.Chart {
	fid := eval.Series{Name: "FID"}
	covered := eval.Series{Name: "modes covered (share)"}
	high := eval.Series{Name: "high-quality samples (share)"}
	for _, l := range lines {
		x := float64(l.Round)
		if v, ok := l.Eval["fid"].(float64); ok {
			fid.X, fid.Y = append(fid.X, x), append(fid.Y, v)
		}
		c, ok1 := l.Eval["modes_covered"].(float64)
		m, ok2 := l.Eval["modes"].(float64)
		if ok1 && ok2 && m > 0 {
			covered.X, covered.Y = append(covered.X, x), append(covered.Y, c/m)
		}
		if v, ok := l.Eval["high_quality"].(float64); ok {
			high.X, high.Y = append(high.X, x), append(high.Y, v)
		}
	}
	if len(fid.X) > 0 {
		return eval.Chart{Title: "FID of the global generator (lower is better)", XLabel: "round", YLabel: "FID", Series: []eval.Series{fid}}
	}
	return eval.Chart{Title: "Quality of the global generator", XLabel: "round", YLabel: "share", Series: []eval.Series{covered, high}}
}
