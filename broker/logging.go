package broker

import (
	"context"
	"log/slog"

	"github.com/mochi-mqtt/server/v2/packets"
)

// packetElider wraps the handler given to mochi, which logs whole packets
// (payload included: up to MaxPacketSize bytes per line) under "pk" and
// "packet". It replaces them with a summary, and logs mochi's info lines
// (its hooks and listeners attached, started, stopped: the broker's own
// lines say where it serves) at debug.
type packetElider struct{ h slog.Handler }

// mochiLevel is the level a line mochi logs at l is logged at.
func mochiLevel(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

func (e packetElider) Enabled(ctx context.Context, l slog.Level) bool {
	return e.h.Enabled(ctx, mochiLevel(l))
}

func (e packetElider) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, mochiLevel(r.Level), r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(elide(a))
		return true
	})
	return e.h.Handle(ctx, out)
}

func (e packetElider) WithAttrs(as []slog.Attr) slog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = elide(a)
	}
	return packetElider{e.h.WithAttrs(out)}
}

func (e packetElider) WithGroup(name string) slog.Handler { return packetElider{e.h.WithGroup(name)} }

func elide(a slog.Attr) slog.Attr {
	if a.Key != "pk" && a.Key != "packet" {
		return a
	}
	var pk packets.Packet
	switch v := a.Value.Any().(type) {
	case packets.Packet:
		pk = v
	case *packets.Packet:
		if v == nil {
			return a
		}
		pk = *v
	default:
		return a
	}
	return slog.Group(a.Key,
		slog.String("type", packets.PacketNames[pk.FixedHeader.Type]),
		slog.String("topic", pk.TopicName),
		slog.Int("qos", int(pk.FixedHeader.Qos)),
		slog.Bool("retain", pk.FixedHeader.Retain),
		slog.Int("payload_bytes", len(pk.Payload)),
	)
}
