package device

import (
	"context"
	"log/slog"
	"math"

	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// The agent of a Fed GAN device (training.algorithm: fedgan;
// docs/DESIGN.md §2.12): it trains its whole GAN on each model of a round
// its edge hands out and answers with its local model.

// onModel runs on paho's goroutine: validate, keep the newest model,
// never block.
func (a *Agent) onModel(t wire.Topic, payload []byte) {
	m, err := wire.DecodeCommunityModel(payload, a.spec, t)
	if err != nil {
		a.drops.Drop(t.Community, wire.CodeOf(err).String(), err)
		return
	}
	a.mu.Lock()
	if a.model != nil {
		a.skipped.Add(1)
	}
	a.model, a.modelArrived = m, a.clk.Now()
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// trainRound trains on the newest model that arrived, if any, and
// publishes the local model. It returns only ctx's error.
func (a *Agent) trainRound(ctx context.Context, c *mqttc.Client) error {
	a.mu.Lock()
	m, arrived := a.model, a.modelArrived
	a.model = nil
	a.mu.Unlock()
	if m == nil {
		return nil
	}
	// m is not used after TrainModel has loaded it (round is all that is
	// kept), so the collector may take its |G + D| floats before the
	// local model is encoded and sent: the agent's peak.
	round, final := m.Round, m.Final
	start := a.clk.Now()
	lm, err := a.local.TrainModel(start, m, arrived)
	compute := clock.Since(a.clk, start)
	if err != nil {
		a.diverged.Add(1)
		a.log.Error("local round failed: model withheld", slog.Int("round", wire.RoundNumber(round, final)), slog.Any("error", err))
		return nil
	}
	if lm == nil {
		a.log.Info("final model received", slog.Int("round", wire.RoundNumber(round, true)))
		return nil
	}
	if err := a.slow(ctx, compute); err != nil {
		return err
	}
	lm.Timings.ComputeUS = compute.Microseconds()
	// A buffer of its own, not a.buf: the |G + D| bytes are garbage once
	// acknowledged, rather than held until the next round's.
	p, err := wire.AppendLocalModel(nil, lm)
	if err != nil {
		a.diverged.Add(1)
		a.log.Error("local model not encodable", slog.Any("error", err))
		return nil
	}
	if err := c.Publish(ctx, mqttc.Message{Topic: a.topics.Local(a.comm.ID, a.id), Payload: p, QoS: 1}); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.failed.Add(1)
		a.log.Warn("local model not delivered", slog.Int("round", wire.RoundNumber(round, false)), slog.Any("error", err))
		return nil
	}
	a.batches.Add(1)
	a.lastLoss.Store(math.Float64bits(lm.Loss))
	a.lastDLoss.Store(math.Float64bits(lm.DLoss))
	a.log.Info("local model sent", slog.Int("round", wire.RoundNumber(lm.Round, false)), slog.Int("steps", lm.Steps), slog.Duration("compute", compute))
	return nil
}
