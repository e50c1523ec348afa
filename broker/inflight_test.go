package broker

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// rawPacket encodes pk (MQTT 3.1.1).
func rawPacket(t *testing.T, pk packets.Packet) []byte {
	t.Helper()
	var buf bytes.Buffer
	pk.ProtocolVersion = 4
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInflightDisconnects: over a real socket, a device that sends QoS 2
// feedback and never releases it (no PUBREL, so each waits in the broker)
// is disconnected at Config.ReceiveMaximum publishes in flight, and the
// refusal is counted (inflight); one within the limit stays connected.
func TestInflightDisconnects(t *testing.T) {
	checkGoroutines(t)
	const limit = 4
	b := fleet(t, func(c *Config) { c.ReceiveMaximum = limit })
	for _, n := range []int{limit, limit + 1} {
		c, err := net.Dial("tcp", b.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conn := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, Connect: packets.ConnectParams{
			ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30, ClientIdentifier: "d1",
			UsernameFlag: true, Username: []byte("d1"), PasswordFlag: true, Password: []byte("pw1")}}
		if _, err := c.Write(rawPacket(t, conn)); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, TopicName: tp.Feedback("c1", "d1"),
				PacketID: uint16(i + 1), Payload: []byte("x")}
			if _, err := c.Write(rawPacket(t, pub)); err != nil {
				t.Fatal(err)
			}
		}
		closed := closedWithin(c, 2*time.Second)
		if want := n > limit; closed != want {
			t.Errorf("%d QoS 2 publishes in flight (limit %d): closed %v, want %v", n, limit, closed, want)
		}
	}
	// The client may see its socket closed before the broker has counted
	// the refusal (OnDisconnect runs after the close).
	eventually(t, "one inflight refusal", func() bool { return refused(b, RefusedInflight) == 1 })
}
