package local_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/fixture"
	"github.com/fedgan/fedgan/local"
)

const tiny = fixture.Tiny

// TestRun runs the tiny topology over MQTT on loopback and checks what
// the run measured: the rounds, each edge's status with its broker's byte
// counters, and the calls of the hooks, in order.
func TestRun(t *testing.T) {
	top, err := config.FromBytes([]byte(tiny), "tiny.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "results")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var calls []string
	hook := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, s)
	}
	res, err := local.Run(ctx, top, local.Options{Output: out,
		OnStart: func(s local.Started) {
			if s.Edges != 2 || s.CloudURL == "" {
				t.Errorf("started: %+v", s)
			}
			hook("start")
		},
		OnRound: func(p cloud.Progress) { hook(local.ProgressLine(p)[:len("round 1/2")]) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"start", "round 1/2", "round 2/2"}; len(calls) != 3 || calls[0] != want[0] || calls[1] != want[1] || calls[2] != want[2] {
		t.Errorf("hooks called %q, want %q", calls, want)
	}
	if res.Rounds() != 2 || len(res.Edges) != 2 || res.Edges[0].Community != "a" || res.Edges[1].Community != "b" || res.Wall <= 0 || res.Output != out {
		t.Errorf("result: %d rounds, %d edges, wall %s, output %s", res.Rounds(), len(res.Edges), res.Wall, res.Output)
	}
	for _, e := range res.Edges {
		if e.Broker.BytesReceived == 0 || e.Broker.BytesSent == 0 || e.Edge.Updates == 0 {
			t.Errorf("edge %s: %d updates, broker in %d out %d", e.Community, e.Edge.Updates, e.Broker.BytesReceived, e.Broker.BytesSent)
		}
	}
	if got := res.BrokerBytes(); got != res.Edges[0].Broker.BytesReceived+res.Edges[0].Broker.BytesSent+res.Edges[1].Broker.BytesReceived+res.Edges[1].Broker.BytesSent {
		t.Errorf("BrokerBytes = %d", got)
	}
	for _, f := range []string{"metrics.jsonl", "generator.nnw", "scatter.png", "state"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
}

func TestSimulate(t *testing.T) {
	top, err := config.FromBytes([]byte(tiny), "tiny.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var rounds []int
	res, err := local.Simulate(context.Background(), top, dir, eval.EvalOptions{}, func(p cloud.Progress) {
		if p.Eval == nil {
			t.Errorf("round %d: no evaluation with eval_every 1", p.Round)
		}
		rounds = append(rounds, p.Round)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rounds) != 2 || rounds[1] != 2 || len(res.Rounds) != 2 {
		t.Errorf("progress at rounds %v, result of %d rounds; want 1, 2", rounds, len(res.Rounds))
	}
	for _, f := range []string{"metrics.jsonl", "generator.nnw", "scatter_r0002.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
}
