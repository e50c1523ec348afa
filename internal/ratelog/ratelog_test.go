package ratelog

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	l := &Limiter{Every: time.Minute, Log: slog.New(slog.NewTextHandler(&buf, nil)), Now: func() time.Time { return now }}
	err := errors.New("bad")
	steps := []struct {
		advance   time.Duration
		key       string
		reason    string
		wantLines int
	}{
		{0, "d1", "malformed", 1},
		{time.Second, "d1", "malformed", 1},  // same sender within a minute: counted, not logged
		{time.Second, "d2", "shape", 2},      // another sender: logged
		{time.Minute, "d1", "non_finite", 3}, // a minute later: logged again
		{time.Second, "d1", "non_finite", 3},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		l.Drop(s.key, s.reason, err)
		if got := strings.Count(buf.String(), "message dropped"); got != s.wantLines {
			t.Errorf("step %d: got %d log lines, want %d", i, got, s.wantLines)
		}
	}
	want := map[string]int64{"malformed": 2, "shape": 1, "non_finite": 2}
	got := l.Counts()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("count %s: got %d, want %d", k, got[k], v)
		}
	}
	if l.Total() != 5 {
		t.Errorf("total: got %d, want 5", l.Total())
	}
	if !strings.Contains(buf.String(), "suppressed_since_last=1") {
		t.Errorf("the third log of d1 should say one was suppressed:\n%s", buf.String())
	}
}
