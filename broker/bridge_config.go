package broker

// The configuration of a bridge: its topics, its TLS and its settings,
// checked by BridgeConfig.validate.

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

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

// validate fills defaults and returns every problem found.
func (c *BridgeConfig) validate() error {
	var p problems
	c.validateRemote(&p)
	if len(c.Topics) == 0 {
		p.addf("Topics: at least one required")
	}
	for i := range c.Topics {
		c.Topics[i].validate(&p, i)
	}
	c.validateTimes(&p)
	c.validateBounds(&p)
	return p.err()
}

// validateRemote checks the name and how the bridge reaches and logs in
// to the remote.
func (c *BridgeConfig) validateRemote(p *problems) {
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
}

// validate fills the direction of Topics[i] and checks it.
func (t *BridgeTopic) validate(p *problems, i int) {
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

// validateTimes fills and checks the keep-alive, the timeouts and the
// reconnection backoff.
func (c *BridgeConfig) validateTimes(p *problems) {
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
}

// validateBounds fills and checks the message and queue bounds, and the
// notification topic.
func (c *BridgeConfig) validateBounds(p *problems) {
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
