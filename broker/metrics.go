package broker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedgan/fedgan/internal/buildinfo"
	"github.com/fedgan/fedgan/internal/metrics"
)

// Register adds collectors to the registry served on /metrics (the
// services add their training metrics here); call it before Run.
func (b *Broker) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := b.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// newRegistry is the broker's /metrics: its own counters, those of the
// bridges attached to it, the Go runtime, the process and the build.
func (b *Broker) newRegistry() *prometheus.Registry {
	r := metrics.Registry(buildinfo.Version, buildinfo.Commit)
	r.MustRegister(b.collector(), b.bridgeCollector())
	return r
}

func (b *Broker) collector() *metrics.Collector {
	c := &metrics.Collector{}
	g := func(name, help string) *metrics.Metric { return c.Gauge("fedgan_broker_"+name, help, nil) }
	n := func(name, help string) *metrics.Metric { return c.Counter("fedgan_broker_"+name, help, nil) }
	connected := g("clients_connected", "MQTT clients connected now, in-process ones included.")
	maxClients := g("clients_maximum", "The most MQTT clients connected at once since start.")
	subs := g("subscriptions", "Subscriptions held now.")
	retained := g("retained_messages", "Retained messages held now.")
	inflight := g("inflight_messages", "QoS 1/2 messages awaiting acknowledgement now.")
	rxBytes := n("received_bytes_total", "Bytes received from clients.")
	txBytes := n("sent_bytes_total", "Bytes sent to clients.")
	rxPkts := n("received_packets_total", "MQTT packets received.")
	txPkts := n("sent_packets_total", "MQTT packets sent.")
	rxMsgs := n("received_messages_total", "PUBLISH messages received.")
	txMsgs := n("sent_messages_total", "PUBLISH messages sent.")
	dropped := n("dropped_messages_total", "Messages dropped because a client's write queue was full.")
	inflightDropped := n("inflight_dropped_total", "QoS 1/2 messages dropped over a client's inflight limit.")
	authFailures := n("auth_failures_total", "Connections refused at login (wrong credentials, unknown user, anonymous).")
	readDenied := n("acl_read_denied_total", "Subscriptions and deliveries refused by the ACL.")
	writeDenied := n("acl_write_denied_total", "Publishes refused by the ACL.")
	tooLarge := n("packets_too_large_total", "Connections dropped for a packet over the maximum packet size.")
	readErrors := n("read_errors_total", "Connections dropped for a malformed packet.")
	refused := c.Counter("fedgan_broker_refused_total", "Refused sockets, logins and publishes, by reason.", nil, "reason")
	return c.Reads(func(e metrics.Emitter) {
		s := b.Stats()
		e.Int(connected, s.ClientsConnected)
		e.Int(maxClients, s.ClientsMaximum)
		e.Int(subs, s.Subscriptions)
		e.Int(retained, s.Retained)
		e.Int(inflight, s.Inflight)
		e.Int(rxBytes, s.BytesReceived)
		e.Int(txBytes, s.BytesSent)
		e.Int(rxPkts, s.PacketsReceived)
		e.Int(txPkts, s.PacketsSent)
		e.Int(rxMsgs, s.MessagesReceived)
		e.Int(txMsgs, s.MessagesSent)
		e.Int(dropped, s.MessagesDropped)
		e.Int(inflightDropped, s.InflightDropped)
		e.Int(authFailures, s.AuthFailures)
		e.Int(readDenied, s.ReadDenied)
		e.Int(writeDenied, s.WriteDenied)
		e.Int(tooLarge, s.PacketsTooLarge)
		e.Int(readErrors, s.ReadErrors)
		metrics.Map(e, refused, s.Refused)
	})
}

// bridgeCollector reports every bridge attached to the broker, by name.
func (b *Broker) bridgeCollector() *metrics.Collector {
	c := &metrics.Collector{}
	g := func(name, help string) *metrics.Metric { return c.Gauge("fedgan_bridge_"+name, help, nil, "bridge") }
	n := func(name, help string) *metrics.Metric { return c.Counter("fedgan_bridge_"+name, help, nil, "bridge") }
	connected := g("connected", "1 while the bridge's uplink to its remote broker is connected.")
	queued := g("queue_messages", "Messages waiting in the store-and-forward queue for the uplink.")
	queuedBytes := g("queue_bytes", "Topic and payload bytes waiting in the queue.")
	connects := n("connects_total", "Connections of the uplink established.")
	failures := n("connect_failures_total", "Failed connection attempts of the uplink.")
	lost := n("connections_lost_total", "Uplink connections lost.")
	enqueued := n("enqueued_total", "Messages accepted into the queue.")
	sent := n("sent_total", "Messages acknowledged by the remote (QoS 1) or written (QoS 0).")
	resent := n("redelivered_total", "Messages sent again after an unacknowledged attempt (possible duplicates).")
	dropped := n("dropped_total", "Oldest messages dropped because the queue was full.")
	rejected := n("rejected_total", "Messages not queued: over the size or byte bound, or a failed write.")
	corrupt := n("corrupt_total", "Queue files that failed their checksum.")
	received := n("received_total", "Messages received from the remote.")
	republished := n("republished_total", "Messages from the remote published on the local broker.")
	return c.Reads(func(e metrics.Emitter) {
		b.mu.Lock()
		bridges := append([]*Bridge(nil), b.bridges...)
		b.mu.Unlock()
		for _, br := range bridges {
			s, name := br.Stats(), br.cfg.Name
			e.Bool(connected, s.Connected, name)
			e.Int(queued, int64(s.Queued), name)
			e.Int(queuedBytes, s.QueuedBytes, name)
			for m, v := range map[*metrics.Metric]uint64{connects: s.Connects, failures: s.ConnectFailures, lost: s.ConnectionsLost,
				enqueued: s.Enqueued, sent: s.Sent, resent: s.Redelivered, dropped: s.Dropped, rejected: s.Rejected,
				corrupt: s.Corrupt, received: s.Received, republished: s.Republished} {
				e.Set(m, float64(v), name)
			}
		}
	})
}
