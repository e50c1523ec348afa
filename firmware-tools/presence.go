package firmwaretools

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// WatchOptions say where a device's presence is published.
type WatchOptions struct {
	// URL is the edge broker (tcp://, ssl://, ws://).
	URL string
	// Root, Community and Device name the presence topic.
	Root, Community, Device string
	// Username and Password log in (a monitor account); empty connects
	// anonymously.
	Username, Password string
	// CAFile verifies an ssl:// edge.
	CAFile string
	// Version, if not "" or "dev", is the agent version expected online:
	// an online message from another version (an old agent reconnecting)
	// does not count.
	Version string
}

// PresenceWatch follows a device's retained presence topic.
type PresenceWatch struct {
	opts   WatchOptions
	topic  string
	client *mqttc.Client
	msgs   chan presenceMsg
}

type presenceMsg struct {
	p        *wire.Presence
	retained bool
	err      error
}

// WatchPresence connects to the edge and subscribes to the device's
// presence. It returns once subscribed: a message received after that
// without the retained flag was published after the call (MQTT 3.1.1
// clears the flag on live delivery [MQTT-3.3.1-9]).
func WatchPresence(ctx context.Context, o WatchOptions) (*PresenceWatch, error) {
	topics := wire.Topics{Root: o.Root}
	w := &PresenceWatch{opts: o, topic: topics.Presence(o.Community, o.Device), msgs: make(chan presenceMsg, 64)}
	var nonce [6]byte
	rand.Read(nonce[:])
	parsed, err := topics.Parse(w.topic)
	if err != nil {
		return nil, fmt.Errorf("firmwaretools: presence topic: %w", err)
	}
	c, err := mqttc.New(mqttc.Options{
		URL: o.URL, ClientID: "fedgan-fw-" + hex.EncodeToString(nonce[:]), Username: o.Username, Password: o.Password,
		CAFile:        o.CAFile,
		Subscriptions: map[string]byte{w.topic: 1},
		OnMessage: func(topic string, payload []byte, retained bool) {
			p, err := wire.DecodePresence(payload, nil, parsed)
			select {
			case w.msgs <- presenceMsg{p: p, retained: retained, err: err}:
			default: // a flood of presence messages: keep the first 64
			}
		},
		MaxReconnect: time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("firmwaretools: watching %s: %w", o.URL, err)
	}
	w.client = c
	if err := c.WaitConnected(ctx); err != nil {
		c.Close(0)
		return nil, fmt.Errorf("%w: cannot watch the presence on the edge broker %s (give one this machine reaches with --edge-url, or --wait -1 not to wait): %w", ErrTimeout, o.URL, err)
	}
	return w, nil
}

// Close disconnects.
func (w *PresenceWatch) Close() { w.client.Close(100 * time.Millisecond) }

// WaitOnline waits up to timeout for a live "online" presence. It fails
// with a *PresenceError wrapping ErrOffline when the last live state seen
// was offline, or ErrTimeout otherwise.
func (w *PresenceWatch) WaitOnline(ctx context.Context, timeout time.Duration) (*wire.Presence, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	last := ""
	kind := ErrTimeout
	for {
		select {
		case m := <-w.msgs:
			switch {
			case m.err != nil:
				last = "undecodable (" + m.err.Error() + ")"
			case m.retained:
				// The state before the service started: not an answer.
			case m.p.State == wire.StateOnline && w.versionOK(m.p.Agent):
				return m.p, nil
			case m.p.State == wire.StateOnline:
				last = fmt.Sprintf("online, but agent version %s (the bundle's is %s)", m.p.Agent, w.opts.Version)
				kind = ErrTimeout
			default:
				last, kind = m.p.State, ErrOffline
			}
		case <-t.C:
			return nil, &PresenceError{Device: w.opts.Device, Topic: w.topic, Kind: kind, Last: last, Waited: timeout.String()}
		case <-ctx.Done():
			return nil, &PresenceError{Device: w.opts.Device, Topic: w.topic, Kind: ErrTimeout, Last: last, Waited: "the end of the context (" + ctx.Err().Error() + ")"}
		}
	}
}

func (w *PresenceWatch) versionOK(v string) bool {
	want := w.opts.Version
	return want == "" || want == "dev" || v == "" || v == want
}
