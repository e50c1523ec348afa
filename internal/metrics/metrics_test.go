package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollector(t *testing.T) {
	c := &Collector{}
	round := c.Gauge("x_round", "The round.", prometheus.Labels{"community": "a"})
	online := c.Gauge("x_online", "1 while online.", nil, "device")
	drops := c.Counter("x_dropped_total", "Drops by reason.", nil, "reason")
	n := 0
	c.Reads(func(e Emitter) {
		n++
		e.Int(round, 7)
		e.Bool(online, true, "d1")
		e.Bool(online, false, "d2")
		Map(e, drops, map[string]int64{"stale": 2, "late": 1})
	})
	want := `
# HELP x_dropped_total Drops by reason.
# TYPE x_dropped_total counter
x_dropped_total{reason="late"} 1
x_dropped_total{reason="stale"} 2
# HELP x_online 1 while online.
# TYPE x_online gauge
x_online{device="d1"} 1
x_online{device="d2"} 0
# HELP x_round The round.
# TYPE x_round gauge
x_round{community="a"} 7
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if n == 0 {
		t.Error("the read function was never called")
	}
	// Registered with the runtime collectors, nothing clashes.
	r := Registry("v1.0.0", "abc1234")
	if err := r.Register(c); err != nil {
		t.Fatal(err)
	}
	fams, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range fams {
		names[f.GetName()] = true
	}
	for _, want := range []string{"x_round", "fedgan_build_info", "go_goroutines", "process_cpu_seconds_total"} {
		if !names[want] {
			t.Errorf("no %s among %d families", want, len(fams))
		}
	}
}

// TestFamily: a family's metrics share its name prefix, its constant
// labels and its variable labels, before their own.
func TestFamily(t *testing.T) {
	c := &Collector{}
	f := c.Family("x_bridge_", prometheus.Labels{"community": "a"}, "bridge")
	up := f.Gauge("connected", "1 while connected.")
	drops := f.Counter("dropped_total", "Drops by reason.", "reason")
	c.Reads(func(e Emitter) {
		e.Bool(up, true, "cloud")
		e.Int(drops, 3, "cloud", "full")
	})
	want := `
# HELP x_bridge_connected 1 while connected.
# TYPE x_bridge_connected gauge
x_bridge_connected{bridge="cloud",community="a"} 1
# HELP x_bridge_dropped_total Drops by reason.
# TYPE x_bridge_dropped_total counter
x_bridge_dropped_total{bridge="cloud",community="a",reason="full"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
}
