package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/wire"
)

// liarTopology is two communities of three devices, one mode each, with
// community a's third device "liar"; the settings are the simulator's
// two-community runs' (sim/robust_test.go), cut to 40 rounds.
const liarTopology = `name: liar
seed: 1
model: {latent: 4, data_dim: 2, generator: [128, 128], discriminator: [128, 128], source_code: community}
training:
  global_rounds: 40
  local_iters: 10
  batch_size: 32
  mode: %s
  sync_period: 1s
  round_timeout: 60s
  objective: nonsaturating
  lr_g: 0.002
  lr_d: 0.001
  lr_decay: 0.5
  d_spectral_norm: 3
  robust: %s%s
cloud:
  listen: 127.0.0.1:%d
  allow_anonymous: true
  output: "%s/results"
  state: "%s/state/cloud"
  eval_every: 40
  eval_samples: 1000
communities:
  - id: a
    data: {kind: gaussian, means: [[-1.5, 0]], std: 0.1, samples: 500}
    edge: {listen: 127.0.0.1:%d, allow_anonymous: true, state: "%s/state/a"}
    devices: [{id: a1}, {id: a2}, {id: liar%s}]
  - id: b
    data: {kind: gaussian, means: [[1.5, 0]], std: 0.1, samples: 500}
    edge: {listen: 127.0.0.1:%d, allow_anonymous: true, state: "%s/state/b"}
    devices: [{id: b1}, {id: b2}, {id: b3}]
`

// startLiar connects to community's edge broker as device dev, over real
// MQTT, says it is online, and answers every batch with the feedback an
// honest agent (fed.Agent, built from the topology like the real one)
// computes, rewritten by lie. It stops when the test ends.
func startLiar(t *testing.T, cfg, url, community, dev string, lie func(*wire.Feedback)) {
	t.Helper()
	top, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := deploy.DeviceData(top, dev)
	if err != nil {
		t.Fatal(err)
	}
	a, err := deploy.Agent(top, dev, ds)
	if err != nil {
		t.Fatal(err)
	}
	topics := wire.Topics{Root: top.Root}
	batches := make(chan []byte, 64)
	done := make(chan struct{})
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(dev).SetProtocolVersion(4).
		SetOrderMatters(false).SetAutoReconnect(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("liar: connect: %v", tok.Error())
	}
	if tok := c.Subscribe(topics.Batch(community), 1, func(_ paho.Client, m paho.Message) {
		select {
		case batches <- m.Payload():
		case <-done:
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("liar: subscribe: %v", tok.Error())
	}
	online, err := wire.AppendPresence(nil, &wire.Presence{State: wire.StateOnline, Device: dev, Community: community})
	if err != nil {
		t.Fatal(err)
	}
	c.Publish(topics.Presence(community, dev), 1, true, online).WaitTimeout(10 * time.Second)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			var p []byte
			select {
			case p = <-batches:
			case <-done:
				return
			}
			// Like the real agent, work on the newest batch only.
			for more := true; more; {
				select {
				case p = <-batches:
				default:
					more = false
				}
			}
			b, err := wire.DecodeBatch(p, top.Spec(), wire.Topic{Kind: wire.KindBatch, Community: community})
			if err != nil {
				continue
			}
			now := time.Now()
			a.Batch(now, b)
			if ok, err := a.Step(now); err != nil || !ok {
				continue
			}
			fb := a.Ready().Feedback
			a.Advance()
			lie(fb)
			if pl, err := msgpackFeedback(fb); err == nil {
				c.Publish(topics.Feedback(community, dev), 1, false, pl)
			}
		}
	}()
	t.Cleanup(func() {
		close(done)
		<-stopped
		c.Disconnect(0)
	})
}

// msgpackFeedback encodes fb as the agent does.
func msgpackFeedback(fb *wire.Feedback) ([]byte, error) { return wire.AppendFeedback(nil, fb) }

// liarCase is one way for device "liar" to misbehave: a rewrite of its
// feedback, or local data of its own (a broken sensor: the liar client
// trains on it, while the other roles and the evaluation see the
// topology's data), under rule (with extra training keys).
type liarCase struct {
	name, rule, extra string
	lie               func(*wire.Feedback)
	sensor            string
}

// liarResult is what one run of liarTopology ends with: the final
// evaluation, community a's last edge status and the cloud's last status.
type liarResult struct {
	covered, hq float64
	edge, cloud map[string]any
}

// liarRun trains liarTopology in mode under rule, every role but the
// liar a separate process of the real binaries.
func liarRun(t *testing.T, mode, rule string, lc liarCase) liarResult {
	t.Helper()
	dir := t.TempDir()
	cp, ap, bp := freePort(t), freePort(t), freePort(t)
	topology := func(name, sensor string) string {
		src := fmt.Sprintf(liarTopology, mode, rule, lc.extra, cp, dir, dir, ap, dir, sensor, bp, dir)
		cfg := filepath.Join(dir, name)
		if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg, liarCfg := topology("topology.yaml", ""), ""
	if lc.sensor != "" {
		liarCfg = topology("liar.yaml", ", "+lc.sensor)
	} else {
		liarCfg = cfg
	}
	fedgan, agent := binaries(t)
	start(t, "cloud", fedgan, "cloud", "-c", cfg, "-v")
	aURL := "tcp://127.0.0.1:" + strconv.Itoa(ap)
	for _, c := range []string{"a", "b"} {
		start(t, "edge "+c, fedgan, "edge", "-c", cfg, "--id", c, "-v")
	}
	for _, d := range []string{"a1", "a2", "b1", "b2", "b3"} {
		start(t, "agent "+d, agent, "-c", cfg, "--id", d)
	}
	topics := wire.Topics{}
	w := watch(t, aURL, topics.Status("a"))
	eventually(t, "edge a's broker", func() bool { return w.last(topics.Status("a")) != nil })
	cw := watch(t, "tcp://127.0.0.1:"+strconv.Itoa(cp), topics.GlobalStatus())
	lie := lc.lie
	if lie == nil {
		lie = func(*wire.Feedback) {}
	}
	startLiar(t, liarCfg, aURL, "a", "liar", lie)
	tp := &topo{Dir: dir}
	eventually(t, "the final model", finished(tp))
	lines := metricsLines(t, filepath.Join(dir, "results"))
	if d := os.Getenv("ZZDUMP"); d != "" {
		b, _ := os.ReadFile(filepath.Join(dir, "results", "metrics.jsonl"))
		os.WriteFile(filepath.Join(d, "metrics.jsonl"), b, 0o644)
	}
	if len(lines) == 0 {
		t.Fatal("no metrics")
	}
	last := lines[len(lines)-1]
	eventually(t, "edge a's status after the last round", func() bool {
		b := w.last(topics.Status("a"))
		return b != nil && num(statusOf(t, b), "edge", "last_upload_round") >= 40
	})
	eventually(t, "the cloud's status after the last round", func() bool {
		b := cw.last(topics.GlobalStatus())
		if b == nil {
			return false
		}
		done, _ := statusOf(t, b)["cloud"].(map[string]any)["done"].(bool)
		return done
	})
	edge, _ := statusOf(t, w.last(topics.Status("a")))["edge"].(map[string]any)
	cloud, _ := statusOf(t, cw.last(topics.GlobalStatus()))["cloud"].(map[string]any)
	return liarResult{num(last, "eval", "modes_covered"), num(last, "eval", "high_quality"), edge, cloud}
}

// lastIter is the local iterations of liarTopology: an iteration id that
// is a multiple of it is the last of its round in sync mode.
const lastIter = 10

// The lies of docs/RESULTS.md §6, over MQTT. The broken sensors train on
// one constant point, or on noise (σ 3 around the origin), both far from
// community a's mode.
var (
	lieLoss1e30 = liarCase{name: "loss1e30", rule: "clip", lie: func(fb *wire.Feedback) { fb.Loss = 1e30 }}
	lieLastIter = liarCase{name: "last-iter-1e30", rule: "clip", lie: func(fb *wire.Feedback) {
		if fb.Iter%lastIter == 0 {
			fb.Loss = 1e30
		}
	}}
	lieFeedback = liarCase{name: "loss0-feedback1e30", rule: "clip", lie: func(fb *wire.Feedback) { fb.Loss = 0; scaleFeedback(fb, 1e30) }}
	lieConstant = liarCase{name: "constant-sensor", rule: "trimmed", sensor: "data: {kind: gaussian, means: [[0, 0]], std: 0.000001, samples: 500}"}
	lieNoise    = liarCase{name: "noise-sensor", rule: "trimmed", sensor: "data: {kind: gaussian, means: [[0, 0]], std: 3, samples: 500}"}
)

// good reports whether a run is as good as an honest one: both modes, at
// least 80% of samples of high quality (honest runs: 95–99.5%).
func good(covered, hq float64) bool { return covered == 2 && hq >= 0.8 }

// TestLyingDeviceOverMQTT: one device of six lies, over real MQTT to real
// edges and cloud, in each of the ways of docs/RESULTS.md §6, sync and
// async, and the edge and the cloud bound what it can do:
//
//   - a loss of 1e30 on every batch, or on the last iteration of each
//     round only: rejected and counted (rejected.loss_above_max);
//   - a loss of 0 with its feedback ×1e30: clipped (bounded.norm_clipped),
//     the liar a suspect;
//   - a broken sensor (one constant point, or noise) under trimmed, the
//     rule for communities whose devices hold the same distribution.
//
// Where the runs measured over MQTT were as good as honest ones in every
// run (docs/RESULTS.md §6 gives the counts, and those under none), the
// test asserts both modes and ≥ 80% high quality; elsewhere the modes
// (2/2) or only the bounding. In every run the global model keeps moving:
// the cloud never leaves a community out for want of a reference after
// its first round (before one device's own reports stopped judging each
// other, the liar of the third lie froze G_k, and with it G, in 7 of 16
// async runs).
func TestLyingDeviceOverMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	const (
		counts = iota // the counter and suspects only
		modes         // and both modes covered
		honest        // and both modes with ≥ 80% high quality
	)
	for _, tc := range []struct {
		lc         liarCase
		counter    []string
		syncOnly   bool // the counter in sync mode only
		suspect    bool
		sync, asyn int // what is asserted in each mode
	}{
		// Async: the 1e30s are rejected (counted), but the run lost a mode
		// in 1 of 13 runs before the reference fix and once in CI after it.
		{lieLoss1e30, []string{"rejected", "loss_above_max"}, false, true, honest, counts},
		// An async edge's iteration ids do not restart with the round, and a
		// device skips the batches that arrive while it works: in 1 of 10
		// async runs the liar answered no id that is a multiple of 10.
		{lieLastIter, []string{"rejected", "loss_above_max"}, true, false, honest, honest},
		{lieFeedback, []string{"bounded", "norm_clipped"}, false, true, honest, counts},
		{lieConstant, nil, false, false, modes, counts},
		{lieNoise, nil, false, false, modes, counts},
	} {
		for _, mode := range []string{"sync", "async"} {
			want := tc.sync
			if mode == "async" {
				want = tc.asyn
			}
			t.Run(tc.lc.name+"/"+mode, func(t *testing.T) {
				r := liarRun(t, mode, tc.lc.rule, tc.lc)
				t.Logf("%s: modes covered %v, high quality %.3f; edge: rejected %v, bounded %v, suspects %v; cloud: bounded %v",
					tc.lc.rule, r.covered, r.hq, r.edge["rejected"], r.edge["bounded"], r.edge["suspects"], r.cloud["bounded"])
				switch {
				case want == honest && !good(r.covered, r.hq):
					t.Errorf("modes covered %v, high quality %.3f; want 2 and ≥ 0.8", r.covered, r.hq)
				case want == modes && r.covered != 2:
					t.Errorf("modes covered %v, want 2", r.covered)
				}
				if tc.counter != nil && (mode == "sync" || !tc.syncOnly) {
					if n := num(r.edge, tc.counter...); n <= 0 {
						t.Errorf("edge status %v = %v, want > 0", tc.counter, n)
					}
				}
				// In async mode an honest device is sometimes listed too (clipped
				// in more than half of its last 20 reports against a single other
				// device's norm: 1 of 6 runs of the loss of 1e30 before this
				// test's last revision, 2 of 10 after; docs/RESULTS.md §6), so
				// there the liar must be among the suspects.
				s, _ := r.edge["suspects"].([]any)
				if tc.suspect && !slices.Contains(s, any("liar")) || tc.suspect && mode == "sync" && len(s) != 1 {
					t.Errorf("suspects %v, want [liar]", r.edge["suspects"])
				}
				if n := num(r.cloud, "bounded", "unreferenced"); n > 1 {
					t.Errorf("cloud: %v updates left out as unreferenced, want at most the first round's: G stopped moving", n)
				}
			})
		}
	}
}

var liarRuns = flag.Int("liar-runs", 0, "TestLyingDeviceTable: runs per lie, mode and rule (docs/RESULTS.md §6)")
var liarCases = flag.String("liar-cases", "", "TestLyingDeviceTable: the lies to run, comma-separated (default all)")
var liarRules = flag.String("liar-rules", "", "TestLyingDeviceTable: the rules to run, comma-separated (default each lie's rule and none)")
var liarModes = flag.String("liar-modes", "sync,async", "TestLyingDeviceTable: the modes to run")

// TestLyingDeviceTable measures the lies of TestLyingDeviceOverMQTT
// -liar-runs times each, under each lie's rule and none, and prints how
// many runs were as good as an honest one (docs/RESULTS.md §6):
//
//	go test ./e2e -run TestLyingDeviceTable -liar-runs 10 -v -timeout 1h
func TestLyingDeviceTable(t *testing.T) {
	if *liarRuns == 0 {
		t.Skip("measures for minutes; run with -liar-runs N")
	}
	honest := liarCase{name: "honest", rule: "clip"}
	for _, lc := range []liarCase{honest, lieLoss1e30, lieLastIter, lieFeedback, lieConstant, lieNoise} {
		if *liarCases != "" && !slices.Contains(strings.Split(*liarCases, ","), lc.name) {
			continue
		}
		rules := []string{lc.rule, "none"}
		if *liarRules != "" {
			rules = strings.Split(*liarRules, ",")
		}
		for _, mode := range strings.Split(*liarModes, ",") {
			for _, rule := range rules {
				var ok, lost int
				lo, hi := 1.0, 0.0
				for range *liarRuns {
					var covered, hq float64
					t.Run(lc.name+"/"+mode+"/"+rule, func(t *testing.T) {
						r := liarRun(t, mode, rule, lc)
						covered, hq = r.covered, r.hq
						t.Logf("modes covered %v, high quality %.3f; edge: rejected %v, bounded %v, suspects %v, diverged %v; cloud: bounded %v",
							covered, hq, r.edge["rejected"], r.edge["bounded"], r.edge["suspects"], r.edge["diverged"], r.cloud["bounded"])
					})
					if good(covered, hq) {
						ok++
					}
					if covered < 2 {
						lost++
					}
					lo, hi = min(lo, hq), max(hi, hq)
				}
				fmt.Printf("| %s | %s | %s | %d of %d | %d | %.1f–%.1f%% |\n", lc.name, mode, rule, ok, *liarRuns, lost, 100*lo, 100*hi)
			}
		}
	}
}

// scaleFeedback multiplies fb's tensor by s.
func scaleFeedback(fb *wire.Feedback, s float32) {
	v, err := fb.Grad.Values()
	if err != nil {
		panic(err)
	}
	w := make([]float32, len(v))
	for i, x := range v {
		w[i] = x * s
	}
	fb.Grad = wire.NewTensor(fb.Grad.Shape, w)
}
