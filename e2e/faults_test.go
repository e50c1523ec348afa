package e2e

import (
	"bytes"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/vmihailenco/msgpack/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/wire"
)

// feedbackPayload is a well-formed feedback of device dev, before the
// test breaks it.
func feedbackPayload(dev string, rows, cols int) wire.Feedback {
	grad := make([]float32, rows*cols)
	return wire.Feedback{V: wire.Version, Community: "a", Device: dev, Round: 0, Iter: 1, Version: 0, Loss: -0.5,
		Grad: wire.NewTensor([]int{rows, cols}, grad), NReal: rows}
}

func marshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInput publishes garbage, truncated msgpack, wrong shapes, NaN, a
// feedback on another device's topic, a wrong protocol version and a
// 50 MB payload with a real client: each is dropped and counted, the
// edge keeps training, and G never becomes NaN.
func TestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 4, 120)
	cfg := tp.write(t)
	startAll(t, tp, cfg)
	topics := wire.Topics{}
	edgeURL := "tcp://127.0.0.1:" + strconv.Itoa(tp.Communities[0].Port)
	w := watch(t, edgeURL, topics.Status("a"))
	eventually(t, "training to start", func() bool {
		b := w.last(topics.Status("a"))
		return b != nil && num(statusOf(t, b), "edge", "updates") >= 3
	})

	good := feedbackPayload("a1", 32, 2)
	valid := marshal(t, good)
	wrongShape := good
	wrongShape.Grad = wire.NewTensor([]int{32, 3}, make([]float32, 96))
	nan := good
	g := make([]float32, 64)
	g[7] = float32(math.NaN())
	nan.Grad = wire.NewTensor([]int{32, 2}, g)
	nanLoss := good
	nanLoss.Loss = math.Inf(-1)
	other := good
	other.Device = "a2" // published on a1's topic
	version := good
	version.V = 99
	cases := []struct {
		name, topic, reason string
		payload             []byte
	}{
		{"garbage", topics.Feedback("a", "a1"), "malformed", []byte("\x00\xffnot msgpack at all")},
		{"truncated", topics.Feedback("a", "a1"), "malformed", valid[:len(valid)/2]},
		{"wrong shape", topics.Feedback("a", "a1"), "shape", marshal(t, wrongShape)},
		{"NaN gradient", topics.Feedback("a", "a1"), "non_finite", marshal(t, nan)},
		{"infinite loss", topics.Feedback("a", "a1"), "non_finite", marshal(t, nanLoss)},
		{"another device's topic", topics.Feedback("a", "a1"), "id_mismatch", marshal(t, other)},
		{"wrong version", topics.Feedback("a", "a1"), "version", marshal(t, version)},
		{"unknown device", topics.Feedback("a", "zz"), "", marshal(t, func() wire.Feedback { f := good; f.Device = "zz"; return f }())},
		{"garbage global model", topics.GlobalModel(), "malformed", []byte{0x93, 0x01}},
	}
	pub := paho.NewClient(paho.NewClientOptions().AddBroker(edgeURL).SetClientID("vandal").SetProtocolVersion(4))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer pub.Disconnect(0)
	for _, c := range cases {
		if tok := pub.Publish(c.topic, 1, false, c.payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("%s: publish: %v", c.name, tok.Error())
		}
	}
	// 50 MB: the broker refuses it before anyone decodes it and drops the
	// connection; training goes on.
	big := paho.NewClient(paho.NewClientOptions().AddBroker(edgeURL).SetClientID("vandal-big").SetProtocolVersion(4).SetAutoReconnect(false))
	if tok := big.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	big.Publish(topics.Feedback("a", "a1"), 1, false, bytes.Repeat([]byte{0xc1}, 50<<20)).WaitTimeout(20 * time.Second)
	eventually(t, "the 50 MB publisher to be disconnected", func() bool { return !big.IsConnectionOpen() })

	eventually(t, "every bad message to be counted", func() bool {
		b := w.last(topics.Status("a"))
		if b == nil {
			return false
		}
		st := statusOf(t, b)
		inv, _ := st["invalid"].(map[string]any)
		for _, c := range cases {
			if c.reason != "" && inv[c.reason] == nil {
				return false
			}
		}
		return num(st, "edge", "unknown_device") >= 1
	})
	eventually(t, "the broker to count the 50 MB packet", func() bool {
		return num(statusOf(t, w.last(topics.Status("a"))), "broker", "packets_too_large") >= 1
	})
	st := statusOf(t, w.last(topics.Status("a")))
	t.Logf("edge a invalid counts: %v, unknown devices %v, packets too large %v", st["invalid"], num(st, "edge", "unknown_device"), num(st, "broker", "packets_too_large"))
	before := num(st, "edge", "updates")
	eventually(t, "training to go on", func() bool {
		_, err := os.Stat(filepath.Join(tp.Dir, "results", "generator.nnw"))
		return err == nil || num(statusOf(t, w.last(topics.Status("a"))), "edge", "updates") > before+5
	})
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
}

// TestAuth: a locked-down edge. Agents log in with their own passwords; a
// client with a wrong password is refused; a device publishing on another
// device's topic is refused and its message reaches no one.
func TestAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	tp := newTopo(t, 3, 30)
	tp.Anonymous = false
	writeSecrets(t, tp)
	monHash, _ := bcrypt.GenerateFromPassword([]byte("watch-pw"), bcrypt.MinCost)
	tp.Extra = "" // monitor goes into the edge section below
	cfg := tp.write(t)
	b, _ := os.ReadFile(cfg)
	creds := filepath.Join(tp.Dir, "a.passwd")
	b = bytes.ReplaceAll(b, []byte("      credentials: "+creds), []byte(fmt.Sprintf("      credentials: %s\n      monitor: {username: monitor, password_hash: '%s'}", creds, monHash)))
	if err := os.WriteFile(cfg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	startAll(t, tp, cfg)
	edgeURL := "tcp://127.0.0.1:" + strconv.Itoa(tp.Communities[0].Port)
	topics := wire.Topics{}
	waitListening(t, edgeURL)

	connect := func(id, user, pw string) error {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(edgeURL).SetClientID(id).SetUsername(user).SetPassword(pw).SetProtocolVersion(4).SetAutoReconnect(false))
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			return fmt.Errorf("connect timed out")
		}
		if tok.Error() == nil {
			c.Disconnect(0)
		}
		return tok.Error()
	}
	for _, tc := range []struct{ name, id, user, pw string }{
		{"wrong password", "a1x", "a1", "guess"},
		{"unknown user", "mallory", "mallory", "pw"},
		{"anonymous", "anon", "", ""},
		{"client id of another device", "a2", "a1", "pw-of-a1"},
	} {
		if err := connect(tc.id, tc.user, tc.pw); err == nil {
			t.Errorf("%s: connected, want refused", tc.name)
		}
	}

	// The monitor sees everything and can publish nothing.
	mon := paho.NewClient(paho.NewClientOptions().AddBroker(edgeURL).SetClientID("monitor").SetUsername("monitor").SetPassword("watch-pw").SetProtocolVersion(4))
	if tok := mon.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("monitor: %v", tok.Error())
	}
	defer mon.Disconnect(0)
	forged := make(chan struct{}, 1)
	if tok := mon.Subscribe(topics.Feedback("a", "a2"), 1, func(_ paho.Client, m paho.Message) {
		if bytes.Contains(m.Payload(), []byte("forged-by-a1")) {
			forged <- struct{}{}
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("monitor subscribe: %v", tok.Error())
	}
	// a1's own credentials, writing on a2's topic.
	a1 := paho.NewClient(paho.NewClientOptions().AddBroker(edgeURL).SetClientID("a1").SetUsername("a1").SetPassword("pw-of-a1").SetProtocolVersion(4).SetAutoReconnect(false))
	if tok := a1.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		// The real agent a1 may hold the id; that refusal is also correct.
		t.Logf("a1 impersonation refused at connect: %v", tok.Error())
	} else {
		a1.Publish(topics.Feedback("a", "a2"), 1, false, []byte("forged-by-a1")).WaitTimeout(5 * time.Second)
		a1.Disconnect(0)
	}
	select {
	case <-forged:
		t.Fatal("a message a1 published on a2's topic reached a subscriber")
	case <-time.After(2 * time.Second):
	}
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
}

// TestCloudOnMosquitto runs the cloud tier against Debian's mosquitto
// instead of the embedded broker: the same code, another broker.
func TestCloudOnMosquitto(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/mosquitto"); err2 == nil {
			bin = "/usr/sbin/mosquitto"
		} else {
			t.Skip("mosquitto not installed (apt-get install mosquitto)")
		}
	}
	tp := newTopo(t, 3, 20)
	port := freePort(t)
	mconf := filepath.Join(tp.Dir, "mosquitto.conf")
	if err := os.WriteFile(mconf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n", port)), 0o644); err != nil {
		t.Fatal(err)
	}
	m := start(t, "mosquitto", bin, "-c", mconf)
	tp.CloudURL = "tcp://127.0.0.1:" + strconv.Itoa(port)
	waitListening(t, tp.CloudURL)
	cfg := tp.write(t)
	startAll(t, tp, cfg)
	eventually(t, "the final model", finished(tp))
	checkRounds(t, tp)
	_ = m
}

// waitListening waits until a TCP listener accepts connections at url.
func waitListening(t *testing.T, url string) {
	t.Helper()
	addr := strings.TrimPrefix(url, "tcp://")
	eventually(t, "a listener at "+addr, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}
