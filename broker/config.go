package broker

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/pwhash"
	"github.com/fedgan/fedgan/wire"
)

// Defaults used by Config.validate for zero-valued fields.
const (
	DefaultAddr             = ":1883"
	DefaultMaxPacketSize    = 16 << 20 // 16 MiB: several generator updates of an MNIST-sized model
	DefaultMaxPendingWrites = 64
	DefaultReceiveMaximum   = 16
	DefaultMaxInflight      = 64
	// DefaultReadBuffer is each connection's read buffer: a quarter of
	// mochi's 2 KiB default. Payloads larger than it are read straight
	// into the packet, so only many small packets back to back read
	// slower (docs/RESULTS.md §11: 1.5 KiB less per idle connection).
	DefaultReadBuffer       = 512
	DefaultSessionExpiry    = time.Hour
	DefaultConnectTimeout   = 10 * time.Second
	DefaultMaxPending       = 256
	DefaultAuthFreeFailures = 5
	DefaultAuthBackoff      = time.Second
	DefaultAuthBackoffMax   = 5 * time.Minute
	DefaultAuthCacheTTL     = 5 * time.Minute
	// DefaultPublishRate is generous: a device publishes one feedback per
	// batch, a few hundred a second at most on the tiny Gaussian model.
	DefaultPublishRate = 2000

	// maxMQTTPacket is the largest packet MQTT 3.1.1/5 can frame:
	// a 256 MiB remaining length plus a 5-byte fixed header.
	maxMQTTPacket = 268435455 + 5
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("broker: invalid configuration")

// ConfigError lists every problem found in a configuration. It wraps
// ErrConfig.
type ConfigError struct {
	Problems []string // "field: reason", in field order
}

func (e *ConfigError) Error() string {
	return ErrConfig.Error() + ": " + strings.Join(e.Problems, "; ")
}

// Unwrap returns ErrConfig.
func (e *ConfigError) Unwrap() error { return ErrConfig }

// problems collects configuration problems.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Problems: p}
}

// Config configures a Broker. The zero value is a broker on DefaultAddr
// that refuses every client (no users, anonymous access off).
type Config struct {
	// Addr is the TCP address of the plain MQTT listener, e.g. ":1883"
	// or "127.0.0.1:0" (any free port; see Broker.Addr). Empty means
	// DefaultAddr.
	Addr string

	// TLS, when non-nil, adds an MQTT-over-TLS listener.
	TLS *TLSConfig

	// WSAddr, when set, adds a plain MQTT-over-WebSocket listener on this
	// address (any path). Put a TLS-terminating proxy in front of it for
	// wss://.
	WSAddr string

	// HTTPAddr, when set, serves GET /healthz (JSON), /stats (JSON Stats)
	// and /metrics (Prometheus text) on this address.
	HTTPAddr string

	// AllowAnonymous lets clients that send no username connect. They get
	// AnonymousRules. A client that sends a username must always
	// authenticate, whatever this says.
	AllowAnonymous bool

	// AnonymousRules are the ACL of anonymous clients. Nil means allow
	// everything (one rule {"#", read, write}); an empty non-nil slice
	// means deny everything.
	AnonymousRules []Rule

	// Users are the accounts that may connect with a username and
	// password. Names are unique.
	Users []User

	// MaxPacketSize is the largest MQTT packet, in bytes, a client may
	// send. A larger packet disconnects the client before its payload is
	// read (mochi does not announce the limit to MQTT 3.1.1 clients:
	// publishers must check sizes themselves). Zero means
	// DefaultMaxPacketSize.
	MaxPacketSize int

	// MaxPendingWrites is the number of outbound packets that may wait in
	// one client's write queue; beyond it, messages to that client are
	// dropped and counted in Stats.MessagesDropped. mochi's default
	// (8192) would let one slow device hold ~2 GB of 250 KB batches; a
	// device needs only the newest few batches, so zero means
	// DefaultMaxPendingWrites (64, at most 16 MB of batches per client).
	MaxPendingWrites int

	// ReceiveMaximum is the number of QoS 1/2 publishes a client may have
	// unacknowledged towards the broker; a client over it is disconnected
	// and counted (RefusedInflight). mochi answers a QoS 1 publish before
	// it reads the next, so only QoS 2 publishes that the client never
	// releases (no PUBREL) accumulate. Zero means DefaultReceiveMaximum
	// (16).
	ReceiveMaximum int

	// MaxInflight is the number of QoS 1/2 messages the broker keeps per
	// client awaiting acknowledgement, including those held for an
	// offline client with a persistent session; beyond it messages are
	// dropped and counted in Stats.InflightDropped. Zero means
	// DefaultMaxInflight.
	MaxInflight int

	// ReadBuffer is the size in bytes of each connection's read buffer
	// (mochi's ClientNetReadBufferSize), held for as long as the client
	// is connected. Zero means DefaultReadBuffer.
	ReadBuffer int

	// MaxClients limits concurrent connections. Zero means no limit.
	// Client N+1 gets CONNACK "server unavailable" (counted as
	// max_clients).
	MaxClients int

	// TLSOnly turns the plain TCP listener off: clients connect over TLS
	// (and WebSocket, if configured) only. Needs TLS. In-process clients
	// use DialInternal.
	TLSOnly bool

	// HTTPToken, when set, protects /stats and /metrics: a request must
	// carry "Authorization: Bearer <token>" or basic auth with the token
	// as password. /healthz stays open.
	HTTPToken string

	// ConnectTimeout is how long a socket may take from being accepted
	// to its CONNECT being read, its TLS handshake included; then it is
	// closed (counted as connect_timeout or tls_timeout). Zero means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// MaxPending bounds the sockets accepted but not yet authenticated;
	// beyond it new sockets are closed at once (max_pending). Zero means
	// DefaultMaxPending.
	MaxPending int

	// MaxConnsPerAddr bounds the open sockets from one IP address
	// (per_address). Zero means no limit (devices behind one NAT share
	// an address).
	MaxConnsPerAddr int

	// AuthFreeFailures is how many failed logins an address or a
	// username may have before further attempts are refused for a delay
	// of AuthBackoff, doubling with each further failure up to
	// AuthBackoffMax. Zero means DefaultAuthFreeFailures, and the zero
	// durations DefaultAuthBackoff and DefaultAuthBackoffMax.
	AuthFreeFailures int
	AuthBackoff      time.Duration
	AuthBackoffMax   time.Duration

	// AuthConcurrency is how many bcrypt verifications may run at once;
	// an attempt that finds none free is refused (auth_busy). Zero means
	// half the CPUs, at least one.
	AuthConcurrency int

	// AuthCacheTTL is how long a verified password is remembered after
	// its last use, so that a reconnect costs an HMAC instead of bcrypt.
	// Zero means DefaultAuthCacheTTL.
	AuthCacheTTL time.Duration

	// PublishRate is the most publishes a second one network client may
	// make on average, with bursts of PublishBurst; a client over it is
	// disconnected (publish_rate). Zero means DefaultPublishRate, and a
	// zero burst the rate (at least 1). Negative turns the limit off.
	PublishRate  float64
	PublishBurst int

	// Clock is the time of the login delays, the password cache and the
	// publish rate; nil is the real clock. Socket deadlines are always
	// wall time.
	Clock clock.Clock

	// SessionExpiry is how long the session (subscriptions and queued
	// messages) of a disconnected clean-session=false client is kept.
	// Zero means DefaultSessionExpiry. Rounded down to seconds.
	SessionExpiry time.Duration

	// MessageExpiry, when positive, is the longest time a message is
	// kept: retained messages older than this are deleted, and queued
	// messages expire. Zero means never: the retained global model stays
	// until replaced. (mochi's own default is one day.)
	MessageExpiry time.Duration

	// SysInterval is the period of mochi's $SYS topic updates. Zero means
	// 10 s. Rounded up to whole seconds.
	SysInterval time.Duration
}

// TLSConfig configures the MQTT-over-TLS listener.
type TLSConfig struct {
	// Addr is the listen address, e.g. ":8883" or "127.0.0.1:0".
	// Required.
	Addr string
	// CertFile and KeyFile are PEM files of the server certificate
	// (chain) and its key. Required.
	CertFile, KeyFile string
	// ClientCAFile, when set, is a PEM bundle of CAs that sign client
	// certificates. Every client on this listener must then present a
	// certificate signed by one of them (mutual TLS), and its subject
	// CommonName must equal the MQTT client id. Username/password (or
	// anonymous) authentication still applies on top.
	ClientCAFile string
}

// User is one account.
type User struct {
	// Name is the MQTT username. Required, unique.
	Name string
	// PasswordHash is the bcrypt hash of the password (see HashPassword)
	// or a Mosquitto PBKDF2-SHA512 ($7$) or SHA-512 ($6$) hash,
	// never the password itself. Required.
	PasswordHash string
	// Rules is the user's ACL, checked in order (see Rule). Empty means
	// the user may connect but read and write nothing.
	Rules []Rule
	// ClientIDMustMatch requires the MQTT client id to equal Name.
	ClientIDMustMatch bool
	// ClientIDPrefix, when set, requires the client id to be Name or to
	// start with the prefix (and be longer): the monitor's ids, kept
	// apart from the devices'.
	ClientIDPrefix string
}

// LogValue hides the password hash from logs.
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", u.Name), slog.Int("rules", len(u.Rules)))
}

// Rule is one ACL entry. Rules are checked in order and the first rule
// whose filter matches decides; no matching rule means deny.
//
// For a publish, a rule matches when its filter matches the topic
// (wire.Match); for a subscription, when the requested filter is within
// the rule's filter (every topic the requested filter can match, the
// rule's filter matches too). mochi checks every delivered message against
// the rules again, so a broad subscription accepted by a later rule still
// never delivers a topic that an earlier rule denies.
type Rule struct {
	// Filter is an MQTT topic filter. "%u" is replaced by the username
	// and "%c" by the client id; a client whose username or client id
	// is used this way must have a valid wire id (wire.ValidID), so the
	// substitution can never add a level or a wildcard.
	Filter string
	// Read allows subscribing to topics within Filter (and receiving
	// them); Write allows publishing to topics matching Filter. A rule
	// with neither denies.
	Read, Write bool
	// NoRetain refuses a publish with the retain flag on a topic this
	// rule lets the client write: the client is disconnected.
	NoRetain bool
}

// HashPassword returns the bcrypt hash of password at bcrypt's default
// cost, for User.PasswordHash.
func HashPassword(password string) (string, error) { return pwhash.Bcrypt(password, 0) }

// validate fills defaults and returns every problem found.
func (c *Config) validate() error {
	var p problems
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.TLS != nil {
		c.TLS.validate(&p)
	} else if c.TLSOnly {
		p.addf("TLSOnly: needs a TLS listener")
	}
	c.validateLimits(&p)
	c.validateGate(&p)
	c.validateAnonymous(&p)
	c.validateUsers(&p)
	return p.err()
}

// validate checks the TLS listener's address and files.
func (t *TLSConfig) validate(p *problems) {
	if t.Addr == "" {
		p.addf("TLS.Addr: required")
	}
	for _, f := range []struct{ name, path string }{
		{"TLS.CertFile", t.CertFile}, {"TLS.KeyFile", t.KeyFile}, {"TLS.ClientCAFile", t.ClientCAFile},
	} {
		if f.path == "" {
			if f.name != "TLS.ClientCAFile" {
				p.addf("%s: required", f.name)
			}
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			p.addf("%s: %v", f.name, err)
		}
	}
}

// validateLimits fills and checks the bounds on packets, clients and
// sessions, and the $SYS interval.
func (c *Config) validateLimits(p *problems) {
	switch {
	case c.MaxPacketSize == 0:
		c.MaxPacketSize = DefaultMaxPacketSize
	case c.MaxPacketSize < 64 || c.MaxPacketSize > maxMQTTPacket:
		p.addf("MaxPacketSize: %d out of range [64, %d]", c.MaxPacketSize, maxMQTTPacket)
	}
	positive := func(name string, v *int, def, max int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0 || *v > max:
			p.addf("%s: %d out of range [1, %d]", name, *v, max)
		}
	}
	positive("MaxPendingWrites", &c.MaxPendingWrites, DefaultMaxPendingWrites, 1<<20)
	positive("ReceiveMaximum", &c.ReceiveMaximum, DefaultReceiveMaximum, 65535)
	positive("MaxInflight", &c.MaxInflight, DefaultMaxInflight, 65535)
	positive("ReadBuffer", &c.ReadBuffer, DefaultReadBuffer, 1<<20)
	if c.MaxClients < 0 {
		p.addf("MaxClients: %d is negative", c.MaxClients)
	}
	switch {
	case c.SessionExpiry == 0:
		c.SessionExpiry = DefaultSessionExpiry
	case c.SessionExpiry < time.Second:
		p.addf("SessionExpiry: %v is under one second", c.SessionExpiry)
	}
	if c.MessageExpiry < 0 {
		p.addf("MessageExpiry: %v is negative", c.MessageExpiry)
	} else if c.MessageExpiry > 0 && c.MessageExpiry < time.Second {
		p.addf("MessageExpiry: %v is under one second", c.MessageExpiry)
	}
	switch {
	case c.SysInterval == 0:
		c.SysInterval = 10 * time.Second
	case c.SysInterval < 0:
		p.addf("SysInterval: %v is negative", c.SysInterval)
	}
}

// validateGate fills and checks the limits on sockets, logins and
// publishes.
func (c *Config) validateGate(p *problems) {
	dur := func(name string, v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			p.addf("%s: %v is negative", name, *v)
		}
	}
	dur("ConnectTimeout", &c.ConnectTimeout, DefaultConnectTimeout)
	dur("AuthBackoff", &c.AuthBackoff, DefaultAuthBackoff)
	dur("AuthBackoffMax", &c.AuthBackoffMax, DefaultAuthBackoffMax)
	dur("AuthCacheTTL", &c.AuthCacheTTL, DefaultAuthCacheTTL)
	if c.AuthBackoffMax < c.AuthBackoff {
		p.addf("AuthBackoffMax: %v is below AuthBackoff %v", c.AuthBackoffMax, c.AuthBackoff)
	}
	count := func(name string, v *int, def int) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			p.addf("%s: %d is negative", name, *v)
		}
	}
	count("MaxPending", &c.MaxPending, DefaultMaxPending)
	count("AuthFreeFailures", &c.AuthFreeFailures, DefaultAuthFreeFailures)
	count("AuthConcurrency", &c.AuthConcurrency, max(1, runtime.GOMAXPROCS(0)/2))
	if c.MaxConnsPerAddr < 0 {
		p.addf("MaxConnsPerAddr: %d is negative", c.MaxConnsPerAddr)
	}
	if c.PublishRate == 0 {
		c.PublishRate = DefaultPublishRate
	}
	if math.IsNaN(c.PublishRate) || math.IsInf(c.PublishRate, 0) {
		p.addf("PublishRate: %v is not a number", c.PublishRate)
	}
	if c.PublishBurst == 0 {
		c.PublishBurst = max(1, int(c.PublishRate))
	}
	if c.PublishBurst < 0 {
		p.addf("PublishBurst: %d is negative", c.PublishBurst)
	}
}

// validateAnonymous fills the anonymous rules (everything when anonymous
// access is on and no rules are given) and checks them.
func (c *Config) validateAnonymous(p *problems) {
	if c.AllowAnonymous && c.AnonymousRules == nil {
		c.AnonymousRules = []Rule{{Filter: "#", Read: true, Write: true}}
	}
	for i, r := range c.AnonymousRules {
		if strings.Contains(r.Filter, "%u") {
			p.addf("AnonymousRules[%d]: %q uses %%u but anonymous clients have no username", i, r.Filter)
		}
		if err := validFilter(r.Filter); err != nil {
			p.addf("AnonymousRules[%d]: %v", i, err)
		}
	}
}

// validateUsers checks the users: unique names, readable hashes and valid
// rules.
func (c *Config) validateUsers(p *problems) {
	seen := map[string]int{}
	var prefixed []int // users with a client id prefix
	for i, u := range c.Users {
		if u.ClientIDPrefix != "" {
			prefixed = append(prefixed, i)
		}
	}
	for i, u := range c.Users {
		for _, j := range prefixed {
			if j != i && strings.HasPrefix(u.Name, c.Users[j].ClientIDPrefix) {
				p.addf("Users[%d].Name: %q starts with Users[%d].ClientIDPrefix %q: that user could take its client id", i, u.Name, j, c.Users[j].ClientIDPrefix)
			}
		}
		switch {
		case u.Name == "":
			p.addf("Users[%d].Name: required", i)
		case seen[u.Name] > 0:
			p.addf("Users[%d].Name: %q already used by Users[%d]", i, u.Name, seen[u.Name]-1)
		default:
			seen[u.Name] = i + 1
		}
		if err := pwhash.Check(u.PasswordHash); err != nil {
			p.addf("Users[%d].PasswordHash: %v", i, err)
		}
		for j, r := range u.Rules {
			if err := validFilter(r.Filter); err != nil {
				p.addf("Users[%d].Rules[%d]: %v", i, j, err)
			}
			if strings.Contains(r.Filter, "%u") && u.Name != "" {
				if err := wire.ValidID(u.Name); err != nil {
					p.addf("Users[%d].Rules[%d]: %q uses %%u but the name is not a valid id: %v", i, j, r.Filter, err)
				}
			}
		}
	}
}

// validFilter reports whether f is a valid MQTT topic filter once "%u"
// and "%c" are substituted by ids ('+' and '#' stand alone in their level,
// '#' only last).
func validFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty topic filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("topic filter %q: '#' must be the last level", f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "#+"):
			return fmt.Errorf("topic filter %q: wildcard inside level %q", f, l)
		}
	}
	return nil
}
