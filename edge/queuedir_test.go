package edge

import (
	"path/filepath"
	"testing"

	"github.com/fedgan/fedgan/config"
)

// TestQueueDir: edge.bridge.queue_dir is where the bridge queues when the
// file sets it; otherwise the queue follows the state folder, also when
// Options.State moves it.
func TestQueueDir(t *testing.T) {
	state := filepath.Join("state", "c1")
	for _, tc := range []struct {
		name, queueDir, state, want string
	}{
		{"default", filepath.Join(state, "bridge"), state, filepath.Join(state, "bridge")},
		{"state moved", filepath.Join(state, "bridge"), "/var/lib/fedgan/c1", "/var/lib/fedgan/c1/bridge"},
		{"set in the file", "/data/queue", state, "/data/queue"},
		{"set, state moved", "/data/queue", "/var/lib/fedgan/c1", "/data/queue"},
	} {
		s := &Service{comm: &config.Community{ID: "c1"}, state: tc.state}
		s.comm.Edge.State = state
		s.comm.Edge.Bridge.QueueDir = tc.queueDir
		if got := s.queueDir(); got != tc.want {
			t.Errorf("%s: queue in %s, want %s", tc.name, got, tc.want)
		}
	}
}
