// Package edge is the community service of a gateway: it embeds the MQTT
// broker its devices connect to, bridges the generator and global-model
// topics to the cloud broker, and runs G_k's round state machine
// (fed.Edge): it publishes batches, aggregates feedback synchronously
// (Eq. 4) or asynchronously (Eq. 5), uploads G_k after I_lo iterations
// and installs every new global model. It checkpoints atomically at every
// round and resumes from the checkpoint after a crash.
package edge
