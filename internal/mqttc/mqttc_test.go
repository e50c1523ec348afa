package mqttc_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
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
// in its log, once, while it keeps retrying.
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
			time.Sleep(600 * time.Millisecond) // two more attempts
			if n := strings.Count(logs.String(), "connection refused by the broker"); n != 1 {
				t.Errorf("%d refusal lines while retrying, want 1 (rate-limited):\n%s", n, logs.String())
			}
		})
	}
}
