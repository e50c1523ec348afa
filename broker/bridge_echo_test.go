package broker

import (
	"fmt"
	"testing"
)

// TestEchoFilter runs expect and consume in turn: each expected message is
// dropped once when it comes back, by topic and payload.
func TestEchoFilter(t *testing.T) {
	type op struct {
		expect         bool // expect, else consume
		topic, payload string
		want           bool // consume's result
	}
	for _, tc := range []struct {
		name string
		ops  []op
	}{
		{"nothing expected", []op{{false, "a", "1", false}}},
		{"once", []op{{true, "a", "1", false}, {false, "a", "1", true}, {false, "a", "1", false}}},
		{"other payload", []op{{true, "a", "1", false}, {false, "a", "2", false}, {false, "a", "1", true}}},
		{"other topic", []op{{true, "a", "1", false}, {false, "b", "1", false}, {false, "a", "1", true}}},
		{"twice, twice", []op{{true, "a", "1", false}, {true, "a", "1", false}, {false, "a", "1", true}, {false, "a", "1", true}, {false, "a", "1", false}}},
		{"out of order", []op{{true, "a", "1", false}, {true, "b", "2", false}, {false, "b", "2", true}, {false, "a", "1", true}}},
	} {
		var e echoFilter
		for i, o := range tc.ops {
			if o.expect {
				e.expect(o.topic, []byte(o.payload))
				continue
			}
			if got := e.consume(o.topic, []byte(o.payload)); got != o.want {
				t.Errorf("%s: op %d: consume(%q, %q) = %v, want %v", tc.name, i, o.topic, o.payload, got, o.want)
			}
		}
	}
}

// TestEchoFilterBound checks that the filter keeps the newest echoMax
// expectations: the oldest is forgotten.
func TestEchoFilterBound(t *testing.T) {
	var e echoFilter
	for i := 0; i <= echoMax; i++ { // echoMax+1 messages
		e.expect("t", []byte(fmt.Sprint(i)))
	}
	if e.consume("t", []byte("0")) {
		t.Errorf("message 0 still expected after %d newer ones", echoMax)
	}
	for _, i := range []int{1, echoMax} {
		if !e.consume("t", []byte(fmt.Sprint(i))) {
			t.Errorf("message %d no longer expected", i)
		}
	}
}

// TestWillEcho checks which remote topics come back through the bridge's
// inbound subscriptions.
func TestWillEcho(t *testing.T) {
	b := &Bridge{cfg: BridgeConfig{Topics: []BridgeTopic{
		{Pattern: "x/#", Direction: Both, RemotePrefix: "r/"},
		{Pattern: "m", Direction: In},
		{Pattern: "g", Direction: Out},
	}}}
	for _, tc := range []struct {
		topic string
		want  bool
	}{
		{"r/x/a", true}, // both
		{"x/a", false},  // the local side's name
		{"m", true},     // an in pattern that an out message also matches
		{"g", false},    // out only
		{"r/y", false},
	} {
		if got := b.willEcho(tc.topic); got != tc.want {
			t.Errorf("willEcho(%q) = %v, want %v", tc.topic, got, tc.want)
		}
	}
}
