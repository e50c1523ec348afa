package broker

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/internal/ratelog"
)

// Listener ids, as they appear in logs and in mochi's Client.Net.Listener.
const (
	ListenerTCP = "tcp"
	ListenerTLS = "tls"
	ListenerWS  = "ws"
	// ListenerInproc is the in-process listener of DialInternal.
	ListenerInproc = "inproc"
)

// ErrRunning is returned by a second call of Run.
var ErrRunning = errors.New("broker: already run")

// Broker is an embedded MQTT broker: mochi's mqtt.Server with our
// listeners, our authentication and ACL hook (default deny) and sane
// capabilities. Create it with New, then call Run.
type Broker struct {
	cfg    Config
	log    *slog.Logger
	srv    *mqtt.Server
	tlsCfg *tls.Config
	c      counters
	ref    refusals
	gate   *connGate
	inproc *pipeListener

	ran     atomic.Bool
	ready   chan struct{}
	done    chan struct{}
	serving atomic.Bool
	subID   atomic.Int64 // inline subscription ids handed out by nextSubID

	reg *prometheus.Registry // served on /metrics
	mux *http.ServeMux       // the HTTP listener's routes: ours, then Handle's

	mu      sync.Mutex
	addrs   map[string]string // listener id → bound address; "http" too
	bridges []*Bridge         // attached by NewBridge, reported on /metrics
}

// New validates cfg and builds a broker; it binds nothing until Run.
// A nil log discards. The returned error wraps ErrConfig (a *ConfigError
// listing every problem) or reports an unreadable TLS file.
func New(cfg Config, log *slog.Logger) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Broker{
		cfg:   cfg,
		log:   log,
		ready: make(chan struct{}),
		done:  make(chan struct{}),
		addrs: map[string]string{},
	}
	b.subID.Store(1 << 20) // well clear of ids applications pick by hand
	b.ref.lim = ratelog.Limiter{Log: log.With("component", "gate"), Msg: "refused", Now: clock.Or(cfg.Clock).Now}
	b.gate = newConnGate(&b.cfg, &b.ref)
	b.inproc = newPipeListener()
	b.reg = b.newRegistry()
	b.mux = b.httpHandler()

	if cfg.TLS != nil {
		tc, err := loadServerTLS(cfg.TLS)
		if err != nil {
			return nil, err
		}
		b.tlsCfg = tc
	}

	caps := mqtt.NewDefaultServerCapabilities() // the capabilities trap: never a partial struct
	caps.MaximumPacketSize = uint32(cfg.MaxPacketSize)
	caps.MaximumClientWritesPending = int32(cfg.MaxPendingWrites)
	caps.ReceiveMaximum = uint16(cfg.ReceiveMaximum)
	caps.MaximumInflight = uint16(cfg.MaxInflight)
	caps.MaximumSessionExpiryInterval = uint32(min(cfg.SessionExpiry/time.Second, math.MaxUint32))
	caps.MaximumMessageExpiryInterval = int64(cfg.MessageExpiry / time.Second)
	if cfg.MaxClients > 0 {
		caps.MaximumClients = int64(cfg.MaxClients)
	}
	b.srv = mqtt.New(&mqtt.Options{
		Capabilities:            caps,
		ClientNetReadBufferSize: cfg.ReadBuffer,
		InlineClient:            true,
		Logger:                  slog.New(packetElider{log.Handler()}).With("component", "mochi"),
		SysTopicResendInterval:  int64((cfg.SysInterval + time.Second - 1) / time.Second),
	})

	mtls := ""
	if cfg.TLS != nil && cfg.TLS.ClientCAFile != "" {
		mtls = ListenerTLS
	}
	hook, err := newAuthHook(&b.cfg, b.srv, mtls, b.gate, &b.ref, log.With("component", "auth"), &b.c)
	if err != nil {
		return nil, fmt.Errorf("broker: auth hook: %w", err)
	}
	if err := b.srv.AddHook(hook, nil); err != nil {
		return nil, fmt.Errorf("broker: auth hook: %w", err)
	}
	if err := b.srv.AddHook(&statsHook{c: &b.c}, nil); err != nil {
		return nil, fmt.Errorf("broker: stats hook: %w", err)
	}
	return b, nil
}

func loadServerTLS(c *TLSConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: TLS: %w", ErrConfig, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: TLS.ClientCAFile: %w", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: TLS.ClientCAFile: no PEM certificates in %s", ErrConfig, c.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Server returns the mochi server, for its inline client
// (Server().Publish, Server().Subscribe). Inline publishes skip the ACL.
// Inline subscription handlers run on the publisher's goroutine with
// mochi's packet: they must not block long and must not modify
// pk.Payload.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// Ready is closed once Run has bound every listener and serves.
func (b *Broker) Ready() <-chan struct{} { return b.ready }

// Done is closed when Run has returned.
func (b *Broker) Done() <-chan struct{} { return b.done }

// DialInternal connects in-process to the broker (a net.Pipe on the
// "inproc" listener), for the services' own clients: it works with the
// plain listener off. It fails before Ready and after Run returns.
func (b *Broker) DialInternal() (net.Conn, error) { return b.inproc.dial() }

// Addr returns the bound address of the plain TCP listener ("" before
// Ready, or with TLSOnly).
func (b *Broker) Addr() string { return b.addr(ListenerTCP) }

// TLSAddr returns the bound address of the TLS listener, or "".
func (b *Broker) TLSAddr() string { return b.addr(ListenerTLS) }

// WSAddr returns the bound address of the WebSocket listener, or "".
func (b *Broker) WSAddr() string { return b.addr(ListenerWS) }

// HTTPAddr returns the bound address of the health/stats listener, or "".
func (b *Broker) HTTPAddr() string { return b.addr("http") }

func (b *Broker) addr(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addrs[id]
}

// Subscribe delivers every message matching filter to fn, in-process
// (mochi's inline client): no socket, no MQTT encoding, and fn runs on the
// publisher's goroutine after the broker's checks (ACL, packet size), so
// several publishers are handled in parallel. fn must not block long and
// must not modify payload, which it may keep: the broker never reuses it.
func (b *Broker) Subscribe(filter string, fn func(topic string, payload []byte)) error {
	return b.srv.Subscribe(filter, b.nextSubID(), func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
}

// Publish publishes in-process (mochi's inline client), without the ACL:
// subscribers get it at min(qos, their subscription's QoS), each its own
// copy, so payload may be reused when Publish returns.
func (b *Broker) Publish(topic string, payload []byte, retain bool, qos byte) error {
	return b.srv.Publish(topic, payload, retain, qos)
}

// nextSubID returns a fresh inline subscription identifier.
func (b *Broker) nextSubID() int { return int(b.subID.Add(1)) }

// Run binds the listeners, serves until ctx is done, then disconnects
// every client, closes the listeners and waits for its goroutines. It
// returns nil after a clean shutdown, or the error that prevented
// serving. Run may be called once.
func (b *Broker) Run(ctx context.Context) error {
	if !b.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(b.done)
	ls, httpLn, err := b.listen()
	if err != nil {
		return err
	}
	if err := b.start(ls, httpLn); err != nil {
		return err
	}
	b.mu.Lock()
	for _, l := range ls {
		b.addrs[l.id] = l.ln.Addr().String()
	}
	if httpLn != nil {
		b.addrs["http"] = httpLn.Addr().String()
	}
	b.mu.Unlock()
	b.serving.Store(true)
	b.log.Info("broker serving", "tcp", b.Addr(), "tls", b.TLSAddr(), "ws", b.WSAddr(), "http", b.HTTPAddr(),
		"http_token", b.cfg.HTTPToken != "", "max_clients", b.cfg.MaxClients, "connect_timeout", b.cfg.ConnectTimeout)
	close(b.ready)

	err = b.serve(ctx, ls, httpLn)
	b.log.Info("broker stopped")
	return err
}

// listen binds the MQTT listeners (TCP, then TLS and WebSocket when
// configured) and the HTTP one (nil when not configured). On an error it
// closes those it bound.
func (b *Broker) listen() (ls []*netListener, httpLn net.Listener, err error) {
	bind := func(id, addr string, tc *tls.Config, ws bool) error {
		raw, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("broker: listen %s %s: %w", id, addr, err)
		}
		var nl net.Listener = &gateListener{Listener: raw, g: b.gate}
		if tc != nil {
			nl = tls.NewListener(nl, tc)
		}
		l := newNetListener(id, nl, ws, b.log.With("listener", id))
		l.gate = b.gate
		ls = append(ls, l)
		return nil
	}
	if !b.cfg.TLSOnly {
		err = bind(ListenerTCP, b.cfg.Addr, nil, false)
	}
	if err == nil && b.cfg.TLS != nil {
		err = bind(ListenerTLS, b.cfg.TLS.Addr, b.tlsCfg, false)
	}
	if err == nil && b.cfg.WSAddr != "" {
		err = bind(ListenerWS, b.cfg.WSAddr, nil, true)
	}
	if err == nil && b.cfg.HTTPAddr != "" {
		httpLn, err = net.Listen("tcp", b.cfg.HTTPAddr)
		if err != nil {
			err = fmt.Errorf("broker: listen http %s: %w", b.cfg.HTTPAddr, err)
		}
	}
	if err != nil {
		for _, l := range ls {
			_ = l.ln.Close()
		}
		return nil, nil, err
	}
	return ls, httpLn, nil
}

// start hands the MQTT listeners to mochi and starts serving. On an error
// it closes the listeners.
func (b *Broker) start(ls []*netListener, httpLn net.Listener) error {
	if err := b.srv.AddListener(b.inproc); err != nil {
		for _, l := range ls {
			_ = l.ln.Close()
		}
		if httpLn != nil {
			_ = httpLn.Close()
		}
		return fmt.Errorf("broker: add listener %s: %w", ListenerInproc, err)
	}
	for _, l := range ls {
		if err := b.srv.AddListener(l); err != nil {
			for _, l := range ls {
				_ = l.ln.Close()
			}
			if httpLn != nil {
				_ = httpLn.Close()
			}
			return fmt.Errorf("broker: add listener %s: %w", l.id, err)
		}
	}
	if err := b.srv.Serve(); err != nil {
		_ = b.srv.Close()
		if httpLn != nil {
			_ = httpLn.Close()
		}
		return fmt.Errorf("broker: serve: %w", err)
	}
	return nil
}

// serve runs the HTTP server, if any, until ctx is done, then shuts it
// down, closes mochi (which disconnects the clients and closes the
// listeners) and waits for the listeners' goroutines.
func (b *Broker) serve(ctx context.Context, ls []*netListener, httpLn net.Listener) error {
	g, gctx := errgroup.WithContext(ctx)
	if httpLn != nil {
		hs := &http.Server{Handler: b.mux, ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := hs.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("broker: http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = hs.Shutdown(sctx)
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		b.serving.Store(false)
		_ = b.srv.Close() // disconnects clients, closes listeners (the in-process one waits for its connections), waits for client goroutines
		for _, l := range ls {
			l.wait()
		}
		return nil
	})
	return g.Wait()
}

// Stats is a snapshot of the broker's counters. Totals count since New.
type Stats struct {
	ClientsConnected int64 `json:"clients_connected"`
	ClientsMaximum   int64 `json:"clients_maximum"`
	Subscriptions    int64 `json:"subscriptions"`
	Retained         int64 `json:"retained"`
	Inflight         int64 `json:"inflight"` // QoS>0 messages awaiting acknowledgement

	BytesReceived    int64 `json:"bytes_received"`
	BytesSent        int64 `json:"bytes_sent"`
	PacketsReceived  int64 `json:"packets_received"`
	PacketsSent      int64 `json:"packets_sent"`
	MessagesReceived int64 `json:"messages_received"`
	MessagesSent     int64 `json:"messages_sent"`
	MessagesDropped  int64 `json:"messages_dropped"` // to clients whose write queue was full (MaxPendingWrites)
	InflightDropped  int64 `json:"inflight_dropped"` // QoS>0 messages over MaxInflight

	AuthFailures int64 `json:"auth_failures"` // refused connections
	ReadDenied   int64 `json:"read_denied"`   // subscriptions and deliveries refused by the ACL
	WriteDenied  int64 `json:"write_denied"`  // publishes refused by the ACL

	PacketsTooLarge int64 `json:"packets_too_large"` // connections dropped for a packet over MaxPacketSize
	ReadErrors      int64 `json:"read_errors"`       // connections dropped for a malformed packet

	// Refused counts refused sockets, logins and publishes by reason
	// (the Refused* constants).
	Refused map[string]int64 `json:"refused,omitempty"`
}

// Stats returns the current counters.
func (b *Broker) Stats() Stats {
	i := b.srv.Info.Clone()
	return Stats{
		ClientsConnected: i.ClientsConnected,
		ClientsMaximum:   i.ClientsMaximum,
		Subscriptions:    i.Subscriptions,
		Retained:         i.Retained,
		Inflight:         i.Inflight,
		BytesReceived:    i.BytesReceived,
		BytesSent:        i.BytesSent,
		PacketsReceived:  i.PacketsReceived,
		PacketsSent:      i.PacketsSent,
		MessagesReceived: i.MessagesReceived,
		MessagesSent:     i.MessagesSent,
		MessagesDropped:  i.MessagesDropped,
		InflightDropped:  i.InflightDropped,
		AuthFailures:     b.c.authFailures.Load(),
		ReadDenied:       b.c.readDenied.Load(),
		WriteDenied:      b.c.writeDenied.Load(),
		PacketsTooLarge:  b.c.tooLarge.Load(),
		ReadErrors:       b.c.readErrors.Load(),
		Refused:          b.ref.lim.Counts(),
	}
}

// Handle mounts h on the HTTP listener (Config.HTTPAddr) at pattern, a
// net/http ServeMux pattern such as "GET /dashboard/", behind the same
// token check as /stats when Config.HTTPToken is set. Services mount
// their pages with it before Run (it is safe at any time). It returns an
// error for a pattern that is malformed or conflicts with one already
// mounted (/healthz, /stats, /metrics or an earlier Handle); without an
// HTTP address the handler is never served.
func (b *Broker) Handle(pattern string, h http.Handler) (err error) {
	if h == nil {
		return fmt.Errorf("broker: Handle %q: nil handler", pattern)
	}
	defer func() {
		// ServeMux reports a bad or conflicting pattern by panicking.
		if r := recover(); r != nil {
			err = fmt.Errorf("broker: Handle %q: %v", pattern, r)
		}
	}()
	b.mux.Handle(pattern, b.authorized(h.ServeHTTP))
	return nil
}

func (b *Broker) httpHandler() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if !b.serving.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"stopping"}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /stats", b.authorized(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Stats())
	}))
	mux.Handle("GET /metrics", b.authorized(promhttp.HandlerFor(b.reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(b.log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP))
	return mux
}

// authorized wraps h with the HTTPToken check, when one is set.
func (b *Broker) authorized(h http.HandlerFunc) http.HandlerFunc {
	if b.cfg.HTTPToken == "" {
		return h
	}
	want := []byte(b.cfg.HTTPToken)
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			_, got, ok = r.BasicAuth()
		}
		if !ok || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			b.ref.refuse("http", r.RemoteAddr, "HTTP request without the token", "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="fedgan broker"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	}
}
