package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/fedgan/fedgan/wire"
)

// TestSamplingOverMQTT: edges that ask two devices per iteration
// (training.sample: 2), community a with a quorum of one, as separate
// processes over real brokers. Batches go to the asked devices' own
// topics and never to the community's; every device of a is asked; the
// edge counts the asks the broker delivered and accounts for each
// (answered in time, or unanswered when the quorum closed the iteration,
// then perhaps late); the run finishes with every round merged.
func TestSamplingOverMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 3, 10)
	tp.Communities[0].Devices = []string{"a1", "a2", "a3", "a4", "a5"}
	tp.Communities[1].Devices = []string{"b1", "b2", "b3"}
	tp.Extra = "  sample: 2\n  quorum: 1"
	cfg := tp.write(t)
	topics := wire.Topics{}
	url := "tcp://127.0.0.1:" + strconv.Itoa(tp.Communities[0].Port)
	// The watcher subscribes before any agent starts, so it sees every
	// batch.
	fedgan, agent := binaries(t)
	start(t, "cloud", fedgan, "cloud", "-c", cfg, "-v")
	for _, c := range tp.Communities {
		start(t, "edge "+c.ID, fedgan, "edge", "-c", cfg, "--id", c.ID, "-v")
	}
	w := watch(t, url, topics.Batch("a"), topics.BatchTo("a", "+"), topics.Status("a"))
	for _, c := range tp.Communities {
		for _, d := range c.Devices {
			start(t, "agent "+d, agent, "-c", cfg, "--id", d, "-v")
		}
	}
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)

	if n := w.count(topics.Batch("a")); n != 0 {
		t.Errorf("%d batches on the community's topic, want 0 (each goes to its asked devices)", n)
	}
	total, lo, hi := 0, 1<<30, 0
	for _, d := range tp.Communities[0].Devices {
		n := w.count(topics.BatchTo("a", d))
		total += n
		lo, hi = min(lo, n), max(hi, n)
	}
	// 30 iterations × up to 2 asks over 5 devices in cycles; while the
	// agents start, an iteration asks the one or two that are online,
	// and a cycle skips those that are not. The run takes well under a
	// second, so an agent that connects late is asked only a few times
	// (3 of 50 seen in CI): every device at least once here; fairness
	// itself is fed's TestSampleFair.
	if total < 40 || total > 60 || lo < 1 {
		t.Errorf("batches per device of a: %d in all, %d to %d per device; want 40 to 60, every device at least once", total, lo, hi)
	}
	// The edge's retained status, published every second, catches up
	// with its last iteration.
	var line string
	ok := false
	for range 100 {
		if b := w.last(topics.Status("a")); b != nil {
			st := statusOf(t, b)
			asked, fb, late, dup, unans := num(st, "edge", "asked"), num(st, "edge", "feedback"), num(st, "edge", "late"), num(st, "edge", "duplicate"), num(st, "edge", "unanswered")
			line = fmt.Sprintf("asked %v, feedback %v (late %v, duplicate %v), unanswered %v, partial iterations %v", asked, fb, late, dup, unans, num(st, "edge", "partial_iterations"))
			if ok = int(asked) == total && asked == fb-late-dup+unans && late <= unans; ok {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !ok {
		t.Errorf("a's status: %s; want the %d asks the broker delivered, each answered in time or unanswered (and then perhaps late)", line, total)
	}
	t.Logf("a's status: %s", line)
}

// TestLoadtestCommand: `fedgan loadtest` with its agents in two child
// processes (the CI's small load test: correctness, not speed): 200
// agents, 20 asked per iteration; every ask accounted for; the broker
// sends about 20 batches per iteration, not 200.
func TestLoadtestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	fedgan, _ := binaries(t)
	out, err := exec.Command(fedgan, "loadtest", "--agents", "200", "--sample", "20", "--iterations", "10", "--procs", "2", "--timeout", "3m").Output()
	if err != nil {
		t.Fatalf("fedgan loadtest: %v\n%s", err, out)
	}
	var rep struct {
		Asked       int64   `json:"asked"`
		Answered    int64   `json:"answered"`
		Unanswered  int64   `json:"unanswered"`
		OutPerBatch float64 `json:"broker_out_per_batch"`
		RSSPerConn  float64 `json:"edge_rss_per_connection_kib"`
		AgentCPU    float64 `json:"agent_cpu_seconds"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if rep.Asked != 200 || rep.Answered+rep.Unanswered != rep.Asked {
		t.Errorf("asked %d, answered %d, unanswered %d: want 200 asks, each answered or unanswered", rep.Asked, rep.Answered, rep.Unanswered)
	}
	if rep.OutPerBatch < 20 || rep.OutPerBatch > 34 {
		t.Errorf("broker bytes out per iteration: %.1f batches, want 20 to 34", rep.OutPerBatch)
	}
	if rep.AgentCPU <= 0 {
		t.Errorf("agent processes' CPU time %v, want > 0 (the children ran)", rep.AgentCPU)
	}
	t.Logf("%s", out)
}
