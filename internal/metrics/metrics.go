package metrics

import (
	"maps"
	"runtime"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Collector is a prometheus.Collector whose metrics are declared with
// Counter and Gauge and emitted on every scrape by the function given to
// Reads. The zero value has no metrics.
type Collector struct {
	ms   []*Metric
	read func(e Emitter)
}

// Reads sets the function that emits the declared metrics on every
// scrape, from one snapshot, and returns c. Declare the metrics first.
func (c *Collector) Reads(read func(e Emitter)) *Collector {
	c.read = read
	return c
}

// Metric is one declared metric family.
type Metric struct {
	desc *prometheus.Desc
	kind prometheus.ValueType
}

// Counter declares a counter (a total that only grows while the process
// lives). constLabels may be nil.
func (c *Collector) Counter(name, help string, constLabels prometheus.Labels, labels ...string) *Metric {
	return c.add(name, help, prometheus.CounterValue, constLabels, labels)
}

// Gauge declares a gauge.
func (c *Collector) Gauge(name, help string, constLabels prometheus.Labels, labels ...string) *Metric {
	return c.add(name, help, prometheus.GaugeValue, constLabels, labels)
}

// Family declares metrics of c whose names share prefix and which all
// carry constLabels and the variable labels given here before their own.
type Family struct {
	c           *Collector
	prefix      string
	constLabels prometheus.Labels
	labels      []string
}

// Family returns the declarer of the metrics named prefix+name.
func (c *Collector) Family(prefix string, constLabels prometheus.Labels, labels ...string) Family {
	return Family{c: c, prefix: prefix, constLabels: constLabels, labels: labels}
}

// Counter declares the counter prefix+name.
func (f Family) Counter(name, help string, labels ...string) *Metric {
	return f.c.Counter(f.prefix+name, help, f.constLabels, append(slices.Clone(f.labels), labels...)...)
}

// Gauge declares the gauge prefix+name.
func (f Family) Gauge(name, help string, labels ...string) *Metric {
	return f.c.Gauge(f.prefix+name, help, f.constLabels, append(slices.Clone(f.labels), labels...)...)
}

func (c *Collector) add(name, help string, kind prometheus.ValueType, constLabels prometheus.Labels, labels []string) *Metric {
	m := &Metric{desc: prometheus.NewDesc(name, help, labels, constLabels), kind: kind}
	c.ms = append(c.ms, m)
	return m
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range c.ms {
		ch <- m.desc
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if c.read != nil {
		c.read(Emitter{ch})
	}
}

// Emitter sends the values of one scrape.
type Emitter struct{ ch chan<- prometheus.Metric }

// Set emits m with value v and its label values, in the order m declared
// its labels.
func (e Emitter) Set(m *Metric, v float64, labelValues ...string) {
	e.ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labelValues...)
}

// Int emits an integer value.
func (e Emitter) Int(m *Metric, v int64, labelValues ...string) { e.Set(m, float64(v), labelValues...) }

// Bool emits 1 for true and 0 for false.
func (e Emitter) Bool(m *Metric, v bool, labelValues ...string) {
	e.Set(m, map[bool]float64{true: 1}[v], labelValues...)
}

// Map emits one value per key of a map, the key as m's only label, in
// sorted order.
func Map[V int64 | uint64 | float64](e Emitter, m *Metric, kv map[string]V) {
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		e.Set(m, float64(kv[k]), k)
	}
}

// Registry returns a registry with the Go runtime and process collectors
// and a build-info gauge (value 1; the version, commit and Go version as labels),
// which every service serves besides its own metrics.
func Registry(version, commit string) *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "fedgan_build_info", Help: "The running build: 1, with its version, commit and Go version as labels.",
			ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	return r
}
