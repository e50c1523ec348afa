// Package device is the agent that runs on a board: it holds the
// discriminator D_kj and the device's local data (which never leave it),
// answers every batch of its community with one Feedback (docs/DESIGN.md §2.1
// step 2), keeps only the newest batch when it falls behind, and
// announces its presence with a retained message and a last will. The
// protocol itself is fed.Agent, which the simulator drives too; this
// package is its MQTT shell.
package device
