// Package mqttc wraps paho.mqtt.golang the way every fedgan service uses
// it (docs/DESIGN.md §5.2): a stable client id, MQTT 3.1.1 only, automatic
// reconnect with subscriptions renewed in the connect handler, handlers
// that never block, and publishes that wait for the acknowledgement with
// a bound.
package mqttc
