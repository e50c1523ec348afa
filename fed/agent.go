package fed

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/fedgan/fedgan/wire"
)

// LocalData is a device's local data as an Agent reads it: rows drawn
// with replacement, with their classes for a class-conditional D.
// *data.Dataset satisfies it.
type LocalData interface {
	Len() int
	// Sample writes n rows drawn with rng into dst.
	Sample(dst []float32, n int, rng *rand.Rand)
	// SampleLabeled is Sample that also writes each row's class.
	SampleLabeled(dst []float32, labels []int, n int, rng *rand.Rand)
}

// AgentConfig configures one device's protocol (Agent).
type AgentConfig struct {
	// Community and Device are k's and j's ids, written into every
	// Feedback.
	Community, Device string
	// Worker is D_kj's step. The Agent owns it.
	Worker *Device
	// Data is the device's local data: Dim values per row (Dim must be
	// the Worker's DataDim) and at least one row.
	Data LocalData
	Dim  int
	// RNG draws the real rows of every step.
	RNG *rand.Rand
	// InstanceNoise is σ₀ of the instance noise added to D's inputs
	// (config training.instance_noise), annealed over Rounds global rounds
	// (see InstanceNoise). 0 disables it.
	InstanceNoise float64
	Rounds        int
	// WireDType is the dtype of the feedback tensor (wire.DTypeF32, the
	// default, or wire.DTypeBF16: half the bytes; config
	// training.wire_dtype).
	WireDType string
}

// InstanceNoise is the standard deviation of the instance noise for a
// batch of the given round (see Device.Step): σ₀ at round 0, decreasing
// linearly to 0 at round rounds, and 0 from then on (and whenever σ₀
// is 0):
//
//	σ(r) = σ₀ · (1 − r/rounds)   for r < rounds
func InstanceNoise(sigma0 float64, round, rounds int) float64 {
	if sigma0 == 0 || round >= rounds {
		return 0
	}
	return sigma0 * (1 - float64(round)/float64(rounds))
}

// Mailbox is an agent's inbox of batches. It holds at most one batch, the
// newest received: a device that falls behind skips to the edge's latest
// generator output instead of working through a backlog. Iteration ids
// are not compared to decide which is newest (an edge restarted from its
// checkpoint replays ids it had already sent): what arrives last is the
// newest, since one edge publishes them in order on one connection. Take
// hands out a given (round, iteration) once: a batch with the ids of the
// one taken last is a repeat (an MQTT redelivery, or an async edge's
// re-sent newest batch) and is dropped.
//
// The zero Mailbox is empty and ready to use. It is not safe for
// concurrent use.
type Mailbox struct {
	pending *mail
	last    struct {
		round int
		iter  int64
	}
	taken              bool
	replaced, repeated int64
}

// mail is a batch received and when it arrived.
type mail struct {
	b       *wire.Batch
	arrived time.Time
}

// Put keeps b, received at now, as the newest batch. It returns true when
// b replaced a batch that had not been taken yet (that batch is skipped).
func (m *Mailbox) Put(now time.Time, b *wire.Batch) bool {
	replaced := m.pending != nil
	if replaced {
		m.replaced++
	}
	m.pending = &mail{b: b, arrived: now}
	return replaced
}

// Take empties the mailbox and returns the batch it held and when that
// arrived. It returns a nil batch when the mailbox was empty or held a
// repeat of the batch taken last.
func (m *Mailbox) Take() (*wire.Batch, time.Time) {
	p := m.pending
	m.pending = nil
	if p == nil {
		return nil, time.Time{}
	}
	if m.taken && p.b.Round == m.last.round && p.b.Iter == m.last.iter {
		m.repeated++
		return nil, time.Time{}
	}
	m.taken, m.last.round, m.last.iter = true, p.b.Round, p.b.Iter
	return p.b, p.arrived
}

// Replaced is how many batches a newer one replaced before they were
// taken.
func (m *Mailbox) Replaced() int64 { return m.replaced }

// Repeated is how many batches Take dropped as repeats of the one taken
// before.
func (m *Mailbox) Repeated() int64 { return m.repeated }

// AgentReady is what the agent's shell must do.
type AgentReady struct {
	// Feedback answers the batch last worked on; nil when there is none.
	// Its Timings.WaitUS is the time from the batch's arrival to the
	// step's start; ComputeUS is the shell's to fill in (it measures the
	// step). It is the shell's: Grad is a copy of the Device's buffer.
	Feedback *wire.Feedback
}

// AgentStats are an agent's counters.
type AgentStats struct {
	Answered int64 // feedback produced
	Skipped  int64 // batches replaced by a newer one before work started
	Repeated int64 // batches dropped as repeats of the one taken last
	Diverged int64 // steps that failed: feedback withheld
}

// Agent is device j's part of every iteration: it keeps the
// newest batch of its community, draws as many real rows of its local
// data as the batch has fake ones, steps D_kj (Device) with the instance
// noise of the batch's round, and answers with one Feedback.
//
// It is driven like Edge, by events and the time:
//
//	a, err := fed.NewAgent(cfg)
//	a.Batch(now(), b) // decoded and validated by wire, for each batch
//	…
//	if ok, err := a.Step(now()); ok && err == nil { // work on the newest
//		publish(a.Ready().Feedback)
//		a.Advance()
//	}
//
// Step is Mailbox.Take and then Work. A shell whose batches arrive on
// another goroutine than the one that steps keeps its own Mailbox under a
// lock, and calls Work, outside the lock, with what Take returned: the
// step takes long and the network goroutine must not wait for it.
//
// An Agent is not safe for concurrent use.
type Agent struct {
	cfg    AgentConfig
	box    Mailbox
	real   []float32
	labels Labels
	ready  AgentReady
	stats  AgentStats
}

// Release drops the worker's and the agent's working buffers (see
// Device.Release); call it between steps, not while Ready holds feedback
// that has not been taken.
func (a *Agent) Release() {
	a.cfg.Worker.Release()
	a.real = nil
}

// NewAgent checks cfg and returns an agent with an empty mailbox.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	switch {
	case cfg.Worker == nil || cfg.Data == nil || cfg.RNG == nil:
		return nil, errors.New("fed: AgentConfig needs Worker, Data and RNG")
	case !validDType(cfg.WireDType):
		return nil, fmt.Errorf("fed: wire dtype %q, want %q or %q", cfg.WireDType, wire.DTypeF32, wire.DTypeBF16)
	case cfg.Dim != cfg.Worker.cfg.DataDim:
		return nil, fmt.Errorf("fed: local data has %d columns, the discriminator reads %d", cfg.Dim, cfg.Worker.cfg.DataDim)
	case cfg.Data.Len() == 0:
		return nil, errors.New("fed: no local data")
	case !(cfg.InstanceNoise >= 0) || math.IsInf(cfg.InstanceNoise, 0):
		return nil, fmt.Errorf("fed: InstanceNoise = %g, want a finite value ≥ 0", cfg.InstanceNoise)
	}
	return &Agent{cfg: cfg}, nil
}

// Batch receives b at now: it becomes the newest batch (Mailbox.Put).
func (a *Agent) Batch(now time.Time, b *wire.Batch) {
	a.box.Put(now, b)
}

// Step works on the newest batch (Mailbox.Take, then Work) at now. It
// returns false when there was none: an empty mailbox, or a repeat.
func (a *Agent) Step(now time.Time) (bool, error) {
	b, arrived := a.box.Take()
	if b == nil {
		return false, nil
	}
	return true, a.Work(now, b, arrived)
}

// Ready returns what the shell must do.
func (a *Agent) Ready() AgentReady { return a.ready }

// Advance acknowledges the last Ready.
func (a *Agent) Advance() { a.ready = AgentReady{} }

// Stats returns the agent's counters.
func (a *Agent) Stats() AgentStats {
	s := a.stats
	s.Skipped, s.Repeated = a.box.Replaced(), a.box.Repeated()
	return s
}

// Work answers b, which arrived at arrived, starting at now: it draws the
// real rows, steps D and sets Ready's Feedback. b must have been
// validated by wire. A step that fails (a non-finite result: ErrDiverged)
// is counted and returned, and no feedback is given; a tensor of b that
// does not decode returns wire's error.
func (a *Agent) Work(now time.Time, b *wire.Batch, arrived time.Time) error {
	fake, err := b.Fake.Values() // the message's own buffer: read only, no copy
	if err != nil {
		return err
	}
	gen, err := b.Gen.Values()
	if err != nil {
		return err
	}
	dim := a.cfg.Dim
	n := len(fake) / dim
	a.draw(n, b)
	res, err := a.cfg.Worker.StepLabeled(a.real, fake, gen, a.labels, InstanceNoise(a.cfg.InstanceNoise, b.Round, a.cfg.Rounds))
	if err != nil {
		a.stats.Diverged++
		return fmt.Errorf("fed: step for round %d, iteration %d: %w", b.Round, b.Iter, err)
	}
	a.stats.Answered++
	a.ready.Feedback = &wire.Feedback{
		V: wire.Version, Community: a.cfg.Community, Device: a.cfg.Device, Round: b.Round, Iter: b.Iter, Version: b.Version,
		Loss: res.Loss, DLoss: res.DLoss, Grad: wire.NewTensorOf(a.cfg.WireDType, []int{len(res.Grad) / dim, dim}, res.Grad), NReal: n,
		Timings: wire.Timings{WaitUS: now.Sub(arrived).Microseconds()},
	}
	return nil
}

// draw fills a.real with n rows of the local data and, with a
// class-conditional D, a.labels with their classes and b's row classes.
func (a *Agent) draw(n int, b *wire.Batch) {
	a.real = grow(a.real, n*a.cfg.Dim)
	if a.cfg.Worker.cfg.Classes == 0 {
		a.cfg.Data.Sample(a.real, n, a.cfg.RNG)
		a.labels = Labels{}
		return
	}
	l := &a.labels
	l.Real = slices.Grow(l.Real[:0], n)[:n]
	a.cfg.Data.SampleLabeled(a.real, l.Real, n, a.cfg.RNG)
	l.Fake, l.Gen = l.Fake[:0], l.Gen[:0]
	for _, y := range b.FakeLabels {
		l.Fake = append(l.Fake, int(y))
	}
	for _, y := range b.GenLabels {
		l.Gen = append(l.Gen, int(y))
	}
}
