// Fed GAN's edge: FedAvg of its devices' whole GANs (docs/DESIGN.md §2.12).

package fed

import (
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/fedgan/fedgan/wire"
)

// AvgEdgeConfig configures community k's Fed GAN round state machine.
type AvgEdgeConfig struct {
	// Community is k's id; Devices are J_k (models from others are dropped).
	Community string
	Devices   []string
	// RoundWait bounds how long a round waits for its live devices' local
	// models: FR's bound for a sync round, LocalIters × SyncPeriod.
	RoundWait time.Duration
	// DeviceTimeout: a device silent this long is not waited for until it
	// answers again. Zero means RoundWait.
	DeviceTimeout time.Duration
	// StartDevices and StartTimeout are FR's start quorum (EdgeConfig's):
	// after it starts or restarts the edge hands out its first round's
	// model only once StartDevices devices are online, or StartTimeout
	// after that model arrived; zero StartDevices starts at once.
	StartDevices int
	StartTimeout time.Duration
	// LocalIters is I_lo, reported as the update's iterations.
	LocalIters int
	// GenShapes and DiscShapes are the shapes of G's and D's parameters
	// in nn.Params order (the wire.Spec's GenParams and DiscParams).
	GenShapes, DiscShapes [][]int
	// Robust: with a rule other than none, no device's FedAvg weight
	// exceeds WeightCap/n, and a loss no objective produces is rejected
	// (docs/DESIGN.md §2.12). The zero value is plain FedAvg.
	Robust RobustConfig
}

// Local is a Fed GAN device's local model, decoded and validated by wire.
type Local struct {
	Device      string
	Round       int
	Samples     int64
	Loss, DLoss float64
	G, D        []float32 // flat, nn.Params order; kept until the round closes
}

// AvgEdge is community k's Fed GAN state machine: it hands the round's
// global G and D to its devices (EdgeReady.Models), collects their local
// models like a sync FR iteration collects feedback (its live devices,
// until all have answered or RoundWait has passed), averages them with
// FedAvg and uploads the average (EdgeReady.Updates) with its sample
// count. It is driven like Edge. Not safe for concurrent use.
type AvgEdge struct {
	cfg          AvgEdgeConfig
	rob          RobustConfig
	gsize, dsize int
	state        edgeState
	round        int
	devices      map[string]*device

	model    *wire.CommunityModel // the round's model, re-published when a round is empty
	start    startWait
	handed   bool // the round's model is handed out
	open     bool
	deadline time.Time
	expected map[string]bool
	received map[string]*Local
	rejected map[string]bool

	lastUpdate *wire.GeneratorUpdate
	stats      EdgeStats
	ready      EdgeReady
	gAvg, dAvg []float32
}

// NewAvgEdge checks cfg and returns an edge waiting for its first global
// model.
func NewAvgEdge(cfg AvgEdgeConfig) (*AvgEdge, error) {
	if err := wire.ValidID(cfg.Community); err != nil {
		return nil, err
	}
	if cfg.RoundWait <= 0 || cfg.LocalIters <= 0 || len(cfg.GenShapes) == 0 || len(cfg.DiscShapes) == 0 {
		return nil, fmt.Errorf("fed: AvgEdgeConfig: round wait %s, local iters %d, %d G and %d D tensors", cfg.RoundWait, cfg.LocalIters, len(cfg.GenShapes), len(cfg.DiscShapes))
	}
	if cfg.DeviceTimeout <= 0 {
		cfg.DeviceTimeout = cfg.RoundWait
	}
	if cfg.StartDevices < 0 || cfg.StartDevices > len(cfg.Devices) || cfg.StartDevices > 0 && cfg.StartTimeout <= 0 {
		return nil, fmt.Errorf("fed: AvgEdgeConfig: start quorum %d of %d devices with timeout %v: want 0…%d and a timeout > 0", cfg.StartDevices, len(cfg.Devices), cfg.StartTimeout, len(cfg.Devices))
	}
	rob, err := cfg.Robust.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &AvgEdge{cfg: cfg, rob: rob, round: -1, devices: map[string]*device{}, rejected: map[string]bool{}}
	e.gsize, e.dsize = shapesLen(cfg.GenShapes), shapesLen(cfg.DiscShapes)
	for _, d := range cfg.Devices {
		e.devices[d] = &device{lastIter: -1}
	}
	e.stats.LastUpload = -1
	return e, nil
}

func shapesLen(shapes [][]int) int {
	n := 0
	for _, s := range shapes {
		k := 1
		for _, d := range s {
			k *= d
		}
		n += k
	}
	return n
}

// tensorsOf cuts flat into tensors of the given shapes (copies).
func tensorsOf(flat []float32, shapes [][]int) []wire.Tensor {
	ts := make([]wire.Tensor, len(shapes))
	off := 0
	for i, s := range shapes {
		n := shapesLen([][]int{s})
		ts[i] = wire.NewTensor(s, flat[off:off+n])
		off += n
	}
	return ts
}

// Round is the current round (-1 before the first global model).
func (e *AvgEdge) Round() int { return e.round }

// Done reports whether the final global model has arrived.
func (e *AvgEdge) Done() bool { return e.state == finished }

// Ready returns what the edge wants done since the last Advance; see
// Edge.Ready.
func (e *AvgEdge) Ready() EdgeReady { return e.ready }

// HasReady reports whether Ready holds anything.
func (e *AvgEdge) HasReady() bool {
	r := e.ready
	return len(r.Models)+len(r.Updates)+len(r.Notes) > 0 || r.Checkpoint
}

// Advance acknowledges the last Ready.
func (e *AvgEdge) Advance() { e.ready = EdgeReady{} }

func (e *AvgEdge) note(msg string, attrs ...any) {
	e.ready.Notes = append(e.ready.Notes, Note{Msg: msg, Attrs: attrs})
}

// Stats returns a copy of the counters. Feedback counts the local models
// received, Updates the rounds uploaded, Weights the last FedAvg weights.
func (e *AvgEdge) Stats() EdgeStats {
	s := e.stats
	s.Round, s.State = e.round, e.state.String()
	s.Weights = copyWeights(e.stats.Weights)
	s.Live = liveDevices(e.devices, time.Time{}, e.cfg.DeviceTimeout)
	s.Rejected, s.Bounded = maps.Clone(e.stats.Rejected), maps.Clone(e.stats.Bounded)
	return s
}

// liveDevices lists the devices that are online and, when now is set, not
// timed out (Edge.live's rule).
func liveDevices(devs map[string]*device, now time.Time, timeout time.Duration) []string {
	var ids []string
	for id, d := range devs {
		if !d.online || !now.IsZero() && !d.lastSeen.IsZero() && now.Sub(d.lastSeen) > timeout {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Presence records that a device went online or offline.
func (e *AvgEdge) Presence(now time.Time, dev string, online bool) error {
	d, ok := e.devices[dev]
	if !ok {
		e.stats.Unknown++
		return fmt.Errorf("fed: presence of unknown device %q", dev)
	}
	was := d.online
	d.online = online
	if online && !was {
		d.lastSeen = now
		if e.state == training && !e.open {
			e.begin(now)
		}
	}
	if !online && was && e.open {
		delete(e.expected, dev)
		e.maybeClose(now)
	}
	return nil
}

// Global installs the round's global G and D and hands them to the
// devices. A model for a round already started is ignored, except the
// uploaded round's, which re-sends the update (see Edge.Global).
func (e *AvgEdge) Global(now time.Time, g *Global) error {
	if g.Round == e.round && e.state == uploaded && e.lastUpdate != nil {
		e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
		e.note("global model of the uploaded round announced again: update re-sent", "round", g.Round)
		return nil
	}
	if e.state == finished || g.Round < e.round || g.Round == e.round && e.state != waiting {
		return nil
	}
	if len(g.Params) != e.gsize || len(g.DParams) != e.dsize {
		return fmt.Errorf("fed: global model has %d G and %d D parameters, want %d and %d", len(g.Params), len(g.DParams), e.gsize, e.dsize)
	}
	e.round = g.Round
	e.open, e.expected, e.received, e.handed = false, nil, nil, false
	clear(e.rejected)
	e.model = &wire.CommunityModel{V: wire.Version, Community: e.cfg.Community, Round: g.Round, Final: g.Final,
		Params: tensorsOf(g.Params, e.cfg.GenShapes), DParams: tensorsOf(g.DParams, e.cfg.DiscShapes)}
	e.ready.Checkpoint = true
	if g.Final {
		e.ready.Models = append(e.ready.Models, e.model)
		e.state = finished
		e.note("final global model received", "round", g.Round)
		return nil
	}
	e.state = training
	e.start.arm(now, e.cfg.StartTimeout)
	e.begin(now)
	return nil
}

// begin hands the round's model out and opens the round, unless the edge
// is still waiting for its start quorum (then Presence and Tick call it
// again) or the round is open already.
func (e *AvgEdge) begin(now time.Time) {
	if e.open || e.start.wait(now, len(liveDevices(e.devices, time.Time{}, e.cfg.DeviceTimeout)), e.cfg.StartDevices, e.note) {
		return
	}
	if !e.handed {
		e.handed = true
		e.ready.Models = append(e.ready.Models, e.model)
	}
	e.openRound(now)
}

// openRound starts waiting for the live devices' local models (or, with
// none live, those online); with no device online it waits for one.
func (e *AvgEdge) openRound(now time.Time) {
	exp := liveDevices(e.devices, now, e.cfg.DeviceTimeout)
	if len(exp) == 0 {
		exp = liveDevices(e.devices, time.Time{}, e.cfg.DeviceTimeout)
	}
	if len(exp) == 0 {
		e.open = false
		e.note("no device online: waiting for one to come online")
		return
	}
	e.open = true
	e.expected = make(map[string]bool, len(exp))
	for _, d := range exp {
		e.expected[d] = true
	}
	e.received = make(map[string]*Local, len(exp))
	clear(e.rejected)
	e.deadline = now.Add(e.cfg.RoundWait)
}

// Resume restarts work after a restore: it re-sends the pending update, or
// hands the round's model to the devices again (a device that answered
// already answers again with the same model).
func (e *AvgEdge) Resume(now time.Time) {
	switch e.state {
	case uploaded:
		if e.lastUpdate != nil {
			e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
		}
	case training:
		e.start.arm(now, e.cfg.StartTimeout)
		e.begin(now)
	}
}

// Deadline is when Tick must next be called (the end of the round's wait).
func (e *AvgEdge) Deadline() (time.Time, bool) {
	switch {
	case e.state == training && e.open:
		return e.deadline, true
	case e.state == training && !e.start.started:
		return e.start.by, true
	}
	return time.Time{}, false
}

// Tick closes a round whose wait has ended with the models it has, or
// opens one when a live device is waiting for it.
func (e *AvgEdge) Tick(now time.Time) {
	if e.state != training {
		return
	}
	if e.open && !now.Before(e.deadline) {
		e.close(now, true)
	} else if !e.open && (!e.start.started || len(liveDevices(e.devices, now, e.cfg.DeviceTimeout)) > 0) {
		e.begin(now)
	}
}

// Local accepts one device's local model. Models from unknown devices,
// for closed rounds and duplicates are dropped and counted; a model with
// the wrong number of parameters, a non-finite value, a sample count
// outside [1, wire.MaxSamples] or (with a robust rule) a loss no objective
// produces is rejected and counted by reason, and counts as answered.
func (e *AvgEdge) Local(now time.Time, m *Local) error {
	d, ok := e.devices[m.Device]
	if !ok {
		e.stats.Unknown++
		return fmt.Errorf("fed: local model from unknown device %q", m.Device)
	}
	d.lastSeen = now
	d.online = true
	e.stats.Feedback++
	if e.state == training && m.Round == e.round && !e.open {
		e.begin(now) // an edge that had no device online: this one is
	}
	switch {
	case e.state != training || m.Round != e.round || !e.open:
		e.stats.Late++
		return fmt.Errorf("fed: local model from %s for round %d arrived after it closed (now round %d, %s)", m.Device, m.Round, e.round, e.state)
	case e.received[m.Device] != nil:
		e.stats.Duplicate++
		return fmt.Errorf("fed: duplicate local model from %s for round %d", m.Device, m.Round)
	}
	e.received[m.Device] = m
	e.expected[m.Device] = true
	err := e.reject(m)
	if err != nil {
		e.rejected[m.Device] = true
	}
	e.maybeClose(now)
	return err
}

// reject returns why m must not be averaged, counting the reason, or nil.
func (e *AvgEdge) reject(m *Local) error {
	reason := ""
	switch {
	case len(m.G) != e.gsize || len(m.D) != e.dsize:
		reason = "shape"
	case m.Samples < 1 || m.Samples > wire.MaxSamples:
		reason = "samples"
	case !allFinite32(m.G) || !allFinite32(m.D) || !finite64(m.Loss):
		reason = "non_finite"
	case e.rob.Rule != RobustNone:
		reason = lossReason(m.Loss)
	}
	if reason == "" {
		return nil
	}
	addCount(&e.stats.Rejected, reason, 1)
	return fmt.Errorf("fed: local model of %s for round %d rejected: %s", m.Device, m.Round, reason)
}

func (e *AvgEdge) maybeClose(now time.Time) {
	if !e.open {
		return
	}
	for dev := range e.expected {
		if e.received[dev] == nil {
			return
		}
	}
	e.close(now, false)
}
