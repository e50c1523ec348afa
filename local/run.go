package local

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/device"
	"github.com/fedgan/fedgan/edge"
)

// Options tune a local run; the zero value runs afresh into the
// topology's cloud.output.
type Options struct {
	// Output is the results folder; default the topology's cloud.output.
	// Its state folder holds the checkpoints.
	Output string
	// Resume resumes from the checkpoints of a previous run instead of
	// removing them (and metrics.jsonl) first.
	Resume bool
	// Logger receives the services' logs; default slog.Default().
	Logger *slog.Logger
	// OnStart, if not nil, is called once every service is up.
	OnStart func(Started)
	// OnRound, if not nil, is called after every closed round.
	OnRound func(cloud.Progress)
}

// Started describes a run whose services are all up.
type Started struct {
	// CloudURL is the URL of the cloud broker (embedded, or cloud.url).
	CloudURL string
	// Edges is the number of edge brokers.
	Edges int
	// EdgeURLs are the edge brokers' URLs, by community id in topology
	// order (Communities).
	EdgeURLs    []string
	Communities []string
	// Root is the topic root.
	Root string
	// After is the time from starting the cloud to the last device.
	After time.Duration
}

// Result is what a finished run measured.
type Result struct {
	// Output is the results folder.
	Output string
	// Wall is the time from starting the cloud to the final round.
	Wall time.Duration
	// Cloud is the cloud's last status: its round count (Cloud.Round),
	// its invalid-message counts.
	Cloud cloud.Status
	// Edges are the edges' last statuses in topology order: updates,
	// feedback, invalid messages, their broker's byte counters.
	Edges []edge.Status
}

// Rounds is the number of global rounds the cloud closed.
func (r *Result) Rounds() int { return r.Cloud.Cloud.Round }

// BrokerBytes is the sum of what every edge broker received and sent:
// the bytes the run moved between the devices and their edges (and the
// edges' bridges to the cloud).
func (r *Result) BrokerBytes() int64 {
	var n int64
	for _, e := range r.Edges {
		n += e.Broker.BytesReceived + e.Broker.BytesSent
	}
	return n
}

// Run runs the whole hierarchy of top in this process until the cloud's
// final round: the cloud with its embedded broker, one embedded broker
// and edge service per community and every device agent, each as its own
// MQTT client on loopback. Brokers listen on free ports; the topology's
// addresses are not used. OnStart and OnRound are never called at the
// same time. It returns ctx's error if ctx ends first.
func Run(ctx context.Context, top *config.Topology, o Options) (*Result, error) {
	output := o.Output
	if output == "" {
		output = top.Cloud.Output
	}
	state := filepath.Join(output, "state")
	if err := prepare(output, state, o.Resume); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var mu sync.Mutex // OnStart and OnRound, one at a time
	start := time.Now()
	cl, err := cloud.New(top, cloud.Options{
		Listen: "127.0.0.1:0", Output: output, State: filepath.Join(state, "cloud"), Logger: o.Logger, Quiet: true,
		OnRound: func(p cloud.Progress) {
			if o.OnRound != nil {
				mu.Lock()
				defer mu.Unlock()
				o.OnRound(p)
			}
		},
	})
	if err != nil {
		return nil, err
	}
	h := newHierarchy(ctx, o.Logger)
	cloudURL, es, err := h.start(top, cl, state, o.Logger)
	if err != nil {
		// A service's own error first; else the interruption itself.
		return nil, cmp.Or(firstErr(h.stop(), err), err)
	}
	if o.OnStart != nil {
		mu.Lock()
		st := Started{CloudURL: cloudURL, Edges: len(es), Root: top.Root, After: time.Since(start)}
		for i, e := range es {
			st.Communities = append(st.Communities, top.Communities[i].ID)
			st.EdgeURLs = append(st.EdgeURLs, "tcp://"+e.Addr())
		}
		o.OnStart(st)
		mu.Unlock()
	}
	if err := h.wait(ctx, cl); err != nil {
		return nil, err
	}
	res := &Result{Output: output, Wall: time.Since(start), Cloud: cl.Status()}
	for _, e := range es {
		res.Edges = append(res.Edges, e.Status())
	}
	return res, nil
}

// prepare makes the results folder; unless resuming, it first removes
// the checkpoints and metrics.jsonl of a previous run.
func prepare(output, state string, resume bool) error {
	if !resume {
		for _, p := range []string{state, filepath.Join(output, "metrics.jsonl")} {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	return os.MkdirAll(output, 0o755)
}

// hierarchy is the three tiers of a local run, each with its own context
// so that shutdown goes from the devices up: they say offline while their
// edge still listens. The tiers' contexts do not end with the run's (a
// Ctrl-C would stop every tier at once, and the devices would log their
// edges' brokers going away): wait stops them in order.
type hierarchy struct {
	tiers    [3]tier // devices, edges, cloud
	log      *slog.Logger
	parent   context.Context
	failed   chan struct{}
	failOnce sync.Once
}

func newHierarchy(ctx context.Context, log *slog.Logger) *hierarchy {
	h := &hierarchy{failed: make(chan struct{}), parent: ctx, log: log}
	for i := range h.tiers {
		h.tiers[i].ctx, h.tiers[i].cancel = context.WithCancel(context.WithoutCancel(ctx))
		h.tiers[i].g, h.tiers[i].ctx = errgroup.WithContext(h.tiers[i].ctx)
	}
	return h
}

// fail marks the run failed: a service stopped by itself.
func (h *hierarchy) fail() { h.failOnce.Do(func() { close(h.failed) }) }

// start starts the cloud cl, then every edge, then every device. It
// returns the cloud broker's URL and the edges in topology order.
func (h *hierarchy) start(top *config.Topology, cl *cloud.Service, state string, log *slog.Logger) (string, []*edge.Service, error) {
	devs, edges, top3 := &h.tiers[0], &h.tiers[1], &h.tiers[2]
	top3.goRun(h.fail, cl.Run)
	if err := h.waitReady(top3.ctx, cl.Ready()); err != nil {
		return "", nil, err
	}
	cloudURL := top.Cloud.URL // an external cloud broker
	if cloudURL == "" {
		cloudURL = "tcp://" + cl.Addr()
	}
	es := make([]*edge.Service, len(top.Communities))
	for i, cm := range top.Communities {
		e, err := edge.New(top, cm.ID, edge.Options{Listen: "127.0.0.1:0", CloudURL: cloudURL, State: filepath.Join(state, cm.ID), Logger: log, Quiet: true})
		if err != nil {
			return "", nil, err
		}
		es[i] = e
		edges.goRun(h.fail, e.Run)
	}
	agentLog := agentLogger(log)
	for i, cm := range top.Communities {
		if err := h.waitReady(edges.ctx, es[i].Ready()); err != nil {
			return "", nil, err
		}
		url := "tcp://" + es[i].Addr()
		for _, d := range cm.Devices {
			a, err := device.New(top, d.ID, device.Options{URL: url, Logger: agentLog})
			if err != nil {
				return "", nil, err
			}
			devs.goRun(h.fail, a.Run)
		}
	}
	return cloudURL, es, nil
}

// agentLogger is the embedded agents' logger: they stand in for boards,
// whose info lines (started, connected, stopped: 3 per agent) would bury
// the run's own, so they log warnings and errors only, unless log is at
// debug.
func agentLogger(log *slog.Logger) *slog.Logger {
	if log.Enabled(context.Background(), slog.LevelDebug) {
		return log
	}
	return slog.New(atLeast{log.Handler(), slog.LevelWarn})
}

// atLeast is h without the records below min.
type atLeast struct {
	h   slog.Handler
	min slog.Level
}

func (a atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= a.min && a.h.Enabled(ctx, l)
}
func (a atLeast) Handle(ctx context.Context, r slog.Record) error { return a.h.Handle(ctx, r) }
func (a atLeast) WithAttrs(as []slog.Attr) slog.Handler           { return atLeast{a.h.WithAttrs(as), a.min} }
func (a atLeast) WithGroup(name string) slog.Handler              { return atLeast{a.h.WithGroup(name), a.min} }

// wait waits for the cloud's final round, a failed service or the end of
// ctx, then stops every tier. It returns nil only after the final round.
func (h *hierarchy) wait(ctx context.Context, cl *cloud.Service) error {
	select {
	case <-cl.Done():
	case <-h.failed:
	case <-ctx.Done():
	}
	err := h.stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	select {
	case <-cl.Done():
		return nil
	default:
		return fmt.Errorf("run: stopped before the final round")
	}
}

// stop stops the tiers from the devices up and returns the first error
// of a service other than its cancellation.
func (h *hierarchy) stop() error {
	var first error
	for i, name := range [...]string{"device agents", "edges", "cloud"} {
		h.tiers[i].cancel()
		if err := h.tiers[i].wait(h.log, name, slowStop); err != nil && first == nil && !errors.Is(err, context.Canceled) {
			first = err
		}
	}
	return first
}

// slowStop is how long a tier may take to stop before the run says what
// it is waiting for: a stop is normally a fraction of a second.
const slowStop = 3 * time.Second

// wait waits for the tier's services to return, saying so at info if
// they take longer than slow, and again when they have.
func (t *tier) wait(log *slog.Logger, name string, slow time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- t.g.Wait() }()
	start := time.Now()
	select {
	case err := <-done:
		return err
	case <-time.After(slow):
	}
	log.Info("stopping is slow: still waiting for services to close their connections", slog.String("tier", name), slog.Duration("after", slow))
	err := <-done
	log.Info("services stopped", slog.String("tier", name), slog.Duration("after", time.Since(start).Round(time.Millisecond)))
	return err
}

// tier is one level of the hierarchy in a local run.
type tier struct {
	ctx    context.Context
	cancel context.CancelFunc
	g      *errgroup.Group
}

// goRun runs a service; one that stops on its own stops the whole run.
func (t *tier) goRun(fail func(), run func(context.Context) error) {
	t.g.Go(func() error {
		err := run(t.ctx)
		if t.ctx.Err() == nil {
			fail()
			if err == nil {
				err = errors.New("run: a service stopped by itself")
			}
		}
		return err
	})
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil && e != context.Canceled {
			return e
		}
	}
	return nil
}

func (h *hierarchy) waitReady(ctx context.Context, ready <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-h.parent.Done():
		return h.parent.Err()
	case <-ctx.Done():
		return fmt.Errorf("run: a service stopped while starting: %w", context.Cause(ctx))
	case <-time.After(30 * time.Second):
		return fmt.Errorf("run: a service did not start within 30s")
	}
}
