package fed

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// TestStartQuorum: an edge opens no iteration of its first round until
// StartDevices of its devices are online, or until StartTimeout after the
// first global model, then starts with whoever is online; sync and async
// alike.
func TestStartQuorum(t *testing.T) {
	t0 := time.Unix(100, 0)
	for _, mode := range []Mode{Sync, Async} {
		for _, tc := range []struct {
			name   string
			online []string // after the first one, in order, 1 s apart
			want   int      // batches once they are online, before the timeout
		}{
			{"all come", []string{"b", "c"}, 1},
			{"one stays away", []string{"b"}, 0},
		} {
			t.Run(mode.String()+"/"+tc.name, func(t *testing.T) {
				e, err := classEdge(t, func(c *EdgeConfig) {
					c.Devices, c.Mode = []string{"a", "b", "c"}, mode
					c.StartDevices, c.StartTimeout = 3, 10*time.Second
				})
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Presence(t0, "a", true); err != nil {
					t.Fatal(err)
				}
				if err := e.Global(t0, &Global{Round: 0, Params: nn.Flatten(nil, e.cfg.Gen.Params())}); err != nil {
					t.Fatal(err)
				}
				if n := len(e.Ready().Batches); n != 0 {
					t.Fatalf("%d batches with 1 of 3 devices online", n)
				}
				if d, ok := e.Deadline(); !ok || !d.Equal(t0.Add(10*time.Second)) {
					t.Errorf("deadline %v %v, want the start timeout", d, ok)
				}
				if notes := e.Ready().Notes; len(notes) == 0 || !strings.Contains(notes[len(notes)-1].Msg, "waiting for devices") {
					t.Errorf("notes %v, want the wait noted", notes)
				}
				for i, d := range tc.online {
					if err := e.Presence(t0.Add(time.Duration(i+1)*time.Second), d, true); err != nil {
						t.Fatal(err)
					}
				}
				if n := len(e.Ready().Batches); n != tc.want {
					t.Fatalf("%d batches with %d of 3 devices online, want %d", n, 1+len(tc.online), tc.want)
				}
				if tc.want == 0 {
					e.Tick(t0.Add(9 * time.Second))
					if n := len(e.Ready().Batches); n != 0 {
						t.Fatalf("%d batches before the timeout", n)
					}
				}
				e.Tick(t0.Add(10 * time.Second))
				if n := len(e.Ready().Batches); n < 1 {
					t.Fatal("no batch after the timeout (it starts with whoever is online)")
				}
				if !e.started {
					t.Error("not started after the timeout")
				}
			})
		}
	}
	if _, err := classEdge(t, func(c *EdgeConfig) { c.StartDevices, c.StartTimeout = 2, time.Second }); err == nil {
		t.Error("a start quorum of 2 of 1 device was accepted")
	}
	if _, err := classEdge(t, func(c *EdgeConfig) { c.StartDevices = 1 }); err == nil {
		t.Error("a start quorum without a timeout was accepted")
	}
}

// TestStaleUpdateIs: the cloud's late and duplicate updates are
// ErrStaleUpdate (the services log them as re-sends, not faults); the
// others are not.
func TestStaleUpdateIs(t *testing.T) {
	for _, tc := range []struct {
		err   error
		stale bool
	}{
		{staleUpdate{errors.New("fed: duplicate update from a for round 1")}, true},
		{fmt.Errorf("wrapped: %w", staleUpdate{errors.New("x")}), true},
		{errors.New("fed: update from unknown community"), false},
	} {
		if got := errors.Is(tc.err, ErrStaleUpdate); got != tc.stale {
			t.Errorf("%v: Is(ErrStaleUpdate) = %v, want %v", tc.err, got, tc.stale)
		}
	}
}
