package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

func main() {
	in := flag.String("in", "results/scale", "folder bench/scale-sweep.sh wrote")
	out := flag.String("out", "docs", "folder of the pictures")
	flag.Parse()
	if err := run(*in, *out, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "scaleplot:", err)
		os.Exit(1)
	}
}

func run(in, out string, w io.Writer) error {
	agents, err := readAgents(filepath.Join(in, "agents"))
	if err != nil {
		return err
	}
	sims, err := readSims(filepath.Join(in, "sim"))
	if err != nil {
		return err
	}
	merges, err := readCloudRound(filepath.Join(in, "cloudround.txt"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if len(agents) > 0 {
		if err := writePanels(filepath.Join(out, "scale-agents.png"), agentPanels(agents)); err != nil {
			return err
		}
		agentTable(w, agents)
	}
	if len(sims) > 0 || len(merges) > 0 {
		if err := writePanels(filepath.Join(out, "scale-communities.png"), communityPanels(sims, merges)); err != nil {
			return err
		}
		communityTable(w, sims, merges)
	}
	return nil
}

// agentRun is one load test: what bench/scale-sweep.sh keeps of
// loadtest.Report.
type agentRun struct {
	Agents      int     `json:"agents"`
	Sample      int     `json:"sample"`
	Iterations  int     `json:"iterations"`
	Rate        float64 `json:"iterations_per_second"`
	P50         float64 `json:"iteration_latency_p50_ms"`
	P99         float64 `json:"iteration_latency_p99_ms"`
	CPUPerIter  float64 `json:"edge_cpu_per_iteration_ms"`
	OutPerIter  float64 `json:"broker_bytes_out_per_iteration"`
	RSSPeakMiB  float64 `json:"edge_rss_peak_mib"`
	Asked       int64   `json:"asked"`
	Answered    int64   `json:"answered"`
	Dropped     int64   `json:"dropped"`
	Late        int64   `json:"late"`
	Unanswered  int64   `json:"unanswered"`
	WallSeconds float64 `json:"wall_seconds"`

	// Set by medianRuns: how many runs, and their slowest and fastest
	// rates.
	runs             int
	rateMin, rateMax float64
}

// asked is how many devices each iteration asked.
func (r agentRun) asked() int {
	if r.Sample == 0 {
		return r.Agents
	}
	return r.Sample
}

// simRun is one simulator run of scale-sweep.sh.
type simRun struct {
	Communities int     `json:"communities"`
	Devices     int     `json:"devices_per_community"`
	Rounds      int     `json:"rounds"`
	Wall        float64 `json:"wall_seconds"`
	RSSKiB      float64 `json:"peak_rss_kib"`
}

// merge is one CloudRound benchmark: the cloud's merge of K updates.
type merge struct {
	Rule        string
	Communities int
	Ms          float64
}

func readJSONDir[T any](dir string) ([]T, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []T
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// readAgents reads the load tests and merges the repeats of each
// (connected, asked) into one (medianRuns).
func readAgents(dir string) ([]agentRun, error) {
	rs, err := readJSONDir[agentRun](dir)
	slices.SortFunc(rs, func(a, b agentRun) int {
		if a.Sample != b.Sample {
			return a.Sample - b.Sample
		}
		return a.Agents - b.Agents
	})
	var out []agentRun
	for _, g := range groupBy(rs, func(r agentRun) int { return r.Sample*1_000_000 + r.Agents }) {
		out = append(out, medianRuns(g))
	}
	return out, err
}

// medianRuns is one run of the median rate, latency, CPU and bytes of
// rs (each figure on its own), the extremes of the rate and every ask of
// them all.
func medianRuns(rs []agentRun) agentRun {
	med := func(f func(agentRun) float64) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = f(r)
		}
		return median(xs)
	}
	m := rs[0]
	m.Rate = med(func(r agentRun) float64 { return r.Rate })
	m.P50 = med(func(r agentRun) float64 { return r.P50 })
	m.P99 = med(func(r agentRun) float64 { return r.P99 })
	m.CPUPerIter = med(func(r agentRun) float64 { return r.CPUPerIter })
	m.OutPerIter = med(func(r agentRun) float64 { return r.OutPerIter })
	m.RSSPeakMiB = med(func(r agentRun) float64 { return r.RSSPeakMiB })
	m.runs, m.rateMin, m.rateMax = len(rs), rs[0].Rate, rs[0].Rate
	m.Asked, m.Answered = 0, 0
	for _, r := range rs {
		m.rateMin, m.rateMax = min(m.rateMin, r.Rate), max(m.rateMax, r.Rate)
		m.Asked += r.Asked
		m.Answered += r.Answered
	}
	return m
}

func readSims(dir string) ([]simRun, error) {
	rs, err := readJSONDir[simRun](dir)
	slices.SortFunc(rs, func(a, b simRun) int {
		if a.Devices != b.Devices {
			return a.Devices - b.Devices
		}
		return a.Communities - b.Communities
	})
	return rs, err
}

func readCloudRound(path string) ([]merge, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCloudRound(f)
}

// parseCloudRound reads `go test -bench CloudRound` lines such as
// "BenchmarkCloudRound/clip/K=100-2   3   450123456 ns/op" (with -count,
// the median of a benchmark's lines).
func parseCloudRound(r io.Reader) ([]merge, error) {
	type key struct {
		rule string
		k    int
	}
	ms := map[key][]float64{}
	var order []key
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkCloudRound/") || f[3] != "ns/op" {
			continue
		}
		parts := strings.Split(strings.TrimPrefix(f[0], "BenchmarkCloudRound/"), "/")
		if len(parts) != 2 {
			return nil, fmt.Errorf("cloudround: %q: want RULE/K=N", f[0])
		}
		kstr, _, _ := strings.Cut(strings.TrimPrefix(parts[1], "K="), "-")
		k, err := strconv.Atoi(kstr)
		if err != nil {
			return nil, fmt.Errorf("cloudround: %q: %w", f[0], err)
		}
		ns, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			return nil, fmt.Errorf("cloudround: %q: %w", f[0], err)
		}
		kk := key{parts[0], k}
		if len(ms[kk]) == 0 {
			order = append(order, kk)
		}
		ms[kk] = append(ms[kk], ns/1e6)
	}
	out := make([]merge, 0, len(order))
	for _, k := range order {
		out = append(out, merge{Rule: k.rule, Communities: k.k, Ms: median(ms[k])})
	}
	return out, sc.Err()
}

// median of xs (not empty), which it sorts.
func median(xs []float64) float64 {
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}

// series is one line of a panel.
type series struct {
	name string
	xy   plotter.XYs
}

// panel is one log-log chart of a picture.
type panel struct {
	title, x, y string
	lines       []series
}

// agentPanels: time per iteration and the edge's CPU per iteration
// against the agents connected, one line per number asked.
func agentPanels(rs []agentRun) []panel {
	time := panel{title: "Time per sync iteration", x: "agents connected", y: "ms per iteration (1 / rate)"}
	cpu := panel{title: "Edge CPU per iteration", x: "agents connected", y: "edge CPU ms per iteration"}
	for _, group := range groupBy(rs, func(r agentRun) int { return r.Sample }) {
		name := fmt.Sprintf("%d asked", group[0].Sample)
		if group[0].Sample == 0 {
			name = "every one asked (broadcast)"
		}
		var t, c plotter.XYs
		for _, r := range group {
			if r.Rate > 0 {
				t = append(t, plotter.XY{X: float64(r.Agents), Y: 1000 / r.Rate})
			}
			c = append(c, plotter.XY{X: float64(r.Agents), Y: r.CPUPerIter})
		}
		time.lines = append(time.lines, series{name, t})
		cpu.lines = append(cpu.lines, series{name, c})
	}
	return []panel{time, cpu}
}

// communityPanels: the simulator's time per round against communities,
// one line per devices per community, and the cloud's merge per round.
func communityPanels(sims []simRun, merges []merge) []panel {
	sim := panel{title: "fedgan sim: wall time per round", x: "communities", y: "seconds per round (building included)"}
	for _, group := range groupBy(sims, func(r simRun) int { return r.Devices }) {
		var xy plotter.XYs
		for _, r := range group {
			xy = append(xy, plotter.XY{X: float64(r.Communities), Y: r.Wall / float64(max(r.Rounds, 1))})
		}
		sim.lines = append(sim.lines, series{fmt.Sprintf("%d devices each", group[0].Devices), xy})
	}
	cloud := panel{title: "The cloud's merge per round", x: "communities", y: "ms per round"}
	rules := map[string]plotter.XYs{}
	var order []string
	for _, m := range merges {
		if _, ok := rules[m.Rule]; !ok {
			order = append(order, m.Rule)
		}
		rules[m.Rule] = append(rules[m.Rule], plotter.XY{X: float64(m.Communities), Y: m.Ms})
	}
	for _, r := range order {
		cloud.lines = append(cloud.lines, series{"robust: " + r, rules[r]})
	}
	return []panel{sim, cloud}
}

// groupBy splits sorted rs into runs of equal key, in order.
func groupBy[T any](rs []T, key func(T) int) [][]T {
	var out [][]T
	for i, r := range rs {
		if i == 0 || key(r) != key(rs[i-1]) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], r)
	}
	return out
}

// palette is Okabe and Ito's colour-blind-safe set (as eval's charts).
var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{213, 94, 0, 255}, color.RGBA{0, 158, 115, 255},
	color.RGBA{204, 121, 167, 255}, color.RGBA{230, 159, 0, 255},
}

// newPlot draws one panel on log-log axes, with points and a legend.
func newPlot(p panel) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text, pl.X.Label.Text, pl.Y.Label.Text = p.title, p.x, p.y
	pl.X.Scale, pl.Y.Scale = plot.LogScale{}, plot.LogScale{}
	pl.X.Tick.Marker, pl.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
	pl.Add(plotter.NewGrid())
	pl.Legend.Top, pl.Legend.Left = true, true
	for i, s := range p.lines {
		if len(s.xy) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", p.title, s.name, err)
		}
		l.Color, sc.Color = palette[i%len(palette)], palette[i%len(palette)]
		l.Width = vg.Points(1.4)
		pl.Add(l, sc)
		pl.Legend.Add(s.name, l, sc)
	}
	if pl.Y.Min > 0 && pl.Y.Max > pl.Y.Min { // room above the data for the legend
		pl.Y.Max *= math.Pow(pl.Y.Max/pl.Y.Min, 0.12*float64(len(p.lines)))
	}
	return pl, nil
}

// writePanels writes the panels that have a line side by side as one
// PNG.
func writePanels(path string, ps []panel) error {
	ps = slices.DeleteFunc(slices.Clone(ps), func(p panel) bool {
		return !slices.ContainsFunc(p.lines, func(s series) bool { return len(s.xy) > 0 })
	})
	if len(ps) == 0 {
		return nil
	}
	const dpi, w, h = 96, 560, 420
	canvas := vgimg.NewWith(vgimg.UseWH(vg.Length(w*len(ps))*vg.Inch/dpi, vg.Length(h)*vg.Inch/dpi), vgimg.UseDPI(dpi))
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 1, Cols: len(ps), PadX: vg.Points(12), PadTop: vg.Points(4), PadBottom: vg.Points(4)}
	for i, p := range ps {
		pl, err := newPlot(p)
		if err != nil {
			return err
		}
		pl.Draw(tiles.At(dc, i, 0))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: canvas}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func agentTable(w io.Writer, rs []agentRun) {
	fmt.Fprintln(w, "| connected | asked | runs × iterations | iterations/s, median (range) | ms per iteration | p50 / p99 ms | edge CPU ms/iteration | broker bytes out/iteration | peak RSS MiB | answered / asked |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs {
		asked := strconv.Itoa(r.asked())
		if r.Sample == 0 {
			asked = "all " + asked
		}
		fmt.Fprintf(w, "| %d | %s | %d × %d | %.1f (%.1f–%.1f) | %.1f | %.1f / %.1f | %.2f | %.0f | %.0f | %d / %d |\n",
			r.Agents, asked, r.runs, r.Iterations, r.Rate, r.rateMin, r.rateMax, 1000/r.Rate, r.P50, r.P99, r.CPUPerIter, r.OutPerIter, r.RSSPeakMiB, r.Answered, r.Asked)
	}
}

func communityTable(w io.Writer, sims []simRun, merges []merge) {
	if len(sims) > 0 {
		fmt.Fprintln(w, "\n| communities × devices each | devices | wall time (3 rounds) | per round | peak RSS MB |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
		for _, r := range sims {
			fmt.Fprintf(w, "| %d × %d | %d | %.2f s | %.3f s | %.0f |\n", r.Communities, r.Devices, r.Communities*r.Devices,
				r.Wall, r.Wall/float64(max(r.Rounds, 1)), r.RSSKiB*1024/1e6)
		}
	}
	if len(merges) > 0 {
		fmt.Fprintln(w, "\n| robust rule | communities | cloud merge ms per round |")
		fmt.Fprintln(w, "|---|---:|---:|")
		for _, m := range merges {
			fmt.Fprintf(w, "| %s | %d | %.1f |\n", m.Rule, m.Communities, m.Ms)
		}
	}
}
