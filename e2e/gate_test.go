package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/edge"
	firmwaretools "github.com/fedgan/fedgan/firmware-tools"
)

// lockedDown is an edge as README's "On an untrusted network" sets it up:
// TLS only with client certificates, passwords, a monitor, an HTTP token.
// The %s are the folder of its files and a free loopback port each for
// TLS and HTTP.
const lockedDown = `
name: gate
model: {latent: 2, data_dim: 2, generator: [4], discriminator: [4]}
training: {global_rounds: 1, local_iters: 1, batch_size: 2}
limits: {connect_timeout: 500ms}
cloud: {allow_anonymous: true}
communities:
  - id: c1
    data: {kind: gaussian, means: [[0, 0]], std: 1}
    device_count: 2
    edge:
      tls_only: true
      tls: {listen: '127.0.0.1:%d', cert: edge.pem, key: edge.key, ca: ca.pem}
      credentials: c1.passwd
      http: '127.0.0.1:%d'
      http_token_file: http.token
      monitor: {username: monitor, password_hash: '%s'}
`

// writeLockedDown writes the edge's files into dir and returns its topology.
func writeLockedDown(t *testing.T, dir string) *config.Topology {
	t.Helper()
	now := time.Now()
	ca, _, err := firmwaretools.LoadOrCreateCA(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), "test CA", now)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, key, err := ca.IssueServer("edge", []string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	write("edge.pem", cert)
	write("edge.key", key)
	for _, d := range []string{"c1-d1", "c1-d2"} {
		cert, key, err := ca.IssueClient(d, now)
		if err != nil {
			t.Fatal(err)
		}
		write(d+".pem", cert)
		write(d+".key", key)
	}
	var creds strings.Builder
	for _, d := range []string{"c1-d1", "c1-d2"} {
		h, _ := bcrypt.GenerateFromPassword([]byte("pw-"+d), bcrypt.MinCost)
		fmt.Fprintf(&creds, "%s:%s\n", d, h)
	}
	write("c1.passwd", []byte(creds.String()))
	write("http.token", []byte("tok3n\n"))
	mon, _ := bcrypt.GenerateFromPassword([]byte("watch"), bcrypt.MinCost)
	src := fmt.Sprintf(lockedDown, freePort(t), freePort(t), mon)
	top, err := config.FromBytes([]byte(src), "gate.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// TestLockedDownEdge runs an edge with the plain listener off and checks
// what reaches it: a device needs its certificate and its password, the
// monitor cannot take a device's id, silent TLS sockets are closed, the
// stats need the token, and the service itself runs (it reaches its
// broker in-process).
func TestLockedDownEdge(t *testing.T) {
	dir := t.TempDir()
	top := writeLockedDown(t, dir)
	e, err := edge.New(top, "c1", edge.Options{NoBridge: true, State: filepath.Join(dir, "state")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("edge: %v", err)
		}
	}()
	select {
	case <-e.Ready():
	case err := <-done:
		t.Fatalf("edge stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("edge not ready: its own client did not connect")
	}
	b := e.Broker()
	if b.Addr() != "" {
		t.Errorf("plain listener on %s with tls_only", b.Addr())
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
	pool.AppendCertsFromPEM(caPEM)
	connect := func(id, user, pw, certOf string) error {
		tc := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
		if certOf != "" {
			c, err := tls.LoadX509KeyPair(filepath.Join(dir, certOf+".pem"), filepath.Join(dir, certOf+".key"))
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		c := paho.NewClient(paho.NewClientOptions().AddBroker("ssl://" + b.TLSAddr()).SetClientID(id).
			SetUsername(user).SetPassword(pw).SetTLSConfig(tc).SetProtocolVersion(4).
			SetAutoReconnect(false).SetConnectTimeout(5 * time.Second))
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return errors.New("no answer")
		}
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return tok.Error()
	}
	if err := connect("c1-d1", "c1-d1", "pw-c1-d1", "c1-d1"); err != nil {
		t.Errorf("device with certificate and password: %v", err)
	}
	if err := connect("c1-d1", "c1-d1", "pw-c1-d1", ""); err == nil {
		t.Error("device with a password and no certificate: accepted")
	}
	if err := connect("c1-d2", "c1-d2", "pw-c1-d2", "c1-d1"); !errors.Is(err, packets.ErrorRefusedIDRejected) {
		t.Errorf("c1-d1's certificate as c1-d2: %v, want identifier rejected", err)
	}
	if err := connect("c1-d2", "monitor", "watch", "c1-d2"); !errors.Is(err, packets.ErrorRefusedIDRejected) {
		t.Errorf("monitor holding offline c1-d2's id: %v, want identifier rejected", err)
	}

	// A socket that never starts its TLS handshake is closed.
	raw, err := net.Dial("tcp", b.TLSAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, raw); err != nil {
		t.Errorf("silent TLS socket: %v, want closed by the edge within its 500ms connect timeout", err)
	}

	get := func(path, tok string) int {
		req, _ := http.NewRequest("GET", "http://"+b.HTTPAddr()+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/healthz", ""); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if code := get("/stats", ""); code != 401 {
		t.Errorf("/stats without the token: %d, want 401", code)
	}
	if code := get("/metrics", "tok3n"); code != 200 {
		t.Errorf("/metrics with the token: %d, want 200", code)
	}
	ref := b.Stats().Refused
	for _, r := range []string{"tls_failed", "client_cert", "client_id", "tls_timeout"} {
		if ref[r] == 0 {
			t.Errorf("no %s refusal counted: %v", r, ref)
		}
	}
}
