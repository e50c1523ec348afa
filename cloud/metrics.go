package cloud

import (
	"slices"

	"github.com/fedgan/fedgan/internal/metrics"
)

// collector is the global training on /metrics, read from the status the
// service publishes and the last closed round (docs/DESIGN.md §6.1).
func (s *Service) collector() *metrics.Collector {
	c := &metrics.Collector{}
	f := c.Family("fedgan_cloud_", nil)
	round := f.Gauge("round", "The global round in progress, counted from 1 (the last round once done).")
	rounds := f.Gauge("rounds", "The global rounds of the run (training.global_rounds).")
	done := f.Gauge("done", "1 once the final global model is published.")
	elapsed := f.Gauge("elapsed_seconds", "Seconds since the cloud started.")
	weight := f.Gauge("community_weight", "A community's Eq. 1 weight in the last closed round.", "community")
	loss := f.Gauge("community_loss", "A community's aggregated loss in the last closed round.", "community")
	suspect := f.Gauge("community_suspect", "1 while a community's generator updates are outliers (robust aggregation).", "community")
	score := f.Gauge("eval", "The last evaluation's scores (FID, IS, classes covered, modes, ...), by name.", "score")
	evalRound := f.Gauge("eval_round", "The round of the last evaluation, counted from 1.")
	updates := f.Counter("updates_total", "Generator updates accepted.")
	dropped := f.Counter("updates_dropped_total", "Generator updates dropped, by reason.", "reason")
	rejected := f.Counter("updates_rejected_total", "Generator updates rejected by the robust rule's checks, by reason.", "reason")
	bounded := f.Counter("updates_bounded_total", "Generator updates a robust rule bounded, by rule.", "rule")
	quarantined := f.Counter("updates_quarantined_total", "Updates of suspect communities left out.")
	timeouts := f.Counter("round_timeouts_total", "Rounds closed by the round timeout without every community.")
	empty := f.Counter("rounds_empty_total", "Rounds closed with no update.")
	invalid := f.Counter("invalid_messages_total", "Messages that failed to decode or validate, by reason.", "reason")
	return c.Reads(func(e metrics.Emitter) {
		st := s.Status()
		cs := st.Cloud
		s.mu.Lock()
		last, evalAt := s.lastRound, s.lastEvalRound
		s.mu.Unlock()
		e.Int(round, int64(cs.Round))
		e.Int(rounds, int64(cs.Rounds))
		e.Bool(done, cs.Done)
		e.Set(elapsed, st.Elapsed)
		metrics.Map(e, weight, last.Weights)
		metrics.Map(e, loss, last.Losses)
		for _, cm := range s.top.Communities {
			e.Bool(suspect, slices.Contains(cs.Suspects, cm.ID), cm.ID)
		}
		scores := map[string]float64{}
		for k, v := range st.Eval {
			switch x := v.(type) {
			case float64:
				scores[k] = x
			case int:
				scores[k] = float64(x)
			}
		}
		if evalAt > 0 {
			e.Int(evalRound, int64(evalAt))
		}
		metrics.Map(e, score, scores)
		e.Int(updates, cs.Updates)
		metrics.Map(e, dropped, map[string]int64{"duplicate": cs.Duplicate, "late": cs.Late, "future": cs.Future, "unknown_community": cs.Unknown})
		metrics.Map(e, rejected, cs.Rejected)
		metrics.Map(e, bounded, cs.Bounded)
		e.Int(quarantined, cs.Quarantined)
		e.Int(timeouts, cs.Timeouts)
		e.Int(empty, cs.Empty)
		metrics.Map(e, invalid, st.Invalid)
	})
}
