// Package broker embeds an MQTT broker (mochi-mqtt) with our auth and ACL
// hook, and bridges it to a remote broker with store-and-forward.
package broker
