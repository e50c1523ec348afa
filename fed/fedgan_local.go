// Fed GAN's device: a whole GAN trained on the device's local data
// (docs/DESIGN.md §2.12).

package fed

import (
	"errors"
	"fmt"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// LocalGANConfig configures one Fed GAN device's whole GAN, G_j and D_j.
// It reuses FR's two halves as they are, so that Fed GAN's G and D steps
// are FR's arithmetic:
//
//   - G is the generator side as an FR edge has it (Gen, Opt, Layout,
//     Batch, DataDim, LocalIters, ClassSet: the classes of the device's
//     data, RowCodes and CodeScale, ModeSeeking, LRDecay and Rounds, RNG).
//     NewLocalGAN sets Community, Devices (the device alone), Mode (sync),
//     SyncPeriod and Robust (none: one device's feedback has weight 1);
//   - D is the discriminator side as an FR device has it (Community,
//     Device, Worker with D_j and its optimizer, Data, RNG, instance
//     noise).
type LocalGANConfig struct {
	G EdgeConfig
	D AgentConfig
}

// LocalStats are a Fed GAN device's counters.
type LocalStats struct {
	Rounds   int64 // rounds trained and answered
	Steps    int64 // local GAN steps
	Repeated int64 // models of the round answered last, answered again
	Diverged int64 // rounds given up: a step was not finite
}

// LocalGAN is a Fed GAN device (docs/DESIGN.md §2.12). For each model of a
// round it loads G and D, takes I_lo local steps, each FR's iteration for
// a community of one device:
//
//  1. draw z_d, z_g (FR's edge draw: class, source codes, mode-seeking
//     pairs), X_d = G(z_d), X_g = G(z_g);
//  2. one D step of Eq. 2 on B real rows against X_d, then the feedback
//     F = ∂(training.objective)/∂X_g on the updated D (fed.Device);
//  3. one G step: F backpropagated through G at z_g (the coefficient of
//     Eq. 4 for a single device is 1), Adam or SGD at lr_g;
//
// and answers with its G, D and sample count. It does no I/O and reads no
// clock; its inner edge runs on a fixed time (it never waits). Not safe
// for concurrent use.
type LocalGAN struct {
	cfg       LocalGANConfig
	gen       *Edge  // G's side: an FR edge whose only device is this one
	agent     *Agent // D's side: the FR device
	disc      *nn.Sequential
	last      *wire.LocalModel
	lastRound int
	stats     LocalStats
}

// localEpoch is the inner edge's time: it never waits, so any fixed time
// does.
var localEpoch = time.Unix(0, 0)

// NewLocalGAN checks cfg and returns a device that has trained nothing.
func NewLocalGAN(cfg LocalGANConfig) (*LocalGAN, error) {
	if cfg.D.Worker == nil {
		return nil, errors.New("fed: LocalGANConfig needs D.Worker")
	}
	g := cfg.G
	// In the LR scenario G_j takes the device's domain code, without the
	// cloud's domain losses: Fed GAN's conditional GAN.
	g.NoDomainLosses = true
	g.Community, g.Devices, g.Mode, g.SyncPeriod = cfg.D.Community, []string{cfg.D.Device}, Sync, time.Hour
	g.Robust = RobustConfig{}
	gen, err := NewEdge(g)
	if err != nil {
		return nil, err
	}
	agent, err := NewAgent(cfg.D)
	if err != nil {
		return nil, err
	}
	if err := gen.Presence(localEpoch, cfg.D.Device, true); err != nil {
		return nil, err
	}
	return &LocalGAN{cfg: cfg, gen: gen, agent: agent, disc: cfg.D.Worker.cfg.D, lastRound: -1}, nil
}

// Samples is the number of local rows, the device's FedAvg weight.
func (l *LocalGAN) Samples() int64 { return int64(l.cfg.D.Data.Len()) }

// Stats returns the counters.
func (l *LocalGAN) Stats() LocalStats { return l.stats }

// Train runs round g.Round from g's G and D (a CommunityModel, decoded,
// which arrived at arrived; now is when work starts) and returns the local
// model to send, with Timings.WaitUS set (ComputeUS is the shell's). A
// model of the round answered last is answered again with the same
// message (a redelivered or re-published model: the edge may have lost
// the answer); a final model returns nil, nil. A step that is not finite
// gives up the round (counted; ErrDiverged).
func (l *LocalGAN) Train(now time.Time, g *Global, arrived time.Time) (*wire.LocalModel, error) {
	if g.Final {
		return nil, nil
	}
	if g.Round == l.lastRound && l.last != nil {
		l.stats.Repeated++
		return l.last, nil
	}
	if err := nn.Unflatten(l.disc.Params(), g.DParams); err != nil {
		return nil, fmt.Errorf("fed: community model's D: %w", err)
	}
	if err := nn.Unflatten(l.cfg.G.Gen.Params(), g.Params); err != nil {
		return nil, fmt.Errorf("fed: community model's G: %w", err)
	}
	return l.train(now, g.Round, arrived)
}

// TrainModel is Train on the message itself: G and D are loaded from its
// tensors, without the flat copy of both that CommunityModelOf makes (a
// board's agent receives a model of |G| + |D| floats each round).
func (l *LocalGAN) TrainModel(now time.Time, m *wire.CommunityModel, arrived time.Time) (*wire.LocalModel, error) {
	if m.Final {
		return nil, nil
	}
	if m.Round == l.lastRound && l.last != nil {
		l.stats.Repeated++
		return l.last, nil
	}
	if err := loadTensors(l.disc.Params(), m.DParams); err != nil {
		return nil, fmt.Errorf("fed: community model's D: %w", err)
	}
	if err := loadTensors(l.cfg.G.Gen.Params(), m.Params); err != nil {
		return nil, fmt.Errorf("fed: community model's G: %w", err)
	}
	return l.train(now, m.Round, arrived)
}

// loadTensors copies ts into ps, one tensor per parameter of the same
// size. On error ps may be partly written (the caller's round fails and
// the next model overwrites them).
func loadTensors(ps []*nn.Param, ts []wire.Tensor) error {
	if len(ts) != len(ps) {
		return fmt.Errorf("%w: %d tensors for %d parameters", nn.ErrShape, len(ts), len(ps))
	}
	for i, t := range ts {
		v, err := t.Values()
		if err != nil {
			return err
		}
		if len(v) != len(ps[i].Value) {
			return fmt.Errorf("%w: tensor %d has %d values, parameter %s %d", nn.ErrShape, i, len(v), ps[i].Name, len(ps[i].Value))
		}
		copy(ps[i].Value, v)
	}
	return nil
}

// train runs round from the G and D already loaded.
func (l *LocalGAN) train(now time.Time, round int, arrived time.Time) (*wire.LocalModel, error) {
	// The inner edge takes any round: the device follows its edge, even
	// one restarted from an older checkpoint.
	l.gen.begin(localEpoch, round, false)
	u, steps, dloss, err := l.steps()
	if err != nil {
		l.gen.state = uploaded
		return nil, err
	}
	l.stats.Rounds++
	l.last = &wire.LocalModel{
		V: wire.Version, Community: l.cfg.D.Community, Device: l.cfg.D.Device, Round: round,
		Samples: l.Samples(), Steps: steps, Loss: u.Loss, DLoss: dloss,
		Params: u.Params, DParams: ParamTensors(l.disc.Params()),
		Timings: wire.Timings{WaitUS: max(now.Sub(arrived).Microseconds(), 0)},
	}
	l.lastRound = round
	return l.last, nil
}

// steps takes the round's local steps: the inner edge's batches go to the
// FR device, its feedback back to the edge, until the edge uploads.
func (l *LocalGAN) steps() (u *wire.GeneratorUpdate, steps int, dloss float64, err error) {
	limit := 2*l.cfg.G.LocalIters + 2 // a skipped G step (non-finite gradient) is retried; not forever
	for n := 0; ; n++ {
		r := l.gen.Ready()
		l.gen.Advance()
		if len(r.Updates) > 0 {
			return r.Updates[len(r.Updates)-1], steps, dloss, nil
		}
		if len(r.Batches) == 0 || n >= limit {
			l.stats.Diverged++
			return nil, steps, 0, fmt.Errorf("%w: the local generator made no progress (%d steps)", ErrDiverged, steps)
		}
		b := r.Batches[len(r.Batches)-1]
		if err := l.agent.Work(localEpoch, b, localEpoch); err != nil {
			l.stats.Diverged++
			return nil, steps, 0, err
		}
		fb := l.agent.Ready().Feedback
		l.agent.Advance()
		f, err := FeedbackOf(fb)
		if err != nil {
			return nil, steps, 0, err
		}
		if err := l.gen.Feedback(localEpoch, f); err != nil {
			return nil, steps, 0, err
		}
		steps++
		l.stats.Steps++
		dloss = fb.DLoss
	}
}
