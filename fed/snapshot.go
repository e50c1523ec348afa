package fed

import (
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// ErrSnapshot is returned for a checkpoint that cannot be restored.
var ErrSnapshot = errors.New("fed: bad snapshot")

const snapshotVersion = 1

type edgeSnapshot struct {
	V          int                   `msgpack:"v"`
	Community  string                `msgpack:"community"`
	State      int                   `msgpack:"state"`
	Round      int                   `msgpack:"round"`
	Iter       int64                 `msgpack:"iter"`
	Version    int64                 `msgpack:"version"`
	Gen        wire.Tensor           `msgpack:"gen"`
	Opt        []byte                `msgpack:"opt"`
	RNG        []byte                `msgpack:"rng"`
	Classifier wire.Tensor           `msgpack:"classifier"`
	Lambda1    float64               `msgpack:"lambda1"`
	Lambda2    float64               `msgpack:"lambda2"`
	LastUpdate *wire.GeneratorUpdate `msgpack:"last_update"`
	Stats      EdgeStats             `msgpack:"stats"`
}

// Snapshot serialises what the edge needs to resume: the round, G_k, its
// optimizer, the random state and the last upload. A snapshot taken during
// a round resumes at the start of that round's next iteration with the
// parameters of the snapshot (the caller takes one when Ready says
// Checkpoint: at every round start and after every upload).
func (e *Edge) Snapshot() ([]byte, error) {
	opt, err := e.cfg.Opt.MarshalBinary()
	if err != nil {
		return nil, err
	}
	rng, err := e.cfg.RNG.MarshalBinary()
	if err != nil {
		return nil, err
	}
	s := edgeSnapshot{
		V: snapshotVersion, Community: e.cfg.Community, State: int(e.state), Round: e.round,
		Iter: e.iter, Version: e.version, Opt: opt, RNG: rng,
		Gen:     flatTensor(e.cfg.Gen),
		Lambda1: e.lambda1, Lambda2: e.lambda2, LastUpdate: e.lastUpdate, Stats: e.stats,
	}
	if e.cfg.Classifier != nil {
		s.Classifier = flatTensor(e.cfg.Classifier)
	}
	return msgpack.Marshal(&s)
}

// Restore loads a snapshot taken by Snapshot on an edge with the same
// configuration. Call Resume afterwards.
func (e *Edge) Restore(b []byte) error {
	var s edgeSnapshot
	if err := msgpack.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if s.V != snapshotVersion || s.Community != e.cfg.Community {
		return fmt.Errorf("%w: version %d of community %q, want version %d of %q", ErrSnapshot, s.V, s.Community, snapshotVersion, e.cfg.Community)
	}
	if s.State < int(waiting) || s.State > int(finished) {
		return fmt.Errorf("%w: state %d", ErrSnapshot, s.State)
	}
	if err := loadFlat(e.cfg.Gen, s.Gen); err != nil {
		return err
	}
	if e.cfg.Classifier != nil && len(s.Classifier.Data) > 0 {
		if err := loadFlat(e.cfg.Classifier, s.Classifier); err != nil {
			return err
		}
	}
	if err := e.cfg.Opt.UnmarshalBinary(s.Opt); err != nil {
		return fmt.Errorf("%w: optimizer: %w", ErrSnapshot, err)
	}
	if err := e.cfg.RNG.UnmarshalBinary(s.RNG); err != nil {
		return fmt.Errorf("%w: rng: %w", ErrSnapshot, err)
	}
	e.state, e.round, e.iter, e.version = edgeState(s.State), s.Round, s.Iter, s.Version
	e.lambda1, e.lambda2, e.lastUpdate, e.stats = s.Lambda1, s.Lambda2, s.LastUpdate, s.Stats
	e.rIters = 0
	e.setLR()
	return nil
}

func flatTensor(s *nn.Sequential) wire.Tensor {
	v := nn.Flatten(nil, s.Params())
	return wire.NewTensor([]int{len(v)}, v)
}

func loadFlat(s *nn.Sequential, t wire.Tensor) error {
	v, err := t.Float32s(nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if err := nn.Unflatten(s.Params(), v); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	return nil
}
