package broker

// The bridge's uplink: one paho session at a time, with a jittered
// backoff between them, sending the queue head by head.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fedgan/fedgan/internal/mqttc"
)

// errLost ends a session whose connection dropped; errAckTimeout one
// whose remote did not acknowledge in time.
var (
	errLost       = errors.New("connection lost")
	errAckTimeout = errors.New("no acknowledgement")
)

// connectLoop keeps one session up at a time until ctx is done. Each
// session is a fresh paho client (paho's own reconnect is off: its
// resumed tokens complete without an acknowledgement, and its backoff has
// no jitter).
func (b *Bridge) connectLoop(ctx context.Context, q *queue) error {
	backoff := b.cfg.ReconnectMin
	for ctx.Err() == nil {
		up, stuck, err := b.session(ctx, q)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		switch {
		case up && !stuck:
			backoff = b.cfg.ReconnectMin
			wait = jitter(backoff)
			b.log.Warn("bridge connection lost", "error", err, "retry_in", wait)
		case up:
			// The connection ended while the head was in flight and nothing
			// was delivered: a remote that refuses this message (ACL, size)
			// must not get a reconnect per second. Back off, keep it queued.
			wait = jitter(backoff)
			backoff = min(2*backoff, b.cfg.ReconnectMax)
			_, m, _ := q.peek()
			attrs := []any{"error", err, "retry_in", wait}
			if m != nil {
				attrs = append(attrs, "topic", m.Topic, "bytes", len(m.Payload))
			}
			b.log.Warn("bridge: connection ended before the queue head was acknowledged; is it allowed on the remote?", attrs...)
		default:
			wait = jitter(backoff)
			backoff = min(2*backoff, b.cfg.ReconnectMax)
			// Every attempt, with its reason (the backoff bounds them).
			b.log.Warn("bridge cannot connect", "remote", b.cfg.Remote, "why", mqttc.Why(err), "error", err, "retry_in", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return nil
}

// jitter returns a duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// session connects once and forwards until the connection drops or ctx is
// done. up reports whether the connection was established, stuck whether
// it ended with a publish outstanding and none delivered.
func (b *Bridge) session(ctx context.Context, q *queue) (up, stuck bool, err error) {
	lost := make(chan struct{})
	var lostOnce sync.Once
	var lostErr error
	c := paho.NewClient(b.clientOptions(ctx.Done(), func(err error) {
		lostOnce.Do(func() { lostErr = err; close(lost) })
	}))
	tok := c.Connect()
	<-tok.Done() // bounded by ConnectTimeout
	if err := tok.Error(); err != nil {
		b.connectFailures.Add(1)
		return false, false, err
	}
	b.connects.Add(1)
	defer c.Disconnect(250)

	if filters := b.inFilters(); len(filters) > 0 {
		st := c.SubscribeMultiple(filters, nil)
		timer := time.NewTimer(b.cfg.AckTimeout)
		defer timer.Stop()
		select {
		case <-st.Done():
		case <-timer.C:
			return true, false, fmt.Errorf("%w: subscription not acknowledged in %v", errAckTimeout, b.cfg.AckTimeout)
		case <-lost:
			b.lost.Add(1)
			return true, false, lostErr
		case <-ctx.Done():
			return true, false, nil
		}
		if err := st.Error(); err != nil {
			return true, false, fmt.Errorf("subscribe: %w", err)
		}
		for f, code := range st.(*paho.SubscribeToken).Result() {
			if code > 1 {
				b.log.Error("bridge: remote refused subscription", "filter", f, "code", code)
			}
		}
	}
	b.connected.Store(true)
	b.notify(true)
	b.log.Info("bridge connected", "remote", b.cfg.Remote)
	defer func() {
		b.connected.Store(false)
		b.notify(false)
	}()

	delivered, inflight, err := b.send(ctx, c, q, lost)
	if errors.Is(err, errLost) {
		b.lost.Add(1)
		err = lostErr
	}
	return true, inflight && delivered == 0, err
}

func (b *Bridge) clientOptions(stop <-chan struct{}, onLost func(error)) *paho.ClientOptions {
	o := paho.NewClientOptions().
		AddBroker(b.cfg.Remote).
		SetClientID(b.cfg.ClientID).
		SetProtocolVersion(4). // or paho retries a refused connect as MQTT 3.1
		SetCleanSession(b.cfg.CleanSession).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(b.cfg.KeepAlive).
		SetConnectTimeout(b.cfg.ConnectTimeout).
		SetWriteTimeout(b.cfg.ConnectTimeout).
		SetOrderMatters(true). // inbound order is kept; the handler only hands over to republish
		SetAutoAckDisabled(true).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { b.fromRemote(m, stop) }).
		SetConnectionLostHandler(func(_ paho.Client, err error) { onLost(err) })
	if b.cfg.Username != "" {
		o.SetUsername(b.cfg.Username)
		o.SetPassword(b.cfg.Password)
	}
	if b.tls != nil {
		o.SetTLSConfig(b.tls)
	}
	return o
}

func (b *Bridge) inFilters() map[string]byte {
	m := map[string]byte{}
	for _, t := range b.cfg.Topics {
		if t.Direction.in() {
			f := t.RemotePrefix + t.Pattern
			m[f] = max(m[f], t.QoS)
		}
	}
	return m
}

// send delivers the queue head by head: publish, wait for the PUBACK,
// then remove. A message is removed only after the remote acknowledged it,
// so a connection that drops mid-way makes it go again on the next
// session (a possible duplicate, counted in Redelivered). It returns how
// many messages it delivered and whether one was outstanding at the end.
func (b *Bridge) send(ctx context.Context, c paho.Client, q *queue, lost <-chan struct{}) (delivered int, inflight bool, err error) {
	for {
		seq, m, ok := q.peek()
		if !ok {
			select {
			case <-q.notify:
				continue
			case <-lost:
				return delivered, false, errLost
			case <-ctx.Done():
				return delivered, false, nil
			}
		}
		if seq == b.lastAttempt {
			b.redelivered.Add(1)
		}
		b.lastAttempt = seq
		if b.willEcho(m.Topic) {
			b.echo.expect(m.Topic, m.Payload)
		}
		tok := c.Publish(m.Topic, m.QoS, m.Retain, m.Payload)
		timer := time.NewTimer(b.cfg.AckTimeout)
		select {
		case <-tok.Done():
			timer.Stop()
			if err := tok.Error(); err != nil {
				return delivered, true, fmt.Errorf("publish %q: %w", m.Topic, err)
			}
			q.remove(seq)
			b.sent.Add(1)
			delivered++
		case <-timer.C:
			return delivered, true, fmt.Errorf("%w: publish %q not acknowledged in %v", errAckTimeout, m.Topic, b.cfg.AckTimeout)
		case <-lost:
			timer.Stop()
			return delivered, true, errLost
		case <-ctx.Done():
			timer.Stop()
			return delivered, true, nil
		}
	}
}
