package broker

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestPacketElider: mochi's info lines are logged at debug, its warnings
// and errors as they are, and a packet as a summary without its payload.
func TestPacketElider(t *testing.T) {
	for _, c := range []struct {
		level   slog.Level // the handler's
		log     func(*slog.Logger)
		want    []string
		wantNot []string
	}{
		{slog.LevelInfo, func(l *slog.Logger) { l.Info("attached listener") }, nil, []string{"attached listener"}},
		{slog.LevelDebug, func(l *slog.Logger) { l.Info("attached listener") }, []string{"level=DEBUG", "attached listener"}, nil},
		{slog.LevelInfo, func(l *slog.Logger) { l.Warn("client store quota reached") }, []string{"level=WARN", "client store quota reached"}, nil},
		{slog.LevelInfo, func(l *slog.Logger) {
			l.Error("bad packet", "pk", packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "t", Payload: []byte("SECRET-PAYLOAD")})
		}, []string{"level=ERROR", "pk.type=Publish", "pk.topic=t", "pk.payload_bytes=14"}, []string{"SECRET"}},
	} {
		var buf bytes.Buffer
		c.log(slog.New(packetElider{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: c.level})}))
		got := buf.String()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("at %v: %q, want it to contain %q", c.level, got, w)
			}
		}
		for _, w := range c.wantNot {
			if strings.Contains(got, w) {
				t.Errorf("at %v: %q, want no %q", c.level, got, w)
			}
		}
	}
}
