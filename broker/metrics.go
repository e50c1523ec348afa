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
	f := c.Family("fedgan_broker_", nil)
	connected := f.Gauge("clients_connected", "MQTT clients connected now, in-process ones included.")
	maxClients := f.Gauge("clients_maximum", "The most MQTT clients connected at once since start.")
	subs := f.Gauge("subscriptions", "Subscriptions held now.")
	retained := f.Gauge("retained_messages", "Retained messages held now.")
	inflight := f.Gauge("inflight_messages", "QoS 1/2 messages awaiting acknowledgement now.")
	rxBytes := f.Counter("received_bytes_total", "Bytes received from clients.")
	txBytes := f.Counter("sent_bytes_total", "Bytes sent to clients.")
	rxPkts := f.Counter("received_packets_total", "MQTT packets received.")
	txPkts := f.Counter("sent_packets_total", "MQTT packets sent.")
	rxMsgs := f.Counter("received_messages_total", "PUBLISH messages received.")
	txMsgs := f.Counter("sent_messages_total", "PUBLISH messages sent.")
	dropped := f.Counter("dropped_messages_total", "Messages dropped because a client's write queue was full.")
	inflightDropped := f.Counter("inflight_dropped_total", "QoS 1/2 messages dropped over a client's inflight limit.")
	authFailures := f.Counter("auth_failures_total", "Connections refused at login (wrong credentials, unknown user, anonymous).")
	readDenied := f.Counter("acl_read_denied_total", "Subscriptions and deliveries refused by the ACL.")
	writeDenied := f.Counter("acl_write_denied_total", "Publishes refused by the ACL.")
	tooLarge := f.Counter("packets_too_large_total", "Connections dropped for a packet over the maximum packet size.")
	readErrors := f.Counter("read_errors_total", "Connections dropped for a malformed packet.")
	refused := f.Counter("refused_total", "Refused sockets, logins and publishes, by reason.", "reason")
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
	f := c.Family("fedgan_bridge_", nil, "bridge")
	connected := f.Gauge("connected", "1 while the bridge's uplink to its remote broker is connected.")
	queued := f.Gauge("queue_messages", "Messages waiting in the store-and-forward queue for the uplink.")
	queuedBytes := f.Gauge("queue_bytes", "Topic and payload bytes waiting in the queue.")
	connects := f.Counter("connects_total", "Connections of the uplink established.")
	failures := f.Counter("connect_failures_total", "Failed connection attempts of the uplink.")
	lost := f.Counter("connections_lost_total", "Uplink connections lost.")
	enqueued := f.Counter("enqueued_total", "Messages accepted into the queue.")
	sent := f.Counter("sent_total", "Messages acknowledged by the remote (QoS 1) or written (QoS 0).")
	resent := f.Counter("redelivered_total", "Messages sent again after an unacknowledged attempt (possible duplicates).")
	dropped := f.Counter("dropped_total", "Oldest messages dropped because the queue was full.")
	rejected := f.Counter("rejected_total", "Messages not queued: over the size or byte bound, or a failed write.")
	corrupt := f.Counter("corrupt_total", "Queue files that failed their checksum.")
	received := f.Counter("received_total", "Messages received from the remote.")
	republished := f.Counter("republished_total", "Messages from the remote published on the local broker.")
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
