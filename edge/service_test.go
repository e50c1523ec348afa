package edge_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/edge"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// t0 is where the fake clock starts.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// wait bounds every wait for a network event; only the service's time is fake.
const wait = 30 * time.Second

// statusEvery is the status period: the first status comes at +75s.
const statusEvery = 75 * time.Second

// community is one community of two devices with tiny models; the test
// plays the devices and the cloud. MODE is replaced.
const community = `
name: periods
model: {latent: 2, data_dim: 3, generator: [4], discriminator: [4]}
training: {global_rounds: 2, local_iters: 1000, batch_size: 2, mode: MODE, sync_period: 30s, device_timeout: 45s, START}
cloud: {allow_anonymous: true}
communities:
  - {id: c1, data: {kind: gaussian, means: [[0, 0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 2}
`

// edgeRun is an edge service on a fake clock, with a client on its broker
// that plays the devices and the cloud.
type edgeRun struct {
	top     *config.Topology
	devices []string
	clock   *clock.Fake
	client  *mqttc.Client
	topics  wire.Topics
	batches chan *wire.Batch
	status  chan edge.Status
}

func startEdge(t *testing.T, mode string) *edgeRun {
	t.Helper()
	// One device is enough to start: most tests play only one.
	return startEdgeWith(t, mode, "start_quorum: 0.5")
}

// startEdgeWith is startEdge with start settings (the training keys
// start_quorum and start_timeout) of its own.
func startEdgeWith(t *testing.T, mode, start string) *edgeRun {
	t.Helper()
	top, err := config.FromBytes([]byte(strings.NewReplacer("MODE", mode, "START", start).Replace(community)), "periods.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &edgeRun{top: top, clock: clock.NewFake(t0), topics: wire.Topics{Root: top.Root},
		batches: make(chan *wire.Batch, 64), status: make(chan edge.Status, 16)}
	for _, d := range top.Communities[0].Devices {
		r.devices = append(r.devices, d.ID)
	}
	svc, err := edge.New(top, "c1", edge.Options{Listen: "127.0.0.1:0", NoBridge: true, State: t.TempDir(), StatusEvery: statusEvery, Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("edge: %v", err)
		}
	})
	select {
	case <-svc.Ready():
	case <-time.After(wait):
		t.Fatal("edge did not start")
	}
	r.client, err = mqttc.New(mqttc.Options{
		URL: "tcp://" + svc.Addr(), ClientID: "test",
		Subscriptions: map[string]byte{r.topics.Batch("c1"): 1, r.topics.Status("c1"): 0},
		OnMessage:     r.onMessage(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.client.Close(0) })
	if err := r.client.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *edgeRun) onMessage(t *testing.T) func(string, []byte, bool) {
	spec := r.top.Spec()
	return func(topic string, payload []byte, _ bool) {
		if topic == r.topics.Status("c1") {
			var st edge.Status
			if err := json.Unmarshal(payload, &st); err != nil {
				t.Errorf("status: %v", err)
			}
			r.status <- st
			return
		}
		tp, err := r.topics.Parse(topic)
		if err != nil {
			t.Errorf("topic %s: %v", topic, err)
			return
		}
		b, err := wire.DecodeBatch(payload, spec, tp)
		if err != nil {
			t.Errorf("batch: %v", err)
			return
		}
		r.batches <- b
	}
}

// publish publishes with QoS 1, never retained: a retained message may
// reach the edge twice (live, and again from its subscription's retained
// messages), and each arrival is an event for its loop.
func (r *edgeRun) publish(t *testing.T, topic string, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.client.Publish(ctx, mqttc.Message{Topic: topic, Payload: payload, QoS: 1}); err != nil {
		t.Fatal(err)
	}
}

// start brings the devices online and publishes round 0's global model.
func (r *edgeRun) start(t *testing.T, devices ...string) {
	t.Helper()
	for _, d := range devices {
		p, err := wire.AppendPresence(nil, &wire.Presence{V: wire.Version, State: wire.StateOnline, Device: d, Community: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		r.publish(t, r.topics.Presence("c1", d), p)
	}
	g, err := deploy.Generator(r.top, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := wire.AppendGlobalModel(nil, &wire.GlobalModel{V: wire.Version, Params: fed.ParamTensors(g.Params())})
	if err != nil {
		t.Fatal(err)
	}
	r.publish(t, r.topics.GlobalModel(), p)
}

// batch returns the next batch and checks that it is iteration iter, sent
// at the fake time sent.
func (r *edgeRun) batch(t *testing.T, iter int64, sent time.Time) *wire.Batch {
	t.Helper()
	select {
	case b := <-r.batches:
		if b.Iter != iter || b.SentUnixNano != sent.UnixNano() {
			t.Fatalf("batch: iteration %d sent at %v; want %d at %v", b.Iter, time.Unix(0, b.SentUnixNano).Sub(t0), iter, sent.Sub(t0))
		}
		return b
	case <-time.After(wait):
		t.Fatalf("no batch for iteration %d", iter)
		return nil
	}
}

func (r *edgeRun) answer(t *testing.T, b *wire.Batch, device string) {
	t.Helper()
	grad := make([]float32, len(b.Gen.Data)/4)
	for i := range grad {
		grad[i] = 0.01
	}
	fb := &wire.Feedback{V: wire.Version, Community: "c1", Device: device, Round: b.Round, Iter: b.Iter, Version: b.Version,
		Loss: -0.7, Grad: wire.NewTensor(b.Gen.Shape, grad), NReal: 2}
	p, err := wire.AppendFeedback(nil, fb)
	if err != nil {
		t.Fatal(err)
	}
	r.publish(t, r.topics.Feedback("c1", device), p)
}

// answerTaken answers b as device while the loop waits on the deadline
// at, and returns when the loop has taken the answer (the loop re-arms its
// timer after each event, and nothing else wakes it meanwhile), so that
// the answer is stamped with the time it was sent at and counted before
// the clock moves on.
func (r *edgeRun) answerTaken(t *testing.T, b *wire.Batch, device string, at time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.clock.WaitArmed(ctx, at); err != nil {
		t.Fatalf("no timer armed at %v: %v", at.Sub(t0), err)
	}
	armed := r.clock.Armed()
	r.answer(t, b, device)
	select {
	case <-armed:
	case <-ctx.Done():
		t.Fatal("the answer was not taken")
	}
}

// deadline waits until the loop waits on a deadline at at, then moves the
// clock to it.
func (r *edgeRun) deadline(t *testing.T, at time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.clock.WaitArmed(ctx, at); err != nil {
		t.Fatalf("no timer armed at %v: %v", at.Sub(t0), err)
	}
	r.clock.Set(at)
}

func (r *edgeRun) nextStatus(t *testing.T) edge.Status {
	t.Helper()
	select {
	case st := <-r.status:
		return st
	case <-time.After(wait):
		t.Fatal("no status")
		return edge.Status{}
	}
}

// TestEdgeSyncPeriodAndDeviceTimeout: a sync edge waits for every live
// device until the sync period ends, then stops waiting for a device that
// has been silent for longer than the device timeout. The status period
// and the rates in the status run on the same clock.
func TestEdgeSyncPeriodAndDeviceTimeout(t *testing.T) {
	r := startEdge(t, "sync")
	d1, d2 := r.devices[0], r.devices[1]
	r.start(t, d1, d2) // both seen at t0; d2 never answers

	// Iterations 1 and 2 wait for d2 until their sync period ends (30s):
	// at +30s and +60s the edge goes on with d1's feedback alone.
	at := t0
	for iter := int64(1); iter <= 2; iter++ {
		b := r.batch(t, iter, at)
		at = at.Add(30 * time.Second)
		r.answerTaken(t, b, d1, at)
		r.deadline(t, at)
	}
	// At +60s d2 has been silent for 60s > device_timeout (45s): iteration
	// 3 waits for d1 alone and closes as soon as d1 answers, as does 4.
	r.answer(t, r.batch(t, 3, at), d1)
	r.answer(t, r.batch(t, 4, at), d1)
	r.batch(t, 5, at)

	// Four updates in the first status period (75s), before iteration
	// 5's period ends (+90s).
	r.deadline(t, t0.Add(statusEvery))
	st := r.nextStatus(t)
	if st.Edge.Updates != 4 || st.Edge.Partial != 2 || st.Edge.Empty != 0 {
		t.Errorf("status: %d updates, %d partial, %d empty; want 4, 2, 0", st.Edge.Updates, st.Edge.Partial, st.Edge.Empty)
	}
	if want := 4.0 / 75; !st.Time.Equal(t0.Add(statusEvery)) || st.ItersPerSec != want {
		t.Errorf("status at %v, %g iterations/s; want +75s, %g", st.Time.Sub(t0), st.ItersPerSec, want)
	}
	// The first round (wire index 0) is round 1 to people, and nothing has
	// been uploaded yet (0).
	if st.Edge.Round != 1 || st.Edge.LastUpload != 0 {
		t.Errorf("status: round %d, last upload %d; want 1, 0", st.Edge.Round, st.Edge.LastUpload)
	}
}

// TestEdgeSyncPeriodWithoutFeedback: an iteration with no feedback at all
// is skipped when its sync period ends and a new one is published.
func TestEdgeSyncPeriodWithoutFeedback(t *testing.T) {
	r := startEdge(t, "sync")
	r.start(t, r.devices[0])
	r.batch(t, 1, t0)
	for k := 1; k <= 2; k++ {
		at := t0.Add(time.Duration(k) * 30 * time.Second)
		r.deadline(t, at)
		r.batch(t, int64(k+1), at)
	}
	r.deadline(t, t0.Add(statusEvery))
	if st := r.nextStatus(t); st.Edge.Empty != 2 || st.Edge.Updates != 0 || st.ItersPerSec != 0 {
		t.Errorf("status: %d empty, %d updates, %g iterations/s; want 2, 0, 0", st.Edge.Empty, st.Edge.Updates, st.ItersPerSec)
	}
}

// TestEdgeStartQuorum: with the default start quorum (every device) an
// edge whose second device never comes online opens no iteration until
// the start timeout has passed on its clock, then starts with the one
// device it has; the timeout is a timer the service arms, not a poll.
func TestEdgeStartQuorum(t *testing.T) {
	for _, mode := range []string{"sync", "async"} {
		t.Run(mode, func(t *testing.T) {
			r := startEdgeWith(t, mode, "start_timeout: 20s")
			r.start(t, r.devices[0])
			select {
			case b := <-r.batches:
				t.Fatalf("batch %d with 1 of 2 devices online, before the start timeout", b.Iter)
			case <-time.After(200 * time.Millisecond):
			}
			r.deadline(t, t0.Add(20*time.Second))
			r.batch(t, 1, t0.Add(20*time.Second))
		})
	}
}

// TestEdgeAsyncResend: an async edge with no feedback for a sync period
// publishes its newest batch again, once per period.
func TestEdgeAsyncResend(t *testing.T) {
	r := startEdge(t, "async")
	r.start(t, r.devices[0])
	first := r.batch(t, 1, t0)
	for k := 1; k <= 2; k++ {
		r.deadline(t, t0.Add(time.Duration(k)*30*time.Second))
		// The same batch, its sent time unchanged.
		if b := r.batch(t, 1, t0); b.Version != first.Version {
			t.Fatalf("re-sent batch of version %d, want %d", b.Version, first.Version)
		}
	}
	// Feedback ends the wait: the next batch is new and goes out at once.
	r.answer(t, first, r.devices[0])
	r.batch(t, 2, t0.Add(60*time.Second))
}
