package sim

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// TestRunContextCancel checks that a cancelled context stops a run
// between events with the context's error, long before its last round.
func TestRunContextCancel(t *testing.T) {
	top, err := config.FromBytes([]byte(strings.Replace(small, "%s", "community", 1)), "small", "")
	if err != nil {
		t.Fatal(err)
	}
	top.Training.GlobalRounds = 1000
	ctx, cancel := context.WithCancel(context.Background())
	rounds := 0
	s, err := New(top, Options{OnRound: func(fed.RoundSummary, *nn.Sequential) {
		if rounds++; rounds == 2 {
			cancel()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if rounds >= 10 {
		t.Fatalf("ran %d rounds after the cancel at round 2", rounds)
	}
}
