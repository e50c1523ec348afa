package broker

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// mosquittoBin finds Debian's mosquitto, or skips the test.
func mosquittoBin(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/mosquitto"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	t.Skip("mosquitto not installed (Debian package mosquitto): skipping the interoperability test")
	return ""
}

// startMosquitto runs mosquitto on addr with persistence in dir, and
// returns a function that stops it (SIGTERM, which saves its database)
// and waits for it to exit.
func startMosquitto(t *testing.T, bin, addr, dir string) (stop func()) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(dir, "mosquitto.conf")
	// "user root": started as root, mosquitto would otherwise switch to
	// the mosquitto user, which cannot write the test's directory (as any
	// other user, the option is ignored).
	body := fmt.Sprintf("listener %s %s\nallow_anonymous true\npersistence true\npersistence_location %s/\nuser root\nlog_dest none\n", port, host, dir)
	if os.Getenv("BROKER_TEST_LOG") != "" {
		body += "log_dest stderr\nlog_type all\n"
	}
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if os.Getenv("BROKER_TEST_LOG") != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(waitFor):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	// Ready when it accepts connections.
	deadline := time.Now().Add(waitFor)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = c.Close()
			return stop
		}
		select {
		case err := <-exited:
			t.Fatalf("mosquitto exited at start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not accepting on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBridgeToMosquitto(t *testing.T) {
	bin := mosquittoBin(t)
	checkGoroutines(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	stop := startMosquitto(t, bin, addr, dir)

	// A watcher on mosquitto with a persistent session, so that what
	// arrives while it is offline waits for it.
	watched := make(chan msg, 100)
	watcher := func() *client {
		return mustDial(t, addr, "watcher", "", "", func(o *paho.ClientOptions) {
			o.SetCleanSession(false).SetOrderMatters(true).SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
				watched <- msg{m.Topic(), string(m.Payload()), m.Retained()}
			})
		})
	}
	w := watcher()
	if tok := w.Subscribe(tp.GeneratorFilter(), 1, nil); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("watcher subscribe: %v", tok.Error())
	}
	// The cloud's retained model, there before the edge connects.
	cloudPub := mustDial(t, addr, "cloud", "", "")
	if err := publish(t, cloudPub, tp.GlobalModel(), 1, true, "round-1"); err != nil {
		t.Fatal(err)
	}

	edge := startBroker(t, Config{AllowAnonymous: true})
	states := inlineSub(t, edge.Broker, "$SYS/broker/connection/cloud/state")
	br := startBridge(t, edge.Broker, BridgeConfig{
		Name: "cloud", Remote: "tcp://" + addr, ClientID: "edge-c1", Notifications: true,
		QueueDir: filepath.Join(dir, "queue"),
		Topics: []BridgeTopic{
			{Pattern: tp.Generator("c1"), Direction: Out, QoS: 1},
			{Pattern: tp.GlobalModel(), Direction: In, QoS: 1, ForceRetain: true},
		},
	})
	waitState(t, states, "1")

	// In: retained on the edge for a client that connects later.
	eventually(t, "model on the edge", func() bool { return br.Stats().Republished >= 1 })
	late := mustDial(t, edge.Addr(), "late", "", "")
	models, _ := subscribe(t, late, tp.GlobalModel(), 1)
	if m := next(t, models, "round-1 on the edge"); m.payload != "round-1" || !m.retained {
		t.Fatalf("late edge client got %+v, want round-1 retained", m)
	}

	// Out: the edge's update reaches mosquitto.
	if err := edge.Server().Publish(tp.Generator("c1"), []byte("u0"), false, 1); err != nil {
		t.Fatal(err)
	}
	if m := next(t, watched, "u0 at mosquitto"); m.topic != tp.Generator("c1") || m.payload != "u0" {
		t.Fatalf("watcher got %+v, want u0", m)
	}

	// Mosquitto goes down; five updates wait on the edge; it comes back on
	// the same port and gets all five, in order.
	w.Disconnect(50)
	stop()
	waitState(t, states, "0")
	for i := 1; i <= 5; i++ {
		if err := edge.Server().Publish(tp.Generator("c1"), []byte(fmt.Sprint("u", i)), false, 1); err != nil {
			t.Fatal(err)
		}
	}
	if q := br.Stats().Queued; q != 5 {
		t.Fatalf("queued %d while mosquitto is down, want 5", q)
	}
	startMosquitto(t, bin, addr, dir)
	waitState(t, states, "1")
	eventually(t, "queue drained", func() bool { return br.Stats().Queued == 0 })
	watcher()
	for i := 1; i <= 5; i++ {
		m := next(t, watched, fmt.Sprint("u", i))
		if i == 1 && m.payload == "u0" {
			// The watcher's own PUBACK for u0 may not have left before it
			// disconnected: mosquitto sends it again (a duplicate between
			// mosquitto and the watcher, not the bridge's doing).
			m = next(t, watched, "u1")
		}
		if m.payload != fmt.Sprint("u", i) {
			t.Fatalf("watcher got %q, want u%d (in order)", m.payload, i)
		}
	}

	// A model published while the uplink is up arrives live, without the
	// retain flag; ForceRetain keeps it retained on the edge.
	if err := publish(t, mustDial(t, addr, "cloud-2", "", ""), tp.GlobalModel(), 1, true, "round-2"); err != nil {
		t.Fatal(err)
	}
	// The bridge's re-subscription after the restart made mosquitto send
	// the retained round-1 again: at-least-once, the receiver dedups by
	// round.
	for m := next(t, models, "round-2 live on the edge"); m.payload != "round-2"; m = next(t, models, "round-2 live on the edge") {
		if m.payload != "round-1" {
			t.Fatalf("edge client got %+v, want round-1 (again) or round-2", m)
		}
	}
	late2 := mustDial(t, edge.Addr(), "late-2", "", "")
	models2, _ := subscribe(t, late2, tp.GlobalModel(), 1)
	if m := next(t, models2, "round-2 retained on the edge"); m.payload != "round-2" || !m.retained {
		t.Fatalf("late edge client got %+v, want round-2 retained", m)
	}
}
