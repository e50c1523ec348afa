package broker

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// statsHook counts connections that mochi drops for bad input: a packet
// over MaxPacketSize (which mochi does not announce to 3.1.1 clients,
// docs/DESIGN.md §5.1) or a malformed packet.
type statsHook struct {
	mqtt.HookBase
	c *counters
}

// ID implements mqtt.Hook.
func (h *statsHook) ID() string { return "fedgan-stats" }

// Provides implements mqtt.Hook.
func (h *statsHook) Provides(b byte) bool { return b == mqtt.OnDisconnect }

// OnDisconnect implements mqtt.Hook.
func (h *statsHook) OnDisconnect(_ *mqtt.Client, err error, _ bool) {
	var code packets.Code
	switch {
	case err == nil:
	case errors.Is(err, packets.ErrPacketTooLarge):
		h.c.tooLarge.Add(1)
	case errors.As(err, &code) && (code.Code == packets.ErrMalformedPacket.Code || code.Code == packets.ErrProtocolViolation.Code):
		h.c.readErrors.Add(1)
	}
}
