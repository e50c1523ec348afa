// Package wire owns the MQTT topic tree, the message types and their codec.
package wire
