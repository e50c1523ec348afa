package fed

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
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

func (m Mode) String() string {
	if m == Async {
		return "async"
	}
	return "sync"
}

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
	// Domains is K (LR) or 0 (FR); Domain is c_k's index.
	Domains, Domain int
	Mode            Mode
	// SyncPeriod bounds a sync iteration's wait for feedback.
	SyncPeriod time.Duration
	// DeviceTimeout: a device silent this long is not waited for until it
	// answers again. Zero means 3 × SyncPeriod.
	DeviceTimeout time.Duration
	// Weights selects Eq. 4's coefficients.
	Weights WeightMode
	// Staleness and StalenessUnit define s_kj (DESIGN.md §2.3).
	Staleness     StalenessMode
	StalenessUnit time.Duration
	// MaxStaleness is how many past generator versions an async edge keeps.
	MaxStaleness int
	// LocalIters is I_lo; Batch is B; Latent is m; DataDim is d.
	LocalIters, Batch, Latent, DataDim int
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

	// SourceCodes is the width of the one-hot source code appended to every
	// latent row in FR (config model.source_code; 0: the paper's
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
	SourceCodes int
	RowCodes    []int
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

	// Classes is the number of label classes of a class-conditional G
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
	Classes  int
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
}

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
}

// EdgeStats are the counters an edge reports in its status.
type EdgeStats struct {
	Round      int                `json:"round"`
	Iter       int64              `json:"iteration"`
	RoundIter  int                `json:"round_iteration"`
	Version    int64              `json:"version"`
	State      string             `json:"state"`
	Loss       float64            `json:"loss"`
	Weights    map[string]float64 `json:"weights"`
	Live       []string           `json:"live_devices"`
	Feedback   int64              `json:"feedback"`
	Late       int64              `json:"late"`
	Duplicate  int64              `json:"duplicate"`
	Unknown    int64              `json:"unknown_device"`
	Stale      int64              `json:"stale"`
	Empty      int64              `json:"empty_iterations"`
	Partial    int64              `json:"partial_iterations"`
	Updates    int64              `json:"updates"`
	Diverged   int64              `json:"diverged"`
	LInv       float64            `json:"l_inv,omitempty"`
	LSpe       float64            `json:"l_spe,omitempty"`
	LastUpload int                `json:"last_upload_round"`
}

// Note is something the shell should log.
type Note struct {
	Msg   string
	Attrs []any
}

// EdgeReady is what the edge wants done: messages to publish, in order,
// whether to checkpoint, and notes to log.
type EdgeReady struct {
	Batches    []*wire.Batch
	Updates    []*wire.GeneratorUpdate
	Checkpoint bool
	Notes      []Note
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

// Edge is community k's round state machine (DESIGN.md §2.1–2.5). It is
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

	dom *domainLoss

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
	if cfg.LocalIters <= 0 || cfg.Batch <= 0 || cfg.Latent <= 0 || cfg.DataDim <= 0 {
		return nil, fmt.Errorf("fed: EdgeConfig: local iters %d, batch %d, latent %d, data dim %d must be > 0", cfg.LocalIters, cfg.Batch, cfg.Latent, cfg.DataDim)
	}
	if in := cfg.Latent + cfg.Domains + cfg.SourceCodes + cfg.Classes; cfg.Gen.InDim() != in || cfg.Gen.OutDim() != cfg.DataDim {
		return nil, fmt.Errorf("%w: G maps %d→%d, want %d→%d", nn.ErrShape, cfg.Gen.InDim(), cfg.Gen.OutDim(), in, cfg.DataDim)
	}
	if err := checkClasses(&cfg); err != nil {
		return nil, err
	}
	if cfg.ModeSeeking != 0 && (!(cfg.ModeSeeking > 0) || math.IsInf(cfg.ModeSeeking, 0) || cfg.Batch%2 != 0) {
		return nil, fmt.Errorf("fed: ModeSeeking = %g with batch %d: want a finite value ≥ 0 and an even batch", cfg.ModeSeeking, cfg.Batch)
	}
	if cfg.CodeScale == 0 {
		cfg.CodeScale = 1
	}
	if err := checkSourceCodes(&cfg); err != nil {
		return nil, err
	}
	baseLR, err := learningRate(cfg.Opt)
	if cfg.LRDecay != 0 {
		switch {
		case !(cfg.LRDecay > 0 && cfg.LRDecay < 1):
			return nil, fmt.Errorf("fed: LRDecay = %g, want a value in [0, 1)", cfg.LRDecay)
		case cfg.Rounds <= 0:
			return nil, fmt.Errorf("fed: LRDecay needs Rounds > 0, got %d", cfg.Rounds)
		case err != nil:
			return nil, err
		}
	}
	if cfg.Domains > 0 && (cfg.Classifier == nil || cfg.FirstLayers <= 0 || cfg.Domain < 0 || cfg.Domain >= cfg.Domains) {
		return nil, errors.New("fed: LR edge needs Classifier, FirstLayers and a domain in range")
	}
	if cfg.SyncPeriod <= 0 {
		return nil, errors.New("fed: SyncPeriod must be > 0")
	}
	if cfg.DeviceTimeout <= 0 {
		cfg.DeviceTimeout = 3 * cfg.SyncPeriod
	}
	if cfg.StalenessUnit <= 0 {
		cfg.StalenessUnit = time.Second
	}
	if cfg.MaxStaleness <= 0 {
		cfg.MaxStaleness = 8
	}
	e := &Edge{
		cfg:      cfg,
		rng:      rand.New(cfg.RNG),
		round:    -1,
		devices:  map[string]*device{},
		versions: map[int64]*version{},
		baseLR:   baseLR,
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

// Ready returns what to do now. The caller publishes, then calls Advance.
func (e *Edge) Ready() EdgeReady { return e.ready }

// HasReady reports whether Ready holds anything.
func (e *Edge) HasReady() bool {
	r := e.ready
	return len(r.Batches)+len(r.Updates)+len(r.Notes) > 0 || r.Checkpoint
}

// Advance acknowledges the last Ready.
func (e *Edge) Advance() { e.ready = EdgeReady{} }

func (e *Edge) note(msg string, attrs ...any) {
	e.ready.Notes = append(e.ready.Notes, Note{Msg: msg, Attrs: attrs})
}

// Stats returns a copy of the counters.
func (e *Edge) Stats() EdgeStats {
	s := e.stats
	s.Round, s.Iter, s.RoundIter, s.Version, s.State = e.round, e.iter, e.rIters, e.version, e.state.String()
	s.Weights = maps(e.stats.Weights)
	s.Live = e.live(time.Time{})
	return s
}

func maps(m map[string]float64) map[string]float64 {
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

// Global installs a global model (DESIGN.md §2.5). A model for a round
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
	if e.cfg.Domains > 0 {
		if err := nn.Unflatten(e.cfg.Classifier.Params(), g.Classifier); err != nil {
			return fmt.Errorf("fed: global classifier: %w", err)
		}
		e.lambda1, e.lambda2 = g.Lambda1, g.Lambda2
	}
	e.round = g.Round
	e.setLR()
	e.rIters = 0
	e.cur, e.expected, e.received = nil, nil, nil
	clear(e.versions)
	e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
	if g.Final {
		e.state = finished
		e.ready.Checkpoint = true
		e.note("final global model received", "round", g.Round)
		return nil
	}
	e.state = training
	e.ready.Checkpoint = true
	e.emit(now)
	return nil
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
		e.emit(now)
	}
}

// emit draws z_d, z_g, computes X_d, X_g and queues a Batch.
func (e *Edge) emit(now time.Time) {
	if e.cfg.Mode == Sync {
		exp := e.live(now)
		if len(exp) == 0 {
			// Devices that are online but timed out still get the batch
			// (it is broadcast anyway) and may answer; only an edge with
			// no device online at all waits for a presence message.
			exp = e.live(time.Time{})
		}
		if len(exp) == 0 {
			e.cur = nil
			e.note("no device online: waiting for one to come online")
			return
		}
		e.expected = make(map[string]bool, len(exp))
		for _, d := range exp {
			e.expected[d] = true
		}
		e.received = make(map[string]*Feedback, len(exp))
		e.deadline = now.Add(e.cfg.SyncPeriod)
	}
	b := e.cfg.Batch
	cols := e.inCols()
	e.zIn = grow(e.zIn, b*cols)
	zd := e.zIn
	var ld, lg []byte
	if e.cfg.Classes > 0 {
		ld, lg = make([]byte, b), make([]byte, b)
	}
	e.fillZ(zd, ld)
	xd := e.cfg.Gen.Forward(nn.Mat{Rows: b, Cols: cols, Data: zd})
	e.xd = append(e.xd[:0], xd.Data[:b*e.cfg.DataDim]...)
	zg := make([]float32, b*cols)
	e.fillZ(zg, lg)
	if e.cfg.ModeSeeking > 0 {
		e.pairClasses(zg, lg)
	}
	xg := e.cfg.Gen.Forward(nn.Mat{Rows: b, Cols: cols, Data: zg})
	e.xg = append(e.xg[:0], xg.Data[:b*e.cfg.DataDim]...)
	v := &version{zg: zg, produced: now}
	e.iter++
	if e.cfg.Mode == Sync {
		e.cur, e.curIter = v, e.iter
	} else {
		e.versions[e.version] = v
		for old := range e.versions {
			if e.version-old > int64(e.cfg.MaxStaleness) {
				delete(e.versions, old)
			}
		}
	}
	shape := []int{b, e.cfg.DataDim}
	e.last = &wire.Batch{
		V: wire.Version, Community: e.cfg.Community, Round: e.round, Iter: e.iter, Version: e.version,
		Domain: e.cfg.Domain, Fake: wire.NewTensor(shape, e.xd), Gen: wire.NewTensor(shape, e.xg),
		SentUnixNano: now.UnixNano(), FakeLabels: ld, GenLabels: lg,
	}
	e.lastSent = now
	e.ready.Batches = append(e.ready.Batches, e.last)
}

// inCols is the width of G's input rows: [z, c_k] or [z, e_s], with the
// class e_y at the end when G is class-conditional.
func (e *Edge) inCols() int { return e.cfg.Latent + e.cfg.Domains + e.cfg.SourceCodes + e.cfg.Classes }

// fillZ draws a batch of G's input rows into z; with a class-conditional G
// it writes each row's class to labels (len Batch).
func (e *Edge) fillZ(z []float32, labels []byte) {
	m, k := e.cfg.Latent, e.cfg.Domains
	cols := e.inCols()
	for i := 0; i < e.cfg.Batch; i++ {
		row := z[i*cols : (i+1)*cols]
		fillNormal(row[:m], e.rng)
		clear(row[m:])
		if k > 0 {
			row[m+e.cfg.Domain] = 1
		}
		if e.cfg.SourceCodes > 0 {
			row[m+e.cfg.RowCodes[i%len(e.cfg.RowCodes)]] = e.cfg.CodeScale
		}
		if e.cfg.Classes > 0 {
			y := e.cfg.ClassSet[e.rng.IntN(len(e.cfg.ClassSet))]
			row[m+k+e.cfg.SourceCodes+y] = 1
			labels[i] = byte(y)
		}
	}
}

// checkClasses validates the class-code fields of cfg.
func checkClasses(cfg *EdgeConfig) error {
	switch {
	case cfg.Classes == 0 && len(cfg.ClassSet) == 0:
		return nil
	case cfg.Classes < 0 || cfg.Classes > wire.MaxClasses:
		return fmt.Errorf("fed: Classes = %d, want 0 to %d", cfg.Classes, wire.MaxClasses)
	case cfg.Classes == 0:
		return errors.New("fed: ClassSet needs Classes > 0")
	case cfg.Domains > 0:
		return errors.New("fed: class codes are for FR; an LR edge is conditioned on its domain code")
	case len(cfg.ClassSet) == 0:
		return errors.New("fed: Classes > 0 needs the classes of the community's data (ClassSet)")
	}
	for i, c := range cfg.ClassSet {
		if c < 0 || c >= cfg.Classes {
			return fmt.Errorf("fed: ClassSet[%d] = %d, want a class in [0, %d)", i, c, cfg.Classes)
		}
	}
	return nil
}

// Feedback accepts one device's feedback (DESIGN.md §2.1 step 3). It
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
		if e.cur == nil || fb.Iter != e.curIter {
			e.stats.Late++
			return fmt.Errorf("fed: feedback from %s for iteration %d arrived after it closed (now %d)", fb.Device, fb.Iter, e.curIter)
		}
		if _, dup := e.received[fb.Device]; dup {
			e.stats.Duplicate++
			return fmt.Errorf("fed: duplicate feedback from %s for iteration %d", fb.Device, fb.Iter)
		}
		if fb.Iter <= d.lastIter {
			e.stats.Duplicate++
			return fmt.Errorf("fed: duplicate feedback from %s for iteration %d", fb.Device, fb.Iter)
		}
		d.lastIter = fb.Iter
		e.received[fb.Device] = fb
		e.expected[fb.Device] = true
		e.maybeComplete(now)
		return nil
	}
	if _, ok := e.versions[fb.Version]; !ok {
		e.stats.Stale++
		return fmt.Errorf("fed: feedback from %s for generator version %d is older than the %d kept (now %d)", fb.Device, fb.Version, e.cfg.MaxStaleness, e.version)
	}
	if fb.Iter <= d.lastIter {
		e.stats.Duplicate++
		return fmt.Errorf("fed: duplicate feedback from %s for iteration %d", fb.Device, fb.Iter)
	}
	d.lastIter = fb.Iter
	e.inbox = append(e.inbox, fb)
	e.recvAt = append(e.recvAt, now)
	return nil
}

func (e *Edge) maybeComplete(now time.Time) {
	if e.cur == nil {
		return
	}
	for dev := range e.expected {
		if _, ok := e.received[dev]; !ok {
			return
		}
	}
	e.syncUpdate(now)
}

// Deadline is when Tick must next be called (the end of the sync period).
func (e *Edge) Deadline() (time.Time, bool) {
	if e.cfg.Mode == Sync && e.state == training && e.cur != nil {
		return e.deadline, true
	}
	if e.cfg.Mode == Async && e.state == training && e.last != nil {
		return e.lastSent.Add(e.cfg.SyncPeriod), true
	}
	return time.Time{}, false
}

// resend publishes the newest batch again (async): same iteration and
// version, so devices that already answered it skip it.
func (e *Edge) resend(now time.Time) {
	if e.last == nil || e.last.Round != e.round {
		return
	}
	e.lastSent = now
	e.ready.Batches = append(e.ready.Batches, e.last)
}

// Tick advances time: a sync iteration whose period has ended is closed
// with the feedback it has; an async edge drains its inbox (Eq. 5).
func (e *Edge) Tick(now time.Time) {
	if e.state != training {
		return
	}
	if e.cfg.Mode == Sync {
		if e.cur != nil && !now.Before(e.deadline) {
			if len(e.received) < len(e.expected) {
				var missing []string
				for d := range e.expected {
					if e.received[d] == nil {
						missing = append(missing, d)
					}
				}
				sort.Strings(missing)
				e.note("sync period ended without every live device", "iteration", e.curIter, "received", len(e.received), "missing", missing)
				if len(e.received) > 0 {
					e.stats.Partial++
				}
			}
			e.syncUpdate(now)
		} else if e.cur == nil && len(e.live(now)) > 0 {
			e.emit(now)
		}
		return
	}
	if len(e.inbox) > 0 {
		e.asyncUpdate(now)
	} else if e.last != nil && !now.Before(e.lastSent.Add(e.cfg.SyncPeriod)) {
		e.note("no feedback for a sync period: newest batch re-sent", "iteration", e.last.Iter)
		e.resend(now)
	}
}

// syncUpdate closes the open iteration with Eq. 4.
func (e *Edge) syncUpdate(now time.Time) {
	cur := e.cur
	e.cur = nil
	if len(e.received) == 0 {
		e.stats.Empty++
		e.note("no feedback in the sync period: update skipped", "iteration", e.curIter)
		e.emit(now)
		return
	}
	ids := make([]string, 0, len(e.received))
	for id := range e.received {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	e.losses, e.grads = e.losses[:0], e.grads[:0]
	for i, id := range ids {
		e.losses = append(e.losses, e.received[id].Loss)
		e.grads = append(e.grads, e.own(i, id, e.received[id].Grad))
	}
	w, err := SyncWeights(e.losses, e.cfg.Weights)
	if err == nil {
		e.dx = grow(e.dx, e.cfg.Batch*e.cfg.DataDim)
		err = Combine(e.dx, w.Coeffs, e.grads)
	}
	if err != nil {
		e.stats.Diverged++
		e.note("aggregation failed: update skipped", "error", err)
		e.emit(now)
		return
	}
	e.stats.Weights = map[string]float64{}
	for i, id := range ids {
		e.stats.Weights[id] = w.Weights[i]
	}
	e.received = nil
	e.backward(cur.zg, e.dx)
	e.step(now, w.Loss)
}

// asyncUpdate drains the inbox with Eq. 5.
func (e *Edge) asyncUpdate(now time.Time) {
	e.losses, e.stale = e.losses[:0], e.stale[:0]
	for i, fb := range e.inbox {
		e.losses = append(e.losses, fb.Loss)
		switch e.cfg.Staleness {
		case StalenessVersions:
			e.stale = append(e.stale, VersionStaleness(e.version, fb.Version))
		default:
			e.stale = append(e.stale, TimeStaleness(e.recvAt[i], e.versions[fb.Version].produced, e.cfg.StalenessUnit))
		}
	}
	w, err := AsyncWeights(e.losses, e.stale)
	if err != nil {
		e.stats.Diverged++
		e.note("aggregation failed: update skipped", "error", err)
		e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
		return
	}
	e.stats.Weights = map[string]float64{}
	for i, fb := range e.inbox {
		e.stats.Weights[fb.Device] += w.Weights[i]
	}
	// Backpropagate each version's combined feedback through the current
	// G_k at that version's z_g (stale-gradient SGD); gradients accumulate.
	vers := make([]int64, 0, len(e.inbox))
	for _, fb := range e.inbox {
		if !slices.Contains(vers, fb.Version) {
			vers = append(vers, fb.Version)
		}
	}
	slices.Sort(vers)
	e.dx = grow(e.dx, e.cfg.Batch*e.cfg.DataDim)
	for _, v := range vers {
		var coeffs []float64
		e.grads = e.grads[:0]
		for i, fb := range e.inbox {
			if fb.Version == v {
				coeffs = append(coeffs, w.Coeffs[i])
				e.grads = append(e.grads, e.own(len(e.grads), fb.Device, fb.Grad))
			}
		}
		if err := Combine(e.dx, coeffs, e.grads); err != nil {
			e.cfg.Gen.ZeroGrad()
			e.stats.Diverged++
			e.note("aggregation failed: update skipped", "error", err)
			e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
			return
		}
		e.backward(e.versions[v].zg, e.dx)
	}
	e.inbox, e.recvAt = e.inbox[:0], e.recvAt[:0]
	e.step(now, w.Loss)
}

// own returns device dev's feedback restricted to its own rows when rows
// belong to devices (PerDevice), in scratch slot i; grad itself otherwise.
func (e *Edge) own(i int, dev string, grad []float32) []float32 {
	if !e.cfg.PerDevice {
		return grad
	}
	for len(e.owned) <= i {
		e.owned = append(e.owned, nil)
	}
	e.owned[i] = grow(e.owned[i], len(grad))
	OwnRows(e.owned[i], grad, e.cfg.DataDim, e.pos[dev], len(e.cfg.Devices))
	return e.owned[i]
}

// OwnRows copies into dst the rows i of src (row-major, d columns) with
// i mod n = pos, and zeroes the others: the part of a device's feedback
// that falls on the rows drawn for its own source code when the rows of a
// batch belong to n devices in turn (EdgeConfig.PerDevice). It panics if
// len(dst) != len(src), d ≤ 0 or pos is not in [0, n).
func OwnRows(dst, src []float32, d, pos, n int) {
	if len(dst) != len(src) || d <= 0 || pos < 0 || pos >= n {
		panic(fmt.Sprintf("fed: OwnRows: len(dst) %d, len(src) %d, d %d, pos %d of %d", len(dst), len(src), d, pos, n))
	}
	for i := 0; i*d < len(src); i++ {
		row := dst[i*d : (i+1)*d]
		if i%n == pos {
			copy(row, src[i*d:(i+1)*d])
		} else {
			clear(row)
		}
	}
}

// checkSourceCodes validates the source-code fields of cfg.
func checkSourceCodes(cfg *EdgeConfig) error {
	if cfg.SourceCodes == 0 {
		if len(cfg.RowCodes) > 0 || cfg.PerDevice {
			return errors.New("fed: RowCodes and PerDevice need SourceCodes > 0")
		}
		return nil
	}
	switch {
	case cfg.SourceCodes < 0:
		return fmt.Errorf("fed: SourceCodes = %d, want ≥ 0", cfg.SourceCodes)
	case cfg.Domains > 0:
		return errors.New("fed: source codes are for FR; an LR edge is conditioned on its domain code")
	case !(cfg.CodeScale > 0) || !finite32(cfg.CodeScale):
		return fmt.Errorf("fed: CodeScale = %g, want a finite value > 0", cfg.CodeScale)
	case len(cfg.RowCodes) == 0:
		return errors.New("fed: SourceCodes > 0 needs RowCodes")
	case cfg.PerDevice && len(cfg.RowCodes) != len(cfg.Devices):
		return fmt.Errorf("fed: PerDevice needs one row code per device: %d codes, %d devices", len(cfg.RowCodes), len(cfg.Devices))
	}
	for i, c := range cfg.RowCodes {
		if c < 0 || c >= cfg.SourceCodes {
			return fmt.Errorf("fed: RowCodes[%d] = %d, want a code in [0, %d)", i, c, cfg.SourceCodes)
		}
	}
	return nil
}

// learningRate returns the learning rate of the optimizers LRDecay knows.
func learningRate(o nn.Optimizer) (float32, error) {
	switch o := o.(type) {
	case *nn.Adam:
		return o.LR, nil
	case *nn.SGD:
		return o.LR, nil
	}
	return 0, fmt.Errorf("fed: LRDecay cannot set the learning rate of a %T", o)
}

// setLR applies the LRDecay schedule for the current round.
func (e *Edge) setLR() {
	if e.cfg.LRDecay == 0 || e.round < 0 {
		return
	}
	setLearningRate(e.cfg.Opt, decayed(e.baseLR, e.cfg.LRDecay, e.round, e.cfg.Rounds))
}

// decayed is base·(1 − decay·round/rounds), round capped at rounds.
func decayed(base float32, decay float64, round, rounds int) float32 {
	return base * float32(1-decay*float64(min(round, rounds))/float64(rounds))
}

// setLearningRate sets the learning rate of the optimizers learningRate
// knows.
func setLearningRate(o nn.Optimizer, lr float32) {
	switch o := o.(type) {
	case *nn.Adam:
		o.LR = lr
	case *nn.SGD:
		o.LR = lr
	}
}

// backward accumulates ∂L/∂θ of G at input z for the output gradient dx
// (with the mode-seeking term's gradient added to dx).
func (e *Edge) backward(z, dx []float32) {
	x := e.cfg.Gen.Forward(nn.Mat{Rows: e.cfg.Batch, Cols: e.inCols(), Data: z})
	if e.cfg.ModeSeeking > 0 {
		ModeSeekingGrad(dx, x.Data, z, e.cfg.Batch, e.cfg.DataDim, e.inCols(), e.cfg.Latent, e.cfg.ModeSeeking)
	}
	e.cfg.Gen.Backward(nn.Mat{Rows: e.cfg.Batch, Cols: e.cfg.DataDim, Data: dx})
}

// pairClasses gives row i + B/2 of z the class of row i (ModeSeeking).
func (e *Edge) pairClasses(z []float32, labels []byte) {
	if e.cfg.Classes == 0 {
		return
	}
	cols, off, h := e.inCols(), e.cfg.Latent+e.cfg.Domains+e.cfg.SourceCodes, e.cfg.Batch/2
	for i := range h {
		row := z[(h+i)*cols : (h+i+1)*cols]
		clear(row[off : off+e.cfg.Classes])
		row[off+int(labels[i])] = 1
		labels[h+i] = labels[i]
	}
}

// step adds the LR terms, takes one optimizer step and moves on.
func (e *Edge) step(now time.Time, loss float64) {
	if e.cfg.Domains > 0 {
		e.domainTerms()
	}
	for _, p := range e.cfg.Gen.Params() {
		if checkFinite32(p.Name, p.Grad) != nil {
			e.cfg.Gen.ZeroGrad()
			e.stats.Diverged++
			e.note("non-finite generator gradient: update skipped")
			e.emit(now)
			return
		}
	}
	e.cfg.Opt.Step(e.cfg.Gen.Params())
	e.cfg.Gen.ZeroGrad()
	e.version++
	e.rIters++
	e.stats.Updates++
	e.stats.Loss = loss
	if e.rIters >= e.cfg.LocalIters {
		e.upload()
		return
	}
	e.emit(now)
}

// upload ends the round: GeneratorUpdate with L_{D*}(G_k) (DESIGN.md §2.5).
func (e *Edge) upload() {
	e.state = uploaded
	e.cur = nil
	clear(e.versions)
	e.lastUpdate = &wire.GeneratorUpdate{
		V: wire.Version, Community: e.cfg.Community, Round: e.round, Loss: e.stats.Loss,
		Iters: e.rIters, Params: ParamTensors(e.cfg.Gen.Params()),
	}
	e.stats.LastUpload = e.round
	e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
	e.ready.Checkpoint = true
}

// ParamTensors encodes parameters for the wire, one tensor each.
func ParamTensors(ps []*nn.Param) []wire.Tensor {
	ts := make([]wire.Tensor, len(ps))
	for i, p := range ps {
		ts[i] = wire.NewTensor(p.Shape, p.Value)
	}
	return ts
}
