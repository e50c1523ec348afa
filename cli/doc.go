// Package cli is the fedgan command line: the role commands (cloud, edge,
// agent), run (the whole hierarchy on one machine), sim, watch, eval,
// sample, experiment and loadtest, on cobra: --long flags with short
// aliases (the Go flag package's single-dash spellings of long flags are
// still read), help on stdout, exit status 2 for usage mistakes (Report),
// shell completion.
package cli
