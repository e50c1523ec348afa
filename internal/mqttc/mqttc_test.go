package mqttc_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/internal/fixture"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// lockedBuffer is a log sink shared by goroutines and the test.
type lockedBuffer = fixture.LockedBuffer

func TestRefusal(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("dial tcp: connection refused"), ""},
		{packets.ErrorRefusedIDRejected, "client id"},
		{packets.ErrorRefusedBadUsernameOrPassword, "credentials"},
		{packets.ErrorRefusedNotAuthorised, "not authorized"},
		{packets.ErrorRefusedServerUnavailable, "delays logins"},
	} {
		if got := mqttc.Refusal(tc.err); (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Refusal(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}

// TestRefusedConnectionsAreLogged: a client the broker refuses says why
// in its log at every attempt, backing off exponentially while it keeps
// retrying.
func TestRefusedConnectionsAreLogged(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw1"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tp := wire.Topics{}
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Users: []broker.User{
		{Name: "d1", PasswordHash: string(h), Rules: broker.DeviceRules(tp, "c1", "d1"), ClientIDMustMatch: true},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-b.Ready()

	for _, tc := range []struct{ name, id, pw, want string }{
		{"wrong password", "d1", "nope", "refused the credentials"},
		{"another device's id", "d2", "pw1", "refused the client id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			c, err := mqttc.New(mqttc.Options{URL: "tcp://" + b.Addr(), ClientID: tc.id, Username: "d1", Password: tc.pw,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(0)
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), tc.want) {
				if time.Now().After(deadline) {
					t.Fatalf("no %q in the client's log:\n%s", tc.want, logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Each attempt is logged at WARN, backing off: 250 ms, then
			// about 500 ms, 1 s: three or four attempts in 1.6 s, not six.
			time.Sleep(1600 * time.Millisecond)
			if n := strings.Count(logs.String(), "level=WARN msg=\"cannot connect to the broker; retrying\""); n < 2 || n > 5 {
				t.Errorf("%d attempts logged in about 1.6 s, want 2 to 5 (exponential backoff from 250 ms):\n%s", n, logs.String())
			}
		})
	}
}

// TestWhy: each way a connection fails is explained in an operator's
// words.
func TestWhy(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}, "nothing listens"},
		{&net.DNSError{Name: "broker.invalid", Err: "no such host"}, "does not resolve (broker.invalid)"},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, "timed out"},
		{packets.ErrorRefusedBadUsernameOrPassword, "refused the credentials"},
		{fmt.Errorf("network Error : %w", &net.OpError{Op: "dial", Err: &os.SyscallError{Syscall: "connect", Err: syscall.EHOSTUNREACH}}), "no route"},
		{errors.New("something else"), "the connection failed"},
	} {
		if got := mqttc.Why(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("Why(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}

// TestAttempts: with Attempts set, a client that cannot connect gives up
// and says why on Failed, quickly (fedgan watch exits on it).
func TestAttempts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := mqttc.New(mqttc.Options{URL: "tcp://" + addr, ClientID: "w", Attempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(0)
	select {
	case err := <-c.Failed():
		if !strings.Contains(err.Error(), "nothing listens") {
			t.Errorf("Failed: %v, want the reason", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no failure after two attempts within 10 s")
	}
}

// TestLossLogLevel: a broker that goes away while the client's owner
// runs is warned about; one that goes away because the owner is stopping
// (Options.Context done, as when a service and its embedded broker stop
// together) is logged at debug.
func TestLossLogLevel(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stopping bool
		want     string
	}{
		{"broker lost while running", false, `level=WARN msg="connection to the broker lost; reconnecting"`},
		{"owner stopping", true, `level=DEBUG msg="connection to the broker lost; reconnecting"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", AllowAnonymous: true}, nil)
			if err != nil {
				t.Fatal(err)
			}
			bctx, stopBroker := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); _ = b.Run(bctx) }()
			defer func() { stopBroker(); <-done }()
			<-b.Ready()

			owner, stop := context.WithCancel(context.Background())
			defer stop()
			var logs lockedBuffer
			c, err := mqttc.New(mqttc.Options{URL: "tcp://" + b.Addr(), ClientID: "c1", Context: owner,
				Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(0)
			if err := c.WaitConnected(owner); err != nil {
				t.Fatal(err)
			}
			if tc.stopping {
				stop()
			}
			stopBroker()
			<-done
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(logs.String(), tc.want) {
				if time.Now().After(deadline) {
					t.Fatalf("no %q in the client's log:\n%s", tc.want, logs.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}
