package broker

import (
	"context"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"
)

// waitFor bounds every wait in these tests; nothing here depends on how
// fast the machine is, only on events arriving eventually.
const waitFor = 20 * time.Second

// testLog discards unless BROKER_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("BROKER_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// checkGoroutines fails the test if, once its cleanups have run, more
// goroutines are alive than when it started (after a bounded wait for
// stragglers to exit). Call it first, so its cleanup runs last.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		start := time.Now()
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				if os.Getenv("BROKER_TEST_LEAKWAIT") != "" {
					t.Logf("goroutines settled after %v", time.Since(start))
				}
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutines: %d alive after the test, %d before; stacks:\n%s", n, before, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hash is a bcrypt hash at the minimum cost, to keep tests fast.
func hash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// running is a broker started by startBroker.
type running struct {
	*Broker
	stop func() // stops it and waits for Run to return; idempotent
}

// startBroker runs a broker until the test ends (or stop is called).
// Addr defaults to 127.0.0.1:0.
func startBroker(t testing.TB, cfg Config) *running {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	b, err := New(cfg, testLog())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- b.Run(ctx) }()
	select {
	case <-b.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("Run: %v", err)
	}
	var once sync.Once
	r := &running{Broker: b}
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return r
}

// freeAddr returns a loopback address nothing listens on (now).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// client is a paho test client with its connection-lost signal.
type client struct {
	paho.Client
	lost chan error // receives once when the connection drops
}

type clientOpt func(*paho.ClientOptions)

// dial connects a paho client (MQTT 3.1.1, no automatic reconnect) and
// returns the connect error, if any. The client is disconnected when the
// test ends.
func dial(t testing.TB, url, id, user, pass string, opts ...clientOpt) (*client, error) {
	t.Helper()
	if !strings.Contains(url, "://") {
		url = "tcp://" + url
	}
	c := &client{lost: make(chan error, 1)}
	o := paho.NewClientOptions().AddBroker(url).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).
		SetConnectTimeout(5 * time.Second).SetOrderMatters(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if user != "" {
		o.SetUsername(user).SetPassword(pass)
	}
	for _, f := range opts {
		f(o)
	}
	c.Client = paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("connect %s as %q: no answer", url, id)
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c, nil
}

// mustDial is dial that fails the test on error.
func mustDial(t testing.TB, url, id, user, pass string, opts ...clientOpt) *client {
	t.Helper()
	c, err := dial(t, url, id, user, pass, opts...)
	if err != nil {
		t.Fatalf("connect %s as %q/%q: %v", url, id, user, err)
	}
	return c
}

// msg is a received message.
type msg struct {
	topic    string
	payload  string
	retained bool
}

// subscribe subscribes c and returns the channel of received messages and
// the granted code (0x80: refused).
func subscribe(t *testing.T, c *client, filter string, qos byte) (<-chan msg, byte) {
	t.Helper()
	ch := make(chan msg, 100)
	tok := c.Subscribe(filter, qos, func(_ paho.Client, m paho.Message) {
		ch <- msg{m.Topic(), string(m.Payload()), m.Retained()}
	})
	if !tok.WaitTimeout(waitFor) {
		t.Fatalf("subscribe %q: no answer", filter)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("subscribe %q: %v", filter, err)
	}
	res := tok.(*paho.SubscribeToken).Result()
	if len(res) != 1 {
		t.Fatalf("subscribe %q: result %v, want one code", filter, res)
	}
	var code byte
	for _, c := range res { // keyed by the filter without any $share/{group}/ prefix
		code = c
	}
	return ch, code
}

// inlineSub subscribes on a broker's inline client (usable before Run).
func inlineSub(t *testing.T, b *Broker, filter string) <-chan msg {
	t.Helper()
	ch := make(chan msg, 100)
	err := b.Server().Subscribe(filter, b.nextSubID(), func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		ch <- msg{pk.TopicName, string(pk.Payload), pk.FixedHeader.Retain}
	})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// publish publishes and waits for the token.
func publish(t testing.TB, c *client, topic string, qos byte, retain bool, payload string) error {
	t.Helper()
	tok := c.Publish(topic, qos, retain, payload)
	if !tok.WaitTimeout(waitFor) {
		return context.DeadlineExceeded
	}
	return tok.Error()
}

// next returns the next message from ch, or fails after waitFor.
func next(t *testing.T, ch <-chan msg, what string) msg {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
		return msg{}
	}
}

// none fails if ch holds a message now.
func none(t *testing.T, ch <-chan msg, what string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("%s: got %+v, want nothing", what, m)
	default:
	}
}
