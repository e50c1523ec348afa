package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/buildinfo"
	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/internal/ratelog"
	"github.com/fedgan/fedgan/wire"
)

// Options are what the topology file does not say.
type Options struct {
	// URL overrides the edge address the device dials (the topology's
	// community edge.advertise); used when brokers listen on port 0.
	URL string
	// Logger receives the agent's logs; nil discards them.
	Logger *slog.Logger
	// Data, if set, is used instead of loading the device's partition.
	Data *data.Dataset
	// Gate, if set, is called before each batch is worked on, and the
	// agent waits for it to return: a way to pause agents in benchmarks
	// and straggler experiments. An error stops the agent.
	Gate func(context.Context) error
	// Clock is the time the agent reads and waits on (the batches' wait
	// and compute times, the straggler delay); nil is the real clock.
	Clock clock.Clock
}

// Stats are the agent's counters.
type Stats struct {
	Batches   int64            `json:"batches"`   // batches answered (Fed GAN: rounds answered)
	Skipped   int64            `json:"skipped"`   // batches replaced by a newer one before work started
	Invalid   map[string]int64 `json:"invalid"`   // dropped messages by reason
	Failed    int64            `json:"failed"`    // feedback that could not be published
	Diverged  int64            `json:"diverged"`  // steps whose result was not finite
	LastLoss  float64          `json:"last_loss"` // L_kj of the last batch
	LastDLoss float64          `json:"last_d_loss"`
}

// Agent is a device: the I/O shell around its protocol, a fed.Agent that
// holds D_kj and its local data. It receives its community's batches,
// answers each one it works on with one Feedback, and announces its
// presence.
type Agent struct {
	top    *config.Topology
	id     string
	comm   *config.Community
	dev    *config.Device
	opts   Options
	clk    clock.Clock
	log    *slog.Logger
	topics wire.Topics
	spec   *wire.Spec
	drops  ratelog.Limiter
	rows   int // local rows, for the log

	// fsm is used by the worker goroutine only (work); in Fed GAN
	// (training.algorithm: fedgan) local is instead.
	fsm   *fed.Agent
	local *fed.LocalGAN
	buf   []byte

	// box is the fsm's mailbox, kept here under mu: batches arrive on
	// paho's goroutine, which must not wait for a step.
	mu   sync.Mutex
	box  fed.Mailbox
	wake chan struct{}
	// Fed GAN: the newest community model that arrived, and when
	model        *wire.CommunityModel
	modelArrived time.Time

	batches, skipped, failed, diverged atomic.Int64
	lastLoss, lastDLoss                atomic.Uint64
}

// New builds the agent of device id: its discriminator and its local data.
func New(top *config.Topology, id string, opts Options) (*Agent, error) {
	dev, comm, _, err := top.Device(id)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("device_id", id), slog.String("community", comm.ID))
	a := &Agent{top: top, id: id, comm: comm, dev: dev, opts: opts, clk: clock.Or(opts.Clock), log: log,
		topics: wire.Topics{Root: top.Root}, spec: top.Spec(), wake: make(chan struct{}, 1)}
	a.drops.Log = log
	local := opts.Data
	if local == nil {
		if local, err = deploy.DeviceData(top, id); err != nil {
			return nil, fmt.Errorf("device %s: %w", id, err)
		}
	}
	if top.FedGAN() {
		a.local, err = deploy.LocalGAN(top, id, local)
	} else {
		a.fsm, err = deploy.Agent(top, id, local)
	}
	if err != nil {
		return nil, err
	}
	a.rows = local.Len()
	return a, nil
}

// Stats returns the agent's counters.
func (a *Agent) Stats() Stats {
	return Stats{
		Batches: a.batches.Load(), Skipped: a.skipped.Load(), Invalid: a.drops.Counts(),
		Failed: a.failed.Load(), Diverged: a.diverged.Load(),
		LastLoss: math.Float64frombits(a.lastLoss.Load()), LastDLoss: math.Float64frombits(a.lastDLoss.Load()),
	}
}

func (a *Agent) presence(state string) []byte {
	b, _ := wire.AppendPresence(nil, &wire.Presence{V: wire.Version, State: state, Device: a.id, Community: a.comm.ID, Agent: buildinfo.Version})
	return b
}

// Run connects to the edge and answers batches until ctx ends; then it
// publishes its offline presence and disconnects.
func (a *Agent) Run(ctx context.Context) error {
	url := a.opts.URL
	if url == "" {
		url = a.comm.Edge.Advertise
	}
	password, err := a.top.ReadSecret(a.dev.PasswordFile)
	if err != nil {
		return err
	}
	presTopic := a.topics.Presence(a.comm.ID, a.id)
	opts := mqttc.Options{
		URL: url, ClientID: a.id, Password: password,
		Will:          &mqttc.Message{Topic: presTopic, Payload: a.presence("offline"), QoS: 1, Retain: true},
		Subscriptions: a.inboxes(),
		OnMessage:     a.onMessage,
		Logger:        a.log,
		Context:       ctx,
	}
	if password != "" || a.dev.TLS != nil {
		opts.Username = a.id
	}
	if t := a.dev.TLS; t != nil {
		opts.CAFile, opts.CertFile, opts.KeyFile, opts.ServerName = a.top.Path(t.CA), a.top.Path(t.Cert), a.top.Path(t.Key), t.ServerName
	}
	online := a.presence("online")
	opts.OnConnect = func(c *mqttc.Client) {
		// Announced on every (re)connect: the broker may have published the
		// will while the link was down.
		if err := c.Publish(ctx, mqttc.Message{Topic: presTopic, Payload: online, QoS: 1, Retain: true}); err != nil && ctx.Err() == nil {
			a.log.Warn("presence not published", slog.Any("error", err))
		}
	}
	client, err := mqttc.New(opts)
	if err != nil {
		return err
	}
	a.log.Info("agent started", slog.String("edge", url), slog.Int("local_rows", a.rows), slog.String("version", buildinfo.String()))
	err = a.work(ctx, client)
	// Graceful exit: say offline ourselves (the will fires only on a lost
	// connection), then disconnect.
	if client.IsConnected() {
		pctx, cancel := a.within(context.Background(), 2*time.Second)
		if perr := client.Publish(pctx, mqttc.Message{Topic: presTopic, Payload: a.presence("offline"), QoS: 1, Retain: true}); perr != nil {
			a.log.Warn("offline presence not published", slog.Any("error", perr))
		}
		cancel()
	}
	client.Close(250 * time.Millisecond)
	a.log.Info("agent stopped", slog.Int64("batches", a.batches.Load()))
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// inboxes are the topics the agent works from: its community's batches
// and its own (a sampling edge's), or in Fed GAN its community's model.
func (a *Agent) inboxes() map[string]byte {
	if a.local != nil {
		return map[string]byte{a.topics.CommunityModel(a.comm.ID): 1}
	}
	return map[string]byte{a.topics.Batch(a.comm.ID): 1, a.topics.BatchTo(a.comm.ID, a.id): 1}
}

// onMessage runs on paho's goroutine: validate, keep the newest batch,
// never block.
func (a *Agent) onMessage(topic string, payload []byte, _ bool) {
	t, err := a.topics.Parse(topic)
	if err == nil && t.Kind == wire.KindCommunityModel && a.local != nil {
		a.onModel(t, payload)
		return
	}
	if err != nil || t.Kind != wire.KindBatch || a.local != nil {
		a.drops.Drop(topic, "topic", err)
		return
	}
	b, err := wire.DecodeBatch(payload, a.spec, t)
	if err != nil {
		a.drops.Drop(t.Community, wire.CodeOf(err).String(), err)
		return
	}
	a.mu.Lock()
	if a.box.Put(a.clk.Now(), b) {
		a.skipped.Add(1)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *Agent) take() (*wire.Batch, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.box.Take()
}

// work answers batches one at a time: the newest one waiting.
func (a *Agent) work(ctx context.Context, c *mqttc.Client) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.wake:
		}
		if a.opts.Gate != nil {
			if err := a.opts.Gate(ctx); err != nil {
				return err
			}
		}
		if a.local != nil {
			if err := a.trainRound(ctx, c); err != nil {
				return err
			}
			continue
		}
		b, arrived := a.take()
		if b == nil {
			continue // none, or a redelivered duplicate
		}
		if err := a.answer(ctx, c, b, arrived); err != nil {
			return err
		}
	}
}

// answer steps on b, waits as a straggler would, and publishes the
// feedback. It returns only ctx's error.
func (a *Agent) answer(ctx context.Context, c *mqttc.Client, b *wire.Batch, arrived time.Time) error {
	start := a.clk.Now()
	err := a.fsm.Work(start, b, arrived)
	compute := clock.Since(a.clk, start)
	if code := wire.CodeOf(err); code != 0 { // validated on arrival; cannot happen
		a.drops.Drop(b.Community, code.String(), err)
		return nil
	}
	if err != nil {
		a.diverged.Add(1)
		a.log.Error("step failed: feedback withheld", slog.Int64("iteration", b.Iter), slog.Any("error", err))
		return nil
	}
	fb := a.fsm.Ready().Feedback
	a.fsm.Advance()
	if err := a.slow(ctx, compute); err != nil {
		return err
	}
	fb.Timings.ComputeUS = compute.Microseconds()
	if a.buf, err = wire.AppendFeedback(a.buf[:0], fb); err != nil {
		a.diverged.Add(1)
		a.log.Error("feedback not encodable", slog.Any("error", err))
		return nil
	}
	if err := c.Publish(ctx, mqttc.Message{Topic: a.topics.Feedback(a.comm.ID, a.id), Payload: a.buf, QoS: 1}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.failed.Add(1)
		a.log.Warn("feedback not delivered", slog.Int64("iteration", b.Iter), slog.Any("error", err))
		return nil
	}
	a.batches.Add(1)
	a.lastLoss.Store(math.Float64bits(fb.Loss))
	a.lastDLoss.Store(math.Float64bits(fb.DLoss))
	return nil
}

// slow implements the straggler settings: delay, and slowdown as extra
// time proportional to the compute time.
func (a *Agent) slow(ctx context.Context, compute time.Duration) error {
	extra := a.dev.Delay.D() + time.Duration(float64(compute)*(a.dev.Slowdown-1))
	if extra <= 0 {
		return nil
	}
	t := a.clk.NewTimer(extra)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// within is context.WithTimeout on the agent's clock.
func (a *Agent) within(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	t := a.clk.NewTimer(d)
	go func() {
		defer t.Stop()
		select {
		case <-t.C():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}
