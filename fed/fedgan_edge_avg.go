// The Fed GAN edge's round close: FedAvg and the upload.

package fed

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/fedgan/fedgan/wire"
)

// close averages the round's accepted local models (FedAvg) and uploads;
// a round with none hands the model out again and waits again.
func (e *AvgEdge) close(now time.Time, timedOut bool) {
	e.open = false
	if timedOut && len(e.received) < len(e.expected) {
		var missing []string
		for d := range e.expected {
			if e.received[d] == nil {
				missing = append(missing, d)
			}
		}
		sort.Strings(missing)
		e.note("round wait ended without every live device", "round", e.round, "received", len(e.received), "missing", missing)
		if len(e.received) > 0 {
			e.stats.Partial++
		}
	}
	ids := make([]string, 0, len(e.received))
	for id := range e.received {
		if !e.rejected[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		e.stats.Empty++
		e.note("no usable local model in the round's wait: model handed out again", "round", e.round)
		e.ready.Models = append(e.ready.Models, e.model)
		e.openRound(now)
		return
	}
	if err := e.average(ids); err != nil {
		e.stats.Diverged++
		e.note("aggregation failed: model handed out again", "round", e.round, "error", err)
		e.ready.Models = append(e.ready.Models, e.model)
		e.openRound(now)
		return
	}
	e.upload(ids)
}

// average computes the FedAvg weights of ids and averages their G and D
// into e.gAvg, e.dAvg; it sets the stats' weights and loss.
func (e *AvgEdge) average(ids []string) error {
	samples := make([]int64, len(ids))
	gs, ds := make([][]float32, len(ids)), make([][]float32, len(ids))
	for i, id := range ids {
		m := e.received[id]
		samples[i], gs[i], ds[i] = m.Samples, m.G, m.D
	}
	e.gAvg, e.dAvg = grow(e.gAvg, e.gsize), grow(e.dAvg, e.dsize)
	w, capped, err := fedAvgModels(e.gAvg, e.dAvg, samples, gs, ds, e.rob)
	if err != nil {
		return err
	}
	addCount(&e.stats.Bounded, "weight_capped", int64(capped))
	e.stats.Weights = make(map[string]float64, len(ids))
	e.stats.Loss = 0
	for i, id := range ids {
		e.stats.Weights[id] = w[i]
		e.stats.Loss += w[i] * e.received[id].Loss
	}
	return nil
}

// upload sends the community's average with its sample count.
func (e *AvgEdge) upload(ids []string) {
	var n int64
	for _, id := range ids {
		n += e.received[id].Samples
	}
	e.received = nil
	e.state = uploaded
	e.stats.Updates++
	e.stats.LastUpload = e.round
	e.lastUpdate = &wire.GeneratorUpdate{
		V: wire.Version, Community: e.cfg.Community, Round: e.round, Loss: e.stats.Loss, Iters: e.cfg.LocalIters,
		Params: tensorsOf(e.gAvg, e.cfg.GenShapes), DParams: tensorsOf(e.dAvg, e.cfg.DiscShapes), Samples: min(n, wire.MaxSamples),
	}
	e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
	e.ready.Checkpoint = true
}

// avgEdgeSnapshot is what a Fed GAN edge needs to restart: its round and
// state, the round's model (handed out again on Resume) and the last
// update (re-sent). Local models received in an open round are not kept:
// the devices answer the re-published model again.
type avgEdgeSnapshot struct {
	V          int                   `msgpack:"v"`
	Algorithm  string                `msgpack:"algorithm"`
	Community  string                `msgpack:"community"`
	State      int                   `msgpack:"state"`
	Round      int                   `msgpack:"round"`
	Model      *wire.CommunityModel  `msgpack:"model"`
	LastUpdate *wire.GeneratorUpdate `msgpack:"last_update"`
	Stats      EdgeStats             `msgpack:"stats"`
}

// Snapshot serialises the edge (see avgEdgeSnapshot).
func (e *AvgEdge) Snapshot() ([]byte, error) {
	return msgpack.Marshal(&avgEdgeSnapshot{V: snapshotVersion, Algorithm: FedGAN.String(), Community: e.cfg.Community,
		State: int(e.state), Round: e.round, Model: e.model, LastUpdate: e.lastUpdate, Stats: e.stats})
}

// Restore loads a snapshot taken by Snapshot on an edge with the same
// configuration; an FR edge's checkpoint is refused. Call Resume
// afterwards.
func (e *AvgEdge) Restore(b []byte) error {
	var s avgEdgeSnapshot
	if err := msgpack.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if s.Algorithm != FedGAN.String() {
		return fmt.Errorf("%w: written by an edge of another algorithm (%q); a Fed GAN edge cannot resume it: remove it or run with that algorithm", ErrSnapshot, s.Algorithm)
	}
	if s.V != snapshotVersion || s.Community != e.cfg.Community || s.State < int(waiting) || s.State > int(finished) {
		return fmt.Errorf("%w: version %d of community %q in state %d, want version %d of %q", ErrSnapshot, s.V, s.Community, s.State, snapshotVersion, e.cfg.Community)
	}
	if edgeState(s.State) == training && s.Model == nil {
		return errors.Join(ErrSnapshot, errors.New("fed: a training round without its model"))
	}
	if m := s.Model; m != nil {
		g, gerr := flat(m.Params)
		d, derr := flat(m.DParams)
		if err := errors.Join(gerr, derr); err != nil || len(g) != e.gsize || len(d) != e.dsize {
			return fmt.Errorf("%w: the round's model does not fit the configured G and D (%v)", ErrSnapshot, err)
		}
	}
	e.state, e.round, e.model, e.lastUpdate, e.stats = edgeState(s.State), s.Round, s.Model, s.LastUpdate, s.Stats
	e.open, e.expected, e.received, e.handed = false, nil, nil, false
	return nil
}
