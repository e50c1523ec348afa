package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoadShippedConfigs(t *testing.T) {
	for _, f := range []string{"../configs/gaussian.yaml"} {
		t.Run(f, func(t *testing.T) {
			top, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(top.Communities), 9; got != want {
				t.Errorf("communities: got %d, want %d", got, want)
			}
			for _, c := range top.Communities {
				if got, want := len(c.Devices), 5; got != want {
					t.Errorf("%s devices: got %d, want %d", c.ID, got, want)
				}
			}
			d, c, j, err := top.Device("c3-d2")
			if err != nil || c.ID != "c3" || j != 1 || d.ID != "c3-d2" {
				t.Errorf("Device(c3-d2) = %v, %v, %d, %v", d, c, j, err)
			}
			if top.Limits.MaxPayload <= 2*4*64*2 {
				t.Errorf("max payload %d is below one batch", top.Limits.MaxPayload)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	top, err := FromBytes([]byte(`
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 2}
`), "inline", "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	tr := top.Training
	checks := []struct {
		name      string
		got, want any
	}{
		{"batch", tr.BatchSize, 64},
		{"mode", tr.Mode, "sync"},
		{"weights", tr.Weights, "exact"},
		{"staleness", tr.Staleness, "time"},
		{"sync period", tr.SyncPeriod.D(), 5 * time.Second},
		{"device timeout", tr.DeviceTimeout.D(), 15 * time.Second},
		{"beta1", tr.Beta1, 0.5},
		{"root", top.Root, "fedgan/v1"},
		{"device id", top.Communities[0].Devices[1].ID, "a-d2"},
		{"bridge remote", top.Communities[0].Edge.Bridge.Remote, "tcp://127.0.0.1:1883"},
		{"path", top.Path("x/y"), "/cfg/x/y"},
		{"gen spec len", len(top.GeneratorSpec()), 3},
		{"disc out", top.DiscriminatorSpec()[2].Out, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestAllProblemsReported checks that unknown keys and bad values are
// reported together, each naming its key or line.
func TestAllProblemsReported(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want *config.Error", err)
	}
	want := []string{
		"field colour not found",
		"line 13", // sync_period: soon
		"scenario: \"frr\"",
		"model.latent: must be > 0",
		"training.local_iters: must be > 0",
		"training.mode: \"sometimes\"",
		"communities[0].id",
		"means[0]: has 3 coordinates",
		"communities[c2].data.std",
		"communities[c2].edge: needs credentials",
		"duplicate device id",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	if !strings.HasPrefix(msg, "testdata/bad.yaml:") {
		t.Errorf("error does not start with the file name: %s", msg)
	}
}

func TestEmptyAndUnknownIDs(t *testing.T) {
	if _, err := FromBytes([]byte("  \n"), "empty.yaml", ""); err == nil || !strings.Contains(err.Error(), "empty file") {
		t.Errorf("empty: got %v", err)
	}
	top, err := Load("../configs/gaussian.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := top.Device("nope"); err == nil || !strings.Contains(err.Error(), `no device "nope"`) {
		t.Errorf("unknown device: got %v", err)
	}
	if _, err := top.Community("zz"); err == nil || !strings.Contains(err.Error(), "have c1, c2") {
		t.Errorf("unknown community: got %v", err)
	}
}

func TestParsePasswordFile(t *testing.T) {
	hash := "$2a$10$abcdefghijklmnopqrstuv"
	tests := []struct {
		in      string
		wantErr string
		users   int
	}{
		{"# comment\n\na:" + hash + "\nb:" + hash + "\n", "", 2},
		{"a:plain\n", "pw:1: want", 0},
		{"a:" + hash + "\na:" + hash + "\n", "listed twice", 0},
	}
	for _, tt := range tests {
		u, err := ParsePasswordFile([]byte(tt.in), "pw")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: got %v, want error with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(u) != tt.users {
			t.Errorf("%q: got %d users, %v; want %d", tt.in, len(u), err, tt.users)
		}
	}
}
