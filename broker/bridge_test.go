package broker

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// runBridge runs a bridge until the test ends or stop is called, and
// returns it once it captures local messages.
type runningBridge struct {
	*Bridge
	stop func()
}

func startBridge(t *testing.T, local *Broker, cfg BridgeConfig) *runningBridge {
	t.Helper()
	if cfg.ReconnectMin == 0 {
		cfg.ReconnectMin, cfg.ReconnectMax = 20*time.Millisecond, 100*time.Millisecond
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	br, err := NewBridge(local, cfg, testLog())
	if err != nil {
		t.Fatalf("NewBridge: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- br.Run(ctx) }()
	select {
	case <-br.Ready():
	case err := <-errc:
		cancel()
		t.Fatalf("bridge Run: %v", err)
	}
	var once sync.Once
	rb := &runningBridge{Bridge: br}
	rb.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("bridge Run returned %v, want nil", err)
			}
		})
	}
	t.Cleanup(rb.stop)
	return rb
}

// waitState waits for the bridge's retained notification to say want.
func waitState(t *testing.T, states <-chan msg, want string) {
	t.Helper()
	deadline := time.After(waitFor)
	for {
		select {
		case m := <-states:
			if m.payload == want {
				return
			}
		case <-deadline:
			t.Fatalf("bridge state never became %q", want)
		}
	}
}

// edgeCloud is an edge broker (anonymous devices) and a cloud broker that
// admits the edge's uplink user with the standard uplink rules.
func edgeCloud(t *testing.T) (edge, cloud *running) {
	t.Helper()
	edge = startBroker(t, Config{AllowAnonymous: true})
	cloud = startBroker(t, Config{
		AllowAnonymous: true,
		AnonymousRules: []Rule{}, // anonymous may connect but do nothing
		Users: []User{{Name: "edge-c1", PasswordHash: hash(t, "uplink"),
			Rules: EdgeUplinkRules(tp, "c1"), ClientIDMustMatch: true}},
	})
	return edge, cloud
}

func uplink(cloudAddr string, topics ...BridgeTopic) BridgeConfig {
	return BridgeConfig{
		Name: "cloud", Remote: "tcp://" + cloudAddr, ClientID: "edge-c1",
		Username: "edge-c1", Password: "uplink", Notifications: true, Topics: topics,
	}
}

func TestBridgeOutPrefixMapping(t *testing.T) {
	checkGoroutines(t)
	edge := startBroker(t, Config{AllowAnonymous: true})
	cloud := startBroker(t, Config{AllowAnonymous: true})
	got := inlineSub(t, cloud.Broker, "#")
	topic, err := ParseBridgeTopic("topic c/c1/generator out 1 fedgan/v1/ site-a/fedgan/v1/")
	if err != nil {
		t.Fatal(err)
	}
	states := inlineSub(t, edge.Broker, "$SYS/broker/connection/cloud/state")
	br := startBridge(t, edge.Broker, BridgeConfig{Name: "cloud", Remote: "tcp://" + cloud.Addr(), ClientID: "edge-a", Notifications: true, Topics: []BridgeTopic{topic}})
	waitState(t, states, "1")

	// From the edge service (inline client) and from a network client.
	if err := edge.Server().Publish(tp.Generator("c1"), []byte("g1"), false, 1); err != nil {
		t.Fatal(err)
	}
	dev := mustDial(t, edge.Addr(), "other", "", "")
	if err := publish(t, dev, tp.Generator("c1"), 1, false, "g2"); err != nil {
		t.Fatal(err)
	}
	// Not bridged: another community's topic.
	if err := edge.Server().Publish(tp.Generator("c2"), []byte("nope"), false, 1); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"g1", "g2"} {
		m := next(t, got, want)
		if m.topic != "site-a/fedgan/v1/c/c1/generator" || m.payload != want {
			t.Fatalf("cloud got %s=%q, want site-a/fedgan/v1/c/c1/generator=%q", m.topic, m.payload, want)
		}
	}
	eventually(t, "sent == 2", func() bool { return br.Stats().Sent == 2 })
	if st := br.Stats(); st.Enqueued != 2 || st.Queued != 0 || !st.Connected {
		t.Errorf("stats %+v: want enqueued 2, queued 0, connected", st)
	}
	none(t, got, "after the bridged messages")
}

func TestBridgeRetainedGlobalModel(t *testing.T) {
	checkGoroutines(t)
	edge, cloud := edgeCloud(t)
	// The cloud publishes its model before the edge's uplink is up.
	if err := cloud.Server().Publish(tp.GlobalModel(), []byte("round-1"), true, 1); err != nil {
		t.Fatal(err)
	}
	states := inlineSub(t, edge.Broker, "$SYS/broker/connection/cloud/state")
	br := startBridge(t, edge.Broker, uplink(cloud.Addr(),
		BridgeTopic{Pattern: tp.Generator("c1"), Direction: Out, QoS: 1},
		BridgeTopic{Pattern: tp.GlobalModel(), Direction: In, QoS: 1, ForceRetain: true},
	))
	waitState(t, states, "1")

	late := func(id string) msg {
		t.Helper()
		c := mustDial(t, edge.Addr(), id, "", "")
		ch, _ := subscribe(t, c, tp.GlobalModel(), 1)
		return next(t, ch, "retained global model on the edge")
	}
	// Delivered to the bridge on subscription, hence retained.
	eventually(t, "model republished on the edge", func() bool { return br.Stats().Republished == 1 })
	if m := late("late-1"); m.payload != "round-1" || !m.retained {
		t.Fatalf("late client got %+v, want round-1 retained", m)
	}

	// Published while the uplink is up: the cloud delivers it live, without
	// the retain flag (MQTT 3.1.1); ForceRetain keeps it retained locally.
	live, _ := subscribe(t, mustDial(t, edge.Addr(), "live", "", ""), tp.GlobalModel(), 1)
	if m := next(t, live, "retained round-1"); m.payload != "round-1" {
		t.Fatalf("live subscriber got %+v first, want round-1", m)
	}
	if err := cloud.Server().Publish(tp.GlobalModel(), []byte("round-2"), true, 1); err != nil {
		t.Fatal(err)
	}
	if m := next(t, live, "round-2"); m.payload != "round-2" {
		t.Fatalf("live subscriber got %+v, want round-2", m)
	}
	if m := late("late-2"); m.payload != "round-2" || !m.retained {
		t.Fatalf("late client got %+v, want round-2 retained", m)
	}
}

func TestBridgeStoreAndForward(t *testing.T) {
	checkGoroutines(t)
	edge, cloud := edgeCloud(t)
	addr := cloud.Addr()
	states := inlineSub(t, edge.Broker, "$SYS/broker/connection/cloud/state")
	br := startBridge(t, edge.Broker, uplink(addr, BridgeTopic{Pattern: tp.Generator("c1"), Direction: Out, QoS: 1}))
	waitState(t, states, "1")

	cloud.stop()
	waitState(t, states, "0")
	for i := 1; i <= 5; i++ {
		if err := edge.Server().Publish(tp.Generator("c1"), []byte(fmt.Sprint(i)), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	if q := br.Stats().Queued; q != 5 {
		t.Fatalf("queued %d while the cloud is down, want 5", q)
	}

	// The cloud comes back on the same port.
	cloud2, err := New(Config{Addr: addr, Users: []User{{Name: "edge-c1", PasswordHash: hash(t, "uplink"),
		Rules: EdgeUplinkRules(tp, "c1"), ClientIDMustMatch: true}}}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	got := inlineSub(t, cloud2, tp.GeneratorFilter())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cloud2.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cloud2 Run: %v", err)
		}
	}()
	for i := 1; i <= 5; i++ {
		if m := next(t, got, fmt.Sprint("update ", i)); m.payload != fmt.Sprint(i) {
			t.Fatalf("cloud got update %q, want %d (in order)", m.payload, i)
		}
	}
	eventually(t, "queue drained", func() bool { return br.Stats().Queued == 0 })
	if st := br.Stats(); st.Sent != 5 || st.Dropped != 0 || st.ConnectionsLost < 1 || st.Connects < 2 {
		t.Errorf("stats %+v: want sent 5, dropped 0, a lost connection, two connects", st)
	}
}

func TestBridgeRestartDeliversQueue(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	down := freeAddr(t)
	cfg := func() BridgeConfig {
		c := uplink(down, BridgeTopic{Pattern: tp.Generator("c1"), Direction: Out, QoS: 1})
		c.QueueDir = dir
		return c
	}

	// First process: the cloud is unreachable; three updates queue on disk.
	edge1 := startBroker(t, Config{AllowAnonymous: true})
	br1 := startBridge(t, edge1.Broker, cfg())
	for i := 1; i <= 3; i++ {
		if err := edge1.Server().Publish(tp.Generator("c1"), []byte(fmt.Sprint(i)), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	if q := br1.Stats().Queued; q != 3 {
		t.Fatalf("queued %d, want 3", q)
	}
	br1.stop()
	edge1.stop()

	// Second process: a new broker and bridge over the same directory,
	// and the cloud is up.
	cloud := startBroker(t, Config{Addr: down, Users: []User{{Name: "edge-c1", PasswordHash: hash(t, "uplink"),
		Rules: EdgeUplinkRules(tp, "c1"), ClientIDMustMatch: true}}})
	got := inlineSub(t, cloud.Broker, tp.GeneratorFilter())
	edge2 := startBroker(t, Config{AllowAnonymous: true})
	br2 := startBridge(t, edge2.Broker, cfg())
	if err := edge2.Server().Publish(tp.Generator("c1"), []byte("4"), false, 1); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		if m := next(t, got, fmt.Sprint("update ", i)); m.payload != fmt.Sprint(i) {
			t.Fatalf("cloud got %q, want %d (reloaded queue first, in order)", m.payload, i)
		}
	}
	eventually(t, "queue drained", func() bool { return br2.Stats().Queued == 0 })
}

func TestBridgeQueueBound(t *testing.T) {
	checkGoroutines(t)
	down := freeAddr(t)
	edge := startBroker(t, Config{AllowAnonymous: true})
	c := uplink(down, BridgeTopic{Pattern: tp.Generator("c1"), Direction: Out, QoS: 1})
	c.QueueMaxMessages = 3
	br := startBridge(t, edge.Broker, c)
	for i := 1; i <= 5; i++ {
		if err := edge.Server().Publish(tp.Generator("c1"), []byte(fmt.Sprint(i)), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	if st := br.Stats(); st.Queued != 3 || st.Dropped != 2 || st.Enqueued != 5 {
		t.Fatalf("stats %+v: want queued 3, dropped 2, enqueued 5", st)
	}
	cloud := startBroker(t, Config{Addr: down, Users: []User{{Name: "edge-c1", PasswordHash: hash(t, "uplink"),
		Rules: EdgeUplinkRules(tp, "c1"), ClientIDMustMatch: true}}})
	got := inlineSub(t, cloud.Broker, tp.GeneratorFilter())
	for i := 3; i <= 5; i++ {
		if m := next(t, got, fmt.Sprint("update ", i)); m.payload != fmt.Sprint(i) {
			t.Fatalf("cloud got %q, want %d (the newest three, in order)", m.payload, i)
		}
	}
}

func TestBridgeBothNoEcho(t *testing.T) {
	checkGoroutines(t)
	edge := startBroker(t, Config{AllowAnonymous: true})
	cloud := startBroker(t, Config{AllowAnonymous: true})
	states := inlineSub(t, edge.Broker, "$SYS/broker/connection/cloud/state")
	br := startBridge(t, edge.Broker, BridgeConfig{Name: "cloud", Remote: "tcp://" + cloud.Addr(), ClientID: "edge", Notifications: true,
		Topics: []BridgeTopic{{Pattern: "x/#", Direction: Both, QoS: 1}}})
	waitState(t, states, "1")
	atEdge := inlineSub(t, edge.Broker, "x/#")
	atCloud := inlineSub(t, cloud.Broker, "x/#")

	// Edge → cloud: the cloud echoes it to the bridge's subscription; the
	// bridge drops the echo.
	if err := edge.Server().Publish("x/a", []byte("from edge"), false, 1); err != nil {
		t.Fatal(err)
	}
	next(t, atEdge, "x/a locally")
	if m := next(t, atCloud, "x/a at the cloud"); m.payload != "from edge" {
		t.Fatalf("cloud got %+v", m)
	}
	eventually(t, "echo suppressed", func() bool { return br.Stats().EchoesSuppressed == 1 })

	// Cloud → edge: republished locally, never sent back.
	if err := cloud.Server().Publish("x/b", []byte("from cloud"), false, 1); err != nil {
		t.Fatal(err)
	}
	next(t, atCloud, "x/b at the cloud")
	if m := next(t, atEdge, "x/b at the edge"); m.payload != "from cloud" {
		t.Fatalf("edge got %+v", m)
	}
	eventually(t, "republished", func() bool { return br.Stats().Republished == 1 })
	if st := br.Stats(); st.Enqueued != 1 || st.Sent != 1 {
		t.Errorf("stats %+v: want enqueued 1 and sent 1 (x/b must not go back)", st)
	}

	// A marker each way: anything duplicated would arrive before it.
	if err := edge.Server().Publish("x/m", []byte("marker"), false, 1); err != nil {
		t.Fatal(err)
	}
	if m := next(t, atEdge, "marker at the edge"); m.topic != "x/m" {
		t.Fatalf("edge got %+v before the marker: a duplicate", m)
	}
	if m := next(t, atCloud, "marker at the cloud"); m.topic != "x/m" {
		t.Fatalf("cloud got %+v before the marker: a duplicate", m)
	}
	eventually(t, "marker echo suppressed", func() bool { return br.Stats().EchoesSuppressed == 2 })
	none(t, atEdge, "after the marker")
}

// swallowFirst is a hook that drops the first publish on topic without
// acknowledging it, as a remote that lost the PUBACK would.
type swallowFirst struct {
	mqtt.HookBase
	topic string
	done  atomic.Bool
}

func (h *swallowFirst) ID() string           { return "swallow-first" }
func (h *swallowFirst) Provides(b byte) bool { return b == mqtt.OnPublish }
func (h *swallowFirst) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.TopicName == h.topic && h.done.CompareAndSwap(false, true) {
		return pk, packets.ErrRejectPacket
	}
	return pk, nil
}

func TestBridgeResendsUnacknowledged(t *testing.T) {
	checkGoroutines(t)
	edge := startBroker(t, Config{AllowAnonymous: true})
	cloudB, err := New(Config{Addr: "127.0.0.1:0", AllowAnonymous: true}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := cloudB.Server().AddHook(&swallowFirst{topic: "g"}, nil); err != nil {
		t.Fatal(err)
	}
	got := inlineSub(t, cloudB, "g")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cloudB.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cloud Run: %v", err)
		}
	}()
	<-cloudB.Ready()

	br := startBridge(t, edge.Broker, BridgeConfig{Name: "cloud", Remote: "tcp://" + cloudB.Addr(), ClientID: "edge",
		AckTimeout: 100 * time.Millisecond, Topics: []BridgeTopic{{Pattern: "g", QoS: 1}}})
	for _, p := range []string{"1", "2"} {
		if err := edge.Server().Publish("g", []byte(p), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	// "1" was swallowed: it stays queued, goes again on a new connection,
	// and "2" follows it.
	for _, want := range []string{"1", "2"} {
		if m := next(t, got, want); m.payload != want {
			t.Fatalf("cloud got %q, want %q (in order, none lost)", m.payload, want)
		}
	}
	eventually(t, "queue drained", func() bool { return br.Stats().Queued == 0 })
	if st := br.Stats(); st.Redelivered != 1 || st.Connects != 2 || st.Sent != 2 {
		t.Errorf("stats %+v: want redelivered 1, connects 2, sent 2", st)
	}
}

func TestBridgeOverMutualTLS(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	for _, c := range []struct {
		name, cn string
		server   bool
	}{{"srv", "cloud", true}, {"edge", "edge-c1", false}} {
		der, key := issue(t, ca, caKey, c.cn, c.server)
		writePEM(t, filepath.Join(dir, c.name+".pem"), "CERTIFICATE", der)
		writeKey(t, filepath.Join(dir, c.name+".key"), key)
	}
	edge := startBroker(t, Config{AllowAnonymous: true})
	cloud := startBroker(t, Config{
		TLS: &TLSConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "srv.pem"), KeyFile: filepath.Join(dir, "srv.key"),
			ClientCAFile: filepath.Join(dir, "ca.pem")},
		Users: []User{{Name: "edge-c1", PasswordHash: hash(t, "uplink"), Rules: EdgeUplinkRules(tp, "c1"), ClientIDMustMatch: true}},
	})
	got := inlineSub(t, cloud.Broker, tp.GeneratorFilter())
	c := uplink(cloud.TLSAddr(), BridgeTopic{Pattern: tp.Generator("c1"), QoS: 1})
	c.Remote = "ssl://" + cloud.TLSAddr()
	c.TLS = BridgeTLS{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "edge.pem"), KeyFile: filepath.Join(dir, "edge.key")}
	startBridge(t, edge.Broker, c)
	if err := edge.Server().Publish(tp.Generator("c1"), []byte("over tls"), false, 1); err != nil {
		t.Fatal(err)
	}
	if m := next(t, got, "update over TLS"); m.payload != "over tls" {
		t.Fatalf("cloud got %+v, want the update", m)
	}
}

func TestBridgeRefusedHeadStaysQueued(t *testing.T) {
	checkGoroutines(t)
	edge := startBroker(t, Config{AllowAnonymous: true})
	// The remote admits the bridge but lets it publish nothing: mochi
	// disconnects it on every QoS 1 publish.
	cloud := startBroker(t, Config{AllowAnonymous: true, AnonymousRules: []Rule{{Filter: "#", Read: true}}})
	br := startBridge(t, edge.Broker, BridgeConfig{Name: "cloud", Remote: "tcp://" + cloud.Addr(), ClientID: "edge",
		Topics: []BridgeTopic{{Pattern: "g", QoS: 1}}})
	if err := edge.Server().Publish("g", []byte("refused"), false, 1); err != nil {
		t.Fatal(err)
	}
	eventually(t, "three refusals", func() bool { return cloud.Stats().WriteDenied >= 3 })
	if st := br.Stats(); st.Queued != 1 || st.Sent != 0 || st.Dropped != 0 || st.Redelivered < 2 {
		t.Errorf("stats %+v: want the message still queued (1), none sent or dropped, redelivered >= 2", st)
	}
}

func TestBridgeMaxMessageSize(t *testing.T) {
	checkGoroutines(t)
	edge := startBroker(t, Config{AllowAnonymous: true})
	br := startBridge(t, edge.Broker, BridgeConfig{Name: "cloud", Remote: "tcp://" + freeAddr(t), ClientID: "edge",
		MaxMessageSize: 100, Topics: []BridgeTopic{{Pattern: "g", QoS: 1}}})
	for _, n := range []int{200, 80} { // 80+1+9 bytes of packet fit in 100
		if err := edge.Server().Publish("g", make([]byte, n), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	if st := br.Stats(); st.Rejected != 1 || st.Enqueued != 1 || st.Queued != 1 {
		t.Errorf("stats %+v: want rejected 1, enqueued 1, queued 1", st)
	}
}
