package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/deploy/brokercfg"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/internal/ratelog"
	"github.com/fedgan/fedgan/wire"
)

// Options are what the topology file does not say.
type Options struct {
	// Listen overrides the broker's TCP address (e.g. 127.0.0.1:0).
	Listen string
	// CloudURL overrides the bridge's remote (the cloud broker).
	CloudURL string
	// State overrides the checkpoint folder.
	State string
	// NoBridge runs without an uplink (tests of the community alone).
	NoBridge bool
	// StatusEvery is the status period; default 1s.
	StatusEvery time.Duration
	Logger      *slog.Logger
	// Clock is the service's only source of time (its timestamps, the
	// sync period, the status period); nil is the real clock.
	Clock clock.Clock
	// OnFlush, if set, is called on the edge's loop with what the state
	// machine asked for, after it is published. It must return at once and
	// not keep r's messages (fedgan loadtest times iterations with it).
	OnFlush func(r fed.EdgeReady)
	// Quiet logs the routine lines (each uploaded round, each device's
	// presence, where the broker listens) at debug: the caller reports
	// progress itself (fedgan run, fedgan loadtest).
	Quiet bool
}

// checkpointFile is the edge's checkpoint inside its state folder.
const checkpointFile = "edge.ckpt"

// eventQueue bounds the messages waiting for the edge's loop. Feedback
// beyond it is dropped and counted (overload), never queued without bound.
const eventQueue = 1024

type event struct {
	at       time.Time
	feedback *fed.Feedback
	local    *fed.Local // Fed GAN
	global   *fed.Global
}

// presenceState is a device's newest presence, waiting for the loop.
type presenceState struct {
	online bool
	at     time.Time
}

// Service is an edge: the community's embedded broker, its bridge to the
// cloud and G_k's round state machine.
type Service struct {
	top    *config.Topology
	comm   *config.Community
	opts   Options
	log    *slog.Logger
	topics wire.Topics
	spec   *wire.Spec
	clock  clock.Clock
	state  string

	fsm    machine
	fr     *fed.Edge    // fsm, in FR
	avg    *fed.AvgEdge // fsm, in Fed GAN (training.algorithm: fedgan)
	broker *broker.Broker
	bridge *broker.Bridge
	self   brokercfg.Internal

	events chan event
	// presence: each device's newest presence, for the loop (notePresence)
	presMu      sync.Mutex
	presence    map[string]presenceState
	presenceSig chan struct{}
	drops       ratelog.Limiter
	// batchesOut counts batches handed to the broker, one per topic
	// (benchmarks read it).
	batchesOut atomic.Int64
	batchBuf   []byte // encoded batch, reused (the broker copies it per subscriber)

	ready    chan struct{}
	done     chan struct{}
	doneOnce sync.Once

	mu     sync.Mutex
	status Status
}

// machine is the edge's state machine as the service drives it: FR's
// fed.Edge or Fed GAN's fed.AvgEdge (docs/DESIGN.md §2.12).
type machine interface {
	Round() int
	Done() bool
	HasReady() bool
	Ready() fed.EdgeReady
	Advance()
	Stats() fed.EdgeStats
	Presence(now time.Time, dev string, online bool) error
	Global(now time.Time, g *fed.Global) error
	Resume(now time.Time)
	Deadline() (time.Time, bool)
	Tick(now time.Time)
	Snapshot() ([]byte, error)
	Restore(b []byte) error
}

// Status is the JSON published on {root}/c/{community}/status.
type Status struct {
	Community   string              `json:"community"`
	Mode        string              `json:"mode"`
	Algorithm   string              `json:"algorithm"` // training.algorithm: fr or fedgan
	Time        time.Time           `json:"time"`
	Edge        fed.EdgeStats       `json:"edge"`
	ItersPerSec float64             `json:"iterations_per_second"`
	Invalid     map[string]int64    `json:"invalid"`
	Broker      broker.Stats        `json:"broker"`
	Bridge      *broker.BridgeStats `json:"bridge,omitempty"`
}

// New builds community id's edge.
func New(top *config.Topology, id string, opts Options) (*Service, error) {
	comm, err := top.Community(id)
	if err != nil {
		return nil, err
	}
	if opts.StatusEvery == 0 {
		opts.StatusEvery = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("community", id))
	s := &Service{
		top: top, comm: comm, opts: opts, log: log, topics: wire.Topics{Root: top.Root}, spec: top.Spec(),
		clock: clock.Or(opts.Clock), events: make(chan event, eventQueue), presenceSig: make(chan struct{}, 1),
		ready: make(chan struct{}), done: make(chan struct{}),
	}
	s.drops.Log, s.drops.Now = log, s.clock.Now
	s.state = opts.State
	if s.state == "" {
		s.state = comm.Edge.State
	}
	if top.FedGAN() {
		s.avg, err = deploy.AvgEdge(top, id)
		s.fsm = s.avg
	} else {
		s.fr, err = deploy.Edge(top, id)
		s.fsm = s.fr
	}
	if err != nil {
		return nil, err
	}
	bcfg, err := s.brokerConfig()
	if err != nil {
		return nil, err
	}
	if s.broker, err = broker.New(bcfg, log.With(slog.String("component", "broker"))); err != nil {
		return nil, err
	}
	if err := s.broker.Register(s.collector()); err != nil {
		return nil, err
	}
	if err := brokercfg.MountDashboard(top, s.broker, s.listeners(""), id); err != nil {
		return nil, err
	}
	if !opts.NoBridge {
		if s.bridge, err = s.newBridge(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// listeners is what the topology says about the edge's broker.
func (s *Service) listeners(listen string) brokercfg.Listeners {
	e := s.comm.Edge
	return brokercfg.Listeners{
		Listen: listen, WebSocket: e.WebSocket, HTTP: e.HTTP, HTTPTokenFile: e.HTTPTokenFile, TLS: e.TLS,
		TLSOnly: e.TLSOnly, AllowAnonymous: e.AllowAnonymous, Monitor: e.Monitor,
		MaxClients: len(s.comm.Devices) + 16, // its devices, the monitor, tools, and room for reconnects
	}
}

func (s *Service) brokerConfig() (broker.Config, error) {
	e := s.comm.Edge
	listen := e.Listen
	if s.opts.Listen != "" {
		listen = s.opts.Listen
	}
	cfg, err := brokercfg.Base(s.top, s.listeners(listen))
	if err != nil {
		return cfg, err
	}
	devs := map[string]bool{}
	for _, d := range s.comm.Devices {
		devs[d.ID] = true
	}
	users, err := brokercfg.Users(s.top, e.Credentials, func(u string) ([]broker.Rule, bool) {
		return broker.DeviceRules(s.topics, s.comm.ID, u), devs[u]
	})
	if err != nil {
		return cfg, err
	}
	cfg.Users = append(cfg.Users, users...)
	self, u, err := brokercfg.NewInternal("edge-"+s.comm.ID+"-svc", broker.EdgeRules(s.topics, s.comm.ID))
	if err != nil {
		return cfg, err
	}
	s.self = self
	cfg.Users = append(cfg.Users, u)
	return cfg, nil
}

// queueDir is the bridge's store-and-forward folder: the file's
// edge.bridge.queue_dir when it sets one, otherwise "bridge" in the state
// folder, which Options.State may move.
func (s *Service) queueDir() string {
	e := s.comm.Edge
	if q := e.Bridge.QueueDir; q != "" && q != filepath.Join(e.State, "bridge") {
		return q
	}
	return filepath.Join(s.state, "bridge")
}

func (s *Service) newBridge() (*broker.Bridge, error) {
	b := s.comm.Edge.Bridge
	remote := b.Remote
	if s.opts.CloudURL != "" {
		remote = s.opts.CloudURL
	}
	pw, err := s.top.ReadSecret(b.PasswordFile)
	if err != nil {
		return nil, err
	}
	cfg := broker.BridgeConfig{
		Name: "cloud", Remote: remote, ClientID: b.ClientID, Password: pw,
		// Only the generator goes out: the queue holds nothing that could
		// push a generator update out of it while the uplink is down.
		Topics: []broker.BridgeTopic{
			{Pattern: s.topics.Generator(s.comm.ID), Direction: broker.Out, QoS: 1},
			{Pattern: s.topics.GlobalModel(), Direction: broker.In, QoS: 1, ForceRetain: true},
			{Pattern: s.topics.GlobalStatus(), Direction: broker.In, QoS: 0, ForceRetain: true},
			// The cloud's preview picture, for this edge's dashboard.
			{Pattern: s.topics.GlobalPreview(), Direction: broker.In, QoS: 0, ForceRetain: true},
		},
		QueueDir: s.queueDir(), QueueMaxMessages: b.QueueMax,
		QueueMaxBytes: int64(b.QueueMax) * int64(s.top.Limits.MaxPayload+4096),
		Notifications: true,
	}
	if pw != "" {
		cfg.Username = b.Username
	}
	if t := b.TLS; t != nil {
		cfg.TLS = broker.BridgeTLS{CAFile: s.top.Path(t.CA), CertFile: s.top.Path(t.Cert), KeyFile: s.top.Path(t.Key), ServerName: t.ServerName}
	}
	return broker.NewBridge(s.broker, cfg, s.log.With(slog.String("component", "bridge")))
}

// Ready is closed when the broker listens and the service is subscribed.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Done is closed when the final global model has arrived.
func (s *Service) Done() <-chan struct{} { return s.done }

// Addr is the broker's bound TCP address (after Ready).
func (s *Service) Addr() string { return s.broker.Addr() }

// Broker is the embedded broker.
func (s *Service) Broker() *broker.Broker { return s.broker }

// Status returns the last status.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run serves until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	if !brokercfg.Serve(ctx, g, s.broker) {
		return g.Wait()
	}
	if s.bridge != nil {
		g.Go(func() error { return s.bridge.Run(ctx) })
		// Generator updates published before the bridge captures its
		// topics would not be forwarded.
		select {
		case <-s.bridge.Ready():
		case <-ctx.Done():
			return g.Wait()
		}
	}
	restored, err := s.checkpoint().Load(s.fsm.Restore)
	if err != nil {
		return err
	}
	if err := s.subscribeInline(); err != nil {
		return err
	}
	opts := brokercfg.ServiceClient(s.broker, s.self)
	opts.Subscriptions = map[string]byte{
		s.topics.GlobalModel(): 1,
	}
	opts.OnMessage, opts.Logger, opts.Context = s.onMessage, s.log, ctx
	client, err := mqttc.New(opts)
	if err != nil {
		return err
	}
	g.Go(func() error {
		defer client.Close(250 * time.Millisecond)
		if err := client.WaitConnected(ctx); err != nil {
			return nil
		}
		close(s.ready)
		s.log.Info("edge started", slog.String("addr", s.broker.Addr()), slog.String("tls", s.broker.TLSAddr()),
			slog.String("http", s.broker.HTTPAddr()), slog.Bool("restored", restored), slog.Int("round", wire.RoundNumber(s.fsm.Round(), s.fsm.Round() >= s.top.Training.GlobalRounds)))
		brokercfg.LogExposure(s.log, s.routine(), s.broker)
		if restored {
			s.fsm.Resume(s.now())
		}
		return s.loop(ctx, client)
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// subscribeInline takes the devices' answers and presence straight from
// the broker, on the publishers' goroutines.
func (s *Service) subscribeInline() error {
	// The hot path stays in-process: feedback reaches the state machine
	// straight from the broker (decoded on each device's own connection
	// goroutine, after the broker's ACL and size checks) and batches are
	// published inline, so the edge's 3·B·d floats per iteration never
	// cross a socket or a second MQTT codec. Fed GAN's local models take
	// the same way, and presence (below); the global model and status use
	// the edge's own MQTT client.
	answers := s.topics.FeedbackFilter(s.comm.ID)
	if s.avg != nil {
		answers = s.topics.LocalFilter(s.comm.ID)
	}
	if err := s.broker.Subscribe(answers, func(topic string, payload []byte) {
		s.onMessage(topic, payload, false)
	}); err != nil {
		return fmt.Errorf("edge %s: subscribe to %s: %w", s.comm.ID, answers, err)
	}
	// Presence, like feedback, comes inline (with the retained ones at
	// once): a thousand devices coming online together must not overflow
	// the edge client's queue at the broker (measured: fedgan loadtest
	// with 1,000 agents lost presences that way).
	if err := s.broker.Subscribe(s.topics.PresenceFilter(s.comm.ID), func(topic string, payload []byte) {
		s.onMessage(topic, payload, false)
	}); err != nil {
		return fmt.Errorf("edge %s: subscribe to presence: %w", s.comm.ID, err)
	}
	return nil
}

// now reads the service's clock.
func (s *Service) now() time.Time { return s.clock.Now() }

func (s *Service) checkpoint() atomicfile.Checkpoint {
	return atomicfile.Checkpoint{Path: filepath.Join(s.state, checkpointFile), Log: s.log}
}

// onMessage runs on paho's goroutines: decode, validate, enqueue; never block.
func (s *Service) onMessage(topic string, payload []byte, _ bool) {
	now := s.now()
	t, err := s.topics.Parse(topic)
	if err != nil {
		s.drops.Drop(topic, "topic", err)
		return
	}
	var ev event
	switch t.Kind {
	case wire.KindFeedback:
		m, err := wire.DecodeFeedback(payload, s.spec, t)
		if err != nil {
			s.drops.Drop(t.Device, wire.CodeOf(err).String(), err)
			return
		}
		if ev.feedback, err = fed.FeedbackOf(m); err != nil {
			s.drops.Drop(t.Device, wire.CodeOf(err).String(), err)
			return
		}
	case wire.KindLocal:
		m, err := wire.DecodeLocalModel(payload, s.spec, t)
		if err != nil {
			s.drops.Drop(t.Device, wire.CodeOf(err).String(), err)
			return
		}
		if ev.local, err = fed.LocalOf(m); err != nil {
			s.drops.Drop(t.Device, wire.CodeOf(err).String(), err)
			return
		}
	case wire.KindPresence:
		m, err := wire.DecodePresence(payload, s.spec, t)
		if err != nil {
			s.drops.Drop(t.Device, wire.CodeOf(err).String(), err)
			return
		}
		s.notePresence(t.Device, m.State == "online", now)
		return
	case wire.KindModel:
		m, err := wire.DecodeGlobalModel(payload, s.spec, t)
		if err != nil {
			s.drops.Drop("cloud", wire.CodeOf(err).String(), err)
			return
		}
		g, err := fed.GlobalOf(m)
		if err != nil {
			s.drops.Drop("cloud", wire.CodeOf(err).String(), err)
			return
		}
		ev.global = g
	default:
		return
	}
	ev.at = now
	select {
	case s.events <- ev:
	default:
		s.drops.Drop(t.Device, "overload", errors.New("edge event queue full"))
	}
}

// notePresence records a device's newest presence for the loop. Presence
// is kept per device, newest wins, never queued: the table is bounded by
// the devices that exist, so a reconnect storm of any size loses nothing
// and costs the loop one event per device.
func (s *Service) notePresence(dev string, online bool, at time.Time) {
	s.presMu.Lock()
	if s.presence == nil {
		s.presence = map[string]presenceState{}
	}
	s.presence[dev] = presenceState{online: online, at: at}
	s.presMu.Unlock()
	select {
	case s.presenceSig <- struct{}{}:
	default: // the loop has a signal pending and will read the table
	}
}

// applyPresence hands the presences noted since the last call to the
// state machine, in device order.
func (s *Service) applyPresence() {
	s.presMu.Lock()
	ps := s.presence
	s.presence = nil
	s.presMu.Unlock()
	for _, dev := range slices.Sorted(maps.Keys(ps)) {
		p := ps[dev]
		if err := s.fsm.Presence(p.at, dev, p.online); err != nil {
			s.drops.Drop(dev, "protocol", err)
			continue
		}
		s.log.Log(context.Background(), s.routine(), "presence", slog.String("device_id", dev), slog.Bool("online", p.online))
	}
}

// routine is the level of the lines a caller that reports progress
// itself does not need (Options.Quiet).
func (s *Service) routine() slog.Level {
	if s.opts.Quiet {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// loop is the only goroutine that touches the state machine.
func (s *Service) loop(ctx context.Context, c *mqttc.Client) error {
	tick := s.clock.NewTicker(s.opts.StatusEvery)
	defer tick.Stop()
	timer := s.clock.NewTimer(time.Hour)
	defer timer.Stop()
	lastUpdates, lastAt := int64(0), s.now()
	s.flush()
	for {
		if dl, ok := s.fsm.Deadline(); ok {
			timer.ResetAt(dl)
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			s.publishStatus(context.Background(), c, &lastUpdates, &lastAt)
			return ctx.Err()
		case <-s.presenceSig:
			s.applyPresence()
		case ev := <-s.events:
			s.apply(ev)
			// Drain what else has arrived: an async edge aggregates all of
			// it in one update (M_k of Eq. 5).
			for n := 0; n < eventQueue; n++ {
				select {
				case ev := <-s.events:
					s.apply(ev)
					continue
				default:
				}
				break
			}
		case <-timer.C():
		case <-tick.C():
			s.publishStatus(ctx, c, &lastUpdates, &lastAt)
		}
		s.fsm.Tick(s.now())
		s.flush()
		if s.fsm.Done() {
			s.doneOnce.Do(func() {
				s.publishStatus(ctx, c, &lastUpdates, &lastAt)
				close(s.done)
			})
		}
	}
}

func (s *Service) apply(ev event) {
	var err error
	switch {
	case ev.feedback != nil:
		// Late, stale, duplicate and unknown-device feedback is counted by
		// the state machine (Status.Edge); late answers are normal in sync
		// mode when a device joins mid-iteration.
		if s.fr == nil {
			return // cannot happen: the edge subscribes to its algorithm's answers only
		}
		if err = s.fr.Feedback(ev.at, ev.feedback); err != nil {
			s.log.Debug("feedback not used", slog.String("device_id", ev.feedback.Device), slog.Any("error", err))
		}
	case ev.local != nil:
		if s.avg == nil {
			return
		}
		// Late, duplicate and rejected models are counted by the state
		// machine (Status.Edge).
		if err = s.avg.Local(ev.at, ev.local); err != nil {
			s.log.Info("local model not used", slog.String("device_id", ev.local.Device), slog.Any("error", err))
		}
	case ev.global != nil:
		if err = s.fsm.Global(ev.at, ev.global); err != nil {
			s.drops.Drop("cloud", "protocol", err)
		}
	}
}

// flush carries out what the state machine asks: checkpoint first (so a
// restart re-sends an update it may not have sent), then publish, in
// process: the broker fans batches out to the devices and hands updates
// to the bridge.
func (s *Service) flush() {
	if !s.fsm.HasReady() {
		return
	}
	r := s.fsm.Ready()
	s.fsm.Advance()
	for _, n := range r.Notes {
		s.log.Info(n.Msg, n.Shown(s.top.Training.GlobalRounds)...)
	}
	if r.Checkpoint {
		s.checkpoint().Save(s.fsm.Snapshot)
	}
	s.publishBatches(r)
	s.publishModels(r.Models)
	for _, u := range r.Updates {
		p, err := wire.AppendGeneratorUpdate(nil, u)
		if err != nil {
			s.log.Error("generator update not encodable", slog.Any("error", err))
			continue
		}
		// Inline: when Publish returns, the bridge has the update in its
		// store-and-forward queue (on disk with a state folder), which a
		// network publish's PUBACK does not promise.
		if err := s.broker.Publish(s.topics.Generator(s.comm.ID), p, false, 1); err != nil {
			s.log.Error("generator update not published (the checkpoint re-sends it on restart)", slog.Int("round", wire.RoundNumber(u.Round, false)), slog.Any("error", err))
			continue
		}
		s.log.Log(context.Background(), s.routine(), "round done: generator uploaded", slog.Int("round", wire.RoundNumber(u.Round, false)), slog.Float64("loss", u.Loss))
	}
	if s.opts.OnFlush != nil {
		s.opts.OnFlush(r)
	}
}

// publishBatches hands the batches to the broker: on the community's
// batch topic, or (a sampling edge) on each asked device's own.
func (s *Service) publishBatches(r fed.EdgeReady) {
	for i, b := range r.Batches {
		var err error
		if s.batchBuf, err = wire.AppendBatch(s.batchBuf[:0], b); err != nil {
			s.log.Error("batch not encodable", slog.Any("error", err))
			continue
		}
		topics := []string{s.topics.Batch(s.comm.ID)}
		if to := r.BatchTo(i); to != nil {
			topics = topics[:0]
			for _, d := range to {
				topics = append(topics, s.topics.BatchTo(s.comm.ID, d))
			}
		}
		for _, t := range topics {
			if err := s.broker.Publish(t, s.batchBuf, false, 1); err != nil {
				s.log.Warn("batch not published", slog.Int64("iteration", b.Iter), slog.String("topic", t), slog.Any("error", err))
				continue
			}
			s.batchesOut.Add(1)
		}
	}
}

// publishModels hands Fed GAN's round models to the devices, retained so
// that a device that (re)connects during the round gets it at once.
func (s *Service) publishModels(ms []*wire.CommunityModel) {
	for _, m := range ms {
		p, err := wire.AppendCommunityModel(nil, m)
		if err != nil {
			s.log.Error("community model not encodable", slog.Any("error", err))
			continue
		}
		if err := s.broker.Publish(s.topics.CommunityModel(s.comm.ID), p, true, 1); err != nil {
			s.log.Warn("community model not published", slog.Int("round", wire.RoundNumber(m.Round, m.Final)), slog.Any("error", err))
			continue
		}
		s.batchesOut.Add(1)
	}
}

func (s *Service) publishStatus(ctx context.Context, c *mqttc.Client, lastUpdates *int64, lastAt *time.Time) {
	now := s.now()
	st := Status{Community: s.comm.ID, Mode: s.top.Training.Mode, Algorithm: s.top.Training.Algorithm, Time: now, Edge: s.fsm.Stats(), Invalid: s.drops.Counts(), Broker: s.broker.Stats()}
	st.Edge.Round = wire.RoundNumber(st.Edge.Round, st.Edge.State == "finished")
	st.Edge.LastUpload = wire.RoundNumber(st.Edge.LastUpload, false)
	if dt := now.Sub(*lastAt).Seconds(); dt > 0 {
		st.ItersPerSec = float64(st.Edge.Updates-*lastUpdates) / dt
	}
	*lastUpdates, *lastAt = st.Edge.Updates, now
	if s.bridge != nil {
		bs := s.bridge.Stats()
		st.Bridge = &bs
	}
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	b, err := wire.EncodeJSON(st)
	if err != nil {
		return
	}
	// QoS 0 and retained: a dashboard gets the latest on subscribe; a lost
	// one is replaced a second later. Don't wait on a slow broker.
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = c.Publish(pctx, mqttc.Message{Topic: s.topics.Status(s.comm.ID), Payload: b, Retain: true})
}
