package edge

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/device"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// refTopology is one community of five devices with the reference MLPs
// (G 100→256→512→784 tanh, D 784→512→256→1), batch 64, sync.
const refTopology = `
name: mqtt-cost
model: {latent: 100, data_dim: 784, generator: [256, 512], discriminator: [512, 256], output: tanh}
training: {global_rounds: 1, local_iters: 1000000, batch_size: 64, mode: sync, sync_period: 30s}
cloud: {allow_anonymous: true}
communities:
  - id: c1
    data: {kind: mnist}
    edge: {listen: "127.0.0.1:0", allow_anonymous: true}
    device_count: 5
`

func refTop(tb testing.TB) *config.Topology {
	top, err := config.FromBytes([]byte(refTopology), "mqtt-cost", tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return top
}

// syntheticData stands in for a device's images: the benchmark measures
// transport, not data.
func syntheticData(tb testing.TB, seed uint64) *data.Dataset {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([]float32, 512*784)
	for i := range rows {
		rows[i] = rng.Float32()*2 - 1
	}
	d, err := data.NewNumeric("synthetic", 784, rows, nil, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func initialGlobal(tb testing.TB, top *config.Topology) *wire.GlobalModel {
	g, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		tb.Fatal(err)
	}
	return &wire.GlobalModel{V: wire.Version, Round: 0, Params: fed.ParamTensors(g.Params())}
}

// inProcess runs the same sync iterations with the same calls, handing
// values over directly; the five devices step in parallel as they do on
// their boards.
type inProcess struct {
	e    *fed.Edge
	devs []*fed.Device
	data []*data.Dataset
	rngs []*rand.Rand
	real [][]float32
}

func newInProcess(tb testing.TB, top *config.Topology) *inProcess {
	e, err := deploy.Edge(top, "c1")
	if err != nil {
		tb.Fatal(err)
	}
	p := &inProcess{e: e}
	for j, d := range top.Communities[0].Devices {
		w, err := deploy.Device(top, d.ID, nil)
		if err != nil {
			tb.Fatal(err)
		}
		p.devs = append(p.devs, w)
		p.data = append(p.data, syntheticData(tb, uint64(j)))
		p.rngs = append(p.rngs, deploy.BatchRNG(top, d.ID))
		p.real = append(p.real, make([]float32, 64*784))
		if err := e.Presence(time.Now(), d.ID, true); err != nil {
			tb.Fatal(err)
		}
	}
	gm := initialGlobal(tb, top)
	g, err := fed.GlobalOf(gm)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.Global(time.Now(), g); err != nil {
		tb.Fatal(err)
	}
	return p
}

// iterate runs one sync iteration: batch → five device steps → feedback → update.
func (p *inProcess) iterate(tb testing.TB) {
	r := p.e.Ready()
	p.e.Advance()
	if len(r.Batches) != 1 {
		tb.Fatalf("got %d batches, want 1", len(r.Batches))
	}
	b := r.Batches[0]
	fake, _ := b.Fake.Values()
	gen, _ := b.Gen.Values()
	fbs := make([]*fed.Feedback, len(p.devs))
	var g errgroup.Group
	for j := range p.devs {
		g.Go(func() error {
			p.data[j].Sample(p.real[j], 64, p.rngs[j])
			res, err := p.devs[j].Step(p.real[j], fake, gen, 0)
			if err != nil {
				return err
			}
			fbs[j] = &fed.Feedback{Device: fmt.Sprintf("c1-d%d", j+1), Round: b.Round, Iter: b.Iter, Version: b.Version, Loss: res.Loss, Grad: append([]float32(nil), res.Grad...)}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	for _, fb := range fbs {
		if err := p.e.Feedback(now, fb); err != nil {
			tb.Fatal(err)
		}
	}
}

// overMQTT is the same community as services: the edge with its embedded
// broker and five agents, each its own MQTT client on loopback.
type overMQTT struct {
	svc    *Service
	cancel context.CancelFunc
	wg     sync.WaitGroup
	online atomic.Int64
	pause  atomic.Bool
	watch  *mqttc.Client
}

func newOverMQTT(tb testing.TB, top *config.Topology) *overMQTT {
	ctx, cancel := context.WithCancel(context.Background())
	o := &overMQTT{cancel: cancel}
	svc, err := New(top, "c1", Options{Listen: "127.0.0.1:0", NoBridge: true, State: tb.TempDir(), StatusEvery: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	o.svc = svc
	o.wg.Add(1)
	go func() { defer o.wg.Done(); svc.Run(ctx) }()
	select {
	case <-svc.Ready():
	case <-time.After(30 * time.Second):
		tb.Fatal("edge did not start")
	}
	url := "tcp://" + svc.Addr()
	topics := wire.Topics{}
	for j, d := range top.Communities[0].Devices {
		a, err := device.New(top, d.ID, device.Options{URL: url, Data: syntheticData(tb, uint64(j)), Gate: o.gate})
		if err != nil {
			tb.Fatal(err)
		}
		o.wg.Add(1)
		go func() { defer o.wg.Done(); a.Run(ctx) }()
	}
	w, err := mqttc.New(mqttc.Options{URL: url, ClientID: "bench-watch",
		Subscriptions: map[string]byte{topics.PresenceFilter("c1"): 0},
		OnMessage:     func(string, []byte, bool) { o.online.Add(1) }})
	if err != nil {
		tb.Fatal(err)
	}
	o.watch = w
	if err := w.WaitConnected(ctx); err != nil {
		tb.Fatal(err)
	}
	// Wait for the five presences, then start the round with a global model.
	deadline := time.Now().Add(30 * time.Second)
	for o.online.Load() < 5 {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d devices online", o.online.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	p, err := wire.AppendGlobalModel(nil, initialGlobal(tb, top))
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Publish(ctx, mqttc.Message{Topic: topics.GlobalModel(), Payload: p, QoS: 1, Retain: true}); err != nil {
		tb.Fatal(err)
	}
	o.waitBatches(tb, 2)
	return o
}

// gate holds the agents while the in-process half of the benchmark runs.
func (o *overMQTT) gate(ctx context.Context) error {
	for o.pause.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Microsecond):
		}
	}
	return nil
}

func (o *overMQTT) waitBatches(tb testing.TB, n int64) {
	deadline := time.Now().Add(5 * time.Minute)
	for o.svc.batchesOut.Load() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("only %d batches", o.svc.batchesOut.Load())
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// settle holds the agents and waits until each holds its next batch at
// the gate: no step running, no feedback in flight.
func (o *overMQTT) settle() {
	o.pause.Store(true)
	time.Sleep(100 * time.Millisecond)
}

func (o *overMQTT) close() {
	o.watch.Close(0)
	o.cancel()
	o.wg.Wait()
}

// BenchmarkMQTTCost runs the same sync iteration (5 devices, batch 64,
// 784-d, the reference MLPs) in-process and through the real brokers, in
// one run, and reports both rates, their ratio, and the bytes the broker
// moved per iteration per device beside the raw tensor bytes.
//
//	go test -run '^$' -bench MQTTCost -benchtime 40x ./edge/
func BenchmarkMQTTCost(b *testing.B) {
	top := refTop(b)
	ip := newInProcess(b, top)
	ip.iterate(b) // warm up buffers
	o := newOverMQTT(b, top)
	defer o.close()
	// Interleave the two in blocks so that both see the same machine load.
	// An MQTT block is timed from the first batch after the agents are let
	// go to the k-th after it: the steady-state rate, without the restart
	// that the pause itself causes.
	const block = 10
	var inTime, mqTime time.Duration
	var mqIters int64
	o.settle()
	s0, n0 := o.svc.broker.Stats(), o.svc.batchesOut.Load()
	for done := 0; done < b.N; done += block {
		k := min(block, b.N-done)
		start := time.Now()
		for i := 0; i < k; i++ {
			ip.iterate(b)
		}
		inTime += time.Since(start)
		n := o.svc.batchesOut.Load()
		o.pause.Store(false)
		o.waitBatches(b, n+1)
		start = time.Now()
		o.waitBatches(b, n+1+int64(k))
		mqTime += time.Since(start)
		mqIters += int64(k)
		o.settle()
	}
	s1, n1 := o.svc.broker.Stats(), o.svc.batchesOut.Load()
	inRate := float64(b.N) / inTime.Seconds()
	mqRate := float64(mqIters) / mqTime.Seconds()

	// Per iteration per device, the batch (2·64·784·4) goes out to the
	// device and its feedback (64·784·4) comes in; the edge itself
	// publishes and subscribes in-process, so its copies cross no socket.
	// Both snapshots are taken with the agents held at the gate (each
	// holding its batch, no feedback in flight), so the bytes between them
	// belong to whole iterations.
	iters := float64(n1 - n0)
	wire := float64((s1.BytesReceived-s0.BytesReceived)+(s1.BytesSent-s0.BytesSent)) / iters
	const batch, feedback = 2 * 64 * 784 * 4, 64 * 784 * 4
	devices := 5.0
	raw := (batch + feedback) * devices
	b.ReportMetric(inRate, "inprocess-iter/s")
	b.ReportMetric(mqRate, "mqtt-iter/s")
	b.ReportMetric(mqRate/inRate, "mqtt/inprocess")
	b.ReportMetric(wire/devices, "wire-B/iter/device")
	b.ReportMetric(raw/devices, "raw-B/iter/device")
	b.ReportMetric(100*(wire-raw)/raw, "overhead-%")
	b.ReportMetric(0, "ns/op")
}
