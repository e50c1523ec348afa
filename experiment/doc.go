// Package experiment is the harness of the paper's experiments: it
// derives each run's configuration, trains it (over real MQTT on this
// machine with package local, or in the simulator), scores its final
// generator with the scenario's evaluation classifier, and writes the
// tables. Its results are values ([Result], [Table]); `fedgan experiment`
// is a thin command over [Table1].
package experiment
