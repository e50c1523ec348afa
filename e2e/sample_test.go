package e2e

import (
	"fmt"
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
	// and a cycle skips those that are not: 12 each in the end, give or
	// take what the start costs.
	if total < 40 || total > 60 || lo < 5 {
		t.Errorf("batches per device of a: %d in all, %d to %d per device; want 40 to 60, at least 5 each", total, lo, hi)
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
