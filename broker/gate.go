package broker

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/ratelog"
)

// Reasons a connection or a publish is refused, as counted in
// Stats.Refused and in /metrics (fedgan_broker_refused_total{reason}).
const (
	RefusedMaxPending     = "max_pending"     // too many sockets not yet authenticated (Config.MaxPending)
	RefusedPerAddress     = "per_address"     // too many sockets from one address (Config.MaxConnsPerAddr)
	RefusedConnectTimeout = "connect_timeout" // no CONNECT within Config.ConnectTimeout
	RefusedTLSTimeout     = "tls_timeout"     // no TLS handshake within Config.ConnectTimeout
	RefusedTLSFailed      = "tls_failed"      // TLS handshake failed (no or bad client certificate, ...)
	RefusedMaxClients     = "max_clients"     // Config.MaxClients clients already connected
	RefusedAnonymous      = "anonymous"       // no username and anonymous access off
	RefusedUnknownUser    = "unknown_user"
	RefusedWrongPassword  = "wrong_password"
	RefusedClientCert     = "client_cert"      // mTLS: no certificate, or CommonName is not the client id
	RefusedClientID       = "client_id"        // client id not allowed for this user (or reserved, or invalid)
	RefusedClientIDInUse  = "client_id_in_use" // another user's session holds the client id
	RefusedWillTopic      = "will_topic"       // will topic not writable
	RefusedAuthBackoff    = "auth_backoff"     // address or username delayed after failed logins
	RefusedAuthBusy       = "auth_busy"        // every bcrypt slot busy (Config.AuthConcurrency)
	RefusedPublishRate    = "publish_rate"     // publishes over Config.PublishRate: disconnected
	RefusedRetain         = "retain"           // retain flag on a topic whose rule forbids it: disconnected
	RefusedInflight       = "inflight"         // more QoS 1/2 publishes unacknowledged than Config.ReceiveMaximum: disconnected
)

// refusals counts refusals by reason and logs them at most once a minute
// per client address.
type refusals struct{ lim ratelog.Limiter }

// refuse counts one refusal of a client at remote (host:port) and logs it
// unless that host was logged less than a minute ago.
func (r *refusals) refuse(reason, remote, detail string, attrs ...any) {
	r.lim.Drop(hostOf(remote), reason, errors.New(detail), append([]any{"remote", remote}, attrs...)...)
}

func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}

// connGate admits sockets before mochi sees them: it bounds the sockets
// that have not authenticated yet (in all and per address) and gives each
// a deadline for its TLS handshake and CONNECT. mochi replaces the
// deadline with the keepalive one once CONNECT is read.
type connGate struct {
	timeout    time.Duration
	maxPending int
	perAddr    int
	clock      clock.Clock
	ref        *refusals

	mu      sync.Mutex
	pending int
	byAddr  map[string]int
}

func newConnGate(cfg *Config, ref *refusals) *connGate {
	return &connGate{
		timeout: cfg.ConnectTimeout, maxPending: cfg.MaxPending, perAddr: cfg.MaxConnsPerAddr,
		clock: clock.Or(cfg.Clock), ref: ref, byAddr: map[string]int{},
	}
}

// admit wraps c, or returns the reason it is refused.
func (g *connGate) admit(c net.Conn) (*gateConn, string) {
	remote := c.RemoteAddr().String()
	host := hostOf(remote)
	g.mu.Lock()
	switch {
	case g.pending >= g.maxPending:
		g.mu.Unlock()
		return nil, RefusedMaxPending
	case g.perAddr > 0 && g.byAddr[host] >= g.perAddr:
		g.mu.Unlock()
		return nil, RefusedPerAddress
	}
	g.pending++
	g.byAddr[host]++
	g.mu.Unlock()
	_ = c.SetDeadline(time.Now().Add(g.timeout)) // the socket's own clock: net.Conn deadlines are wall time
	return &gateConn{Conn: c, g: g, host: host}, ""
}

// authenticated marks the socket under conn as authenticated: it no
// longer counts as pending. Connections the gate did not admit (the
// in-process ones) are ignored.
func (g *connGate) authenticated(conn net.Conn) {
	gc := unwrapGate(conn)
	if gc == nil || !gc.authed.CompareAndSwap(false, true) {
		return
	}
	g.mu.Lock()
	g.pending--
	g.mu.Unlock()
}

func (g *connGate) release(gc *gateConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !gc.authed.Load() {
		g.pending--
	}
	if g.byAddr[gc.host]--; g.byAddr[gc.host] <= 0 {
		delete(g.byAddr, gc.host)
	}
}

// counts returns the pending sockets and the open sockets per address
// (for tests).
func (g *connGate) counts() (pending, addrs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pending, len(g.byAddr)
}

// unwrapGate finds the gateConn under a TLS or WebSocket connection.
func unwrapGate(c net.Conn) *gateConn {
	for range 4 {
		switch v := c.(type) {
		case *gateConn:
			return v
		case *tls.Conn:
			c = v.NetConn()
		case *wsConn:
			c = v.Conn
		default:
			return nil
		}
	}
	return nil
}

// gateConn is an admitted socket.
type gateConn struct {
	net.Conn
	g      *connGate
	host   string
	authed atomic.Bool
	once   sync.Once
}

// Close releases the socket's place in the gate.
func (c *gateConn) Close() error {
	c.once.Do(func() { c.g.release(c) })
	return c.Conn.Close()
}

// gateListener admits accepted sockets through a connGate; refused ones are
// closed at once, counted and logged.
type gateListener struct {
	net.Listener
	g *connGate
}

func (l *gateListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		gc, reason := l.g.admit(c)
		if reason == "" {
			return gc, nil
		}
		_ = c.Close()
		l.g.ref.refuse(reason, c.RemoteAddr().String(), "connection closed at accept")
	}
}

// ended counts a connection that ended before it authenticated because
// of its deadline or its TLS handshake. err is what mochi's establish
// returned.
func (g *connGate) ended(conn net.Conn, err error) {
	gc := unwrapGate(conn)
	if gc == nil || gc.authed.Load() || err == nil {
		return
	}
	timeout := errors.Is(err, os.ErrDeadlineExceeded)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		timeout = true
	}
	remote := gc.RemoteAddr().String()
	if errors.Is(err, packets.ErrServerBusy) || errors.Is(err, packets.ErrServerUnavailable) {
		g.ref.refuse(RefusedMaxClients, remote, "the broker has its maximum number of clients")
		return
	}
	if tc, ok := conn.(*tls.Conn); ok && !tc.ConnectionState().HandshakeComplete {
		if timeout {
			g.ref.refuse(RefusedTLSTimeout, remote, "no TLS handshake within the connect timeout")
		} else {
			g.ref.refuse(RefusedTLSFailed, remote, err.Error())
		}
		return
	}
	if timeout {
		g.ref.refuse(RefusedConnectTimeout, remote, "no CONNECT within the connect timeout")
	}
}
