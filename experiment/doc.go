// Package experiment is the harness of the paper's experiments: it
// derives each run's configuration, trains it (over real MQTT on this
// machine with package local, or in the simulator), scores its final
// generator (with the scenario's evaluation classifier for images, with
// eval.ScoreMixture for the Gaussian scenarios), and writes the tables.
// Its results are values ([Result], [Table]; [Fig3Result], [Fig3Figure]);
// `fedgan experiment` is a thin command over [Table1] and, with -fig3,
// over [Fig3], which also draws the paper's Fig. 3 (a row of scatter
// plots per scenario, one per method).
package experiment
