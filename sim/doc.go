// Package sim runs a whole topology in one goroutine on a virtual clock:
// the cloud's, the edges' and the devices' state machines, called exactly
// as the MQTT services call them, with messages handed over directly.
// It is the in-process reference for tuning and for measuring what MQTT
// costs.
package sim
