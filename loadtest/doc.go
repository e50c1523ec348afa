// Package loadtest measures one edge under many device agents: the edge
// service with its embedded broker in this process, and N agents that are
// real MQTT clients on loopback with real messages and a real (small)
// discriminator, in this process or in child processes (so that this
// process's CPU time and memory are the edge's). It is what `fedgan
// loadtest` runs.
package loadtest
