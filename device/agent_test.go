package device

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

const waitFor = 30 * time.Second

const topology = `
model: {latent: 2, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 10, batch_size: 4}
cloud: {allow_anonymous: true}
communities:
  - id: c1
    data: {kind: gaussian, means: [[0, 0]], std: 0.1, samples: 50}
    edge: {allow_anonymous: true}
    devices: [{id: d1}]
`

func startBroker(t *testing.T, addr string) (*broker.Broker, context.CancelFunc) {
	t.Helper()
	b, err := broker.New(broker.Config{Addr: addr, AllowAnonymous: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	select {
	case <-b.Ready():
	case <-time.After(waitFor):
		t.Fatal("broker did not start")
	}
	return b, func() { cancel(); <-done }
}

// recorder is a test client that keeps what it receives.
type recorder struct {
	mu   sync.Mutex
	msgs map[string][][]byte
	c    *mqttc.Client
}

var recorders int

func newRecorder(t *testing.T, url string, filters ...string) *recorder {
	r := &recorder{msgs: map[string][][]byte{}}
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	recorders++
	c, err := mqttc.New(mqttc.Options{URL: url, ClientID: fmt.Sprintf("rec%d", recorders), Subscriptions: subs, OnMessage: func(topic string, p []byte, _ bool) {
		r.mu.Lock()
		r.msgs[topic] = append(r.msgs[topic], append([]byte(nil), p...))
		r.mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	r.c = c
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *recorder) get(topic string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.msgs[topic]...)
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func batch(iter int64) []byte {
	rng := rand.New(rand.NewPCG(uint64(iter), 0))
	x := make([]float32, 8)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	b, err := wire.AppendBatch(nil, &wire.Batch{V: wire.Version, Community: "c1", Iter: iter, Version: iter,
		Fake: wire.NewTensor([]int{4, 2}, x), Gen: wire.NewTensor([]int{4, 2}, x)})
	if err != nil {
		panic(err)
	}
	return b
}

func presenceState(t *testing.T, p []byte) string {
	var m wire.Presence
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatal(err)
	}
	return m.State
}

// TestAgent: the agent answers each batch with one valid Feedback, drops
// and counts invalid batches, keeps only the newest batch while busy,
// survives a broker restart, and says offline when it stops.
func TestAgent(t *testing.T) {
	top, err := config.FromBytes([]byte(topology), "agent-test", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, stop := startBroker(t, "127.0.0.1:0")
	addr := b.Addr()
	url := "tcp://" + addr
	topics := wire.Topics{}
	rec := newRecorder(t, url, topics.Feedback("c1", "d1"), topics.Presence("c1", "d1"))
	defer func() { rec.c.Close(0) }()

	var paused sync.Mutex // held: the agent waits before each batch
	a, err := New(top, "d1", Options{URL: url, Gate: func(ctx context.Context) error { paused.Lock(); paused.Unlock(); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx) }()
	eventually(t, "presence online", func() bool {
		p := rec.get(topics.Presence("c1", "d1"))
		return len(p) > 0 && presenceState(t, p[len(p)-1]) == "online"
	})

	pub := newRecorder(t, url)
	defer pub.c.Close(0)
	send := func(p []byte) {
		t.Helper()
		if err := pub.c.Publish(context.Background(), mqttc.Message{Topic: topics.Batch("c1"), Payload: p, QoS: 1}); err != nil {
			t.Fatal(err)
		}
	}
	send(batch(1))
	eventually(t, "feedback for iteration 1", func() bool { return len(rec.get(topics.Feedback("c1", "d1"))) == 1 })
	fb, err := wire.DecodeFeedback(rec.get(topics.Feedback("c1", "d1"))[0], top.Spec(), wire.Topic{Kind: wire.KindFeedback, Community: "c1", Device: "d1"})
	if err != nil {
		t.Fatalf("the agent's feedback does not validate: %v", err)
	}
	if fb.Iter != 1 || fb.Version != 1 || fb.NReal != 4 || fb.Loss >= 0 {
		t.Errorf("feedback: iter %d version %d n_real %d loss %v", fb.Iter, fb.Version, fb.NReal, fb.Loss)
	}

	// Invalid batches are dropped and counted by reason.
	send([]byte("garbage"))
	bad := batch(2)
	send(bad[:len(bad)-3])
	eventually(t, "invalid batches to be counted", func() bool { return a.Stats().Invalid["malformed"] == 2 })

	// While the agent is held, three batches arrive: only the newest is answered.
	paused.Lock()
	send(batch(10)) // taken from the mailbox, then held at the gate
	time.Sleep(100 * time.Millisecond)
	send(batch(11))
	send(batch(12))
	eventually(t, "two batches to be replaced", func() bool { return a.Stats().Skipped >= 2 })
	paused.Unlock()
	eventually(t, "feedback for iteration 12", func() bool {
		fbs := rec.get(topics.Feedback("c1", "d1"))
		last, err := wire.DecodeFeedback(fbs[len(fbs)-1], top.Spec(), wire.Topic{Kind: wire.KindFeedback, Community: "c1", Device: "d1"})
		return err == nil && last.Iter == 12
	})
	for _, p := range rec.get(topics.Feedback("c1", "d1")) {
		if m, _ := wire.DecodeFeedback(p, top.Spec(), wire.Topic{Kind: wire.KindFeedback, Community: "c1", Device: "d1"}); m != nil && m.Iter == 11 {
			t.Error("the agent answered iteration 11, which a newer batch had replaced")
		}
	}

	// The broker restarts on the same address: the agent reconnects,
	// resubscribes and announces itself again.
	stop()
	b2, stop2 := startBroker(t, addr)
	defer stop2()
	_ = b2
	rec2 := newRecorder(t, url, topics.Feedback("c1", "d1"), topics.Presence("c1", "d1"))
	defer rec2.c.Close(0)
	eventually(t, "presence online after the restart", func() bool {
		p := rec2.get(topics.Presence("c1", "d1"))
		return len(p) > 0 && presenceState(t, p[len(p)-1]) == "online"
	})
	pub2 := newRecorder(t, url)
	defer pub2.c.Close(0)
	if err := pub2.c.Publish(context.Background(), mqttc.Message{Topic: topics.Batch("c1"), Payload: batch(20), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "feedback after the restart", func() bool { return len(rec2.get(topics.Feedback("c1", "d1"))) >= 1 })

	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("agent did not stop")
	}
	eventually(t, "presence offline after stop", func() bool {
		p := rec2.get(topics.Presence("c1", "d1"))
		return presenceState(t, p[len(p)-1]) == "offline"
	})
	if st := a.Stats(); st.Batches < 3 || st.Diverged != 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestNewErrors(t *testing.T) {
	top, err := config.FromBytes([]byte(topology), "agent-test", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(top, "nope", Options{}); err == nil || !strings.Contains(err.Error(), `no device "nope"`) {
		t.Errorf("unknown id: got %v", err)
	}
}

// TestStragglerDelay: a device with a delay waits for it on its clock
// before it publishes, and reports its wait and compute times from it.
func TestStragglerDelay(t *testing.T) {
	top, err := config.FromBytes([]byte(strings.Replace(topology, "devices: [{id: d1}]", "devices: [{id: d1, delay: 1h}]", 1)), "agent-test", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, stop := startBroker(t, "127.0.0.1:0")
	defer stop()
	url := "tcp://" + b.Addr()
	topics := wire.Topics{}
	rec := newRecorder(t, url, topics.Feedback("c1", "d1"), topics.Presence("c1", "d1"))
	defer func() { rec.c.Close(0) }()
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	a, err := New(top, "d1", Options{URL: url, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- a.Run(ctx) }()
	eventually(t, "presence online", func() bool { return len(rec.get(topics.Presence("c1", "d1"))) > 0 })

	armed := clk.Armed()
	if err := rec.c.Publish(context.Background(), mqttc.Message{Topic: topics.Batch("c1"), Payload: batch(1), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-armed:
	case <-time.After(waitFor):
		t.Fatal("the agent did not wait for its delay")
	}
	if n := len(rec.get(topics.Feedback("c1", "d1"))); n != 0 {
		t.Fatalf("%d feedback before the delay ended", n)
	}
	if at, _ := clk.Next(); !at.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("delay ends at %v, want an hour after %v", at, clk.Now())
	}
	clk.Advance(time.Hour)
	eventually(t, "feedback after the delay", func() bool { return len(rec.get(topics.Feedback("c1", "d1"))) == 1 })
	fb, err := wire.DecodeFeedback(rec.get(topics.Feedback("c1", "d1"))[0], top.Spec(), wire.Topic{Kind: wire.KindFeedback, Community: "c1", Device: "d1"})
	if err != nil {
		t.Fatal(err)
	}
	if fb.Iter != 1 || fb.Timings.WaitUS != 0 || fb.Timings.ComputeUS != 0 {
		t.Errorf("feedback iter %d, timings %+v; want 1 and none (the fake clock stood still)", fb.Iter, fb.Timings)
	}
	cancel()
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(waitFor):
		t.Fatal("agent did not stop")
	}
	if st := a.Stats(); st.Batches != 1 {
		t.Errorf("stats: %+v", st)
	}
}
