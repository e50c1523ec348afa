package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/sync/errgroup"
)

// bridgeIDPrefix starts the id of a bridge's local pseudo-client, which
// marks the messages it brought in; network clients may not use it.
const bridgeIDPrefix = "$bridge/"

// ErrBrokerStopped is returned by Bridge.Run when the local broker stopped
// before it served.
var ErrBrokerStopped = errors.New("broker: local broker stopped")

// Bridge forwards topics between the local broker and a remote broker
// over one paho client connection. See the package documentation for its
// guarantees. Create it with NewBridge, then call Run.
type Bridge struct {
	cfg   BridgeConfig
	local *Broker
	log   *slog.Logger
	tls   *tls.Config
	// injector is the pseudo-client whose id marks inbound republishes,
	// so the out direction never sends them back (no echo loop).
	injector *mqtt.Client

	ran   atomic.Bool
	ready chan struct{}
	q     atomic.Pointer[queue]
	echo  echoFilter

	inbound     chan inMsg
	lastAttempt uint64 // sequence of the last message handed to paho; sender goroutine only

	connected                           atomic.Bool
	connects, connectFailures, lost     atomic.Uint64
	sent, redelivered                   atomic.Uint64
	received, republished, echoes, miss atomic.Uint64
	tooLarge                            atomic.Uint64
}

type inMsg struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	ack     func()
}

// NewBridge validates cfg and builds a bridge on the local broker. A nil
// log discards. Errors wrap ErrConfig.
func NewBridge(local *Broker, cfg BridgeConfig, log *slog.Logger) (*Bridge, error) {
	if local == nil {
		panic("broker: NewBridge with a nil local broker")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg.Topics = append([]BridgeTopic(nil), cfg.Topics...)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = local.cfg.MaxPacketSize
	}
	tc, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		cfg:     cfg,
		local:   local,
		log:     log.With("bridge", cfg.Name),
		tls:     tc,
		ready:   make(chan struct{}),
		inbound: make(chan inMsg, 64),
	}
	b.injector = local.srv.NewClient(nil, mqtt.LocalListener, bridgeIDPrefix+cfg.Name, true)
	local.mu.Lock()
	local.bridges = append(local.bridges, b)
	local.mu.Unlock()
	return b, nil
}

// Ready is closed once Run captures local messages for the uplink:
// messages published locally before that are not forwarded.
func (b *Bridge) Ready() <-chan struct{} { return b.ready }

// BridgeStats is a snapshot of a bridge's counters.
type BridgeStats struct {
	Connected       bool   `json:"connected"`
	Connects        uint64 `json:"connects"`
	ConnectFailures uint64 `json:"connect_failures"`
	ConnectionsLost uint64 `json:"connections_lost"`

	Queued      int    `json:"queued"`       // messages waiting for the uplink
	QueuedBytes int64  `json:"queued_bytes"` // their topic+payload bytes
	Enqueued    uint64 `json:"enqueued"`     // accepted into the queue
	Sent        uint64 `json:"sent"`         // acknowledged by the remote (QoS 1) or written (QoS 0)
	Redelivered uint64 `json:"redelivered"`  // sent again after an unacknowledged attempt: possible duplicates
	Dropped     uint64 `json:"dropped"`      // oldest messages dropped because the queue was full
	Rejected    uint64 `json:"rejected"`     // not queued: over MaxMessageSize or the byte bound, or a write failed
	Corrupt     uint64 `json:"corrupt"`      // queue files that failed their checksum

	Received         uint64 `json:"received"`          // messages from the remote
	Republished      uint64 `json:"republished"`       // ... published on the local broker
	EchoesSuppressed uint64 `json:"echoes_suppressed"` // ... that were our own out messages coming back
	Unmapped         uint64 `json:"unmapped"`          // ... or local ones that matched no prefix mapping
}

// Stats returns the current counters.
func (b *Bridge) Stats() BridgeStats {
	s := BridgeStats{
		Connected:        b.connected.Load(),
		Connects:         b.connects.Load(),
		ConnectFailures:  b.connectFailures.Load(),
		ConnectionsLost:  b.lost.Load(),
		Sent:             b.sent.Load(),
		Redelivered:      b.redelivered.Load(),
		Received:         b.received.Load(),
		Republished:      b.republished.Load(),
		EchoesSuppressed: b.echoes.Load(),
		Unmapped:         b.miss.Load(),
	}
	if q := b.q.Load(); q != nil {
		s.Queued, s.QueuedBytes = q.len()
		qs := q.stats()
		s.Enqueued, s.Dropped, s.Corrupt = qs.enqueued, qs.dropped, qs.corrupt
		s.Rejected = qs.rejected
	}
	s.Rejected += b.tooLarge.Load()
	return s
}

// Run waits for the local broker to serve, opens the queue (reloading
// what a previous run left), captures the out topics, and keeps the
// uplink connected until ctx is done. It returns nil after a clean stop.
// Run may be called once.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	select {
	case <-b.local.Ready():
	case <-b.local.Done():
		return ErrBrokerStopped
	case <-ctx.Done():
		return nil
	}
	q, err := openQueue(b.cfg.QueueDir, b.cfg.QueueMaxMessages, b.cfg.QueueMaxBytes, b.log)
	if err != nil {
		return err
	}
	defer q.close()
	b.q.Store(q)
	if n, nb := q.len(); n > 0 {
		b.log.Info("bridge queue reloaded", "messages", n, "bytes", nb, "dir", b.cfg.QueueDir)
	}

	unsubscribe, err := b.captureOut(q)
	defer unsubscribe()
	if err != nil {
		return err
	}
	b.notify(false)
	close(b.ready)
	b.log.Info("bridge started", "config", b.cfg)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.republish(gctx) })
	g.Go(func() error { return b.connectLoop(gctx, q) })
	err = g.Wait()
	b.notify(false)
	b.log.Info("bridge stopped")
	return err
}

// captureOut subscribes locally to the out topics, each captured into q.
// unsubscribe undoes the subscriptions made, also after an error.
func (b *Bridge) captureOut(q *queue) (unsubscribe func(), err error) {
	srv := b.local.srv
	type sub struct {
		filter string
		id     int
	}
	var subs []sub
	unsubscribe = func() {
		for _, s := range subs {
			_ = srv.Unsubscribe(s.filter, s.id)
		}
	}
	for _, t := range b.cfg.Topics {
		if !t.Direction.out() {
			continue
		}
		s := sub{filter: t.LocalPrefix + t.Pattern, id: b.local.nextSubID()}
		if err := srv.Subscribe(s.filter, s.id, b.capture(q, t)); err != nil {
			return unsubscribe, fmt.Errorf("broker: bridge %s: subscribe %q locally: %w", b.cfg.Name, s.filter, err)
		}
		subs = append(subs, s)
	}
	return unsubscribe, nil
}

// capture returns the inline subscription handler of an out topic. It
// runs on the publisher's goroutine: it copies the payload and appends it
// to the queue (an fsync when the queue is on disk), and never touches
// the network.
func (b *Bridge) capture(q *queue, t BridgeTopic) mqtt.InlineSubFn {
	return func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		if pk.Origin == b.injector.ID {
			return // came from the remote through this bridge
		}
		rest, ok := strings.CutPrefix(pk.TopicName, t.LocalPrefix)
		if !ok {
			b.miss.Add(1)
			return
		}
		topic := t.RemotePrefix + rest
		if n := publishPacketSize(topic, len(pk.Payload)); n > b.cfg.MaxMessageSize {
			b.tooLarge.Add(1)
			b.log.Error("bridge: message larger than the remote accepts, not queued",
				"topic", pk.TopicName, "packet_bytes", n, "max", b.cfg.MaxMessageSize)
			return
		}
		m := &qmsg{Topic: topic, Payload: bytes.Clone(pk.Payload), QoS: t.QoS, Retain: pk.FixedHeader.Retain}
		dropped, err := q.push(m)
		if dropped > 0 {
			b.log.Warn("bridge queue full: dropped oldest", "dropped", dropped, "bound_messages", b.cfg.QueueMaxMessages, "bound_bytes", b.cfg.QueueMaxBytes)
		}
		if err != nil {
			b.log.Error("bridge: message not queued", "error", err, "topic", pk.TopicName, "bytes", len(pk.Payload))
		}
	}
}

// publishPacketSize is the size of an MQTT 3.1.1 PUBLISH packet with
// a packet id: fixed header (at most 5 bytes), topic length and topic,
// packet id, payload.
func publishPacketSize(topic string, payload int) int {
	return 5 + 2 + len(topic) + 2 + payload
}

// notify publishes the retained connection state locally.
func (b *Bridge) notify(up bool) {
	if !b.cfg.Notifications {
		return
	}
	v := []byte("0")
	if up {
		v = []byte("1")
	}
	if err := b.local.srv.Publish(b.cfg.NotificationTopic, v, true, 1); err != nil {
		b.log.Warn("bridge: notification", "error", err)
	}
}
