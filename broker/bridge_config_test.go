package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/wire"
)

func TestBridgeConfigErrors(t *testing.T) {
	edge, err := New(Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewBridge(edge, BridgeConfig{
		Name:   "bad name",
		Remote: "http://x",
		Topics: []BridgeTopic{
			{Pattern: "a/#/b", Direction: "sideways", QoS: 2},
			{Pattern: "", LocalPrefix: "a/+/"},
		},
		ReconnectMin: time.Minute, ReconnectMax: time.Second,
	}, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("NewBridge: %v, want a *ConfigError", err)
	}
	for _, want := range []string{"Name", "Remote", "ClientID", "Topics[0].Direction", "Topics[0].QoS",
		"Topics[0]: local filter", "Topics[1].LocalPrefix", "Topics[1]: an empty pattern", "ReconnectMin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: nothing about %s", err, want)
		}
	}
}

func TestParseBridgeTopic(t *testing.T) {
	for _, tc := range []struct {
		line string
		want BridgeTopic
		bad  bool
	}{
		{line: "topic a/# both 1 local/ remote/", want: BridgeTopic{Pattern: "a/#", Direction: Both, QoS: 1, LocalPrefix: "local/", RemotePrefix: "remote/"}},
		{line: "a/#", want: BridgeTopic{Pattern: "a/#", Direction: Out}},
		{line: "a/# in", want: BridgeTopic{Pattern: "a/#", Direction: In}},
		{line: "a/# in 1", want: BridgeTopic{Pattern: "a/#", Direction: In, QoS: 1}},
		{line: `topic "" out 1 fedgan/v1/c/c1/generator edge/c1/generator`, want: BridgeTopic{Direction: Out, QoS: 1, LocalPrefix: "fedgan/v1/c/c1/generator", RemotePrefix: "edge/c1/generator"}},
		{line: "a/# sideways 1", bad: true},
		{line: "a/# in 2", bad: true},
		{line: "a/# in 1 onlylocal", bad: true},
		{line: "topic", bad: true},
	} {
		got, err := ParseBridgeTopic(tc.line)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseBridgeTopic(%q) = %+v, want an error", tc.line, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseBridgeTopic(%q) = %+v, %v; want %+v", tc.line, got, err, tc.want)
		}
	}
}

// The standard uplink in one place, as the edge and cloud will use it.
func ExampleParseBridgeTopic() {
	t := wire.Topics{}
	for _, line := range []string{
		"topic " + t.Generator("c1") + " out 1",
		"topic " + t.GlobalModel() + " in 1",
	} {
		bt, err := ParseBridgeTopic(line)
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s %s qos %d\n", bt.Pattern, bt.Direction, bt.QoS)
	}
	// Output:
	// fedgan/v1/c/c1/generator out qos 1
	// fedgan/v1/global/model in qos 1
}
