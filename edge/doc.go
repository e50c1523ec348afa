// Package edge is the community service of a gateway: it embeds the MQTT
// broker its devices connect to, bridges the generator and global-model
// topics to the cloud broker (and the cloud's status and preview picture
// down, for its dashboard), and runs G_k's round state machine
// (fed.Edge): it publishes batches, aggregates feedback synchronously
// (Eq. 4) or asynchronously (Eq. 5), uploads G_k after I_lo iterations
// and installs every new global model. It checkpoints atomically at every
// round and resumes from the checkpoint after a crash. With an http address
// its broker serves the live dashboard (package dashboard).
package edge
