package broker

import (
	"crypto/sha256"
	"sync"

	"github.com/fedgan/fedgan/wire"
)

// willEcho reports whether our own publish to remote topic will come back
// through one of our inbound subscriptions.
func (b *Bridge) willEcho(remote string) bool {
	for _, t := range b.cfg.Topics {
		if t.Direction.in() && wire.Match(t.RemotePrefix+t.Pattern, remote) {
			return true
		}
	}
	return false
}

// echoFilter remembers the last out messages that will come back through
// an inbound subscription (direction both, or overlapping in and out
// patterns; MQTT 3.1.1 has no "no local"), so that each is dropped once
// when it returns. It holds at most echoMax entries.
type echoFilter struct {
	mu   sync.Mutex
	keys []echoKey
}

type echoKey struct {
	topic string
	sum   [sha256.Size]byte
}

const echoMax = 256

func (e *echoFilter) expect(topic string, payload []byte) {
	k := echoKey{topic, sha256.Sum256(payload)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.keys) == echoMax {
		e.keys = append(e.keys[:0], e.keys[1:]...)
	}
	e.keys = append(e.keys, k)
}

func (e *echoFilter) consume(topic string, payload []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.keys) == 0 {
		return false
	}
	k := echoKey{topic, sha256.Sum256(payload)}
	for i, x := range e.keys {
		if x == k {
			e.keys = append(e.keys[:i], e.keys[i+1:]...)
			return true
		}
	}
	return false
}
