package edge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedgan/fedgan/internal/metrics"
)

// collector is the community's training on /metrics, read from the
// status the service publishes (docs/DESIGN.md §6.1).
func (s *Service) collector() *metrics.Collector {
	c := &metrics.Collector{}
	cl := prometheus.Labels{"community": s.comm.ID}
	f := c.Family("fedgan_edge_", cl)
	round := f.Gauge("round", "The round the community is training, counted from 1 (the last round once finished).")
	lastUpload := f.Gauge("last_upload_round", "The last round whose generator the edge uploaded, counted from 1 (0: none yet).")
	state := f.Gauge("state", "1 for the edge's current state.", "state")
	rate := f.Gauge("iterations_per_second", "Local iterations closed per second, over the last status period.")
	loss := f.Gauge("loss", "The aggregated loss of the last generator update (L_sync or L_async, Eq. 4/5).")
	weight := f.Gauge("device_weight", "A device's weight in the last generator update.", "device")
	online := f.Gauge("device_online", "1 while a device is online (its presence says so).", "device")
	suspect := f.Gauge("device_suspect", "1 while a device's reports are outliers in more than the suspect fraction of its window.", "device")
	iters := f.Counter("iterations_total", "Local iterations closed.")
	updates := f.Counter("updates_total", "Generator updates made.")
	feedback := f.Counter("feedback_total", "Device reports accepted.")
	dropped := f.Counter("feedback_dropped_total", "Device reports dropped, by reason.", "reason")
	rejected := f.Counter("feedback_rejected_total", "Device reports rejected for a loss the objective cannot produce, by reason.", "reason")
	bounded := f.Counter("feedback_bounded_total", "Device reports a robust rule bounded, by rule.", "rule")
	quarantined := f.Counter("feedback_quarantined_total", "Reports of suspect devices left out.")
	invalid := f.Counter("invalid_messages_total", "Messages that failed to decode or validate, by reason.", "reason")
	empty := f.Counter("iterations_empty_total", "Iterations that closed with no report.")
	partial := f.Counter("iterations_partial_total", "Iterations that closed without every live device's report.")
	asked := f.Counter("devices_asked_total", "Batches sent to one sampled device by name.")
	unanswered := f.Counter("devices_unanswered_total", "Sampled devices an iteration closed without.")
	diverged := f.Counter("diverged_total", "Generator updates refused because G would no longer be finite.")
	return c.Reads(func(e metrics.Emitter) {
		st := s.Status()
		es := st.Edge
		e.Int(round, int64(es.Round))
		e.Int(lastUpload, int64(es.LastUpload))
		if es.State != "" {
			e.Set(state, 1, es.State)
		}
		e.Set(rate, st.ItersPerSec)
		e.Set(loss, es.Loss)
		metrics.Map(e, weight, es.Weights)
		// Sets, not a search per device: a scrape of 5,000 devices stays
		// linear.
		live, suspects := setOf(es.Live), setOf(es.Suspects)
		for _, d := range s.comm.Devices {
			e.Bool(online, live[d.ID], d.ID)
			e.Bool(suspect, suspects[d.ID], d.ID)
		}
		e.Int(iters, es.Iter)
		e.Int(updates, es.Updates)
		e.Int(feedback, es.Feedback)
		metrics.Map(e, dropped, map[string]int64{"late": es.Late, "duplicate": es.Duplicate, "unknown_device": es.Unknown, "stale": es.Stale})
		metrics.Map(e, rejected, es.Rejected)
		metrics.Map(e, bounded, es.Bounded)
		e.Int(quarantined, es.Quarantined)
		metrics.Map(e, invalid, st.Invalid)
		e.Int(empty, es.Empty)
		e.Int(partial, es.Partial)
		e.Int(asked, es.Asked)
		e.Int(unanswered, es.Unanswered)
		e.Int(diverged, es.Diverged)
	})
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
