// Package cli is the fedgan command line: the role commands (cloud, edge,
// agent), run (the whole hierarchy on one machine), sim and watch.
package cli
