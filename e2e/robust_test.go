package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
  robust: %s
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
    devices: [{id: a1}, {id: a2}, {id: liar}]
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

// liarRun trains liarTopology in mode with rule, every role but the liar a
// separate process of the real binaries, and returns the final
// evaluation (modes covered, high quality) and community a's last edge
// status.
func liarRun(t *testing.T, mode, rule string, lie func(*wire.Feedback)) (covered, hq float64, status map[string]any) {
	t.Helper()
	dir := t.TempDir()
	cp, ap, bp := freePort(t), freePort(t), freePort(t)
	cfg := filepath.Join(dir, "topology.yaml")
	src := fmt.Sprintf(liarTopology, mode, rule, cp, dir, dir, ap, dir, bp, dir)
	if err := os.WriteFile(cfg, []byte(src), 0o644); err != nil {
		t.Fatal(err)
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
	startLiar(t, cfg, aURL, "a", "liar", lie)
	tp := &topo{Dir: dir}
	eventually(t, "the final model", finished(tp))
	lines := metricsLines(t, filepath.Join(dir, "results"))
	if len(lines) == 0 {
		t.Fatal("no metrics")
	}
	last := lines[len(lines)-1]
	eventually(t, "edge a's status after the last round", func() bool {
		b := w.last(topics.Status("a"))
		return b != nil && num(statusOf(t, b), "edge", "last_upload_round") >= 39
	})
	return num(last, "eval", "modes_covered"), num(last, "eval", "high_quality"), statusOf(t, w.last(topics.Status("a")))
}

// TestLyingDeviceOverMQTT: a device that reports a loss of 1e30 on every
// batch, over real MQTT to real edges, is rejected and counted
// (rejected.loss_above_max in the edge's status) and listed as a suspect;
// one that reports a loss of 0 with its feedback ×1e30 is clipped
// (bounded.norm_clipped) and listed; in sync mode the global model still
// covers both modes. In async mode the test asserts the bounding only:
// over MQTT these short async runs lost a mode in some runs even with the
// liar's every report rejected (docs/RESULTS.md §6); the simulator's
// sim.TestRobustLies asserts the async modes deterministically.
func TestLyingDeviceOverMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	for _, tc := range []struct {
		name, mode string
		lie        func(*wire.Feedback)
		counter    []string
		modes      bool // assert both modes covered
	}{
		{"loss1e30", "sync", func(fb *wire.Feedback) { fb.Loss = 1e30 }, []string{"rejected", "loss_above_max"}, true},
		{"loss1e30", "async", func(fb *wire.Feedback) { fb.Loss = 1e30 }, []string{"rejected", "loss_above_max"}, false},
		{"loss0-feedback1e30", "sync", func(fb *wire.Feedback) { fb.Loss = 0; scaleFeedback(fb, 1e30) }, []string{"bounded", "norm_clipped"}, true},
		{"loss0-feedback1e30", "async", func(fb *wire.Feedback) { fb.Loss = 0; scaleFeedback(fb, 1e30) }, []string{"bounded", "norm_clipped"}, false},
	} {
		t.Run(tc.name+"/"+tc.mode, func(t *testing.T) {
			covered, hq, st := liarRun(t, tc.mode, "clip", tc.lie)
			edge, _ := st["edge"].(map[string]any)
			t.Logf("modes covered %v, high quality %.3f; rejected %v, bounded %v, suspects %v", covered, hq, edge["rejected"], edge["bounded"], edge["suspects"])
			if tc.modes && (covered != 2 || hq < 0.8) {
				t.Errorf("modes covered %v, high quality %.3f; want 2 and ≥ 0.8", covered, hq)
			}
			if n := num(st, append([]string{"edge"}, tc.counter...)...); n <= 0 {
				t.Errorf("edge status %v = %v, want > 0", tc.counter, n)
			}
			if s, _ := edge["suspects"].([]any); len(s) != 1 || s[0] != "liar" {
				t.Errorf("suspects %v, want [liar]", edge["suspects"])
			}
		})
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
