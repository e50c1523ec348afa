// Package deploy builds the roles of a topology (the cloud's, an edge's and
// a device's state machines, models and local data) the same way for the
// in-process simulator and for the MQTT services.
package deploy
