// Package metrics builds the Prometheus collectors of the services: each
// reads a snapshot its service already keeps (the broker's counters, an
// edge's or the cloud's status) when it is scraped, so that nothing on
// the training path updates a metric. A Collector declares its metrics
// once, with their help text, kind and labels, and emits them from the
// snapshot on every scrape.
package metrics
