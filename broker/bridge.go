package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/wire"
)

// Bridge defaults used by BridgeConfig.validate for zero-valued fields.
const (
	DefaultBridgeKeepAlive      = 30 * time.Second
	DefaultBridgeConnectTimeout = 10 * time.Second
	DefaultBridgeAckTimeout     = time.Minute
	DefaultReconnectMin         = time.Second
	DefaultReconnectMax         = time.Minute
	DefaultQueueMaxMessages     = 1000
	DefaultQueueMaxBytes        = 256 << 20
)

// bridgeIDPrefix starts the id of a bridge's local pseudo-client, which
// marks the messages it brought in; network clients may not use it.
const bridgeIDPrefix = "$bridge/"

// ErrBrokerStopped is returned by Bridge.Run when the local broker stopped
// before it served.
var ErrBrokerStopped = errors.New("broker: local broker stopped")

// Direction says which way a bridged topic flows.
type Direction string

// Directions, as in Mosquitto's "topic" lines.
const (
	Out  Direction = "out"  // local → remote
	In   Direction = "in"   // remote → local
	Both Direction = "both" // both ways, without echo loops
)

func (d Direction) out() bool { return d == Out || d == Both }
func (d Direction) in() bool  { return d == In || d == Both }

// BridgeTopic is one bridged topic pattern, like Mosquitto's
//
//	topic <pattern> [out|in|both] <qos> <local-prefix> <remote-prefix>
//
// The local filter is LocalPrefix+Pattern and the remote filter
// RemotePrefix+Pattern; a topic is mapped by swapping the prefixes.
type BridgeTopic struct {
	// Pattern is a topic filter, or "" when the prefixes are whole topics.
	Pattern string
	// Direction is Out, In or Both. Empty means Out.
	Direction Direction
	// QoS is 0 or 1: the QoS of the publish to the remote (out) and of
	// the remote subscription (in). Out messages are queued in either
	// case; at QoS 0 a message may be lost around a reconnect.
	QoS byte
	// LocalPrefix and RemotePrefix are prepended to Pattern on each side
	// (usually ending in "/"). They contain no wildcards.
	LocalPrefix, RemotePrefix string
	// ForceRetain republishes inbound messages locally as retained even
	// when they arrive without the retain flag. An MQTT 3.1.1 broker
	// clears the flag on every live delivery [MQTT-3.3.1-9], so only
	// messages delivered on (re)subscription arrive retained; set this for
	// topics the source always retains, such as the global model, so that
	// the local broker keeps the newest copy for clients that connect
	// later.
	ForceRetain bool
}

// ParseBridgeTopic parses a Mosquitto bridge topic line:
//
//	topic <pattern> [[[out|in|both] <qos>] <local-prefix> <remote-prefix>]
//
// The leading "topic" keyword is optional and "" stands for an empty
// pattern or prefix.
func ParseBridgeTopic(line string) (BridgeTopic, error) {
	f := strings.Fields(line)
	if len(f) > 0 && f[0] == "topic" {
		f = f[1:]
	}
	for i := range f {
		if f[i] == `""` {
			f[i] = ""
		}
	}
	var t BridgeTopic
	switch len(f) {
	case 1, 2, 3, 5:
	default:
		return t, fmt.Errorf("%w: bridge topic %q: want <pattern> [[[out|in|both] <qos>] <local-prefix> <remote-prefix>]", ErrConfig, line)
	}
	t.Pattern = f[0]
	t.Direction = Out
	t.QoS = 0
	if len(f) >= 2 {
		t.Direction = Direction(f[1])
		if !t.Direction.in() && !t.Direction.out() {
			return t, fmt.Errorf("%w: bridge topic %q: direction %q is not out, in or both", ErrConfig, line, f[1])
		}
	}
	if len(f) >= 3 {
		q, err := strconv.Atoi(f[2])
		if err != nil || q < 0 || q > 1 {
			return t, fmt.Errorf("%w: bridge topic %q: qos %q is not 0 or 1", ErrConfig, line, f[2])
		}
		t.QoS = byte(q)
	}
	if len(f) == 5 {
		t.LocalPrefix, t.RemotePrefix = f[3], f[4]
	}
	return t, nil
}

// BridgeTLS configures TLS towards the remote broker. Files are PEM.
type BridgeTLS struct {
	CAFile     string // CAs that sign the remote's certificate; empty: the system pool
	CertFile   string // client certificate for mutual TLS (with KeyFile)
	KeyFile    string
	ServerName string // expected name in the remote's certificate; empty: the host of Remote
}

// BridgeConfig configures one uplink from the local broker to a remote
// broker, like a Mosquitto "connection" section.
type BridgeConfig struct {
	// Name identifies the bridge in logs and in the notification topic.
	// Required, a valid wire id.
	Name string
	// Remote is the remote broker's URL: tcp:// (or mqtt://), ssl:// (or
	// tls://, mqtts://), ws:// or wss://, with host and port. Required.
	Remote string
	// ClientID is the MQTT client id on the remote. Required and stable:
	// with CleanSession false the remote keeps the session under it.
	ClientID string
	// Username and Password authenticate on the remote (optional).
	Username, Password string
	// TLS is used for ssl://, tls://, mqtts:// and wss:// remotes.
	TLS BridgeTLS
	// Topics are the bridged patterns. At least one.
	Topics []BridgeTopic
	// CleanSession asks the remote not to keep the session. False (the
	// default) lets the remote queue inbound QoS 1 messages while the
	// uplink is down.
	CleanSession bool
	// KeepAlive is the MQTT keep-alive. Zero means DefaultBridgeKeepAlive.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt and one blocked publish;
	// Run may take this long to return. Zero means
	// DefaultBridgeConnectTimeout.
	ConnectTimeout time.Duration
	// AckTimeout is how long the bridge waits for the remote's PUBACK
	// (or SUBACK) before it drops the connection and sends the message
	// again on a new one (MQTT resends only on reconnect; a remote that loses an
	// acknowledgement would otherwise stall the uplink). Zero means
	// DefaultBridgeAckTimeout.
	AckTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the jittered exponential backoff
	// between failed connection attempts. Zero means DefaultReconnectMin
	// and DefaultReconnectMax.
	ReconnectMin, ReconnectMax time.Duration
	// QueueDir is the directory of the persistent outbound queue; empty
	// keeps the queue in memory (lost on restart). One bridge per
	// directory.
	QueueDir string
	// QueueMaxMessages and QueueMaxBytes (topic+payload bytes) bound the
	// outbound queue; when full, the oldest messages are dropped and
	// counted. Zero means DefaultQueueMaxMessages and
	// DefaultQueueMaxBytes.
	QueueMaxMessages int
	QueueMaxBytes    int64
	// MaxMessageSize is the largest MQTT packet, in bytes, the remote
	// accepts. Larger messages are not queued (Stats.Rejected): a remote
	// that disconnects on them would block the queue. Zero means the
	// local broker's MaxPacketSize.
	MaxMessageSize int
	// Notifications publishes a retained "1" (connected) or "0" on the
	// local broker's NotificationTopic, like Mosquitto's notifications.
	Notifications bool
	// NotificationTopic defaults to $SYS/broker/connection/{Name}/state.
	NotificationTopic string
}

// LogValue hides the password.
func (c BridgeConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", c.Name), slog.String("remote", c.Remote),
		slog.String("client_id", c.ClientID), slog.String("username", c.Username), slog.Int("topics", len(c.Topics)))
}

func (c *BridgeConfig) validate() error {
	var p problems
	if err := wire.ValidID(c.Name); err != nil {
		p.addf("Name: %v", err)
	}
	if u, err := url.Parse(c.Remote); err != nil {
		p.addf("Remote: %v", err)
	} else {
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			p.addf("Remote: %q: scheme must be tcp, mqtt, ssl, tls, mqtts, ws or wss", c.Remote)
		}
		if u.Host == "" {
			p.addf("Remote: %q has no host", c.Remote)
		}
	}
	if c.ClientID == "" {
		p.addf("ClientID: required")
	}
	for _, f := range []struct{ name, path string }{{"TLS.CAFile", c.TLS.CAFile}, {"TLS.CertFile", c.TLS.CertFile}, {"TLS.KeyFile", c.TLS.KeyFile}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				p.addf("%s: %v", f.name, err)
			}
		}
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		p.addf("TLS: CertFile and KeyFile go together")
	}
	if len(c.Topics) == 0 {
		p.addf("Topics: at least one required")
	}
	for i := range c.Topics {
		t := &c.Topics[i]
		if t.Direction == "" {
			t.Direction = Out
		}
		if !t.Direction.in() && !t.Direction.out() {
			p.addf("Topics[%d].Direction: %q is not out, in or both", i, t.Direction)
		}
		if t.QoS > 1 {
			p.addf("Topics[%d].QoS: %d; want 0 or 1", i, t.QoS)
		}
		for _, pre := range []struct{ name, v string }{{"LocalPrefix", t.LocalPrefix}, {"RemotePrefix", t.RemotePrefix}} {
			if strings.ContainsAny(pre.v, "+#") {
				p.addf("Topics[%d].%s: %q contains a wildcard", i, pre.name, pre.v)
			}
		}
		if t.Pattern == "" && (t.LocalPrefix == "" || t.RemotePrefix == "") {
			p.addf("Topics[%d]: an empty pattern needs both prefixes", i)
		}
		for _, f := range []struct{ name, v string }{{"local filter", t.LocalPrefix + t.Pattern}, {"remote filter", t.RemotePrefix + t.Pattern}} {
			if f.v == "" {
				continue
			}
			if err := validFilter(f.v); err != nil {
				p.addf("Topics[%d]: %s: %v", i, f.name, err)
			}
		}
	}
	dur := func(name string, v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			p.addf("%s: %v is negative", name, *v)
		}
	}
	dur("KeepAlive", &c.KeepAlive, DefaultBridgeKeepAlive)
	dur("ConnectTimeout", &c.ConnectTimeout, DefaultBridgeConnectTimeout)
	dur("AckTimeout", &c.AckTimeout, DefaultBridgeAckTimeout)
	dur("ReconnectMin", &c.ReconnectMin, DefaultReconnectMin)
	dur("ReconnectMax", &c.ReconnectMax, DefaultReconnectMax)
	if c.KeepAlive > 0 && c.KeepAlive < time.Second {
		p.addf("KeepAlive: %v is under one second", c.KeepAlive)
	}
	if c.ReconnectMin > c.ReconnectMax {
		p.addf("ReconnectMin: %v exceeds ReconnectMax %v", c.ReconnectMin, c.ReconnectMax)
	}
	if c.MaxMessageSize < 0 {
		p.addf("MaxMessageSize: %d is negative", c.MaxMessageSize)
	}
	switch {
	case c.QueueMaxMessages == 0:
		c.QueueMaxMessages = DefaultQueueMaxMessages
	case c.QueueMaxMessages < 0:
		p.addf("QueueMaxMessages: %d is negative", c.QueueMaxMessages)
	}
	switch {
	case c.QueueMaxBytes == 0:
		c.QueueMaxBytes = DefaultQueueMaxBytes
	case c.QueueMaxBytes < 0:
		p.addf("QueueMaxBytes: %d is negative", c.QueueMaxBytes)
	}
	if c.NotificationTopic == "" && c.Name != "" {
		c.NotificationTopic = "$SYS/broker/connection/" + c.Name + "/state"
	}
	if c.Notifications && (c.NotificationTopic == "" || strings.ContainsAny(c.NotificationTopic, "+#")) {
		p.addf("NotificationTopic: %q is not a valid topic name", c.NotificationTopic)
	}
	return p.err()
}

func (c *BridgeConfig) tlsConfig() (*tls.Config, error) {
	u, _ := url.Parse(c.Remote)
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "wss":
	default:
		if c.TLS == (BridgeTLS{}) {
			return nil, nil
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
	if tc.ServerName == "" {
		tc.ServerName = u.Hostname()
	}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS.CAFile: %w", ErrConfig, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: TLS.CAFile: no PEM certificates in %s", ErrConfig, c.TLS.CAFile)
		}
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS: %w", ErrConfig, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

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

	srv := b.local.srv
	type sub struct {
		filter string
		id     int
	}
	var subs []sub
	defer func() {
		for _, s := range subs {
			_ = srv.Unsubscribe(s.filter, s.id)
		}
	}()
	for _, t := range b.cfg.Topics {
		if !t.Direction.out() {
			continue
		}
		s := sub{filter: t.LocalPrefix + t.Pattern, id: b.local.nextSubID()}
		if err := srv.Subscribe(s.filter, s.id, b.capture(q, t)); err != nil {
			return fmt.Errorf("broker: bridge %s: subscribe %q locally: %w", b.cfg.Name, s.filter, err)
		}
		subs = append(subs, s)
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

// errLost ends a session whose connection dropped; errAckTimeout one
// whose remote did not acknowledge in time.
var (
	errLost       = errors.New("connection lost")
	errAckTimeout = errors.New("no acknowledgement")
)

// connectLoop keeps one session up at a time until ctx is done. Each
// session is a fresh paho client (paho's own reconnect is off: its
// resumed tokens complete without an acknowledgement, and its backoff has
// no jitter).
func (b *Bridge) connectLoop(ctx context.Context, q *queue) error {
	backoff := b.cfg.ReconnectMin
	failing := false
	for ctx.Err() == nil {
		up, stuck, err := b.session(ctx, q)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case up && !stuck:
			backoff = b.cfg.ReconnectMin
			wait = jitter(backoff)
			failing = false
			b.log.Warn("bridge connection lost", "error", err, "retry_in", wait)
		case up:
			// The connection ended while the head was in flight and nothing
			// was delivered: a remote that refuses this message (ACL, size)
			// must not get a reconnect per second. Back off, keep it queued.
			wait = jitter(backoff)
			backoff = min(2*backoff, b.cfg.ReconnectMax)
			_, m, _ := q.peek()
			attrs := []any{"error", err, "retry_in", wait}
			if m != nil {
				attrs = append(attrs, "topic", m.Topic, "bytes", len(m.Payload))
			}
			b.log.Warn("bridge: connection ended before the queue head was acknowledged; is it allowed on the remote?", attrs...)
		default:
			wait = jitter(backoff)
			backoff = min(2*backoff, b.cfg.ReconnectMax)
			if !failing {
				b.log.Warn("bridge cannot connect", "error", err, "retry_in", wait)
			} else {
				b.log.Debug("bridge cannot connect", "error", err, "retry_in", wait)
			}
			failing = true
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return nil
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// session connects once and forwards until the connection drops or ctx is
// done. up reports whether the connection was established, stuck whether
// it ended with a publish outstanding and none delivered.
func (b *Bridge) session(ctx context.Context, q *queue) (up, stuck bool, err error) {
	lost := make(chan struct{})
	var lostOnce sync.Once
	var lostErr error
	c := paho.NewClient(b.clientOptions(ctx.Done(), func(err error) {
		lostOnce.Do(func() { lostErr = err; close(lost) })
	}))
	tok := c.Connect()
	<-tok.Done() // bounded by ConnectTimeout
	if err := tok.Error(); err != nil {
		b.connectFailures.Add(1)
		return false, false, err
	}
	b.connects.Add(1)
	defer c.Disconnect(250)

	if filters := b.inFilters(); len(filters) > 0 {
		st := c.SubscribeMultiple(filters, nil)
		timer := time.NewTimer(b.cfg.AckTimeout)
		defer timer.Stop()
		select {
		case <-st.Done():
		case <-timer.C:
			return true, false, fmt.Errorf("%w: subscription not acknowledged in %v", errAckTimeout, b.cfg.AckTimeout)
		case <-lost:
			b.lost.Add(1)
			return true, false, lostErr
		case <-ctx.Done():
			return true, false, nil
		}
		if err := st.Error(); err != nil {
			return true, false, fmt.Errorf("subscribe: %w", err)
		}
		for f, code := range st.(*paho.SubscribeToken).Result() {
			if code > 1 {
				b.log.Error("bridge: remote refused subscription", "filter", f, "code", code)
			}
		}
	}
	b.connected.Store(true)
	b.notify(true)
	b.log.Info("bridge connected", "remote", b.cfg.Remote)
	defer func() {
		b.connected.Store(false)
		b.notify(false)
	}()

	delivered, inflight, err := b.send(ctx, c, q, lost)
	if errors.Is(err, errLost) {
		b.lost.Add(1)
		err = lostErr
	}
	return true, inflight && delivered == 0, err
}

func (b *Bridge) clientOptions(stop <-chan struct{}, onLost func(error)) *paho.ClientOptions {
	o := paho.NewClientOptions().
		AddBroker(b.cfg.Remote).
		SetClientID(b.cfg.ClientID).
		SetProtocolVersion(4). // or paho retries a refused connect as MQTT 3.1
		SetCleanSession(b.cfg.CleanSession).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(b.cfg.KeepAlive).
		SetConnectTimeout(b.cfg.ConnectTimeout).
		SetWriteTimeout(b.cfg.ConnectTimeout).
		SetOrderMatters(true). // inbound order is kept; the handler only hands over to republish
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { b.fromRemote(m, stop) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { onLost(err) })
	if b.cfg.Username != "" {
		o.SetUsername(b.cfg.Username)
		o.SetPassword(b.cfg.Password)
	}
	if b.tls != nil {
		o.SetTLSConfig(b.tls)
	}
	return o
}

func (b *Bridge) inFilters() map[string]byte {
	m := map[string]byte{}
	for _, t := range b.cfg.Topics {
		if t.Direction.in() {
			f := t.RemotePrefix + t.Pattern
			m[f] = max(m[f], t.QoS)
		}
	}
	return m
}

// send delivers the queue head by head: publish, wait for the PUBACK,
// then remove. A message is removed only after the remote acknowledged it,
// so a connection that drops mid-way makes it go again on the next
// session (a possible duplicate, counted in Redelivered). It returns how
// many messages it delivered and whether one was outstanding at the end.
func (b *Bridge) send(ctx context.Context, c paho.Client, q *queue, lost <-chan struct{}) (delivered int, inflight bool, err error) {
	for {
		seq, m, ok := q.peek()
		if !ok {
			select {
			case <-q.notify:
				continue
			case <-lost:
				return delivered, false, errLost
			case <-ctx.Done():
				return delivered, false, nil
			}
		}
		if seq == b.lastAttempt {
			b.redelivered.Add(1)
		}
		b.lastAttempt = seq
		if b.willEcho(m.Topic) {
			b.echo.expect(m.Topic, m.Payload)
		}
		tok := c.Publish(m.Topic, m.QoS, m.Retain, m.Payload)
		timer := time.NewTimer(b.cfg.AckTimeout)
		select {
		case <-tok.Done():
			timer.Stop()
			if err := tok.Error(); err != nil {
				return delivered, true, fmt.Errorf("publish %q: %w", m.Topic, err)
			}
			q.remove(seq)
			b.sent.Add(1)
			delivered++
		case <-timer.C:
			return delivered, true, fmt.Errorf("%w: publish %q not acknowledged in %v", errAckTimeout, m.Topic, b.cfg.AckTimeout)
		case <-lost:
			timer.Stop()
			return delivered, true, errLost
		case <-ctx.Done():
			timer.Stop()
			return delivered, true, nil
		}
	}
}

// willEcho reports whether our own publish to remote topic will come back
// through one of our inbound subscriptions.
func (b *Bridge) willEcho(remote string) bool {
	for _, t := range b.cfg.Topics {
		if t.Direction.in() && wire.Match(t.RemotePrefix+t.Pattern, remote) {
			return true
		}
	}
	return false
}

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

// echoFilter remembers the last out messages that will come back through
// an inbound subscription (direction both, or overlapping in and out
// patterns; MQTT 3.1.1 has no "no local"), so that each is dropped once
// when it returns. It holds at most echoMax entries.
type echoFilter struct {
	mu   sync.Mutex
	keys []echoKey
}

type echoKey struct {
	topic string
	sum   [sha256.Size]byte
}

const echoMax = 256

func (e *echoFilter) expect(topic string, payload []byte) {
	k := echoKey{topic, sha256.Sum256(payload)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.keys) == echoMax {
		e.keys = append(e.keys[:0], e.keys[1:]...)
	}
	e.keys = append(e.keys, k)
}

func (e *echoFilter) consume(topic string, payload []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.keys) == 0 {
		return false
	}
	k := echoKey{topic, sha256.Sum256(payload)}
	for i, x := range e.keys {
		if x == k {
			e.keys = append(e.keys[:i], e.keys[i+1:]...)
			return true
		}
	}
	return false
}
