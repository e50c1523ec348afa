package broker

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fedgan/fedgan/wire"
)

var tp = wire.Topics{}

// fleet is a community c1 with devices d1, d2, a device d9 of community
// c2, the edge service and a monitor, on one broker.
func fleet(t testing.TB, mutate ...func(*Config)) *running {
	t.Helper()
	cfg := Config{
		Users: []User{
			{Name: "d1", PasswordHash: hash(t, "pw1"), Rules: DeviceRules(tp, "c1", "d1"), ClientIDMustMatch: true},
			{Name: "d2", PasswordHash: hash(t, "pw2"), Rules: DeviceRules(tp, "c1", "d2"), ClientIDMustMatch: true},
			{Name: "d9", PasswordHash: hash(t, "pw9"), Rules: DeviceRules(tp, "c2", "d9"), ClientIDMustMatch: true},
			{Name: "edge", PasswordHash: hash(t, "pwe"), Rules: EdgeRules(tp, "c1")},
			{Name: "mon", PasswordHash: hash(t, "pwm"), Rules: MonitorRules(tp)},
			// Shared account: rules per client id.
			{Name: "fleet", PasswordHash: hash(t, "pwf"), Rules: DeviceRules(tp, "c1", "%c")},
		},
	}
	for _, f := range mutate {
		f(&cfg)
	}
	return startBroker(t, cfg)
}

func TestAuthentication(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t)
	for _, tc := range []struct {
		name, id, user, pass string
		ok                   bool
	}{
		{"device", "d1", "d1", "pw1", true},
		{"wrong password", "d1", "d1", "pw2", false},
		{"empty password", "d1", "d1", "", false},
		{"unknown user", "d7", "d7", "pw1", false},
		{"anonymous off", "anon", "", "", false},
		{"client id mismatch", "d2", "d1", "pw1", false},
		{"shared account, valid id", "d5", "fleet", "pwf", true},
		{"shared account, id not a wire id", "d5/x", "fleet", "pwf", false},
		{"shared account, wildcard id", "#", "fleet", "pwf", false},
		{"monitor", "mon-1", "mon", "pwm", true},
		{"device again (cached verification)", "d1", "d1", "pw1", true},
		{"inline client's id", "inline", "mon", "pwm", false},
		{"a bridge's id", "$bridge/cloud", "mon", "pwm", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := b.Stats().AuthFailures
			c, err := dial(t, b.Addr(), tc.id, tc.user, tc.pass)
			if (err == nil) != tc.ok {
				t.Fatalf("connect as %q/%q: err %v, want ok=%v", tc.id, tc.user, err, tc.ok)
			}
			if c != nil {
				c.Disconnect(50)
			}
			want := before
			if !tc.ok {
				want++
			}
			if got := b.Stats().AuthFailures; got != want {
				t.Errorf("AuthFailures = %d, want %d", got, want)
			}
		})
	}
}

func TestSessionTakeoverAcrossUsers(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t)
	d1 := mustDial(t, b.Addr(), "d1", "d1", "pw1")
	// The shared device account may use id d2 (a valid id), but not d1's
	// live session, nor can the monitor.
	if _, err := dial(t, b.Addr(), "d1", "fleet", "pwf"); err == nil {
		t.Errorf("fleet account as client id d1 while d1 is connected: accepted, want refused")
	}
	if _, err := dial(t, b.Addr(), "d1", "mon", "pwm"); err == nil {
		t.Errorf("monitor as client id d1: accepted, want refused")
	}
	if !d1.IsConnectionOpen() {
		t.Errorf("d1 was kicked off by another user's connect")
	}
	// The same user may take its own session over (a device reconnecting).
	if _, err := dial(t, b.Addr(), "d1", "d1", "pw1"); err != nil {
		t.Errorf("d1 reconnecting as itself: %v, want accepted", err)
	}
}

func TestAnonymous(t *testing.T) {
	checkGoroutines(t)
	t.Run("allow all by default", func(t *testing.T) {
		b := startBroker(t, Config{AllowAnonymous: true})
		c := mustDial(t, b.Addr(), "anon", "", "")
		ch, code := subscribe(t, c, "#", 1)
		if code != 1 {
			t.Fatalf("anonymous subscribe #: code %#x, want 1", code)
		}
		if err := publish(t, c, "x/y", 1, false, "hi"); err != nil {
			t.Fatal(err)
		}
		if m := next(t, ch, "x/y"); m.payload != "hi" {
			t.Errorf("got %q, want hi", m.payload)
		}
	})
	t.Run("explicit rules", func(t *testing.T) {
		b := startBroker(t, Config{AllowAnonymous: true, AnonymousRules: []Rule{{Filter: "public/#", Read: true}}})
		c := mustDial(t, b.Addr(), "anon", "", "")
		if _, code := subscribe(t, c, "public/#", 1); code != 1 {
			t.Errorf("subscribe public/#: code %#x, want 1", code)
		}
		if _, code := subscribe(t, c, "#", 1); code != 0x80 {
			t.Errorf("subscribe #: code %#x, want 0x80", code)
		}
		// A client that sends a username must still authenticate.
		if _, err := dial(t, b.Addr(), "x", "nobody", "pw"); err == nil {
			t.Errorf("unknown user with anonymous on: connected, want refused")
		}
	})
}

func TestDeviceACL(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t)
	mon := mustDial(t, b.Addr(), "mon-1", "mon", "pwm")
	seen, code := subscribe(t, mon, tp.All(), 1)
	if code != 1 {
		t.Fatalf("monitor subscribe %s: code %#x, want 1", tp.All(), code)
	}

	// The edge takes feedback in-process (Broker.Subscribe): it must see
	// only what the ACL let through.
	edge := make(chan msg, 10)
	if err := b.Subscribe(tp.FeedbackFilter("c1"), func(topic string, payload []byte) {
		edge <- msg{topic: topic, payload: string(payload)}
	}); err != nil {
		t.Fatal(err)
	}

	d1 := mustDial(t, b.Addr(), "d1", "d1", "pw1")
	for _, tc := range []struct {
		filter string
		want   byte
	}{
		{tp.Batch("c1"), 1},
		{tp.Status("c1"), 1},
		{tp.GlobalModel(), 1},
		{"fedgan/v1/global/#", 1},
		{"#", 0x80},
		{tp.All(), 0x80},
		{tp.Batch("c2"), 0x80},
		{tp.Community("c1"), 0x80},
		{tp.FeedbackFilter("c1"), 0x80},
		{"$SYS/#", 0x80},
		{"$share/g/" + tp.Batch("c2"), 0x80},
	} {
		if _, got := subscribe(t, d1, tc.filter, 1); got != tc.want {
			t.Errorf("d1 subscribe %q: code %#x, want %#x", tc.filter, got, tc.want)
		}
	}

	// Its own feedback goes through.
	if err := publish(t, d1, tp.Feedback("c1", "d1"), 1, false, "mine"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, seen, "d1's feedback"); m.topic != tp.Feedback("c1", "d1") || m.payload != "mine" {
		t.Fatalf("monitor got %+v, want d1's feedback", m)
	}
	if m := next(t, edge, "d1's feedback in-process"); m.topic != tp.Feedback("c1", "d1") || m.payload != "mine" {
		t.Fatalf("inline subscriber got %+v, want d1's feedback", m)
	}

	// QoS 0 to another device's topic: dropped silently, still connected.
	denied := b.Stats().WriteDenied
	_ = publish(t, d1, tp.Feedback("c1", "d2"), 0, false, "forged0")
	eventually(t, "write denial counted", func() bool { return b.Stats().WriteDenied == denied+1 })
	if !d1.IsConnectionOpen() {
		t.Fatalf("d1 disconnected after a denied QoS 0 publish, want still connected")
	}
	// QoS 1 to another device's topic: mochi disconnects an MQTT 3.1.1
	// client (it cannot send a negative PUBACK).
	_ = d1.Publish(tp.Feedback("c1", "d2"), 1, false, "forged1")
	select {
	case <-d1.lost:
	case <-time.After(waitFor):
		t.Fatalf("d1 still connected after a denied QoS 1 publish, want disconnected")
	}
	// Neither forged message reached the monitor: a marker published
	// after both arrives first.
	d2 := mustDial(t, b.Addr(), "d2", "d2", "pw2")
	if err := publish(t, d2, tp.Feedback("c1", "d2"), 1, false, "marker"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, seen, "marker"); m.payload != "marker" {
		t.Fatalf("monitor got %+v, want the marker (a forged message leaked)", m)
	}
	none(t, seen, "after the marker")
	if m := next(t, edge, "marker in-process"); m.payload != "marker" {
		t.Fatalf("inline subscriber got %+v, want the marker (a forged message leaked)", m)
	}
	none(t, edge, "in-process, after the marker")

	// A device can't write the batch, the global model or another
	// community's topics either.
	d9 := mustDial(t, b.Addr(), "d9", "d9", "pw9")
	for _, topic := range []string{tp.Batch("c2"), tp.GlobalModel(), tp.Feedback("c1", "d9"), tp.Generator("c2")} {
		_ = publish(t, d9, topic, 0, false, "x")
	}
	if err := publish(t, d9, tp.Feedback("c2", "d9"), 1, false, "marker9"); err != nil {
		t.Fatal(err)
	}
	if m := next(t, seen, "marker9"); m.payload != "marker9" {
		t.Fatalf("monitor got %+v, want marker9", m)
	}
}

func TestDeliveryRecheckedAgainstRules(t *testing.T) {
	checkGoroutines(t)
	// The first rule denies a topic the second grants as part of a broad
	// filter: the subscription is accepted, the topic is never delivered.
	b := startBroker(t, Config{
		AllowAnonymous: true,
		Users: []User{{Name: "u", PasswordHash: hash(t, "p"), Rules: []Rule{
			{Filter: "a/secret"},
			{Filter: "a/#", Read: true},
		}}},
	})
	u := mustDial(t, b.Addr(), "u", "u", "p")
	ch, code := subscribe(t, u, "a/#", 1)
	if code != 1 {
		t.Fatalf("subscribe a/#: code %#x, want 1", code)
	}
	pub := mustDial(t, b.Addr(), "pub", "", "")
	for _, topic := range []string{"a/secret", "a/open"} {
		if err := publish(t, pub, topic, 1, false, topic); err != nil {
			t.Fatal(err)
		}
	}
	if m := next(t, ch, "a/open"); m.topic != "a/open" {
		t.Fatalf("got %+v, want a/open only", m)
	}
}

func TestMonitorReadOnly(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t)
	mon := mustDial(t, b.Addr(), "mon-1", "mon", "pwm")
	seen, _ := subscribe(t, mon, tp.All(), 1)
	if err := b.Server().Publish(tp.Batch("c1"), []byte("batch"), false, 1); err != nil {
		t.Fatal(err)
	}
	if m := next(t, seen, "batch"); m.payload != "batch" {
		t.Fatalf("monitor got %+v, want batch", m)
	}
	_ = mon.Publish(tp.GlobalModel(), 1, true, "evil")
	select {
	case <-mon.lost:
	case <-time.After(waitFor):
		t.Fatalf("monitor still connected after publishing, want disconnected")
	}
	if b.Stats().Retained != 0 {
		t.Errorf("Retained = %d after the monitor's denied retained publish, want 0", b.Stats().Retained)
	}
}

func TestWillIsChecked(t *testing.T) {
	checkGoroutines(t)
	b := fleet(t)
	will := func(topic string) clientOpt {
		return func(o *paho.ClientOptions) { o.SetBinaryWill(topic, []byte("offline"), 1, true) }
	}
	if _, err := dial(t, b.Addr(), "d1", "d1", "pw1", will(tp.Presence("c1", "d1"))); err != nil {
		t.Errorf("will on own presence: %v, want accepted", err)
	}
	if _, err := dial(t, b.Addr(), "d1", "d1", "pw1", will(tp.GlobalModel())); err == nil {
		t.Errorf("will on the global model: accepted, want refused")
	}
}

func TestMaxPacketSize(t *testing.T) {
	checkGoroutines(t)
	b := startBroker(t, Config{AllowAnonymous: true, MaxPacketSize: 1024})
	sub := mustDial(t, b.Addr(), "sub", "", "")
	ch, _ := subscribe(t, sub, "t/#", 1)
	big := mustDial(t, b.Addr(), "big", "", "")
	_ = big.Publish("t/big", 1, false, strings.Repeat("x", 2000))
	select {
	case <-big.lost:
	case <-time.After(waitFor):
		t.Fatalf("oversized publish: still connected, want disconnected")
	}
	// The broker keeps serving everyone else.
	small := mustDial(t, b.Addr(), "small", "", "")
	if err := publish(t, small, "t/small", 1, false, strings.Repeat("y", 900)); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ch, "t/small"); m.topic != "t/small" {
		t.Fatalf("subscriber got %q, want t/small (the oversized message must never arrive)", m.topic)
	}
	none(t, ch, "after t/small")
}

func TestHTTPAndWebSocket(t *testing.T) {
	checkGoroutines(t)
	b := startBroker(t, Config{AllowAnonymous: true, WSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	ws := mustDial(t, "ws://"+b.WSAddr()+"/mqtt", "ws-client", "", "")
	ch, _ := subscribe(t, ws, "w/#", 1)
	tcp := mustDial(t, b.Addr(), "tcp-client", "", "")
	payload := strings.Repeat("z", 5000) // spans several reads
	if err := publish(t, tcp, "w/x", 1, false, payload); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ch, "w/x over ws"); m.payload != payload {
		t.Fatalf("ws client got %d bytes, want %d", len(m.payload), len(payload))
	}

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + b.HTTPAddr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("/healthz: %d %q, want 200 ok", code, body)
	}
	code, body := get("/stats")
	var st Stats
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("/stats: %d %q (%v)", code, body, err)
	}
	if st.ClientsConnected != 2 || st.MessagesReceived < 1 {
		t.Errorf("/stats: clients %d, messages received %d; want 2, >= 1", st.ClientsConnected, st.MessagesReceived)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "fedgan_broker_clients_connected 2") {
		t.Errorf("/metrics: %d %q, want clients_connected 2", code, body)
	}
}

func TestMutualTLS(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	ca, caKey := newCA(t)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	srvDER, srvKey := issue(t, ca, caKey, "broker", true)
	writePEM(t, filepath.Join(dir, "srv.pem"), "CERTIFICATE", srvDER)
	writeKey(t, filepath.Join(dir, "srv.key"), srvKey)

	b := startBroker(t, Config{
		AllowAnonymous: true,
		TLS: &TLSConfig{Addr: "127.0.0.1:0", CertFile: filepath.Join(dir, "srv.pem"),
			KeyFile: filepath.Join(dir, "srv.key"), ClientCAFile: filepath.Join(dir, "ca.pem")},
	})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	withCert := func(cn string) clientOpt {
		der, key := issue(t, ca, caKey, cn, false)
		return func(o *paho.ClientOptions) {
			tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
			if cn != "" {
				tc.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
			}
			o.SetTLSConfig(tc)
		}
	}
	url := "ssl://" + b.TLSAddr()
	if _, err := dial(t, url, "dev1", "", "", withCert("dev1")); err != nil {
		t.Errorf("CN dev1 as dev1: %v, want accepted", err)
	}
	if _, err := dial(t, url, "dev2", "", "", withCert("dev1")); err == nil {
		t.Errorf("CN dev1 as dev2: accepted, want refused")
	}
	if _, err := dial(t, url, "dev1", "", "", withCert("")); err == nil {
		t.Errorf("no client certificate: accepted, want refused")
	}
	if got := b.Stats().AuthFailures; got != 1 { // the handshake failure never reaches MQTT
		t.Errorf("AuthFailures = %d, want 1", got)
	}
}

func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func issue(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKey(t testing.TB, path string, key *ecdsa.PrivateKey) {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "EC PRIVATE KEY", der)
}

func TestRunTwiceAndBadListen(t *testing.T) {
	checkGoroutines(t)
	b := startBroker(t, Config{AllowAnonymous: true})
	if err := b.Run(t.Context()); err != ErrRunning {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	// The same port twice: the second broker's Run fails, and says why.
	b2, err := New(Config{Addr: b.Addr()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b2.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Run on a busy port: %v, want a listen error", err)
	}
}
