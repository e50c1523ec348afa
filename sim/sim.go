package sim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// Options tune the simulated network and devices.
type Options struct {
	// Compute is a device's time per batch before its slowdown and delay;
	// default 5ms.
	Compute time.Duration
	// Latency is the one-way network latency; default 1ms.
	Latency time.Duration
	// OnRound is called after every closed round with the global generator.
	OnRound func(fed.RoundSummary, *nn.Sequential)
	// MaxEvents bounds the run; default 50 million.
	MaxEvents int
	// Tamper, when set, may rewrite every feedback a device sends before
	// its edge receives it: how tests and measurements make a device lie
	// (docs/DESIGN.md §2.11). The message is the device's own copy.
	Tamper func(device string, fb *wire.Feedback)
}

// Result is what a simulated run produced.
type Result struct {
	// Gen is the result generator (the moving average with cloud.ema),
	// Last the last global G when that differs from Gen.
	Gen     *nn.Sequential
	Last    *nn.Sequential
	Rounds  []fed.RoundSummary
	Edges   []fed.EdgeStats
	Cloud   fed.CloudStats
	Virtual time.Duration // simulated time
	Batches int64
	Events  int
}

type event struct {
	at  time.Time
	seq int64
	fn  func()
}

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at.Equal(q[j].at) {
		return q[i].seq < q[j].seq
	}
	return q[i].at.Before(q[j].at)
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type device struct {
	id   string
	a    *fed.Agent
	busy bool
	cost time.Duration
	// Fed GAN: the device's whole GAN, and the newest model that arrived
	// while it was busy
	l       *fed.LocalGAN
	pending *wire.CommunityModel
}

// machine is what the simulator drives of an edge: FR's fed.Edge or Fed
// GAN's fed.AvgEdge.
type machine interface {
	Presence(now time.Time, dev string, online bool) error
	Global(now time.Time, g *fed.Global) error
	Ready() fed.EdgeReady
	Advance()
	Deadline() (time.Time, bool)
	Tick(now time.Time)
	Stats() fed.EdgeStats
}

type edge struct {
	id        string
	e         machine
	fr        *fed.Edge    // e, in FR
	avg       *fed.AvgEdge // e, in Fed GAN
	devs      []*device
	processAt bool // a drain is scheduled
	tickAt    time.Time
}

// Simulator runs a whole topology in one goroutine on a virtual clock:
// the same state machines and the same calls as the MQTT services, with
// messages handed over directly.
type Simulator struct {
	top   *config.Topology
	opt   Options
	now   time.Time
	seq   int64
	q     queue
	cloud *fed.Cloud
	edges []*edge
	res   Result
	err   error
	// lean: release each device's working buffers after its step (more
	// than LeanDevices devices).
	lean bool
}

// LeanDevices is the number of devices above which the simulator drops
// each device's working buffers after its step (fed.Agent.Release): about
// 100 KiB per device of the reference Gaussian D's activations and matrix
// scratch, which every device would otherwise hold at once (measured: 160
// KiB per device in all at 10,000 devices, 1.6 GB), for an allocation per
// step.
const LeanDevices = 1000

// New builds every role of top.
func New(top *config.Topology, opt Options) (*Simulator, error) {
	if opt.Compute == 0 {
		opt.Compute = 5 * time.Millisecond
	}
	if opt.Latency == 0 {
		opt.Latency = time.Millisecond
	}
	if opt.MaxEvents == 0 {
		opt.MaxEvents = 50_000_000
	}
	s := &Simulator{top: top, opt: opt, now: time.Unix(1_700_000_000, 0)}
	n := 0
	for _, c := range top.Communities {
		n += len(c.Devices)
	}
	s.lean = n > LeanDevices
	var err error
	if s.cloud, err = deploy.Cloud(top); err != nil {
		return nil, err
	}
	for _, c := range top.Communities {
		ed, err := newEdge(top, c)
		if err != nil {
			return nil, err
		}
		for _, d := range c.Devices {
			dev, err := newDevice(top, d, opt)
			if err != nil {
				return nil, err
			}
			ed.devs = append(ed.devs, dev)
		}
		s.edges = append(s.edges, ed)
	}
	return s, nil
}

// newEdge builds community c's edge for the topology's algorithm.
func newEdge(top *config.Topology, c config.Community) (*edge, error) {
	ed := &edge{id: c.ID}
	var err error
	if top.FedGAN() {
		ed.avg, err = deploy.AvgEdge(top, c.ID)
		ed.e = ed.avg
	} else {
		ed.fr, err = deploy.Edge(top, c.ID)
		ed.e = ed.fr
	}
	return ed, err
}

// newDevice builds device d: an FR agent or a Fed GAN device. Its cost
// is Compute per batch (FR) or per local step (Fed GAN), slowed down.
func newDevice(top *config.Topology, d config.Device, opt Options) (*device, error) {
	ds, err := deploy.DeviceData(top, d.ID)
	if err != nil {
		return nil, err
	}
	dev := &device{id: d.ID, cost: time.Duration(float64(opt.Compute)*d.Slowdown) + d.Delay.D()}
	if top.FedGAN() {
		dev.cost = time.Duration(float64(opt.Compute)*d.Slowdown)*time.Duration(top.Training.LocalIters) + d.Delay.D()
		dev.l, err = deploy.LocalGAN(top, d.ID, ds)
	} else {
		dev.a, err = deploy.Agent(top, d.ID, ds)
	}
	return dev, err
}

func (s *Simulator) at(t time.Time, fn func()) {
	s.seq++
	heap.Push(&s.q, &event{at: t, seq: s.seq, fn: fn})
}

// Run simulates until the cloud publishes its final model.
func (s *Simulator) Run() (*Result, error) { return s.RunContext(context.Background()) }

// RunContext is Run that stops with ctx's error when ctx is done (it
// checks every 1,024 events, a few milliseconds of work).
func (s *Simulator) RunContext(ctx context.Context) (*Result, error) {
	for _, ed := range s.edges {
		for _, d := range ed.devs {
			if err := ed.e.Presence(s.now, d.id, true); err != nil {
				return nil, err
			}
		}
	}
	start := s.now
	s.cloud.Start(s.now)
	s.cloudReady()
	for s.q.Len() > 0 && s.err == nil && !s.cloud.Done() {
		if s.res.Events >= s.opt.MaxEvents {
			return nil, fmt.Errorf("sim: stopped after %d events", s.res.Events)
		}
		if s.res.Events%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("sim: stopped at round %d: %w", s.cloud.Round(), err)
			}
		}
		ev := heap.Pop(&s.q).(*event)
		s.now = ev.at
		s.res.Events++
		ev.fn()
	}
	if s.err != nil {
		return nil, s.err
	}
	if !s.cloud.Done() {
		return nil, errors.New("sim: nothing left to do before the final round")
	}
	s.res.Gen = s.cloud.EvalGen()
	if s.res.Gen != s.cloud.Gen() {
		s.res.Last = s.cloud.Gen()
	}
	s.res.Virtual = s.now.Sub(start)
	for _, ed := range s.edges {
		s.res.Edges = append(s.res.Edges, ed.e.Stats())
	}
	s.res.Cloud = s.cloud.Stats()
	return &s.res, nil
}

func (s *Simulator) cloudReady() {
	r := s.cloud.Ready()
	s.cloud.Advance()
	for _, sum := range r.Rounds {
		s.res.Rounds = append(s.res.Rounds, sum)
		if s.opt.OnRound != nil {
			s.opt.OnRound(sum, s.cloud.EvalGen())
		}
	}
	if r.Global == nil {
		return
	}
	g, err := fed.GlobalOf(r.Global)
	if err != nil {
		s.err = err
		return
	}
	for _, ed := range s.edges {
		ed := ed
		s.at(s.now.Add(s.opt.Latency), func() {
			if err := ed.e.Global(s.now, g); err != nil {
				s.err = err
				return
			}
			s.edgeReady(ed)
		})
	}
}

func (s *Simulator) edgeReady(ed *edge) {
	r := ed.e.Ready()
	ed.e.Advance()
	for i, b := range r.Batches {
		s.res.Batches++
		to := r.BatchTo(i)
		for _, d := range ed.devs {
			if to != nil && !slices.Contains(to, d.id) {
				continue
			}
			d, b := d, b
			s.at(s.now.Add(s.opt.Latency), func() { s.deliver(ed, d, b) })
		}
	}
	for _, m := range r.Models {
		s.res.Batches++
		for _, d := range ed.devs {
			d, m := d, m
			s.at(s.now.Add(s.opt.Latency), func() { s.deliverModel(ed, d, m) })
		}
	}
	for _, u := range r.Updates {
		up, err := fed.UpdateOf(u)
		if err != nil {
			s.err = err
			return
		}
		s.at(s.now.Add(s.opt.Latency), func() {
			// An update dropped or rejected is counted by the cloud, as
			// over MQTT; a rejected one may still close the round.
			_ = s.cloud.Update(s.now, up)
			s.cloudReady()
		})
	}
	if dl, ok := ed.e.Deadline(); ok && !dl.Equal(ed.tickAt) {
		ed.tickAt = dl
		s.at(dl, func() {
			ed.e.Tick(s.now)
			s.edgeReady(ed)
		})
	}
}

// deliver hands a batch to a device's mailbox; an idle device starts
// work at once.
func (s *Simulator) deliver(ed *edge, d *device, b *wire.Batch) {
	d.a.Batch(s.now, b)
	if !d.busy {
		s.work(ed, d)
	}
}

// work steps a device on the newest batch of its mailbox, if any: it is
// busy for its cost, and its feedback arrives a latency later.
func (s *Simulator) work(ed *edge, d *device) {
	ok, err := d.a.Step(s.now)
	if err != nil {
		s.err = fmt.Errorf("sim: device %s: %w", d.id, err)
		return
	}
	if !ok {
		return // nothing new
	}
	wfb := d.a.Ready().Feedback
	if s.opt.Tamper != nil {
		s.opt.Tamper(d.id, wfb)
	}
	fb, err := fed.FeedbackOf(wfb)
	d.a.Advance()
	if s.lean {
		d.a.Release()
	}
	if err != nil {
		s.err = err
		return
	}
	d.busy = true
	done := s.now.Add(d.cost)
	s.at(done, func() {
		d.busy = false
		s.work(ed, d)
	})
	s.at(done.Add(s.opt.Latency), func() {
		_ = ed.fr.Feedback(s.now, fb) // late and stale feedback is counted by the edge
		if !ed.processAt {
			ed.processAt = true
			s.at(s.now, func() {
				ed.processAt = false
				ed.e.Tick(s.now)
				s.edgeReady(ed)
			})
		}
	})
}

// deliverModel hands a Fed GAN round's model to a device: an idle device
// trains at once, a busy one when it is done (the newest model only).
func (s *Simulator) deliverModel(ed *edge, d *device, m *wire.CommunityModel) {
	d.pending = m
	if !d.busy {
		s.train(ed, d)
	}
}

// train runs a Fed GAN device's round on its pending model: it is busy
// for its cost, and its local model arrives a latency later.
func (s *Simulator) train(ed *edge, d *device) {
	m := d.pending
	d.pending = nil
	if m == nil {
		return
	}
	g, err := fed.CommunityModelOf(m)
	if err != nil {
		s.err = err
		return
	}
	lm, err := d.l.Train(s.now, g, s.now)
	if err != nil {
		s.err = fmt.Errorf("sim: device %s: %w", d.id, err)
		return
	}
	if lm == nil {
		return // the final model
	}
	local, err := fed.LocalOf(lm)
	if err != nil {
		s.err = err
		return
	}
	d.busy = true
	done := s.now.Add(d.cost)
	s.at(done, func() {
		d.busy = false
		s.train(ed, d)
	})
	s.at(done.Add(s.opt.Latency), func() {
		_ = ed.avg.Local(s.now, local) // late and duplicate models are counted by the edge
		ed.e.Tick(s.now)
		s.edgeReady(ed)
	})
}
