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
				comeOnline(t, e, t0, tc.online, tc.want, 10*time.Second, "batches", func() int { return len(e.Ready().Batches) })
				e.Tick(t0.Add(10 * time.Second))
				if n := len(e.Ready().Batches); n < 1 {
					t.Fatal("no batch after the timeout (it starts with whoever is online)")
				}
				if !e.start.started {
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

// TestAvgEdgeStartQuorum: a Fed GAN edge hands out its first round's
// model (and opens the round) only once StartDevices of its devices are
// online, or StartTimeout after the model arrived, and once only.
func TestAvgEdgeStartQuorum(t *testing.T) {
	t0 := time.Unix(100, 0)
	for _, tc := range []struct {
		name   string
		online []string // after d1, in order, 1 s apart
		want   int      // models handed out once they are online, before the timeout
	}{
		{"all come", []string{"d2", "d3"}, 1},
		{"one stays away", []string{"d2"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := must(NewAvgEdge(AvgEdgeConfig{Community: "c", Devices: []string{"d1", "d2", "d3"}, RoundWait: 10 * time.Second,
				LocalIters: 5, GenShapes: [][]int{{2}}, DiscShapes: [][]int{{1}}, StartDevices: 3, StartTimeout: 20 * time.Second}))
			must(0, e.Presence(t0, "d1", true))
			must(0, e.Global(t0, &Global{Round: 0, Params: []float32{0, 0}, DParams: []float32{0}}))
			if n := len(e.Ready().Models); n != 0 {
				t.Fatalf("%d models handed out with 1 of 3 devices online", n)
			}
			if d, ok := e.Deadline(); !ok || !d.Equal(t0.Add(20*time.Second)) {
				t.Errorf("deadline %v %v, want the start timeout", d, ok)
			}
			if notes := e.Ready().Notes; len(notes) == 0 || !strings.Contains(notes[len(notes)-1].Msg, "waiting for devices") {
				t.Errorf("notes %v, want the wait noted", notes)
			}
			if err := e.Local(t0, local("d1", 0, 10, 1, 1, 1)); err == nil {
				t.Error("a local model before the start was accepted")
			}
			comeOnline(t, e, t0, tc.online, tc.want, 20*time.Second, "models", func() int { return len(e.Ready().Models) })
			if tc.want == 0 {
				e.Tick(t0.Add(20 * time.Second))
				if n := len(e.Ready().Models); n != 1 {
					t.Fatalf("%d models after the timeout, want 1 (it starts with whoever is online)", n)
				}
			}
			start := t0.Add(time.Duration(len(tc.online)) * time.Second) // the last device's presence
			if tc.want == 0 {
				start = t0.Add(20 * time.Second) // the timeout
			}
			if d, ok := e.Deadline(); !ok || !d.Equal(start.Add(10*time.Second)) {
				t.Errorf("deadline %v %v, want the round's wait from %v", d, ok, start)
			}
			must(0, e.Presence(start, "d1", false))
			must(0, e.Presence(start, "d1", true))
			if n := len(e.Ready().Models); n != 1 {
				t.Errorf("%d models after a device came back, want the one handed out", n)
			}
		})
	}
	if _, err := NewAvgEdge(AvgEdgeConfig{Community: "c", Devices: []string{"d1"}, RoundWait: time.Second, LocalIters: 1,
		GenShapes: [][]int{{2}}, DiscShapes: [][]int{{1}}, StartDevices: 1}); err == nil {
		t.Error("a start quorum without a timeout was accepted")
	}
}

// comeOnline brings the devices online, 1 s apart from t0, on an edge
// with one of its three devices online and a start timeout of timeout,
// and checks that count (its batches or models) is want, and, when want
// is 0, that it is still 0 just before the timeout.
func comeOnline(t *testing.T, e interface {
	Presence(time.Time, string, bool) error
	Tick(time.Time)
}, t0 time.Time, online []string, want int, timeout time.Duration, what string, count func() int) {
	t.Helper()
	for i, d := range online {
		if err := e.Presence(t0.Add(time.Duration(i+1)*time.Second), d, true); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != want {
		t.Fatalf("%d %s with %d of 3 devices online, want %d", n, what, 1+len(online), want)
	}
	if want == 0 {
		e.Tick(t0.Add(timeout - time.Second))
		if n := count(); n != 0 {
			t.Fatalf("%d %s before the timeout", n, what)
		}
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
