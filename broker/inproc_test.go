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

// TestStopWhileInprocClientsDial stops brokers while in-process clients
// keep dialling. Under the race detector it catches an establish call
// that starts as mochi's Close begins waiting for its clients (the
// WaitGroup Add-during-Wait race a service reconnecting at shutdown hit).
func TestStopWhileInprocClientsDial(t *testing.T) {
	for i := range 20 {
		b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", AllowAnonymous: true, ConnectTimeout: time.Minute}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- b.Run(ctx) }()
		<-b.Ready()
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
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("stop %d: the broker did not stop within 10 s while clients dialled", i)
		}
		wg.Wait()
	}
}
