package mqttc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// Options configure a client the way every fedgan service uses paho:
// a stable client id, MQTT 3.1.1 only, automatic reconnect with
// subscriptions renewed on every connect, handlers that never block.
type Options struct {
	// URL is tcp://host:port, ssl://host:port or ws://host:port/path.
	URL string
	// Dial, when set, opens the connection instead of dialling URL (which
	// then only names the broker in logs): a service's in-process
	// connection to the broker it embeds.
	Dial     func() (net.Conn, error)
	ClientID string
	Username string
	Password string
	// CAFile verifies the server; CertFile/KeyFile are the client's
	// certificate for mutual TLS; ServerName overrides the checked name.
	CAFile, CertFile, KeyFile, ServerName string
	// Will is published by the broker if the connection dies.
	Will *Message
	// Subscriptions are (re)made on every connect: filter → QoS.
	Subscriptions map[string]byte
	// OnMessage is called for every message, in order, on paho's
	// goroutine. It must not block (nor publish and wait): hand the
	// message to a bounded queue of your own.
	OnMessage func(topic string, payload []byte, retained bool)
	// OnConnect runs after the subscriptions on every (re)connect, on its
	// own goroutine.
	OnConnect func(c *Client)
	// KeepAlive defaults to 30s. PublishTimeout bounds how long Publish
	// waits for the broker's acknowledgement; default 30s.
	KeepAlive      time.Duration
	PublishTimeout time.Duration
	// MaxReconnect bounds the reconnect backoff; default 10s.
	MaxReconnect time.Duration
	// Attempts bounds the attempts at the first connection (0: until
	// Close); when they are spent, Failed delivers the last error (a
	// one-shot command such as fedgan watch exits on it, as mosquitto_sub
	// does).
	Attempts int
	Logger   *slog.Logger
	// Context, when set, is the client's lifetime, the one its owner stops
	// with (and its embedded broker too): once it is done, a lost
	// connection and failed reconnects are the shutdown's own, logged at
	// debug rather than warned about.
	Context context.Context
}

// Message is one publication.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
}

// Client is a connected (or reconnecting) MQTT client.
type Client struct {
	c    paho.Client
	opts Options
	log  *slog.Logger

	connected chan struct{} // closed at the first successful connect
	once      sync.Once
	failed    chan error    // the last error, once Attempts are spent
	closed    chan struct{} // closed by Close
	closeOnce sync.Once
}

// ErrPublish is returned when a publish was not acknowledged in time.
var ErrPublish = errors.New("mqttc: publish not acknowledged")

// New creates a client and starts connecting in the background; the
// connection is retried until Close.
func New(opts Options) (*Client, error) {
	if opts.URL == "" || opts.ClientID == "" {
		return nil, errors.New("mqttc: URL and ClientID are required")
	}
	if opts.KeepAlive == 0 {
		opts.KeepAlive = 30 * time.Second
	}
	if opts.PublishTimeout == 0 {
		opts.PublishTimeout = 30 * time.Second
	}
	if opts.MaxReconnect == 0 {
		opts.MaxReconnect = 10 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cl := &Client{opts: opts, log: log.With(slog.String("client_id", opts.ClientID)), connected: make(chan struct{}),
		failed: make(chan error, 1), closed: make(chan struct{})}
	po := paho.NewClientOptions().
		AddBroker(opts.URL).
		SetClientID(opts.ClientID).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(opts.MaxReconnect).
		SetKeepAlive(opts.KeepAlive).
		SetPingTimeout(10 * time.Second).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(opts.PublishTimeout).
		// In order: a device's online and its later offline, or two batches,
		// must not swap. Handlers never block (OnMessage's contract), so
		// ordered delivery cannot stall the client.
		SetOrderMatters(true)
	po.SetConnectionNotificationHandler(cl.notified)
	if err := setTransport(po, opts); err != nil {
		return nil, err
	}
	if w := opts.Will; w != nil {
		po.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
	}
	if opts.OnMessage != nil {
		po.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			opts.OnMessage(m.Topic(), m.Payload(), m.Retained())
		})
	}
	po.SetOnConnectHandler(func(c paho.Client) {
		cl.log.Info("connected to the broker", slog.String("url", opts.URL))
		// Subscribing here renews the subscriptions after every reconnect
		// (clean session); never wait on the token in the handler itself.
		go func() {
			if len(opts.Subscriptions) > 0 {
				t := c.SubscribeMultiple(opts.Subscriptions, nil)
				if !t.WaitTimeout(opts.PublishTimeout) || t.Error() != nil {
					cl.log.Warn("subscribe failed", slog.Any("error", tokenErr(t)))
					return
				}
			}
			cl.once.Do(func() { close(cl.connected) })
			if opts.OnConnect != nil {
				opts.OnConnect(cl)
			}
		}()
	})
	po.SetConnectionLostHandler(func(_ paho.Client, err error) {
		cl.log.Log(context.Background(), cl.lossLevel(), "connection to the broker lost; reconnecting", slog.String("url", opts.URL), slog.Any("error", err))
	})
	cl.c = paho.NewClient(po)
	go cl.connect()
	return cl, nil
}

// connect makes the first connection, retrying with exponential backoff
// and jitter (250 ms doubling up to MaxReconnect, ±20%) and logging every
// failed attempt with its reason; after it, paho reconnects by itself
// (doubling its interval up to MaxReconnect).
func (c *Client) connect() {
	wait := 250 * time.Millisecond
	for attempt := 1; ; attempt++ {
		t := c.c.Connect()
		select {
		case <-t.Done():
		case <-c.closed:
			return
		}
		err := t.Error()
		if err == nil {
			return
		}
		if c.opts.Attempts > 0 && attempt >= c.opts.Attempts {
			c.log.Warn("cannot connect to the broker", slog.String("url", c.opts.URL), slog.Int("attempt", attempt),
				slog.String("why", Why(err)), slog.Any("error", err))
			c.failed <- fmt.Errorf("%s: %s: %w", c.opts.URL, Why(err), err)
			return
		}
		d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		c.log.Warn("cannot connect to the broker; retrying", slog.String("url", c.opts.URL), slog.Int("attempt", attempt),
			slog.Duration("retry_in", d.Round(time.Millisecond)), slog.String("why", Why(err)), slog.Any("error", err))
		select {
		case <-time.After(d):
		case <-c.closed:
			return
		}
		wait = min(2*wait, c.opts.MaxReconnect)
	}
}

// Failed delivers the last connection error once Options.Attempts are
// spent without a connection.
func (c *Client) Failed() <-chan error { return c.failed }

// Why explains a failed connection in an operator's words: the broker's
// refusal (Refusal), or what the network said.
func Why(err error) string {
	if why := Refusal(err); why != "" {
		return why
	}
	var dns *net.DNSError
	var op *net.OpError
	var cert *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &dns):
		return "the broker's host name does not resolve (" + dns.Name + ")"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing listens at that address and port (connection refused): is the broker running, and is the port right?"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "no route to the broker's host (network unreachable)"
	case errors.As(err, &cert):
		return "the broker's TLS certificate is not trusted (check the CA file and the server name)"
	case errors.As(err, &recErr):
		return "the broker does not speak TLS at that port (tls:// or ssl:// to a plain MQTT listener?)"
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &op) && op.Timeout():
		return "timed out: the broker's host does not answer (firewall, or a wrong address)"
	case errors.Is(err, io.EOF):
		return "the broker closed the connection before answering (a TLS listener reached without tls://, or a broker limit)"
	}
	return "the connection failed"
}

// setTransport sets how po reaches the broker: the in-process dialer,
// the credentials and, for a TLS URL, the TLS configuration.
func setTransport(po *paho.ClientOptions, opts Options) error {
	if opts.Dial != nil {
		po.SetCustomOpenConnectionFn(func(*url.URL, paho.ClientOptions) (net.Conn, error) { return opts.Dial() })
	}
	if opts.Username != "" {
		po.SetUsername(opts.Username)
		po.SetPassword(opts.Password)
	}
	if strings.HasPrefix(opts.URL, "ssl://") || strings.HasPrefix(opts.URL, "tls://") || strings.HasPrefix(opts.URL, "wss://") || strings.HasPrefix(opts.URL, "mqtts://") {
		tc, err := TLSConfig(opts.CAFile, opts.CertFile, opts.KeyFile, opts.ServerName)
		if err != nil {
			return err
		}
		po.SetTLSConfig(tc)
	}
	return nil
}

func tokenErr(t paho.Token) error {
	if err := t.Error(); err != nil {
		return err
	}
	return errors.New("timed out")
}

// Connected is closed once the client has connected and subscribed.
func (c *Client) Connected() <-chan struct{} { return c.connected }

// WaitConnected blocks until the first connection or ctx ends.
func (c *Client) WaitConnected(ctx context.Context) error {
	select {
	case <-c.connected:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("mqttc: %s: not connected to %s: %w", c.opts.ClientID, c.opts.URL, ctx.Err())
	}
}

// IsConnected reports whether the connection is up now.
func (c *Client) IsConnected() bool { return c.c.IsConnectionOpen() }

// Publish sends m and, for QoS 1, waits for the broker's acknowledgement
// (up to PublishTimeout or ctx). Never call it from an OnMessage handler.
func (c *Client) Publish(ctx context.Context, m Message) error {
	t := c.c.Publish(m.Topic, m.QoS, m.Retain, m.Payload)
	select {
	case <-t.Done():
		if err := t.Error(); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrPublish, m.Topic, err)
		}
		return nil
	case <-time.After(c.opts.PublishTimeout):
		return fmt.Errorf("%w: %s: after %s", ErrPublish, m.Topic, c.opts.PublishTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close disconnects, giving in-flight work up to quiesce, and stops the
// first connection's retries.
func (c *Client) Close(quiesce time.Duration) {
	c.closeOnce.Do(func() { close(c.closed) })
	c.c.Disconnect(uint(quiesce / time.Millisecond))
}

// TLSConfig loads a client TLS configuration. An empty caFile uses the
// system roots.
func TLSConfig(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("mqttc: CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqttc: CA %s: no certificate found", caFile)
		}
		tc.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("mqttc: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Refusal explains a refused connection in an operator's words, or
// returns "" when err is not a refusal by the broker.
func Refusal(err error) string {
	switch {
	case errors.Is(err, packets.ErrorRefusedIDRejected):
		return "the broker refused the client id: it is in use by another session (a second agent with this id, or another client holding it), or it is not this user's (a device's client id must equal its username and certificate CN)"
	case errors.Is(err, packets.ErrorRefusedBadUsernameOrPassword):
		return "the broker refused the credentials: wrong username or password, unknown user, no or wrong client certificate, or anonymous access off"
	case errors.Is(err, packets.ErrorRefusedNotAuthorised):
		return "the broker refused the connection as not authorized (for example a will topic this user may not write)"
	case errors.Is(err, packets.ErrorRefusedServerUnavailable):
		return "the broker is unavailable: it has its maximum number of clients, or it delays logins after failed attempts from this address or for this user"
	}
	return ""
}

// lossLevel is the level of a lost connection or a failed reconnect:
// warn, or debug once Options.Context is done (the owner is stopping).
func (c *Client) lossLevel() slog.Level {
	if ctx := c.opts.Context; ctx != nil && ctx.Err() != nil {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

// notified logs the failed attempts of paho's reconnects (the first
// connection's are connect's), each with its reason.
func (c *Client) notified(_ paho.Client, n paho.ConnectionNotification) {
	f, ok := n.(paho.ConnectionNotificationFailed)
	if !ok {
		return
	}
	select {
	case <-c.connected:
	default:
		return // the first connection: connect logs it
	}
	c.log.Log(context.Background(), c.lossLevel(), "cannot reconnect to the broker; retrying", slog.String("url", c.opts.URL),
		slog.String("username", c.opts.Username), slog.String("why", Why(f.Reason)), slog.Any("error", f.Reason))
}
