package loadtest

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRun: a small load test with the agents in this process. Every ask
// is accounted for, the sampled edge sends each batch to the asked
// devices only (broker bytes out per iteration about `sample` batches, not
// `agents`), and the broadcast edge to every device.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 200 MQTT clients")
	}
	ctx := context.Background()
	for _, tt := range []struct{ agents, sample int }{{200, 10}, {40, 0}} {
		rep, err := Run(ctx, Options{Agents: tt.agents, Sample: tt.sample, Iterations: 8, Model: "gaussian", Dir: t.TempDir(), Timeout: 2 * time.Minute})
		if err != nil {
			t.Fatalf("%d agents, sample %d: %v", tt.agents, tt.sample, err)
		}
		asked := tt.sample
		if asked == 0 {
			asked = tt.agents
		}
		if rep.Asked != int64(8*asked) || rep.Answered+rep.Unanswered != rep.Asked || rep.Late > rep.Unanswered || rep.Dropped != rep.Unanswered-rep.Late {
			t.Errorf("%d agents, sample %d: asked %d, answered %d, unanswered %d, late %d, dropped %d: want %d asks, each answered or unanswered",
				tt.agents, tt.sample, rep.Asked, rep.Answered, rep.Unanswered, rep.Late, rep.Dropped, 8*asked)
		}
		// Each asked device gets the batch; acknowledgements, feedback
		// acknowledgements and the status add a little.
		if lo, hi := float64(asked), float64(asked)*1.5+4; rep.OutPerBatch < lo || rep.OutPerBatch > hi {
			t.Errorf("%d agents, sample %d: broker bytes out per iteration are %.1f batches, want %.0f to %.0f", tt.agents, tt.sample, rep.OutPerBatch, lo, hi)
		}
		if m := rep.Connected; m.Goroutines < tt.agents || m.RSSMiB <= 0 || m.HeapLiveMiB <= 0 || m.StacksMiB <= 0 || rep.Idle != nil {
			t.Errorf("%d agents, sample %d: memory connected %+v, idle %v: want goroutines, RSS, heap and stacks, no idle figures", tt.agents, tt.sample, m, rep.Idle)
		}
		if rep.ItersPerSecond <= 0 || rep.LatencyP50Ms <= 0 || rep.LatencyP99Ms < rep.LatencyP50Ms {
			t.Errorf("%d agents, sample %d: %.1f iterations/s, latency p50 %.2f ms, p99 %.2f ms", tt.agents, tt.sample, rep.ItersPerSecond, rep.LatencyP50Ms, rep.LatencyP99Ms)
		}
	}
}

// TestOptions: bad options are refused with the reason.
func TestOptions(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Agents: 0, Iterations: 5, Model: "gaussian"}, "agents 0"},
		{Options{Agents: 5, Sample: 6, Iterations: 5, Model: "gaussian"}, "sample 6"},
		{Options{Agents: 5, Iterations: 1, Model: "gaussian"}, "iterations 1"},
		{Options{Agents: 5, Iterations: 5, Model: "cifar"}, `model "cifar"`},
		{Options{Agents: 5, Iterations: 5, Model: "gaussian", Procs: 2}, "needs Spawn"},
	} {
		if _, err := Run(context.Background(), tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want an error containing %q", tt.o, err, tt.want)
		}
	}
}
