package e2e

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads a service's /metrics and parses it with Prometheus' own
// text parser; every family must say what it is (HELP and TYPE).
func scrape(t *testing.T, port int) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, err
	}
	for name, f := range fams {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	return fams, nil
}

// value is the value of name's series whose labels include want
// (name=value pairs), and whether there is one.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for _, w := range want {
			k, v, _ := strings.Cut(w, "=")
			if labels[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// TestMetrics scrapes a running edge and cloud (separate processes over
// real brokers) and checks that /metrics says what the services do: the
// broker, the bridge, the community's round, devices, weights and
// dropped reports, the cloud's rounds, Eq. 1 weights and scores, and the
// Go runtime, process and build, each with HELP.
func TestMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 400, 5)
	tp.HTTP = true
	cfg := tp.write(t)
	startAll(t, tp, cfg)
	a := tp.Communities[0]
	var edge, cloud map[string]*dto.MetricFamily
	eventually(t, "edge a and the cloud at round 3 on /metrics", func() bool {
		var err error
		if edge, err = scrape(t, a.HTTP); err != nil {
			return false
		}
		if cloud, err = scrape(t, tp.CloudHTTP); err != nil {
			return false
		}
		r, _ := value(cloud, "fedgan_cloud_round")
		er, _ := value(edge, "fedgan_edge_round", "community=a")
		return r >= 3 && er >= 3
	})
	for _, c := range []struct {
		fams   map[string]*dto.MetricFamily
		name   string
		labels []string
		ok     func(float64) bool
		want   string
	}{
		{edge, "fedgan_broker_clients_connected", nil, func(v float64) bool { return v >= 3 }, "≥ 3 (two agents, the edge, its bridge)"},
		{edge, "fedgan_broker_received_bytes_total", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{edge, "fedgan_bridge_connected", []string{"bridge=cloud"}, func(v float64) bool { return v == 1 }, "1"},
		{edge, "fedgan_bridge_sent_total", []string{"bridge=cloud"}, func(v float64) bool { return v >= 3 }, "≥ 3 generator updates"},
		{edge, "fedgan_bridge_queue_messages", []string{"bridge=cloud"}, func(v float64) bool { return v >= 0 }, "present"},
		{edge, "fedgan_edge_iterations_total", []string{"community=a"}, func(v float64) bool { return v >= 15 }, "≥ 15"},
		{edge, "fedgan_edge_updates_total", []string{"community=a"}, func(v float64) bool { return v >= 15 }, "≥ 15"},
		{edge, "fedgan_edge_device_online", []string{"device=a1"}, func(v float64) bool { return v == 1 }, "1"},
		{edge, "fedgan_edge_device_online", []string{"device=a2"}, func(v float64) bool { return v == 1 }, "1"},
		{edge, "fedgan_edge_device_suspect", []string{"device=a1"}, func(v float64) bool { return v == 0 }, "0"},
		{edge, "fedgan_edge_feedback_total", []string{"community=a"}, func(v float64) bool { return v >= 15 }, "≥ 15"},
		{edge, "fedgan_edge_feedback_dropped_total", []string{"reason=late"}, func(v float64) bool { return v >= 0 }, "present"},
		{edge, "fedgan_edge_state", nil, func(v float64) bool { return v == 1 }, "1 for one state"},
		{edge, "fedgan_build_info", nil, func(v float64) bool { return v == 1 }, "1"},
		{edge, "go_goroutines", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{edge, "process_cpu_seconds_total", nil, func(v float64) bool { return v > 0 }, "> 0"},
		{cloud, "fedgan_cloud_rounds", nil, func(v float64) bool { return v == 400 }, "400"},
		{cloud, "fedgan_cloud_updates_total", nil, func(v float64) bool { return v >= 6 }, "≥ 6"},
		{cloud, "fedgan_cloud_community_weight", []string{"community=a"}, func(v float64) bool { return v > 0 && v < 1 }, "in (0, 1)"},
		{cloud, "fedgan_cloud_eval", []string{"score=modes_covered"}, func(v float64) bool { return v >= 0 && v <= 2 }, "0–2 of the 2 modes"},
		{cloud, "fedgan_cloud_eval_round", nil, func(v float64) bool { return v >= 1 }, "≥ 1"},
		{cloud, "fedgan_broker_clients_connected", nil, func(v float64) bool { return v >= 3 }, "≥ 3 (two bridges, the cloud)"},
	} {
		v, ok := value(c.fams, c.name, c.labels...)
		if !ok || !c.ok(v) {
			t.Errorf("%s%v = %v (present %v), want %s", c.name, c.labels, v, ok, c.want)
		}
	}
	// Sync weights (Eq. 4) are a convex combination over the devices.
	w1, _ := value(edge, "fedgan_edge_device_weight", "device=a1")
	w2, _ := value(edge, "fedgan_edge_device_weight", "device=a2")
	if math.Abs(w1+w2-1) > 1e-9 {
		t.Errorf("device weights %v + %v, want a sum of 1", w1, w2)
	}
}
