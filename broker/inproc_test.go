package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/fedgan/fedgan/broker"
)

// TestStopWithInprocClientConnecting: a broker stops promptly although an
// in-process client has dialled it and not yet sent its CONNECT (a
// service's client still connecting when the service is stopped): the
// pipe's server end is closed with the listener, not left to the connect
// timeout.
func TestStopWithInprocClientConnecting(t *testing.T) {
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", AllowAnonymous: true, ConnectTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	<-b.Ready()
	conn, err := b.DialInternal()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not stop within 10 s with an in-process client connecting")
	}
	if _, err := b.DialInternal(); err == nil {
		t.Error("DialInternal after the stop: no error")
	}
}
