package fed

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// Scenario scripts (like etcd/raft's interaction tests): testdata/*.txt
// hold commands and, after "----", the output they must produce.
// Regenerate the expected outputs with: go test ./fed -run Scenario -rewrite
var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of scenario scripts")

type step struct {
	cmd    string
	args   map[string]string
	pos    []string
	want   string
	header string // the command line as written
}

func parseScript(t *testing.T, path string) []step {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []step
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := step{header: line, args: map[string]string{}}
		fields := strings.Fields(line)
		s.cmd = fields[0]
		for _, f := range fields[1:] {
			if k, v, ok := strings.Cut(f, "="); ok {
				s.args[k] = v
			} else {
				s.pos = append(s.pos, f)
			}
		}
		if !sc.Scan() || sc.Text() != "----" {
			t.Fatalf("%s: %q must be followed by ----", path, line)
		}
		var want []string
		for sc.Scan() && sc.Text() != "" {
			want = append(want, sc.Text())
		}
		s.want = strings.Join(want, "\n")
		steps = append(steps, s)
	}
	return steps
}

func writeScript(t *testing.T, path string, steps []step, got []string, comments map[int][]string) {
	var b strings.Builder
	for i, s := range steps {
		for _, c := range comments[i] {
			b.WriteString(c + "\n")
		}
		fmt.Fprintf(&b, "%s\n----\n%s\n\n", s.header, got[i])
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// leadingComments keeps the comment lines before each command.
func leadingComments(t *testing.T, path string) map[int][]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	var pending []string
	i := 0
	lines := strings.Split(string(b), "\n")
	for j := 0; j < len(lines); j++ {
		l := lines[j]
		switch {
		case strings.HasPrefix(l, "#"):
			pending = append(pending, l)
		case strings.TrimSpace(l) == "":
		default:
			out[i] = pending
			pending = nil
			i++
			for j++; j < len(lines) && lines[j] != ""; j++ {
			}
		}
	}
	return out
}

func runScripts(t *testing.T, glob string, run func(t *testing.T, s step) string) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts %s: %v", glob, err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			steps := parseScript(t, path)
			got := make([]string, len(steps))
			for i, s := range steps {
				got[i] = strings.TrimRight(run(t, s), "\n")
				if !*rewrite && got[i] != s.want {
					t.Errorf("%s: %s\ngot:\n%s\nwant:\n%s", path, s.header, got[i], s.want)
				}
			}
			if *rewrite {
				writeScript(t, path, steps, got, leadingComments(t, path))
			}
		})
	}
}

func dur(t *testing.T, s string) time.Time {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(1000, 0).Add(d)
}

func atof(t *testing.T, s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func atoi(t *testing.T, s string) int {
	v, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tinyGen is G: 2 → 4 → 2 with a fixed seed.
func tinyGen(t *testing.T) *nn.Sequential {
	g, err := nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 2}}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func renderEdge(r EdgeReady) string {
	var b strings.Builder
	for i, x := range r.Batches {
		fmt.Fprintf(&b, "batch round=%d iter=%d version=%d", x.Round, x.Iter, x.Version)
		if to := r.BatchTo(i); to != nil {
			fmt.Fprintf(&b, " to=%v", to)
		}
		b.WriteString("\n")
	}
	for _, u := range r.Updates {
		fmt.Fprintf(&b, "upload round=%d iters=%d loss=%.4f\n", u.Round, u.Iters, u.Loss)
	}
	if r.Checkpoint {
		b.WriteString("checkpoint\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n.Msg)
	}
	if b.Len() == 0 {
		return "(nothing)"
	}
	return b.String()
}

// TestEdgeScenarios drives the edge state machine with scripted events:
//
//	edge mode=sync|async devices=a,b iters=N period=D [staleness=versions] [max_stale=N] [sample=N] [quorum=N]
//	presence t=D DEV online|offline
//	global t=D round=N [final=true]
//	feedback t=D DEV iter=N [version=N] [round=N] loss=L [grad=G]
//	tick t=D
//	ready        (prints and acknowledges what the edge wants done)
//	stats
func TestEdgeScenarios(t *testing.T) {
	var e *Edge
	var gen *nn.Sequential
	runScripts(t, "testdata/edge_*.txt", func(t *testing.T, s step) string {
		var err error
		switch s.cmd {
		case "edge":
			mode, _ := ParseMode(s.args["mode"])
			period, _ := time.ParseDuration(s.args["period"])
			cfg := EdgeConfig{Community: "c", Devices: strings.Split(s.args["devices"], ","), Mode: mode, SyncPeriod: period,
				LocalIters: atoi(t, s.args["iters"]), Batch: 2, Layout: Layout{Latent: 2}, DataDim: 2, RNG: rand.NewPCG(2, 2)}
			gen = tinyGen(t)
			cfg.Gen, cfg.Opt = gen, nn.NewAdam(1e-3, 0.5, 0.999, 1e-8)
			if v, ok := s.args["staleness"]; ok {
				cfg.Staleness, _ = ParseStalenessMode(v)
			}
			if v, ok := s.args["max_stale"]; ok {
				cfg.MaxStaleness = atoi(t, v)
			}
			if v, ok := s.args["sample"]; ok {
				cfg.Sample = atoi(t, v)
			}
			if v, ok := s.args["quorum"]; ok {
				cfg.Quorum = atoi(t, v)
			}
			e, err = NewEdge(cfg)
		case "presence":
			err = e.Presence(dur(t, s.args["t"]), s.pos[0], s.pos[1] == "online")
		case "global":
			err = e.Global(dur(t, s.args["t"]), &Global{Round: atoi(t, s.args["round"]), Final: s.args["final"] == "true", Params: nn.Flatten(nil, gen.Params())})
		case "feedback":
			g := 0.1
			if v, ok := s.args["grad"]; ok {
				g = atof(t, v)
			}
			grad := []float32{float32(g), float32(g), float32(g), float32(g)}
			fb := &Feedback{Device: s.pos[0], Round: e.Round(), Iter: int64(atoi(t, s.args["iter"])), Loss: atof(t, s.args["loss"]), Grad: grad}
			if v, ok := s.args["version"]; ok {
				fb.Version = int64(atoi(t, v))
			}
			if v, ok := s.args["round"]; ok {
				fb.Round = atoi(t, v)
			}
			err = e.Feedback(dur(t, s.args["t"]), fb)
		case "tick":
			e.Tick(dur(t, s.args["t"]))
		case "ready":
			r := e.Ready()
			e.Advance()
			return renderEdge(r)
		case "stats":
			st := e.Stats()
			ids := make([]string, 0, len(st.Weights))
			for id := range st.Weights {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			var w []string
			for _, id := range ids {
				w = append(w, fmt.Sprintf("%s:%.4f", id, st.Weights[id]))
			}
			line := fmt.Sprintf("round=%d iter=%d version=%d state=%s updates=%d loss=%.4f weights=[%s] live=%v late=%d dup=%d stale=%d unknown=%d empty=%d partial=%d",
				st.Round, st.Iter, st.Version, st.State, st.Updates, st.Loss, strings.Join(w, " "), st.Live, st.Late, st.Duplicate, st.Stale, st.Unknown, st.Empty, st.Partial)
			if st.Asked+st.Unanswered > 0 {
				line += fmt.Sprintf(" asked=%d unanswered=%d", st.Asked, st.Unanswered)
			}
			return line
		default:
			t.Fatalf("unknown command %q", s.cmd)
		}
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	})
}

func renderCloud(r CloudReady) string {
	var b strings.Builder
	if g := r.Global; g != nil {
		fmt.Fprintf(&b, "global round=%d final=%v\n", g.Round, g.Final)
	}
	for _, s := range r.Rounds {
		ids := make([]string, 0, len(s.Weights))
		for id := range s.Weights {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var w []string
		for _, id := range ids {
			w = append(w, fmt.Sprintf("%s:%.4f", id, s.Weights[id]))
		}
		fmt.Fprintf(&b, "closed round=%d weights=[%s] missing=%v timed_out=%v\n", s.Round, strings.Join(w, " "), s.Missing, s.TimedOut)
	}
	if r.Checkpoint {
		b.WriteString("checkpoint\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n.Msg)
	}
	if b.Len() == 0 {
		return "(nothing)"
	}
	return b.String()
}

// TestCloudScenarios drives the cloud state machine:
//
//	cloud communities=a,b rounds=N timeout=D
//	start t=D
//	update t=D COMMUNITY round=N loss=L value=V   (every parameter = V)
//	tick t=D
//	ready
//	param            (G's first parameter value)
//	stats
//	snapshot / restore
func TestCloudScenarios(t *testing.T) {
	var c *Cloud
	var cfg CloudConfig
	var snap []byte
	runScripts(t, "testdata/cloud_*.txt", func(t *testing.T, s step) string {
		var err error
		switch s.cmd {
		case "cloud":
			timeout, _ := time.ParseDuration(s.args["timeout"])
			cfg = CloudConfig{Communities: strings.Split(s.args["communities"], ","), GlobalRounds: atoi(t, s.args["rounds"]), RoundTimeout: timeout, Gen: tinyGen(t), RNG: rand.NewPCG(3, 3)}
			c, err = NewCloud(cfg)
		case "start":
			c.Start(dur(t, s.args["t"]))
		case "update":
			n := len(nn.Flatten(nil, cfg.Gen.Params()))
			p := make([]float32, n)
			for i := range p {
				p[i] = float32(atof(t, s.args["value"]))
			}
			err = c.Update(dur(t, s.args["t"]), &Update{Community: s.pos[0], Round: atoi(t, s.args["round"]), Loss: atof(t, s.args["loss"]), Params: p})
		case "tick":
			c.Tick(dur(t, s.args["t"]))
		case "ready":
			r := c.Ready()
			c.Advance()
			return renderCloud(r)
		case "param":
			return fmt.Sprintf("%.4f", c.Gen().Params()[0].Value[0])
		case "stats":
			st := c.Stats()
			return fmt.Sprintf("round=%d done=%v reported=%v updates=%d duplicate=%d late=%d future=%d unknown=%d timeouts=%d empty=%d",
				st.Round, st.Done, st.Reported, st.Updates, st.Duplicate, st.Late, st.Future, st.Unknown, st.Timeouts, st.Empty)
		case "snapshot":
			snap, err = c.Snapshot()
		case "restore":
			cfg.Gen, cfg.RNG = tinyGen(t), rand.NewPCG(3, 3)
			if c, err = NewCloud(cfg); err == nil {
				err = c.Restore(snap)
			}
		default:
			t.Fatalf("unknown command %q", s.cmd)
		}
		if err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	})
}
