package fed

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// Mode selects how an edge aggregates its devices' feedback.
type Mode int

const (
	// Sync waits for every live device or the sync period (Eq. 4).
	Sync Mode = iota
	// Async updates with whatever has arrived, weighted by staleness (Eq. 5).
	Async
)

func (m Mode) String() string { return nameOf(modeNames[:], int(m), "Mode") }

// ParseMode parses "sync" or "async".
func ParseMode(s string) (Mode, error) {
	i, err := parseName(s, modeNames[:], "mode %q (want %s)", false)
	return Mode(i), err
}

// EdgeConfig configures community k's round state machine.
type EdgeConfig struct {
	// Community is k's id.
	Community string
	// Devices are the configured devices J_k; feedback from others is dropped.
	Devices []string
	// Layout is the layout of G_k's input rows: Latent is m, Domains is K
	// (LR) or 0 (FR), SourceCodes and Classes are described at RowCodes
	// and ClassSet.
	Layout Layout
	// Domain is c_k's index (LR).
	Domain int
	// NoDomainLosses is LR without the cloud's domain classifier C: G_k
	// still takes its domain code c_k, but adds no L_inv, L_spe and needs
	// no Classifier (Fed GAN's conditional GAN in the LR scenario).
	NoDomainLosses bool
	Mode           Mode
	// SyncPeriod bounds a sync iteration's wait for feedback.
	SyncPeriod time.Duration
	// DeviceTimeout: a device silent this long is not waited for until it
	// answers again. Zero means 3 × SyncPeriod.
	DeviceTimeout time.Duration
	// StartDevices is how many of Devices must be online before the edge
	// opens its first iteration after it starts (or restarts), so that a
	// run does not begin with the devices that happened to connect first;
	// StartTimeout is how long it waits for them after the first global
	// model, then it starts with whoever is online. Zero StartDevices
	// starts at once (docs/DESIGN.md §3.3).
	StartDevices int
	StartTimeout time.Duration
	// Weights selects Eq. 4's coefficients.
	Weights WeightMode
	// Staleness and StalenessUnit define s_kj (docs/DESIGN.md §2.3).
	Staleness     StalenessMode
	StalenessUnit time.Duration
	// MaxStaleness is how many past generator versions an async edge keeps.
	MaxStaleness int
	// LocalIters is I_lo; Batch is B; DataDim is d.
	LocalIters, Batch, DataDim int
	// Gen is G_k and Opt its optimizer. The Edge owns both.
	Gen *nn.Sequential
	Opt nn.Optimizer
	// LRDecay, when > 0, lowers Opt's learning rate linearly over the
	// global rounds: round r uses lr·(1 − LRDecay·r/Rounds), lr being the
	// rate Opt has when NewEdge is called (an *nn.Adam or *nn.SGD).
	// Annealing the step size damps the random walk that constant-rate
	// Adam steps on near-zero GAN gradients make around the equilibrium
	// (config training.lr_decay). Rounds is I_gl.
	LRDecay float64
	Rounds  int
	// RNG draws z; its state is part of the snapshot.
	RNG *rand.PCG
	// FirstLayers is how many layers form G¹ (Eq. 8); LR only.
	FirstLayers int
	// Classifier is the LR domain classifier C, whose parameters arrive with
	// each GlobalModel; nil in FR.
	Classifier *nn.Sequential
	// Robust bounds any one device's influence on G_k's update
	// (docs/DESIGN.md §2.11; config training.robust*). The zero value is
	// RobustNone: the paper's Eq. 4 and Eq. 5 exactly.
	Robust RobustConfig

	// Layout.SourceCodes is the width of the one-hot source code appended
	// to every latent row in FR (config model.source_code; 0: the paper's
	// unconditional G(z)). Row i of a batch carries the code
	// RowCodes[i mod len(RowCodes)]: one entry, the community's code, or
	// with PerDevice one entry per device of Devices, in order.
	//
	// Why: with an unconditional G every community's objective asks for
	// all of G's mass on its own data, and Eq. 1 averages generators that
	// pull every sample towards different modes (towards their centroid).
	// Conditioning G on the source (Mirza & Osindero 2014, as the paper's
	// LR scenario conditions it on c_k) turns the federated objective into
	// a sum of per-source GAN objectives on disjoint inputs, whose optimum
	// is G(z, e_s) ~ p_s: drawing s by data share then gives the mixture.
	RowCodes []int
	// CodeScale is the value of the code's one entry; 0 means 1. Eq. 1
	// averages K generators of which only community s (or its device)
	// trains the input weights of code s, which divides their update by
	// about K; a code of magnitude K restores the code pathway's step size
	// (config model.source_code_scale, default K).
	CodeScale float32
	// PerDevice: row i belongs to device Devices[i mod len(Devices)], and
	// each device's feedback is applied to its own rows only (its
	// discriminator has seen only its own data, so its gradient on another
	// source's rows would pull them towards the wrong data). Use it when
	// the devices of a community hold different data.
	PerDevice bool

	// Layout.Classes is the number of label classes of a class-conditional G
	// (config model.class_code; 0: not conditional): every latent row
	// ends with the one-hot class e_y, y drawn uniformly from ClassSet
	// (the classes this community's data holds), and each batch carries
	// the class of every row so that the devices' discriminators judge
	// the row as an image of that class. FR only.
	//
	// Why: a G conditioned on the community alone still has to find every
	// class of its community from D's feedback and drops some (measured:
	// the MNIST community loses two or three digits); with the class as
	// input, each class has its own input and its own judge.
	ClassSet []int

	// ModeSeeking is λ_ms of the mode-seeking term added to G_k's
	// objective (Mao et al. 2019, MSGAN; config training.mode_seeking;
	// 0 disables it). Row i + B/2 of every X_g batch is drawn with row
	// i's class, and G_k also descends
	//
	//	λ_ms / (mean|X_g,1 − X_g,2| / mean|z_1 − z_2| + 1e-5)
	//
	// over the two halves of the batch (z: the latent columns): pairs of
	// rows of one class that come from different z must differ, in
	// proportion to how different their z are.
	//
	// Why: the discriminators of a community judge its classes only, and
	// with the paper's split (MNIST | Fashion | Fashion) the merged G drew
	// each class from a few prototypes (measured: FR's digits of one class
	// look alike where the centralized GAN's do not, FID 115 against 86 at
	// a higher IS, 18.9 against 17.9). The devices' feedback has no term
	// against it; this term is computed at the edge from G_k's own output
	// and costs no traffic. Together with a lighter auxiliary class loss
	// it closes that gap (configs/mnist-fmnist-iid.yaml). Batch must be
	// even.
	ModeSeeking float64

	// ClassInvariance is λ of Eq. 8 over the class codes instead of the
	// domain codes (config training.class_invariance; 0 disables it): at
	// every update G_k also descends λ·Σ_{y≠y'} ‖G¹(z, e_y) − G¹(z, e_y')‖
	// on B fresh z, G¹ its first FirstLayers layers. It is RegGAN's
	// regulariser of G (Mao & Li 2018) for the centralized multi-domain
	// baseline of Table 2, whose "classes" are the domains. Needs
	// Classes ≥ 2.
	ClassInvariance float64

	// Sample is how many devices a batch asks (config training.sample;
	// 0: every device, the paper's). Each batch goes to Sample live
	// devices that are not suspects, in fair cycles drawn from RNG (every
	// device once per cycle), on their own batch topics (EdgeReady.To), so
	// that the bytes a batch costs grow with the devices asked and not
	// with the devices connected; Eq. 4 and Eq. 5 run over the devices
	// that answer. A sync iteration waits for the asked devices only.
	Sample int
	// Quorum closes a sync iteration as soon as this many of the asked
	// devices have answered (config training.quorum; 0: all of them), or
	// at the sync period. Feedback that arrives after is late.
	Quorum int
	// WireDType is the dtype of X_d and X_g in every Batch (wire.DTypeF32,
	// the default, or wire.DTypeBF16: half the bytes, 8 significant bits;
	// config training.wire_dtype).
	WireDType string
}

// checkLRDecay checks LRDecay and returns Opt's learning rate (an
// error only when LRDecay needs it and Opt has none).
func checkLRDecay(cfg *EdgeConfig) (float32, error) {
	baseLR, err := learningRate(cfg.Opt)
	if cfg.LRDecay == 0 {
		return baseLR, nil
	}
	switch {
	case !(cfg.LRDecay > 0 && cfg.LRDecay < 1):
		return 0, fmt.Errorf("fed: LRDecay = %g, want a value in [0, 1)", cfg.LRDecay)
	case cfg.Rounds <= 0:
		return 0, fmt.Errorf("fed: LRDecay needs Rounds > 0, got %d", cfg.Rounds)
	}
	return baseLR, err
}

// checkAsking checks how the edge asks its devices: Sample, Quorum and
// the batches' dtype.
func checkAsking(cfg *EdgeConfig) error {
	if cfg.Sample < 0 || cfg.Quorum < 0 || cfg.Quorum > 0 && cfg.Mode != Sync || cfg.Sample > 0 && cfg.Quorum > cfg.Sample {
		return fmt.Errorf("fed: Sample %d, Quorum %d (%s): want Sample ≥ 0 and, in sync mode only, 0 ≤ Quorum ≤ Sample", cfg.Sample, cfg.Quorum, cfg.Mode)
	}
	if !validDType(cfg.WireDType) {
		return fmt.Errorf("fed: wire dtype %q, want %q or %q", cfg.WireDType, wire.DTypeF32, wire.DTypeBF16)
	}
	return nil
}

// validDType reports whether d is a dtype for the per-iteration tensors.
func validDType(d string) bool { return d == "" || d == wire.DTypeF32 || d == wire.DTypeBF16 }

// Feedback is one device's answer, already decoded and validated by wire.
type Feedback struct {
	Device  string
	Round   int
	Iter    int64
	Version int64
	Loss    float64
	// Grad is F_kj, B×d. The Edge keeps the slice until it is aggregated.
	Grad []float32
}

// Global is a decoded GlobalModel.
type Global struct {
	Round      int
	Final      bool
	Params     []float32 // G's parameters, flat in nn.Params order
	Classifier []float32 // C's parameters (LR), flat
	Lambda1    float64
	Lambda2    float64
	DParams    []float32 // Fed GAN: D's parameters, flat (docs/DESIGN.md §2.12)
}

// EdgeStats are the counters an edge reports in its status.
type EdgeStats struct {
	Round     int                `json:"round"`
	Iter      int64              `json:"iteration"`
	RoundIter int                `json:"round_iteration"`
	Version   int64              `json:"version"`
	State     string             `json:"state"`
	Loss      float64            `json:"loss"`
	Weights   map[string]float64 `json:"weights"`
	Live      []string           `json:"live_devices"`
	Feedback  int64              `json:"feedback"`
	Late      int64              `json:"late"`
	Duplicate int64              `json:"duplicate"`
	Unknown   int64              `json:"unknown_device"`
	Stale     int64              `json:"stale"`
	Empty     int64              `json:"empty_iterations"`
	Partial   int64              `json:"partial_iterations"`
	// Asked counts the devices batches were sent to by name (sampling);
	// Unanswered those a sync iteration closed without (quorum, sync
	// period): each of them is late if it answers after.
	Asked      int64 `json:"asked,omitempty"`
	Unanswered int64 `json:"unanswered,omitempty"`
	Updates    int64 `json:"updates"`
	Diverged   int64 `json:"diverged"`
	// Rejected counts feedback dropped for a loss the objective cannot
	// produce, by reason; Bounded the reports a robust rule bounded
	// (norm_clipped, loss_raised, weight_capped); Quarantined the reports
	// of suspects left out; Suspects the devices whose reports were
	// outliers in more than the suspect fraction of their last window
	// (docs/DESIGN.md §2.11).
	Rejected    map[string]int64 `json:"rejected,omitempty"`
	Bounded     map[string]int64 `json:"bounded,omitempty"`
	Quarantined int64            `json:"quarantined,omitempty"`
	Suspects    []string         `json:"suspects,omitempty"`
	LInv        float64          `json:"l_inv,omitempty"`
	LSpe        float64          `json:"l_spe,omitempty"`
	LastUpload  int              `json:"last_upload_round"`
}

// Note is something the shell should log.
type Note struct {
	Msg   string
	Attrs []any
}

// EdgeReady is what the edge wants done: messages to publish, in order,
// whether to checkpoint, and notes to log.
type EdgeReady struct {
	Batches []*wire.Batch
	// To[i] lists the devices Batches[i] is for (EdgeConfig.Sample), each
	// on its own batch topic; nil: every device, on the community's
	// batch topic.
	To         [][]string
	Models     []*wire.CommunityModel // Fed GAN: the round's model for the devices (AvgEdge)
	Updates    []*wire.GeneratorUpdate
	Checkpoint bool
	Notes      []Note
}

// BatchTo is To[i]: the devices Batches[i] is for, nil for every device.
func (r EdgeReady) BatchTo(i int) []string {
	if i < len(r.To) {
		return r.To[i]
	}
	return nil
}

type edgeState int

const (
	waiting  edgeState = iota // for the round's global model
	training                  // local iterations
	uploaded                  // update sent, waiting for the next global model
	finished                  // the final global model arrived
)

func (s edgeState) String() string {
	return [...]string{"waiting", "training", "uploaded", "finished"}[s]
}

type version struct {
	zg       []float32 // G's input rows for X_g
	produced time.Time // T^lat
}

type device struct {
	online   bool
	lastSeen time.Time
	lastIter int64
}

// Edge is community k's round state machine (docs/DESIGN.md §2.1–2.5). It is
// fed events with the time as an argument and says what to publish in
// Ready; it does no I/O and reads no clock. Not safe for concurrent use.
type Edge struct {
	cfg     EdgeConfig
	rng     *rand.Rand
	state   edgeState
	round   int
	iter    int64 // local iterations started, over all rounds
	version int64 // generator version
	rIters  int   // updates done this round

	devices map[string]*device

	// start: until the start quorum (StartDevices) is met or its wait
	// has timed out, no iteration opens.
	start startWait

	// sync: the open iteration
	cur      *version
	curIter  int64
	deadline time.Time
	expected map[string]bool
	received map[string]*Feedback

	// async: kept versions and the feedback that has arrived
	versions map[int64]*version
	// last is the newest batch, re-sent by an async edge to a device that
	// comes online and whenever no feedback arrives for a sync period
	// (a batch published before its devices subscribed is otherwise lost).
	last     *wire.Batch
	lastSent time.Time
	inbox    []*Feedback
	recvAt   []time.Time

	lastUpdate *wire.GeneratorUpdate
	lambda1    float64
	lambda2    float64

	stats EdgeStats
	ready EdgeReady

	// robust rule with its defaults, outlier history, and each device's
	// last bounded loss and non-zero feedback norm (references for the
	// others)
	rob      RobustConfig
	sus      *suspects
	refs     *Refs
	rejected map[string]bool // sync: answered with a rejected loss

	dom *domainLoss

	cycle []string // sampling: the devices left to ask in the current cycle

	pos    map[string]int // device → its position in cfg.Devices
	baseLR float32        // Opt's learning rate at round 0

	// scratch
	zIn, dx, xd, xg []float32
	owned           [][]float32
	grads           [][]float32
	losses, stale   []float64
}

// NewEdge checks cfg and returns an edge waiting for its first global model.
func NewEdge(cfg EdgeConfig) (*Edge, error) {
	if cfg.Gen == nil || cfg.Opt == nil || cfg.RNG == nil {
		return nil, errors.New("fed: EdgeConfig needs Gen, Opt and RNG")
	}
	if err := wire.ValidID(cfg.Community); err != nil {
		return nil, err
	}
	l := cfg.Layout
	if cfg.LocalIters <= 0 || cfg.Batch <= 0 || l.Latent <= 0 || cfg.DataDim <= 0 {
		return nil, fmt.Errorf("fed: EdgeConfig: local iters %d, batch %d, latent %d, data dim %d must be > 0", cfg.LocalIters, cfg.Batch, l.Latent, cfg.DataDim)
	}
	if in := l.Width(); cfg.Gen.InDim() != in || cfg.Gen.OutDim() != cfg.DataDim {
		return nil, fmt.Errorf("%w: G maps %d→%d, want %d→%d", nn.ErrShape, cfg.Gen.InDim(), cfg.Gen.OutDim(), in, cfg.DataDim)
	}
	if err := checkClasses(&cfg); err != nil {
		return nil, err
	}
	if cfg.ModeSeeking != 0 && (!(cfg.ModeSeeking > 0) || math.IsInf(cfg.ModeSeeking, 0) || cfg.Batch%2 != 0) {
		return nil, fmt.Errorf("fed: ModeSeeking = %g with batch %d: want a finite value ≥ 0 and an even batch", cfg.ModeSeeking, cfg.Batch)
	}
	if c := cfg.ClassInvariance; c != 0 && (!(c > 0) || math.IsInf(c, 0) || cfg.Layout.Classes < 2 || cfg.FirstLayers <= 0) {
		return nil, fmt.Errorf("fed: ClassInvariance = %g with %d classes and FirstLayers %d: want a finite value ≥ 0, 2 classes or more and FirstLayers > 0", c, cfg.Layout.Classes, cfg.FirstLayers)
	}
	if cfg.CodeScale == 0 {
		cfg.CodeScale = 1
	}
	if err := checkSourceCodes(&cfg); err != nil {
		return nil, err
	}
	baseLR, err := checkLRDecay(&cfg)
	if err != nil {
		return nil, err
	}
	if l.Domains > 0 && (cfg.Domain < 0 || cfg.Domain >= l.Domains || !cfg.NoDomainLosses && (cfg.Classifier == nil || cfg.FirstLayers <= 0)) {
		return nil, errors.New("fed: LR edge needs a domain in range, and Classifier and FirstLayers unless NoDomainLosses")
	}
	if cfg.SyncPeriod <= 0 {
		return nil, errors.New("fed: SyncPeriod must be > 0")
	}
	if err := checkAsking(&cfg); err != nil {
		return nil, err
	}
	if cfg.DeviceTimeout <= 0 {
		cfg.DeviceTimeout = 3 * cfg.SyncPeriod
	}
	if cfg.StartDevices < 0 || cfg.StartDevices > len(cfg.Devices) || cfg.StartDevices > 0 && cfg.StartTimeout <= 0 {
		return nil, fmt.Errorf("fed: EdgeConfig: start quorum %d of %d devices with timeout %v: want 0…%d and a timeout > 0", cfg.StartDevices, len(cfg.Devices), cfg.StartTimeout, len(cfg.Devices))
	}
	if cfg.StalenessUnit <= 0 {
		cfg.StalenessUnit = time.Second
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = 8
	}
	rob, err := cfg.Robust.withDefaults()
	if err != nil {
		return nil, err
	}
	e := &Edge{
		cfg:      cfg,
		rng:      rand.New(cfg.RNG),
		round:    -1,
		devices:  map[string]*device{},
		versions: map[int64]*version{},
		baseLR:   baseLR,
		rob:      rob,
		sus:      newSuspects(rob.Window, rob.Suspect),
		refs:     NewRefs(),
	}
	e.pos = make(map[string]int, len(cfg.Devices))
	for i, d := range cfg.Devices {
		e.devices[d] = &device{lastIter: -1}
		e.pos[d] = i
	}
	e.stats.LastUpload = -1
	return e, nil
}

// Round is the current round (-1 before the first global model).
func (e *Edge) Round() int { return e.round }

// Done reports whether the final global model has arrived.
func (e *Edge) Done() bool { return e.state == finished }

// Ready returns what the edge wants done since the last Advance, in
// order. The edge never changes a message once it is in Ready (a re-send
// queues the same one again) and Advance only forgets it, so the value
// stays valid after Advance and after later events: a caller may take it,
// Advance at once and then publish, as the edge service and the simulator
// do. With Checkpoint set, save a Snapshot before publishing Updates, so
// that a restarted edge re-sends an update that may have been lost
// (Resume).
func (e *Edge) Ready() EdgeReady { return e.ready }

// HasReady reports whether Ready holds anything.
func (e *Edge) HasReady() bool {
	r := e.ready
	return len(r.Batches)+len(r.Updates)+len(r.Notes) > 0 || r.Checkpoint
}

// Advance acknowledges the last Ready: what it returned is not returned
// again.
func (e *Edge) Advance() { e.ready = EdgeReady{} }

func (e *Edge) note(msg string, attrs ...any) {
	e.ready.Notes = append(e.ready.Notes, Note{Msg: msg, Attrs: attrs})
}

// Stats returns a copy of the counters.
func (e *Edge) Stats() EdgeStats {
	s := e.stats
	s.Round, s.Iter, s.RoundIter, s.Version, s.State = e.round, e.iter, e.rIters, e.version, e.state.String()
	s.Weights = copyWeights(e.stats.Weights)
	s.Live = e.live(time.Time{})
	s.Rejected, s.Bounded = maps.Clone(e.stats.Rejected), maps.Clone(e.stats.Bounded)
	s.Suspects = e.suspectList()
	return s
}

// copyWeights copies m; unlike maps.Clone it returns an empty map, not
// nil, for a nil m (the status shows {} before the first update).
func copyWeights(m map[string]float64) map[string]float64 {
	c := make(map[string]float64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// live lists devices that are online and, when now is set, not timed out.
func (e *Edge) live(now time.Time) []string {
	var ids []string
	for id, d := range e.devices {
		if !d.online {
			continue
		}
		if !now.IsZero() && !d.lastSeen.IsZero() && now.Sub(d.lastSeen) > e.cfg.DeviceTimeout {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Presence records that a device went online or offline (retained
// presence and its last will).
func (e *Edge) Presence(now time.Time, dev string, online bool) error {
	d, ok := e.devices[dev]
	if !ok {
		e.stats.Unknown++
		return fmt.Errorf("fed: presence of unknown device %q", dev)
	}
	was := d.online
	d.online = online
	if online && !was {
		d.lastSeen = now
		// A sync edge idle for lack of devices starts again.
		if e.state == training && e.cur == nil && e.cfg.Mode == Sync {
			e.emit(now)
		}
		if e.state == training && e.cfg.Mode == Async {
			if len(e.versions) == 0 {
				e.emit(now)
			} else {
				e.resend(now)
			}
		}
	}
	if !online && was && e.cfg.Mode == Sync && e.cur != nil {
		delete(e.expected, dev)
		e.maybeComplete(now)
	}
	return nil
}

// Global installs a global model (docs/DESIGN.md §2.5). A model for a round
// already started is ignored (retained messages are redelivered on every
// reconnect).
func (e *Edge) Global(now time.Time, g *Global) error {
	if g.Round == e.round && e.state == uploaded && e.lastUpdate != nil {
		// The model of the round we uploaded for, announced again: the
		// cloud restarted (or the bridge reconnected). The update may have
		// been acknowledged by the cloud's broker but lost with the cloud
		// process, so send it again; the cloud drops duplicates by
		// (community, round).
		e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
		e.note("global model of the uploaded round announced again: update re-sent", "round", g.Round)
		return nil
	}
	if e.state == finished || g.Round < e.round || g.Round == e.round && e.state != waiting {
		return nil
	}
	if err := nn.Unflatten(e.cfg.Gen.Params(), g.Params); err != nil {
		return fmt.Errorf("fed: global model: %w", err)
	}
	if e.domainLosses() {
		if err := nn.Unflatten(e.cfg.Classifier.Params(), g.Classifier); err != nil {
			return fmt.Errorf("fed: global classifier: %w", err)
		}
		e.lambda1, e.lambda2 = g.Lambda1, g.Lambda2
	}
	e.begin(now, g.Round, g.Final)
	return nil
}

// begin starts round with G_k's parameters as they are (Global has just
// set them; fed.LocalGAN sets them itself).
func (e *Edge) begin(now time.Time, round int, final bool) {
	e.round = round
	e.setLR()
	e.rIters = 0
	e.cur, e.expected, e.received = nil, nil, nil
	clear(e.rejected)
	clear(e.versions)
	e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
	if final {
		e.state = finished
		e.ready.Checkpoint = true
		e.note("final global model received", "round", round)
		return
	}
	e.state = training
	e.ready.Checkpoint = true
	e.start.arm(now, e.cfg.StartTimeout)
	e.emit(now)
}

// startWait is an edge's start quorum (EdgeConfig.StartDevices): after the
// edge starts or restarts it begins only once enough of its devices are
// online or the wait has timed out, and it never waits again after that.
type startWait struct {
	started bool
	by      time.Time // the wait's end, once armed
	noted   bool
}

// arm sets the wait's end, timeout after now, unless it is set already or
// the wait is over.
func (w *startWait) arm(now time.Time, timeout time.Duration) {
	if !w.started && w.by.IsZero() {
		w.by = now.Add(timeout)
	}
}

// wait reports whether the edge must still wait, with online of the want
// devices online, noting it the first time and noting a start without
// the quorum.
func (w *startWait) wait(now time.Time, online, want int, note func(string, ...any)) bool {
	if w.started {
		return false
	}
	if online >= want || !now.Before(w.by) {
		w.started = true
		if online < want {
			note("start quorum not met in time: starting with the devices online", "online", online, "wanted", want)
		}
		return false
	}
	if !w.noted {
		w.noted = true
		note("waiting for devices before the first iteration", "online", online, "wanted", want, "at_most", w.by.Sub(now).String())
	}
	return true
}

// Resume restarts work after a restore: it re-sends the pending update, or
// opens a new iteration of the current round.
func (e *Edge) Resume(now time.Time) {
	switch e.state {
	case uploaded:
		if e.lastUpdate != nil {
			e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
		}
	case training:
		e.cur = nil
		clear(e.versions)
		e.start.arm(now, e.cfg.StartTimeout)
		e.emit(now)
	}
}

// Feedback accepts one device's feedback (docs/DESIGN.md §2.1 step 3). It
// returns an error for feedback that is dropped (and counted).
func (e *Edge) Feedback(now time.Time, fb *Feedback) error {
	d, ok := e.devices[fb.Device]
	if !ok {
		e.stats.Unknown++
		return fmt.Errorf("fed: feedback from unknown device %q", fb.Device)
	}
	if len(fb.Grad) != e.cfg.Batch*e.cfg.DataDim {
		return fmt.Errorf("%w: feedback grad has %d values, want %d", nn.ErrShape, len(fb.Grad), e.cfg.Batch*e.cfg.DataDim)
	}
	d.lastSeen = now
	if !d.online {
		d.online = true // feedback proves it is alive even if presence lags
	}
	e.stats.Feedback++
	if e.state != training || fb.Round != e.round {
		e.stats.Late++
		return fmt.Errorf("fed: feedback from %s for round %d, iteration %d arrived after it closed (now round %d, %s)", fb.Device, fb.Round, fb.Iter, e.round, e.state)
	}
	if e.cfg.Mode == Sync {
		return e.syncFeedback(now, d, fb)
	}
	return e.asyncFeedback(now, d, fb)
}

// Deadline is when Tick must next be called (the end of the sync period).
func (e *Edge) Deadline() (time.Time, bool) {
	if e.state == training && !e.start.started {
		return e.start.by, true
	}
	if e.cfg.Mode == Sync && e.state == training && e.cur != nil {
		return e.deadline, true
	}
	if e.cfg.Mode == Async && e.state == training && e.last != nil {
		return e.lastSent.Add(e.cfg.SyncPeriod), true
	}
	return time.Time{}, false
}

// Tick advances time: a sync iteration whose period has ended is closed
// with the feedback it has; an async edge drains its inbox (Eq. 5).
func (e *Edge) Tick(now time.Time) {
	if e.state != training {
		return
	}
	if !e.start.started {
		if !now.Before(e.start.by) {
			e.emit(now) // the wait is over: start with whoever is online
		}
		return
	}
	if e.cfg.Mode == Sync {
		e.syncTick(now)
	} else {
		e.asyncTick(now)
	}
}
