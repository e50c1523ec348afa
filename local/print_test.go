package local

import (
	"testing"
	"time"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/edge"
	"github.com/fedgan/fedgan/fed"
)

func TestBytesHuman(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{12 << 10, "12.0 KiB"},
		{3 << 19, "1.5 MiB"},
		{2 << 30, "2.00 GiB"},
		{5<<30 + 1<<28, "5.25 GiB"},
	}
	for _, tt := range tests {
		if got := BytesHuman(tt.n); got != tt.want {
			t.Errorf("BytesHuman(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestSummary checks what a run measured and the lines printed from it:
// the broker bytes are the exact sum of every edge's counters, not the
// rounded figures printed.
func TestSummary(t *testing.T) {
	edgeStatus := func(id string, updates, feedback, in, out int64) edge.Status {
		return edge.Status{Community: id, Edge: fed.EdgeStats{Updates: updates, Feedback: feedback},
			Invalid: map[string]int64{}, Broker: broker.Stats{BytesReceived: in, BytesSent: out}}
	}
	r := &Result{Output: "out", Wall: 3*time.Second + 400*time.Millisecond,
		Cloud: cloud.Status{Cloud: fed.CloudStats{Round: 2}, Invalid: map[string]int64{"decode": 1}},
		Edges: []edge.Status{edgeStatus("c1", 4, 16, 3<<19, 12<<10), edgeStatus("c2", 4, 16, 2<<30, 10)}}
	if got, want := r.BrokerBytes(), int64(1.5*(1<<20)+12*(1<<10)+2*(1<<30)+10); got != want {
		t.Errorf("BrokerBytes = %d, want %d", got, want)
	}
	if r.Rounds() != 2 {
		t.Errorf("Rounds = %d, want 2", r.Rounds())
	}
	want := "done in 3s: 2 rounds; invalid messages decode=1\n" +
		"  edge c1     updates     4  feedback     16  late 0  partial 0  invalid none  broker in 1.5 MiB out 12.0 KiB\n" +
		"  edge c2     updates     4  feedback     16  late 0  partial 0  invalid none  broker in 2.00 GiB out 10 B\n" +
		"results in out: metrics.jsonl, generator.nnw, pictures\n"
	if got := r.Summary(); got != want {
		t.Errorf("Summary:\n%s\nwant:\n%s", got, want)
	}
	if got, want := (&Result{}).BrokerBytes(), int64(0); got != want {
		t.Errorf("no edges: BrokerBytes = %d", got)
	}
}

func TestLines(t *testing.T) {
	top := &config.Topology{Name: "t", Communities: []config.Community{{ID: "a", Devices: make([]config.Device, 2)}, {ID: "b", Devices: make([]config.Device, 1)}},
		Training: config.Training{GlobalRounds: 5, LocalIters: 7, Mode: "sync", Objective: "minimax"}}
	if got, want := Header(top), "fedgan run t: 2 communities, 3 devices, 5 rounds × 7 local iterations (sync, objective minimax)"; got != want {
		t.Errorf("Header = %q, want %q", got, want)
	}
	one := &config.Topology{Name: "u", Communities: []config.Community{{ID: "a", Devices: make([]config.Device, 1)}},
		Training: config.Training{GlobalRounds: 1, LocalIters: 1, Mode: "async", Objective: "minimax"}}
	if got, want := Header(one), "fedgan run u: 1 community, 1 device, 1 round × 1 local iteration (async, objective minimax)"; got != want {
		t.Errorf("Header = %q, want %q", got, want)
	}
	s := Started{CloudURL: "tcp://127.0.0.1:5", Edges: 2, EdgeURLs: []string{"tcp://127.0.0.1:6", "tcp://127.0.0.1:7"},
		Communities: []string{"a", "b"}, Root: "r/v1", After: 1234567 * time.Microsecond}
	want := `all devices started after 1.235s
  cloud broker tcp://127.0.0.1:5
  edge a broker tcp://127.0.0.1:6
  edge b broker tcp://127.0.0.1:7
watch it:
  fedgan watch -L tcp://127.0.0.1:5                      # the cloud: global model and status, generator updates
  mosquitto_sub -h 127.0.0.1 -p 5 -v -t 'r/v1/global/status'
  fedgan watch -L tcp://127.0.0.1:6 -t 'r/v1/c/a/#'   # community a: batches, feedback, presence, status
  mosquitto_sub -h 127.0.0.1 -p 6 -v -t 'r/v1/c/a/status' -t 'r/v1/c/a/presence/+'`
	if got := s.String(); got != want {
		t.Errorf("Started =\n%s\nwant\n%s", got, want)
	}
	tests := []struct {
		p    cloud.Progress
		want string
	}{
		{cloud.Progress{Round: 1, Rounds: 2, Elapsed: 1500 * time.Millisecond, ETA: 1400 * time.Millisecond},
			"round 1/2  elapsed 2s  ETA 1s"},
		{cloud.Progress{Round: 2, Rounds: 4, Summary: fed.RoundSummary{Losses: map[string]float64{"b": 1, "a": 0.5}, Missing: []string{"c"}},
			Eval: map[string]any{"modes_covered": 3, "modes": 4, "high_quality": 0.875}, Elapsed: time.Minute, ETA: time.Minute},
			"round 2/4  mean L_D*(G_k) 0.750  missing [c]  modes 3/4  high quality 87.5%  elapsed 1m0s  ETA 1m0s"},
		{cloud.Progress{Round: 3, Rounds: 3, Eval: map[string]any{"fid": float32(12.345)}},
			"round 3/3  FID 12.35  elapsed 0s  ETA 0s"},
		{cloud.Progress{Round: 3, Rounds: 3, Eval: map[string]any{"fid": nil}},
			"round 3/3  FID 0.00  elapsed 0s  ETA 0s"},
	}
	for _, tt := range tests {
		if got := ProgressLine(tt.p); got != tt.want {
			t.Errorf("ProgressLine = %q, want %q", got, tt.want)
		}
	}
}
