package local

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"
)

// TestTierWaitSaysWhenSlow: a tier that stops at once logs nothing; one
// that takes longer than the limit says what the run waits for, then that
// it has stopped, and its error comes through either way.
func TestTierWaitSaysWhenSlow(t *testing.T) {
	boom := errors.New("boom")
	for _, c := range []struct {
		name  string
		takes time.Duration
		want  []string
	}{
		{"prompt", 0, nil},
		{"slow", 150 * time.Millisecond, []string{`msg="stopping is slow: still waiting for services to close their connections" tier=edges after=50ms`, `msg="services stopped" tier=edges`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			var tr tier
			tr.g, tr.ctx = errgroup.WithContext(context.Background())
			tr.g.Go(func() error { time.Sleep(c.takes); return boom })
			if err := tr.wait(slog.New(slog.NewTextHandler(&buf, nil)), "edges", 50*time.Millisecond); !errors.Is(err, boom) {
				t.Errorf("wait: %v, want %v", err, boom)
			}
			got := buf.String()
			if len(c.want) == 0 && got != "" {
				t.Errorf("logged %q for a prompt stop", got)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("log %q lacks %q", got, w)
				}
			}
		})
	}
}
