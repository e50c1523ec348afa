// Package dashboard is the live page that the cloud and every edge serve
// on their broker's HTTP address (docs/DESIGN.md §5.7): HTML, a small
// script and styles embedded in the binary, with mqtt.js (vendored, MIT)
// as the browser's MQTT client. The page fetches config.json (the topic
// root, the broker's WebSocket port, the monitor's client id prefix; no
// secret), asks for the read-only monitor's credentials (or connects
// anonymously where the broker allows it), subscribes over
// MQTT-over-WebSockets to the retained statuses, the devices' presence
// and the cloud's preview picture, and draws the communities, their
// devices, progress, loss and quality curves and per-device weights as
// they arrive. It only reads: nothing here publishes, and the broker's
// ACL gives the monitor no write.
package dashboard
