package cloud

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/deploy/brokercfg"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/kv"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/internal/ratelog"
	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// Options are what the topology file does not say.
type Options struct {
	// Listen overrides the embedded broker's address (e.g. 127.0.0.1:0).
	Listen string
	// Output and State override the results and checkpoint folders.
	Output, State string
	// OnRound is called after every closed round (on the service's goroutine).
	OnRound func(Progress)
	// StatusEvery is the status period; default 1s.
	StatusEvery time.Duration
	Logger      *slog.Logger
	// Clock is the service's only source of time (its timestamps, the
	// round timeout, the status period, elapsed time); nil is the real
	// clock.
	Clock clock.Clock
	// Quiet logs the routine lines ("round closed", where the broker
	// listens) at debug: the caller reports progress itself (fedgan run).
	Quiet bool
}

// Progress describes a closed round, for people.
type Progress struct {
	Round, Rounds int
	Summary       fed.RoundSummary
	Eval          map[string]any
	Elapsed       time.Duration
	ETA           time.Duration
}

// Status is the JSON published on {root}/global/status.
type Status struct {
	Name  string         `json:"name"`
	Time  time.Time      `json:"time"`
	Cloud fed.CloudStats `json:"cloud"`
	Eval  map[string]any `json:"eval,omitempty"`
	// EvalRound is the round Eval scored, counted from 1 like the
	// pictures; LastRound the summary of the last closed round (Eq. 1's
	// weights, each community's loss).
	EvalRound int               `json:"eval_round,omitempty"`
	LastRound *fed.RoundSummary `json:"last_round,omitempty"`
	Invalid   map[string]int64  `json:"invalid"`
	Broker    *broker.Stats     `json:"broker,omitempty"`
	Elapsed   float64           `json:"elapsed_seconds"`
}

const checkpointFile = "cloud.ckpt"

type update struct {
	at time.Time
	u  *fed.Update
}

// Service is the cloud tier: Eq. 1 over the communities' generators,
// the retained global model, results and checkpoints.
type Service struct {
	top    *config.Topology
	opts   Options
	log    *slog.Logger
	topics wire.Topics
	spec   *wire.Spec
	clock  clock.Clock
	out    string
	state  string

	fsm    *fed.Cloud
	broker *broker.Broker // nil with an external broker
	self   brokercfg.Internal
	eval   *Evaluator

	updates chan update
	drops   ratelog.Limiter
	started time.Time

	ready, done chan struct{}
	doneOnce    sync.Once

	mu            sync.Mutex
	lastEval      map[string]any
	lastEvalRound int              // counted from 1, as the pictures
	lastRound     fed.RoundSummary // for /metrics and the status
	closedAny     bool             // lastRound is set
	status        Status
}

// New builds the cloud of top.
func New(top *config.Topology, opts Options) (*Service, error) {
	if opts.StatusEvery == 0 {
		opts.StatusEvery = time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("role", "cloud"))
	s := &Service{top: top, opts: opts, log: log, topics: wire.Topics{Root: top.Root}, spec: top.Spec(), clock: clock.Or(opts.Clock),
		updates: make(chan update, 4*len(top.Communities)+16), ready: make(chan struct{}), done: make(chan struct{})}
	s.drops.Log, s.drops.Now = log, s.clock.Now
	s.out = opts.Output
	if s.out == "" {
		s.out = top.Cloud.Output
	}
	s.state = opts.State
	if s.state == "" {
		s.state = top.Cloud.State
	}
	var err error
	if s.fsm, err = deploy.Cloud(top); err != nil {
		return nil, err
	}
	if s.eval, err = NewEvaluator(top, s.out); err != nil {
		return nil, err
	}
	if top.Cloud.URL == "" {
		cfg, err := s.brokerConfig()
		if err != nil {
			return nil, err
		}
		if s.broker, err = broker.New(cfg, log.With(slog.String("component", "broker"))); err != nil {
			return nil, err
		}
		if err := s.broker.Register(s.collector()); err != nil {
			return nil, err
		}
		if err := brokercfg.MountDashboard(top, s.broker, s.listeners(""), ""); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// listeners is what the topology says about the cloud's embedded broker.
func (s *Service) listeners(listen string) brokercfg.Listeners {
	c := s.top.Cloud
	return brokercfg.Listeners{
		Listen: listen, WebSocket: c.WebSocket, HTTP: c.HTTP, HTTPTokenFile: c.HTTPTokenFile, TLS: c.TLS,
		TLSOnly: c.TLSOnly, AllowAnonymous: c.AllowAnonymous, Monitor: c.Monitor,
		MaxClients: len(s.top.Communities) + 16, // the edges' bridges, the monitor, tools, and room for reconnects
	}
}

func (s *Service) brokerConfig() (broker.Config, error) {
	c := s.top.Cloud
	listen := c.Listen
	if s.opts.Listen != "" {
		listen = s.opts.Listen
	}
	cfg, err := brokercfg.Base(s.top, s.listeners(listen))
	if err != nil {
		return cfg, err
	}
	edges := map[string]string{}
	for _, cm := range s.top.Communities {
		edges[cm.Edge.Bridge.Username] = cm.ID
	}
	users, err := brokercfg.Users(s.top, c.Credentials, func(u string) ([]broker.Rule, bool) {
		id, ok := edges[u]
		return broker.EdgeUplinkRules(s.topics, id), ok
	})
	if err != nil {
		return cfg, err
	}
	cfg.Users = append(cfg.Users, users...)
	self, u, err := brokercfg.NewInternal(c.ID+"-svc", broker.CloudRules(s.topics))
	if err != nil {
		return cfg, err
	}
	s.self = self
	cfg.Users = append(cfg.Users, u)
	return cfg, nil
}

// Ready is closed when the broker listens and the service is subscribed.
func (s *Service) Ready() <-chan struct{} { return s.ready }

// Done is closed when the final model is published and written.
func (s *Service) Done() <-chan struct{} { return s.done }

// Addr is the embedded broker's bound address ("" with an external broker).
func (s *Service) Addr() string {
	if s.broker == nil {
		return ""
	}
	return s.broker.Addr()
}

// Broker is the embedded broker (nil with an external one).
func (s *Service) Broker() *broker.Broker { return s.broker }

// Output is the results folder.
func (s *Service) Output() string { return s.out }

// Status returns the last status.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run serves until ctx ends. After the final round it keeps serving the
// retained final model until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	url, user, pw := s.top.Cloud.URL, s.top.Cloud.Username, ""
	if s.broker != nil {
		if !brokercfg.Serve(ctx, g, s.broker) {
			return g.Wait()
		}
		url, user, pw = "tcp://"+s.broker.Addr(), s.self.User, s.self.Password
		if s.broker.Addr() == "" {
			url = "ssl://" + s.broker.TLSAddr()
		}
	} else {
		var err error
		if pw, err = s.top.ReadSecret(s.top.Cloud.PasswordFile); err != nil {
			return err
		}
	}
	restored, err := s.checkpoint().Load(s.fsm.Restore)
	if err != nil {
		return err
	}
	clientID := s.top.Cloud.ID
	if s.broker != nil {
		clientID = s.self.User
	}
	opts := mqttc.Options{
		URL: url, ClientID: clientID, Password: pw,
		Subscriptions: map[string]byte{s.topics.GeneratorFilter(): 1},
		OnMessage:     s.onMessage,
		Logger:        s.log,
		Context:       ctx,
	}
	if s.broker != nil {
		opts.Dial = s.broker.DialInternal // in-process: works with the plain listener off
	}
	if pw != "" {
		opts.Username = user
	}
	if t := s.top.Cloud.TLS; s.broker == nil && t != nil {
		opts.CAFile, opts.CertFile, opts.KeyFile, opts.ServerName = s.top.Path(t.CA), s.top.Path(t.Cert), s.top.Path(t.Key), t.ServerName
	}
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
		s.started = s.now()
		s.log.Info("cloud started", slog.String("broker", url), slog.Bool("restored", restored), slog.Int("round", wire.RoundNumber(s.fsm.Round(), s.fsm.Round() >= s.top.Training.GlobalRounds)), slog.Int("rounds", s.top.Training.GlobalRounds))
		if s.broker != nil {
			brokercfg.LogExposure(s.log, s.routine(), s.broker)
		}
		s.fsm.Start(s.now())
		return s.loop(ctx, client)
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// now reads the service's clock.
func (s *Service) now() time.Time { return s.clock.Now() }

func (s *Service) checkpoint() atomicfile.Checkpoint {
	return atomicfile.Checkpoint{Path: filepath.Join(s.state, checkpointFile), Log: s.log}
}

func (s *Service) onMessage(topic string, payload []byte, _ bool) {
	now := s.now()
	t, err := s.topics.Parse(topic)
	if err != nil || t.Kind != wire.KindGenerator {
		s.drops.Drop(topic, "topic", err)
		return
	}
	m, err := wire.DecodeGeneratorUpdate(payload, s.spec, t)
	if err != nil {
		s.drops.Drop(t.Community, wire.CodeOf(err).String(), err)
		return
	}
	u, err := fed.UpdateOf(m)
	if err != nil {
		s.drops.Drop(t.Community, wire.CodeOf(err).String(), err)
		return
	}
	select {
	case s.updates <- update{at: now, u: u}:
	default:
		s.drops.Drop(t.Community, "overload", errors.New("cloud update queue full"))
	}
}

func (s *Service) loop(ctx context.Context, c *mqttc.Client) error {
	tick := s.clock.NewTicker(s.opts.StatusEvery)
	defer tick.Stop()
	timer := s.clock.NewTimer(time.Hour)
	defer timer.Stop()
	if err := s.flush(ctx, c); err != nil {
		return err
	}
	for {
		if dl, ok := s.fsm.Deadline(); ok {
			timer.ResetAt(dl)
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u := <-s.updates:
			if err := s.fsm.Update(u.at, u.u); errors.Is(err, fed.ErrStaleUpdate) {
				// Re-sent around a restart: counted (late, duplicate), not a fault.
				s.log.Info("generator update dropped", slog.String("community", u.u.Community), slog.Int("round", wire.RoundNumber(u.u.Round, false)), slog.Any("why", err))
			} else if err != nil {
				s.drops.Drop(u.u.Community, "protocol", err)
			} else {
				s.log.Debug("generator update", slog.String("community", u.u.Community), slog.Int("round", wire.RoundNumber(u.u.Round, false)), slog.Float64("loss", u.u.Loss))
			}
		case <-timer.C():
		case <-tick.C():
			s.publishStatus(ctx, c)
			continue
		}
		s.fsm.Tick(s.now())
		if err := s.flush(ctx, c); err != nil {
			return err
		}
	}
}

// flush checkpoints, evaluates closed rounds, then publishes the model.
func (s *Service) flush(ctx context.Context, c *mqttc.Client) error {
	r := s.fsm.Ready()
	s.fsm.Advance()
	for _, n := range r.Notes {
		s.log.Info(n.Msg, n.Shown(s.top.Training.GlobalRounds)...)
	}
	if r.Checkpoint {
		s.checkpoint().Save(s.fsm.Snapshot)
	}
	for _, sum := range r.Rounds {
		if pic := s.closed(sum); pic != nil {
			s.publishPreview(ctx, c, pic)
		}
	}
	if r.Global != nil {
		p, err := wire.AppendGlobalModel(nil, r.Global)
		if err != nil {
			return fmt.Errorf("cloud: global model not encodable: %w", err)
		}
		// Retained: an edge that (re)connects gets the current model at once.
		if err := c.Publish(ctx, mqttc.Message{Topic: s.topics.GlobalModel(), Payload: p, QoS: 1, Retain: true}); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("cloud: publish global model: %w", err)
		}
		// Every round's model at debug ("round closed" says it); the
		// final one at info.
		level := slog.LevelDebug
		if r.Global.Final {
			level = slog.LevelInfo
		}
		s.log.Log(ctx, level, "global model published", slog.Int("round", wire.RoundNumber(r.Global.Round, r.Global.Final)), slog.Bool("final", r.Global.Final))
		if r.Global.Final {
			if err := s.finish(); err != nil {
				return err
			}
			s.publishStatus(ctx, c)
			s.doneOnce.Do(func() { close(s.done) })
		}
	}
	return nil
}

// routine is the level of the lines a caller that reports progress
// itself does not need (Options.Quiet).
func (s *Service) routine() slog.Level {
	if s.opts.Quiet {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// closed records a round: metrics.jsonl, evaluation, pictures, progress.
// It returns the evaluation's picture (PNG), nil when there is none.
func (s *Service) closed(sum fed.RoundSummary) []byte {
	rounds := s.top.Training.GlobalRounds
	var ev map[string]any
	if every := s.top.Cloud.EvalEvery; sum.Final || every > 0 && (sum.Round+1)%every == 0 {
		var err error
		if ev, err = s.eval.Evaluate(s.fsm.EvalGen(), sum.Round+1, sum.Final); err != nil {
			s.log.Error("evaluation failed", slog.Any("error", err))
		}
	}
	s.mu.Lock()
	if ev != nil {
		s.lastEval, s.lastEvalRound = ev, sum.Round+1
	}
	s.lastRound, s.closedAny = sum, true
	s.mu.Unlock()
	elapsed := s.now().Sub(s.started)
	done := sum.Round + 1
	eta := time.Duration(0)
	if done > 0 {
		eta = elapsed / time.Duration(done) * time.Duration(rounds-done)
	}
	line := MetricsLine(sum, elapsed, ev)
	line["invalid"] = s.drops.Counts()
	if err := s.eval.AppendMetrics(line); err != nil {
		s.log.Error("metrics not written", slog.Any("error", err))
	}
	s.log.Log(context.Background(), s.routine(), "round closed", slog.Int("round", done), slog.String("weights", kv.String(sum.Weights, func(w float64) string { return strconv.FormatFloat(w, 'f', 4, 64) })), slog.Any("missing", sum.Missing), slog.Bool("timed_out", sum.TimedOut))
	if s.opts.OnRound != nil {
		s.opts.OnRound(Progress{Round: done, Rounds: rounds, Summary: sum, Eval: ev, Elapsed: elapsed, ETA: eta})
	}
	if ev == nil || ev["picture"] == nil {
		return nil
	}
	return s.eval.Picture()
}

// finish writes the final model (and the last G when that is an average).
func (s *Service) finish() error {
	var last *nn.Sequential
	if s.fsm.EvalGen() != s.fsm.Gen() {
		last = s.fsm.Gen()
	}
	if err := WriteGenerators(s.out, s.fsm.EvalGen(), last); err != nil {
		return err
	}
	s.log.Info("final model written", slog.String("path", filepath.Join(s.out, GeneratorFile)))
	return nil
}

// GeneratorFile is the result generator in a run's output folder, and
// LastGeneratorFile the last global G when the result is its moving
// average (cloud.ema).
const (
	GeneratorFile     = "generator.nnw"
	LastGeneratorFile = "generator_last.nnw"
)

// WriteGenerators writes gen to dir/generator.nnw and, when last is not
// nil, last to dir/generator_last.nnw, each atomically.
func WriteGenerators(dir string, gen, last *nn.Sequential) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		g    *nn.Sequential
	}{{GeneratorFile, gen}, {LastGeneratorFile, last}} {
		if f.g == nil {
			continue
		}
		var buf bytes.Buffer
		if err := nn.Save(&buf, f.g); err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, f.name), buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) publishStatus(ctx context.Context, c *mqttc.Client) {
	st := Status{Name: s.top.Name, Time: s.now(), Cloud: s.fsm.Stats(), Invalid: s.drops.Counts()}
	st.Cloud.Round = wire.RoundNumber(st.Cloud.Round, st.Cloud.Done)
	if !s.started.IsZero() {
		st.Elapsed = s.now().Sub(s.started).Seconds()
	}
	s.mu.Lock()
	st.Eval, st.EvalRound = s.lastEval, s.lastEvalRound
	if s.closedAny {
		lr := s.lastRound
		lr.Round = wire.RoundNumber(lr.Round, false)
		st.LastRound = &lr
	}
	s.mu.Unlock()
	if s.broker != nil {
		bs := s.broker.Stats()
		st.Broker = &bs
	}
	s.mu.Lock()
	s.status = st
	s.mu.Unlock()
	b, err := wire.EncodeJSON(st)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_ = c.Publish(pctx, mqttc.Message{Topic: s.topics.GlobalStatus(), Payload: b, Retain: true})
}
