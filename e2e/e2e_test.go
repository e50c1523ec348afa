package e2e

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// startAll starts the cloud, every edge and every agent of tp as separate
// OS processes, the way a deployment runs them.
func startAll(t *testing.T, tp *topo, cfg string) (cloud *proc, edges map[string]*proc, agents map[string]*proc) {
	t.Helper()
	fedgan, agent := binaries(t)
	cloud = start(t, "cloud", fedgan, "cloud", "-c", cfg, "-v")
	edges, agents = map[string]*proc{}, map[string]*proc{}
	for _, c := range tp.Communities {
		edges[c.ID] = start(t, "edge "+c.ID, fedgan, "edge", "-c", cfg, "--id", c.ID, "-v")
		for _, d := range c.Devices {
			agents[d] = start(t, "agent "+d, agent, "-c", cfg, "--id", d, "-v")
		}
	}
	return cloud, edges, agents
}

func finished(tp *topo) func() bool {
	return func() bool {
		_, err := os.Stat(filepath.Join(tp.Dir, "results", "generator.nnw"))
		return err == nil
	}
}

// checkRounds asserts that every round closed exactly once, in order,
// with every community's update (none lost, none applied twice).
func checkRounds(t *testing.T, tp *topo) {
	t.Helper()
	lines := metricsLines(t, filepath.Join(tp.Dir, "results"))
	if len(lines) != tp.Rounds {
		t.Fatalf("metrics.jsonl has %d rounds, want %d", len(lines), tp.Rounds)
	}
	for i, l := range lines {
		if got := int(l["round"].(float64)); got != i+1 {
			t.Errorf("line %d: round %d, want %d", i, got, i+1)
		}
		sum := l["summary"].(map[string]any)
		if w := sum["weights"].(map[string]any); len(w) != len(tp.Communities) {
			t.Errorf("round %d merged %d communities (%v), want %d", i, len(w), w, len(tp.Communities))
		}
	}
	f, err := os.Open(filepath.Join(tp.Dir, "results", "generator.nnw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := nn.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range g.Params() {
		for _, v := range p.Value {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("final generator %s holds %v", p.Name, v)
			}
		}
	}
}

// TestSeparateProcesses runs a deployment as separate OS processes: the
// cloud, two edges and four agents, and stops them with SIGINT.
func TestSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 3, 10)
	cfg := tp.write(t)
	cloud, edges, agents := startAll(t, tp, cfg)
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
	for _, a := range agents {
		a.stop(t)
	}
	for _, e := range edges {
		e.stop(t)
	}
	cloud.stop(t)
}

// TestDeviceKilledMidRound: a device is SIGKILLed during training; the
// sync edge proceeds after sync_period; the device restarts and rejoins;
// nothing hangs.
func TestDeviceKilledMidRound(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 6, 15)
	cfg := tp.write(t)
	_, _, agents := startAll(t, tp, cfg)
	topics := wire.Topics{}
	w := watch(t, "tcp://127.0.0.1:"+strconv.Itoa(tp.Communities[0].Port), topics.FeedbackFilter("a"), topics.Status("a"))
	eventually(t, "a1 to send feedback", func() bool { return w.count(topics.Feedback("a", "a1")) >= 5 })
	// Frozen: its connection stays open and it answers nothing, so only
	// the sync period lets the edge go on.
	agents["a1"].cmd.Process.Signal(syscall.SIGSTOP)
	before := w.count(topics.Feedback("a", "a2"))
	eventually(t, "a2 to keep training without a1", func() bool { return w.count(topics.Feedback("a", "a2")) >= before+3 })
	eventually(t, "a partial iteration in the edge's status", func() bool {
		b := w.last(topics.Status("a"))
		return b != nil && num(statusOf(t, b), "edge", "partial_iterations") >= 1
	})
	agents["a1"].kill() // the broker publishes its will at once
	_, agent := binaries(t)
	n := w.count(topics.Feedback("a", "a1"))
	start(t, "agent a1 (restarted)", agent, "-c", cfg, "--id", "a1", "-v")
	eventually(t, "a1 to rejoin", func() bool { return w.count(topics.Feedback("a", "a1")) >= n+3 })
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
}

// TestEdgeKilledAndRestarted: an edge is SIGKILLed and restarted; it
// resumes from its checkpoint and the cloud completes the run.
func TestEdgeKilledAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 5, 20)
	cfg := tp.write(t)
	_, edges, _ := startAll(t, tp, cfg)
	eventually(t, "round 1 to close", func() bool { return len(metricsLines(t, filepath.Join(tp.Dir, "results"))) >= 1 })
	edges["a"].kill()
	if _, err := os.Stat(filepath.Join(tp.Dir, "state", "a", "edge.ckpt")); err != nil {
		t.Fatalf("no checkpoint after a round: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	fedgan, _ := binaries(t)
	e := start(t, "edge a (restarted)", fedgan, "edge", "-c", cfg, "--id", "a", "-v")
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
	if out := e.out.String(); !strings.Contains(out, "restored=true") {
		t.Errorf("restarted edge did not restore its checkpoint:\n%s", tail(out, 2000))
	}
}

// TestCloudUnreachable: the cloud (and its broker) is SIGKILLed while the
// edges finish a round; it restarts from its checkpoint; no generator
// update is lost or applied twice (checkRounds: every round merged every
// community exactly once).
func TestCloudUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 4, 400)
	cfg := tp.write(t)
	cloud, _, _ := startAll(t, tp, cfg)
	topics := wire.Topics{}
	var ws []*watcher
	for _, c := range tp.Communities {
		ws = append(ws, watch(t, "tcp://127.0.0.1:"+strconv.Itoa(c.Port), topics.Status(c.ID)))
	}
	// Kill the cloud once every edge has started round 2 (round 1 closed
	// and its model arrived), well before round 2 can end.
	eventually(t, "both edges to train round 2", func() bool {
		for i, c := range tp.Communities {
			b := ws[i].last(topics.Status(c.ID))
			if b == nil || num(statusOf(t, b), "edge", "round") < 2 {
				return false
			}
		}
		return true
	})
	cloud.kill()
	// The edges finish round 2 with the cloud away. An update either
	// waits in its bridge's queue, or was acknowledged by the cloud's
	// broker just before the kill and lost with the cloud process: the
	// restarted cloud re-announces round 2 and the edges send it again.
	eventually(t, "both edges to upload round 2", func() bool {
		for i, c := range tp.Communities {
			b := ws[i].last(topics.Status(c.ID))
			if b == nil || num(statusOf(t, b), "edge", "last_upload_round") < 2 {
				return false
			}
		}
		return true
	})
	fedgan, _ := binaries(t)
	c2 := start(t, "cloud (restarted)", fedgan, "cloud", "-c", cfg, "-v")
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
	if out := c2.out.String(); !strings.Contains(out, "restored=true") {
		t.Errorf("restarted cloud did not restore its checkpoint:\n%s", tail(out, 2000))
	}
}
