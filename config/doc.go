// Package config reads the topology file: one YAML document that
// describes a whole deployment (the cloud, each community with its edge
// and devices, the model and the training parameters; docs/DESIGN.md §7).
//
// Every role reads the same file and picks its own part by id, so what was
// simulated is what gets deployed. Unknown keys and bad values fail at
// start, all together, each with its key (and, for YAML errors, its line):
//
//	t, err := config.Load("configs/gaussian.yaml")
//	if err != nil {
//		return err // *config.Error listing every problem
//	}
//	dev, comm, j, err := t.Device("c1-d1")
//
// Relative paths in the file are resolved against the file's folder with
// Topology.Path.
package config
