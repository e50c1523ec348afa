package fed

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// CloudConfig configures the cloud's round state machine.
type CloudConfig struct {
	// Communities are the ids K; updates from others are dropped.
	Communities []string
	// GlobalRounds is I_gl.
	GlobalRounds int
	// RoundTimeout bounds the wait for the communities' updates.
	RoundTimeout time.Duration
	// Gen is G; its initial parameters start round 0. The Cloud owns it.
	Gen *nn.Sequential
	// RNG draws z for the LR classifier; its state is in the snapshot.
	RNG *rand.PCG
	// ServerOpt, when set, moves G towards the Eq. 1 average instead of
	// replacing G with it: the pseudo-gradient G − Σ_k w_k G_k is handed to
	// ServerOpt (adaptive federated optimisation, Reddi et al. 2021). With
	// plain SGD of learning rate 1 this is exactly Eq. 1.
	ServerOpt nn.Optimizer
	// ServerLRDecay, in [0, 1), lowers ServerOpt's learning rate linearly
	// over the rounds: round t uses lr·(1 − ServerLRDecay·t/GlobalRounds),
	// lr being its rate when NewCloud is called (an *nn.Adam or *nn.SGD).
	// An adaptive server step has about the same size whatever the size
	// of the communities' updates, so late in training a constant rate
	// keeps G moving around the optimum; decaying it lets G settle.
	ServerLRDecay float64
	// EMA, in [0, 1), keeps an exponential moving average of G's
	// parameters over the rounds in EMAGen (same architecture as Gen),
	// for evaluation and results only: edges keep training the published
	// G. Round t mixes with decay min(EMA, (1+t)/(10+t)), so the
	// initial weights fade fast. 0 disables it.
	EMA    float64
	EMAGen *nn.Sequential

	// Layout is the layout of G's input rows (checked against Gen unless
	// zero); the LR scenario is Layout.Domains > 0 (K), with the latent
	// size m = Layout.Latent.
	Layout Layout
	// LR scenario: the domain classifier C and its optimizer, how many
	// steps C trains per round on batches of Batch rows per domain, G¹'s
	// layer count and λ1, λ2.
	Batch, FirstLayers int
	Classifier         *nn.Sequential
	ClassifierOpt      nn.Optimizer
	ClassifierSteps    int
	Lambda1, Lambda2   float64

	// Robust bounds any one community's influence on G (docs/DESIGN.md
	// §2.11; config training.robust*): updates whose loss no objective
	// produces are rejected, losses far below the others' raised, Eq. 1's
	// weights capped and each parameter change G_k − G clipped relative to
	// the others'. The zero value is RobustNone: Eq. 1 exactly.
	Robust RobustConfig

	// Disc, when set, makes the cloud Fed GAN's (docs/DESIGN.md §2.12): Disc
	// is the global D (its initial parameters start round 0, the Cloud
	// owns it), every update must carry the community's D and sample
	// count, and a round closes with FedAvg of G and D weighted by the
	// communities' sample counts instead of Eq. 1; ServerOpt and the LR
	// scenario do not apply.
	Disc *nn.Sequential
}

// Update is a decoded GeneratorUpdate.
type Update struct {
	Community string
	Round     int
	Loss      float64
	Params    []float32 // flat, nn.Params order
	// Fed GAN (docs/DESIGN.md §2.12): the community's averaged D, flat,
	// and its devices' sample count; nil and 0 in FR.
	DParams []float32
	Samples int64
}

// RoundSummary describes a closed round, for metrics.jsonl.
type RoundSummary struct {
	Round     int                `json:"round"`
	Weights   map[string]float64 `json:"weights"`
	Losses    map[string]float64 `json:"losses"`
	Missing   []string           `json:"missing,omitempty"`
	TimedOut  bool               `json:"timed_out"`
	Started   time.Time          `json:"started"`
	Closed    time.Time          `json:"closed"`
	LInv      float64            `json:"l_inv,omitempty"`
	LSpe      float64            `json:"l_spe,omitempty"`
	ClsLoss   float64            `json:"classifier_loss,omitempty"`
	Final     bool               `json:"final"`
	Duplicate int64              `json:"duplicate_total"`
	Late      int64              `json:"late_total"`
}

// CloudStats are the cloud's counters.
type CloudStats struct {
	Round     int      `json:"round"`
	Rounds    int      `json:"rounds"`
	Done      bool     `json:"done"`
	Reported  []string `json:"reported"`
	Updates   int64    `json:"updates"`
	Duplicate int64    `json:"duplicate"`
	Late      int64    `json:"late"`
	Future    int64    `json:"future"`
	Unknown   int64    `json:"unknown_community"`
	Timeouts  int64    `json:"timeouts"`
	Empty     int64    `json:"empty_rounds"`
	// Rejected, Bounded, Quarantined and Suspects are EdgeStats' for
	// communities (docs/DESIGN.md §2.11).
	Rejected    map[string]int64 `json:"rejected,omitempty"`
	Bounded     map[string]int64 `json:"bounded,omitempty"`
	Quarantined int64            `json:"quarantined,omitempty"`
	Suspects    []string         `json:"suspects,omitempty"`
}

// CloudReady is what the cloud wants done.
type CloudReady struct {
	Global     *wire.GlobalModel
	Rounds     []RoundSummary
	Checkpoint bool
	Notes      []Note
}

// Cloud is the global aggregation state machine (docs/DESIGN.md §2.5–2.6).
// Round r starts when GlobalModel{Round: r} is published; the edges'
// updates for round r are merged with Eq. 1 into GlobalModel{Round: r+1},
// which is Final when r+1 = I_gl. It does no I/O and reads no clock.
type Cloud struct {
	cfg     CloudConfig
	rng     *rand.Rand
	round   int
	opened  time.Time
	started bool
	done    bool
	got     map[string]*Update
	last    *wire.GlobalModel
	linv    float64
	lspe    float64
	stats   CloudStats
	ready   CloudReady
	dom     domainLoss
	flat    []float32
	dflat   []float32 // Fed GAN: D, flat (the last average)
	// serverLR is ServerOpt's learning rate at NewCloud (ServerLRDecay).
	serverLR float32
	// robust rule, outlier history, each community's last bounded loss
	// and non-zero change norm, and the open round's rejected updates
	rob      RobustConfig
	deltas   [][]float32 // each community's change, reused every round (robust rules)
	sus      *suspects
	refs     *Refs
	rejected map[string]bool
}

// NewCloud checks cfg and returns a cloud that has not started.
func NewCloud(cfg CloudConfig) (*Cloud, error) {
	if cfg.Gen == nil || cfg.RNG == nil {
		return nil, errors.New("fed: CloudConfig needs Gen and RNG")
	}
	if len(cfg.Communities) == 0 || cfg.GlobalRounds <= 0 || cfg.RoundTimeout <= 0 {
		return nil, fmt.Errorf("fed: CloudConfig: %d communities, %d rounds, timeout %s", len(cfg.Communities), cfg.GlobalRounds, cfg.RoundTimeout)
	}
	if !(cfg.EMA >= 0 && cfg.EMA < 1) {
		return nil, fmt.Errorf("fed: CloudConfig: EMA %g not in [0, 1)", cfg.EMA)
	}
	if cfg.EMA > 0 {
		if cfg.EMAGen == nil {
			return nil, errors.New("fed: CloudConfig: EMA needs EMAGen")
		}
		if err := copyParams(cfg.EMAGen, cfg.Gen); err != nil {
			return nil, fmt.Errorf("fed: CloudConfig: EMAGen: %w", err)
		}
	}
	if w := cfg.Layout.Width(); w > 0 && cfg.Gen.InDim() != w {
		return nil, fmt.Errorf("%w: G takes %d inputs, the layout %d", nn.ErrShape, cfg.Gen.InDim(), w)
	}
	if cfg.domainLosses() && (cfg.Classifier == nil || cfg.ClassifierOpt == nil || cfg.Batch <= 0 || cfg.Layout.Latent <= 0 || cfg.FirstLayers <= 0) {
		return nil, errors.New("fed: LR cloud needs Classifier, ClassifierOpt, Batch, Latent and FirstLayers")
	}
	rob, err := cfg.Robust.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cloud{cfg: cfg, rng: rand.New(cfg.RNG), got: map[string]*Update{}, rob: rob, sus: newSuspects(rob.Window, rob.Suspect),
		refs: NewRefs(), rejected: map[string]bool{}}
	if cfg.ServerLRDecay != 0 {
		if !(cfg.ServerLRDecay > 0 && cfg.ServerLRDecay < 1) || cfg.ServerOpt == nil {
			return nil, fmt.Errorf("fed: CloudConfig: ServerLRDecay %g needs a ServerOpt and a value in [0, 1)", cfg.ServerLRDecay)
		}
		lr, err := learningRate(cfg.ServerOpt)
		if err != nil {
			return nil, err
		}
		c.serverLR = lr
	}
	return c, nil
}

// Round is the round in progress.
// domainLosses reports whether the cloud trains the LR domain classifier
// C and sends L_inv and L_spe: the LR scenario, but not Fed GAN's plain
// FedAvg of a domain-conditional G and D (Disc set).
func (cfg *CloudConfig) domainLosses() bool { return cfg.Layout.Domains > 0 && cfg.Disc == nil }

func (c *Cloud) Round() int { return c.round }

// Done reports whether the final model has been published.
func (c *Cloud) Done() bool { return c.done }

// Gen is the global generator G (owned by the Cloud).
func (c *Cloud) Gen() *nn.Sequential { return c.cfg.Gen }

// EvalGen is the generator to evaluate and keep as the result: the moving
// average of G when CloudConfig.EMA is set, else G itself.
func (c *Cloud) EvalGen() *nn.Sequential {
	if c.cfg.EMA > 0 {
		return c.cfg.EMAGen
	}
	return c.cfg.Gen
}

// copyParams sets dst's parameters to src's.
func copyParams(dst, src *nn.Sequential) error {
	return nn.Unflatten(dst.Params(), nn.Flatten(nil, src.Params()))
}

// average moves EMAGen towards G after round t.
func (c *Cloud) average(t int) {
	if c.cfg.EMA == 0 {
		return
	}
	beta := float32(min(c.cfg.EMA, float64(1+t)/float64(10+t)))
	g := c.cfg.Gen.Params()
	for i, p := range c.cfg.EMAGen.Params() {
		for j, v := range g[i].Value {
			p.Value[j] = beta*p.Value[j] + (1-beta)*v
		}
	}
}

// Ready returns what the cloud wants done since the last Advance. The
// cloud never changes a model or a summary once it is in Ready (a
// re-announcement queues the same GlobalModel again) and Advance only
// forgets it, so the value stays valid after Advance and after later
// events: a caller may take it, Advance at once and then publish, as the
// cloud service and the simulator do.
func (c *Cloud) Ready() CloudReady { return c.ready }

// Advance acknowledges the last Ready: what it returned is not returned
// again.
func (c *Cloud) Advance() { c.ready = CloudReady{} }

// Stats returns a copy of the counters.
func (c *Cloud) Stats() CloudStats {
	s := c.stats
	s.Round, s.Rounds, s.Done = c.round, c.cfg.GlobalRounds, c.done
	s.Reported = nil
	for id := range c.got {
		s.Reported = append(s.Reported, id)
	}
	sort.Strings(s.Reported)
	s.Rejected, s.Bounded = maps.Clone(c.stats.Rejected), maps.Clone(c.stats.Bounded)
	if c.rob.Rule != RobustNone {
		s.Suspects = c.sus.list()
	}
	return s
}

// Start publishes the model of the current round: round 0's initial G on
// a fresh cloud, or the last model after a restore.
func (c *Cloud) Start(now time.Time) {
	c.started = true
	c.opened = now
	if c.last == nil {
		c.last = c.globalModel()
	}
	c.ready.Global = c.last
	c.ready.Checkpoint = true
}

func (c *Cloud) globalModel() *wire.GlobalModel {
	g := &wire.GlobalModel{
		V: wire.Version, Round: c.round, Final: c.round >= c.cfg.GlobalRounds,
		Params: ParamTensors(c.cfg.Gen.Params()), Weights: map[string]float64{},
	}
	if c.cfg.Disc != nil {
		g.DParams = ParamTensors(c.cfg.Disc.Params())
	}
	if c.cfg.domainLosses() {
		g.Classifier = ParamTensors(c.cfg.Classifier.Params())
		g.LInv, g.LSpe, g.Lambda1, g.Lambda2 = c.linv, c.lspe, c.cfg.Lambda1, c.cfg.Lambda2
	}
	return g
}

// ErrStaleUpdate marks an update that arrived again or after its round
// closed: what at-least-once delivery brings around a restart or a
// reconnect (an edge re-sends its update when the cloud re-announces the
// round's model), dropped and counted but not a fault.
var ErrStaleUpdate = errors.New("fed: stale update")

// staleUpdate is an error that is ErrStaleUpdate with its own message.
type staleUpdate struct{ error }

func (staleUpdate) Is(target error) bool { return target == ErrStaleUpdate }

// Update accepts one community's generator update. Duplicates, updates for
// closed or future rounds and unknown communities are dropped, counted and
// returned as errors (ErrStaleUpdate for duplicates and closed rounds).
func (c *Cloud) Update(now time.Time, u *Update) error {
	known := false
	for _, id := range c.cfg.Communities {
		known = known || id == u.Community
	}
	switch {
	case !known:
		c.stats.Unknown++
		return fmt.Errorf("fed: update from unknown community %q", u.Community)
	case c.done || u.Round < c.round:
		c.stats.Late++
		return staleUpdate{fmt.Errorf("fed: update from %s for round %d, which has closed (now %d)", u.Community, u.Round, c.round)}
	case u.Round > c.round:
		c.stats.Future++
		return fmt.Errorf("fed: update from %s for round %d, ahead of round %d", u.Community, u.Round, c.round)
	case c.got[u.Community] != nil:
		c.stats.Duplicate++
		return staleUpdate{fmt.Errorf("fed: duplicate update from %s for round %d", u.Community, u.Round)}
	}
	if want := len(c.flat); want == 0 {
		c.flat = nn.Flatten(nil, c.cfg.Gen.Params())
	}
	if len(u.Params) != len(c.flat) {
		return fmt.Errorf("%w: update from %s has %d parameters, want %d", nn.ErrShape, u.Community, len(u.Params), len(c.flat))
	}
	if err := c.checkFedGAN(u); err != nil {
		return err
	}
	c.stats.Updates++
	c.got[u.Community] = u
	c.ready.Checkpoint = true
	err := c.rejectLoss(u)
	if len(c.got) == len(c.cfg.Communities) {
		c.close(now, false)
	}
	return err
}

// Deadline is when Tick must next be called.
func (c *Cloud) Deadline() (time.Time, bool) {
	if !c.started || c.done {
		return time.Time{}, false
	}
	return c.opened.Add(c.cfg.RoundTimeout), true
}

// Tick closes a round whose timeout has passed with the updates it has; a
// round with none is re-announced and waits again.
func (c *Cloud) Tick(now time.Time) {
	if !c.started || c.done || now.Before(c.opened.Add(c.cfg.RoundTimeout)) {
		return
	}
	c.stats.Timeouts++
	if len(c.got) == 0 {
		c.stats.Empty++
		c.opened = now
		c.ready.Global = c.last
		c.ready.Notes = append(c.ready.Notes, Note{Msg: "round timed out with no update; model re-announced", Attrs: []any{"round", c.round}})
		return
	}
	c.close(now, true)
}

// close merges the round's updates with Eq. 1 and opens the next round.
func (c *Cloud) close(now time.Time, timedOut bool) {
	ids := make([]string, 0, len(c.got))
	for id := range c.got {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	losses := make([]float64, len(ids))
	params := make([][]float32, len(ids))
	for i, id := range ids {
		losses[i], params[i] = c.got[id].Loss, c.got[id].Params
	}
	sum := RoundSummary{Round: c.round, Weights: map[string]float64{}, Losses: map[string]float64{}, TimedOut: timedOut, Started: c.opened, Closed: now}
	var w []float64
	var err error
	if c.cfg.Disc != nil {
		w, err = c.fedAvg(ids) // sets G and D
	} else {
		w, err = c.aggregate(ids, losses, params)
	}
	if err != nil {
		// Inputs were validated on arrival; keep the previous G rather than
		// publish a poisoned one.
		c.ready.Notes = append(c.ready.Notes, Note{Msg: "aggregation failed: previous model kept", Attrs: []any{"round", c.round, "error", err}})
	} else if c.cfg.Disc != nil {
		// FedAvg has set G and D
	} else if c.cfg.ServerOpt != nil {
		off := 0
		ps := c.cfg.Gen.Params()
		for _, p := range ps {
			for i := range p.Grad {
				p.Grad[i] = p.Value[i] - c.flat[off+i]
			}
			off += len(p.Value)
		}
		if c.cfg.ServerLRDecay > 0 {
			setLearningRate(c.cfg.ServerOpt, decayed(c.serverLR, c.cfg.ServerLRDecay, c.round, c.cfg.GlobalRounds))
		}
		c.cfg.ServerOpt.Step(ps)
		c.cfg.Gen.ZeroGrad()
		c.flat = nn.Flatten(c.flat, ps)
	} else if err := nn.Unflatten(c.cfg.Gen.Params(), c.flat); err != nil {
		panic(err) // lengths were checked on arrival
	}
	if err == nil {
		c.average(c.round)
	}
	for i, id := range ids {
		if w != nil {
			sum.Weights[id] = w[i]
		}
		sum.Losses[id] = losses[i]
	}
	for _, id := range c.cfg.Communities {
		if c.got[id] == nil {
			sum.Missing = append(sum.Missing, id)
		}
	}
	if c.cfg.domainLosses() {
		sum.ClsLoss = c.trainClassifier()
		sum.LInv, sum.LSpe = c.linv, c.lspe
	}
	clear(c.got)
	clear(c.rejected)
	c.round++
	c.opened = now
	c.done = c.round >= c.cfg.GlobalRounds
	sum.Final = c.done
	sum.Duplicate, sum.Late = c.stats.Duplicate, c.stats.Late
	c.last = c.globalModel()
	c.last.Weights = sum.Weights
	c.ready.Global = c.last
	c.ready.Rounds = append(c.ready.Rounds, sum)
	c.ready.Checkpoint = true
}

// trainClassifier trains C on {G(z, c_k), k} and evaluates L_inv, L_spe
// (docs/DESIGN.md §2.6). With a class code (Layout.Classes > 0) every row
// also carries a class y drawn uniformly from all Classes (the LR domains
// share the labels), C's rows are G(z, c_k, y), and the rows that Eq. 8
// and 9 compare across the domains share z and y. It returns C's last
// training loss.
func (c *Cloud) trainClassifier() float64 {
	l, b := c.cfg.Layout, c.cfg.Batch
	k, m, cols := l.Domains, l.Latent, l.Width()
	in := make([]float32, k*b*cols)
	labels := make([]int, k*b)
	var x []float32
	var last float64
	grad := nn.Mat{Rows: k * b, Cols: k, Data: make([]float32, k*b*k)}
	for step := 0; step < c.cfg.ClassifierSteps; step++ {
		for i := 0; i < k*b; i++ {
			y := -1
			l.Fill(in[i*cols:(i+1)*cols], c.rng, NoCodes)
			if l.Classes > 0 {
				y = c.rng.IntN(l.Classes)
			}
			l.SetCodes(in[i*cols:(i+1)*cols], Codes{Domain: i / b, Source: -1, Class: y})
			labels[i] = i / b
		}
		out := c.cfg.Gen.Forward(nn.Mat{Rows: k * b, Cols: cols, Data: in})
		x = append(x[:0], out.Data[:out.Rows*out.Cols]...)
		logits := c.cfg.Classifier.Forward(nn.Mat{Rows: k * b, Cols: out.Cols, Data: x})
		last = nn.SoftmaxCrossEntropy(grad, logits, labels)
		c.cfg.Classifier.Backward(grad)
		c.cfg.ClassifierOpt.Step(c.cfg.Classifier.Params())
		c.cfg.Classifier.ZeroGrad()
	}
	z := make([]float32, b*m)
	fillNormal(z, c.rng)
	var ys []int
	if l.Classes > 0 {
		ys = make([]int, b)
		for i := range ys {
			ys[i] = c.rng.IntN(l.Classes)
		}
	}
	linv, lspe, err := c.dom.eval(c.cfg.Gen, c.cfg.Classifier, c.cfg.FirstLayers, z, ys, b, l, 0, 0, false)
	if err == nil {
		c.linv, c.lspe = linv, lspe
	}
	return last
}

type cloudSnapshot struct {
	V          int                `msgpack:"v"`
	Round      int                `msgpack:"round"`
	Done       bool               `msgpack:"done"`
	Gen        wire.Tensor        `msgpack:"gen"`
	Classifier wire.Tensor        `msgpack:"classifier"`
	ClsOpt     []byte             `msgpack:"cls_opt"`
	ServerOpt  []byte             `msgpack:"server_opt,omitempty"`
	EMA        *wire.Tensor       `msgpack:"ema,omitempty"`
	Algorithm  string             `msgpack:"algorithm,omitempty"` // "" (FR) or "fedgan"
	Disc       *wire.Tensor       `msgpack:"disc,omitempty"`      // Fed GAN's global D
	RNG        []byte             `msgpack:"rng"`
	LInv       float64            `msgpack:"l_inv"`
	LSpe       float64            `msgpack:"l_spe"`
	Weights    map[string]float64 `msgpack:"weights"`
	Got        []*Update          `msgpack:"got"`
	Stats      CloudStats         `msgpack:"stats"`
}

// Snapshot serialises the cloud: the round, G (and C), and the updates
// received for the open round, so a restarted cloud neither loses nor
// re-applies one.
func (c *Cloud) Snapshot() ([]byte, error) {
	rng, err := c.cfg.RNG.MarshalBinary()
	if err != nil {
		return nil, err
	}
	s := cloudSnapshot{V: snapshotVersion, Round: c.round, Done: c.done, Gen: flatTensor(c.cfg.Gen), RNG: rng, LInv: c.linv, LSpe: c.lspe, Stats: c.stats}
	if c.last != nil {
		s.Weights = c.last.Weights
	}
	if c.cfg.ServerOpt != nil {
		if s.ServerOpt, err = c.cfg.ServerOpt.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	if c.cfg.EMA > 0 {
		t := flatTensor(c.cfg.EMAGen)
		s.EMA = &t
	}
	if c.cfg.Disc != nil {
		t := flatTensor(c.cfg.Disc)
		s.Algorithm, s.Disc = FedGAN.String(), &t
	}
	for _, id := range c.cfg.Communities {
		if u := c.got[id]; u != nil {
			s.Got = append(s.Got, u)
		}
	}
	if c.cfg.domainLosses() {
		s.Classifier = flatTensor(c.cfg.Classifier)
		if s.ClsOpt, err = c.cfg.ClassifierOpt.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return msgpack.Marshal(&s)
}

// Restore loads a snapshot; call Start afterwards to re-announce the model.
func (c *Cloud) Restore(b []byte) error {
	var s cloudSnapshot
	if err := msgpack.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if s.V != snapshotVersion || s.Round < 0 || s.Round > c.cfg.GlobalRounds {
		return fmt.Errorf("%w: version %d, round %d", ErrSnapshot, s.V, s.Round)
	}
	if err := c.restoreAlgorithm(&s); err != nil {
		return err
	}
	if err := loadFlat(c.cfg.Gen, s.Gen); err != nil {
		return err
	}
	if c.cfg.domainLosses() {
		if err := loadFlat(c.cfg.Classifier, s.Classifier); err != nil {
			return err
		}
		if err := c.cfg.ClassifierOpt.UnmarshalBinary(s.ClsOpt); err != nil {
			return fmt.Errorf("%w: classifier optimizer: %w", ErrSnapshot, err)
		}
	}
	if c.cfg.ServerOpt != nil && s.ServerOpt != nil {
		if err := c.cfg.ServerOpt.UnmarshalBinary(s.ServerOpt); err != nil {
			return fmt.Errorf("%w: server optimizer: %w", ErrSnapshot, err)
		}
	}
	if c.cfg.EMA > 0 {
		// A snapshot from before EMA was enabled starts the average at G.
		if s.EMA == nil {
			if err := copyParams(c.cfg.EMAGen, c.cfg.Gen); err != nil {
				return fmt.Errorf("%w: %w", ErrSnapshot, err)
			}
		} else if err := loadFlat(c.cfg.EMAGen, *s.EMA); err != nil {
			return err
		}
	}
	if err := c.cfg.RNG.UnmarshalBinary(s.RNG); err != nil {
		return fmt.Errorf("%w: rng: %w", ErrSnapshot, err)
	}
	c.round, c.done, c.linv, c.lspe, c.stats = s.Round, s.Done, s.LInv, s.LSpe, s.Stats
	c.flat = nn.Flatten(nil, c.cfg.Gen.Params())
	clear(c.got)
	clear(c.rejected)
	for _, u := range s.Got {
		if len(u.Params) != len(c.flat) {
			return fmt.Errorf("%w: stored update of %s has %d parameters, want %d", ErrSnapshot, u.Community, len(u.Params), len(c.flat))
		}
		c.got[u.Community] = u
		if c.rob.Rule != RobustNone && lossReason(u.Loss) != "" {
			c.rejected[u.Community] = true // counted when it arrived
		}
	}
	c.last = c.globalModel()
	if s.Weights != nil {
		c.last.Weights = s.Weights
	}
	return nil
}
