package broker

// The bridge's inbound direction: messages from the remote, republished
// on the local broker.

import (
	"context"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fedgan/fedgan/wire"
)

// fromRemote is paho's handler for every inbound message. It runs on
// paho's router goroutine (order kept) and only hands the message to
// republish; the acknowledgement is sent after the local publish.
func (b *Bridge) fromRemote(m paho.Message, stop <-chan struct{}) {
	b.received.Add(1)
	topic := m.Topic()
	if b.echo.consume(topic, m.Payload()) {
		b.echoes.Add(1)
		m.Ack()
		return
	}
	for _, t := range b.cfg.Topics {
		if !t.Direction.in() || !wire.Match(t.RemotePrefix+t.Pattern, topic) {
			continue
		}
		rest, ok := strings.CutPrefix(topic, t.RemotePrefix)
		if !ok {
			continue
		}
		im := inMsg{
			topic:   t.LocalPrefix + rest,
			payload: m.Payload(),
			qos:     min(m.Qos(), t.QoS),
			retain:  m.Retained() || t.ForceRetain,
			ack:     m.Ack,
		}
		select {
		case b.inbound <- im:
		case <-stop: // not acknowledged: a persistent session gets it again
		}
		return
	}
	b.miss.Add(1)
	m.Ack()
}

// republish publishes inbound messages on the local broker, in order, as
// the bridge's pseudo-client, then acknowledges them to the remote.
func (b *Bridge) republish(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case im := <-b.inbound:
			err := b.local.srv.InjectPacket(b.injector, packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: im.qos, Retain: im.retain},
				TopicName:   im.topic,
				Payload:     im.payload,
				PacketID:    uint16(im.qos), // needed by validation; the inline path sends no ack
			})
			if err != nil {
				b.log.Error("bridge: local publish", "error", err, "topic", im.topic)
			} else {
				b.republished.Add(1)
			}
			im.ack()
		}
	}
}
