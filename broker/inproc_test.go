package broker_test

import (
	"context"
	"sync"
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
	b, stop := runInproc(t)
	conn, err := b.DialInternal()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stop("with an in-process client connecting")
	if _, err := b.DialInternal(); err == nil {
		t.Error("DialInternal after the stop: no error")
	}
}

// TestStopWhileInprocClientsDial stops brokers while in-process clients
// keep dialling. Under the race detector it catches an establish call
// that starts as mochi's Close begins waiting for its clients (the
// WaitGroup Add-during-Wait race a service reconnecting at shutdown hit).
func TestStopWhileInprocClientsDial(t *testing.T) {
	for i := range 20 {
		b, stop := runInproc(t)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					conn, err := b.DialInternal()
					if err != nil {
						return // stopped
					}
					defer conn.Close()
				}
			}()
		}
		time.Sleep(time.Duration(i%5) * time.Millisecond)
		stop("while clients dialled")
		wg.Wait()
	}
}

// runInproc starts a broker with a minute's connect timeout and returns
// it with a stop that cancels it and fails the test unless Run returns
// nil within 10 s.
func runInproc(t *testing.T) (*broker.Broker, func(while string)) {
	t.Helper()
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", AllowAnonymous: true, ConnectTimeout: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	<-b.Ready()
	return b, func(while string) {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the broker did not stop within 10 s %s", while)
		}
	}
}
