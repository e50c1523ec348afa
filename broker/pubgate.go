package broker

import (
	"errors"
	"fmt"
	"strconv"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fedgan/fedgan/wire"
)

// Errors that end a client's connection from OnPacketRead: mochi passes
// on only ErrRejectPacket from that hook (others are ignored), and a read
// error ends the connection.
var (
	errPublishRate = fmt.Errorf("%w: publish rate over the limit", packets.ErrRejectPacket)
	errRetain      = fmt.Errorf("%w: retain flag not allowed on this topic", packets.ErrRejectPacket)
)

// bucket is one client's token bucket of publishes. mochi reads a
// client's packets on one goroutine, so it needs no lock.
type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds
}

// OnPacketRead implements mqtt.Hook: a network client's publish is
// refused, and the client disconnected, when it carries a retain flag its
// rule forbids or when the client publishes faster than Config.PublishRate
// (with bursts of Config.PublishBurst).
func (h *authHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk, nil
	}
	if pk.FixedHeader.Retain && !h.retainAllowed(cl, pk.TopicName) {
		h.ref.refuse(RefusedRetain, cl.Net.Remote, "retained publish on "+strconv.Quote(pk.TopicName)+": disconnected",
			"client_id", cl.ID, "username", string(cl.Properties.Username))
		return pk, errRetain
	}
	if h.pubRate <= 0 {
		return pk, nil
	}
	now := h.clock.Now().UnixNano()
	v, _ := h.buckets.LoadOrStore(cl, &bucket{tokens: h.pubBurst, last: now})
	b := v.(*bucket)
	b.tokens = min(h.pubBurst, b.tokens+float64(now-b.last)*h.pubRate/1e9)
	b.last = now
	if b.tokens < 1 {
		h.ref.refuse(RefusedPublishRate, cl.Net.Remote, "publishes faster than the limit: disconnected",
			"client_id", cl.ID, "username", string(cl.Properties.Username))
		return pk, errPublishRate
	}
	b.tokens--
	return pk, nil
}

// OnDisconnect implements mqtt.Hook: it counts a client that mochi
// disconnected for having more publishes in flight than
// Config.ReceiveMaximum (QoS 2 publishes it never released), and forgets
// the client's bucket.
func (h *authHook) OnDisconnect(cl *mqtt.Client, err error, _ bool) {
	if errors.Is(err, packets.ErrReceiveMaximum) {
		h.ref.refuse(RefusedInflight, cl.Net.Remote, "more publishes in flight than the limit: disconnected",
			"client_id", cl.ID, "username", string(cl.Properties.Username))
	}
	h.buckets.Delete(cl)
	h.accepted.Delete(cl)
}

// retainAllowed reports whether cl's first write rule that matches topic
// allows the retain flag. A topic no rule lets it write is left to the
// ACL check.
func (h *authHook) retainAllowed(cl *mqtt.Client, topic string) bool {
	name := string(cl.Properties.Username)
	var rules []Rule
	if u, ok := h.users[name]; ok {
		rules = u.Rules
	} else if name == "" && h.anonymous {
		rules = h.anonRules
	}
	for _, r := range rules {
		if wire.Match(substitute(r.Filter, name, cl.ID), topic) {
			return !r.Write || !r.NoRetain
		}
	}
	return true
}
