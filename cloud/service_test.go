package cloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/clock"
	"github.com/fedgan/fedgan/wire"
)

// t0 is where the fake clock starts.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// wait bounds every wait for a network event; only the service's time is fake.
const wait = 30 * time.Second

const twoCommunities = `
name: timeouts
model: {latent: 2, data_dim: 2, generator: [4], discriminator: [4]}
training: {global_rounds: 3, local_iters: 1, round_timeout: 60s}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
  - {id: b, data: {kind: gaussian, means: [[1, 1]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`

// cloudRun is a cloud service on a fake clock. The test plays the edges
// in-process on the cloud's broker: it publishes their updates there and
// receives every global model and status, each once (subscribed before
// the service runs, so no retained copy comes besides the live one).
type cloudRun struct {
	top    *config.Topology
	svc    *cloud.Service
	clock  *clock.Fake
	topics wire.Topics
	models chan *wire.GlobalModel
	status chan cloud.Status
	rounds chan cloud.Progress
	out    string // the results folder
}

func startCloud(t *testing.T, yaml string) *cloudRun {
	t.Helper()
	top, err := config.FromBytes([]byte(yaml), "timeouts.yaml", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	r := &cloudRun{top: top, clock: clock.NewFake(t0), topics: wire.Topics{Root: top.Root},
		models: make(chan *wire.GlobalModel, 16), status: make(chan cloud.Status, 16), rounds: make(chan cloud.Progress, 16), out: t.TempDir()}
	r.svc, err = cloud.New(top, cloud.Options{
		Listen: "127.0.0.1:0", Output: r.out, State: t.TempDir(), Clock: r.clock, StatusEvery: time.Second,
		OnRound: func(p cloud.Progress) { r.rounds <- p },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{r.topics.GlobalModel(), r.topics.GlobalStatus()} {
		if err := r.svc.Broker().Subscribe(topic, r.onMessage(t)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cloud: %v", err)
		}
	})
	select {
	case <-r.svc.Ready():
	case <-time.After(wait):
		t.Fatal("cloud did not start")
	}
	return r
}

// onMessage runs on the publisher's goroutine: it must not block long.
func (r *cloudRun) onMessage(t *testing.T) func(string, []byte) {
	spec := r.top.Spec()
	return func(topic string, payload []byte) {
		if topic == r.topics.GlobalStatus() {
			var st cloud.Status
			if err := json.Unmarshal(payload, &st); err != nil {
				t.Errorf("status: %v", err)
			}
			r.status <- st
			return
		}
		tp, err := r.topics.Parse(topic)
		if err != nil {
			t.Errorf("topic %s: %v", topic, err)
			return
		}
		m, err := wire.DecodeGlobalModel(payload, spec, tp)
		if err != nil {
			t.Errorf("global model: %v", err)
			return
		}
		r.models <- m
	}
}

func (r *cloudRun) model(t *testing.T) *wire.GlobalModel {
	t.Helper()
	select {
	case m := <-r.models:
		return m
	case <-time.After(wait):
		t.Fatal("no global model")
		return nil
	}
}

// noModel checks that no global model has been published since the last
// one read; the service publishes a model before the status that follows.
func (r *cloudRun) noModel(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.models:
		t.Fatalf("global model of round %d published", m.Round)
	default:
	}
}

// statusUntil advances the clock a status period at a time until the
// published status satisfies ok. Each step waits for a status of the time
// it moved to (older ones, of ticks taken late, are skipped): the tick it
// causes, or one still pending, is taken after the clock moved. Between
// steps it lets real time pass (statusPace), so that a message the test
// published reaches the service (through the broker and the service's
// client) before the fake clock has run through the round's timeout: the
// steps themselves take microseconds, and an update published just before
// was sometimes still on its way after 60 of them (3 runs in 30).
func (r *cloudRun) statusUntil(t *testing.T, ok func(cloud.Status) bool) cloud.Status {
	t.Helper()
	for range 50 {
		time.Sleep(statusPace)
		r.clock.Advance(time.Second)
		now := r.clock.Now()
		for {
			var st cloud.Status
			select {
			case st = <-r.status:
			case <-time.After(wait):
				t.Fatalf("no status at %v", now.Sub(t0))
			}
			if st.Time.Equal(now) {
				if ok(st) {
					return st
				}
				break
			}
		}
	}
	t.Fatal("status never as wanted")
	return cloud.Status{}
}

// statusPace is the real time statusUntil lets pass before each step.
const statusPace = 20 * time.Millisecond

// timeout waits until the loop waits on the round's deadline, then moves
// the clock to it.
func (r *cloudRun) timeout(t *testing.T, at time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := r.clock.WaitArmed(ctx, at); err != nil {
		t.Fatalf("no timer armed at %v: %v", at.Sub(t0), err)
	}
	r.clock.Set(at)
}

func (r *cloudRun) publishUpdate(t *testing.T, community string, round int) {
	t.Helper()
	g, err := deploy.Generator(r.top, rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := wire.AppendGeneratorUpdate(nil, &wire.GeneratorUpdate{V: wire.Version, Community: community, Round: round, Loss: 0.5, Iters: 1, Params: fed.ParamTensors(g.Params())})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Broker().Publish(r.topics.Generator(community), p, false, 1); err != nil {
		t.Fatal(err)
	}
}

// TestCloudRoundTimeout: the round timeout, the status period and the
// elapsed times all run on the service's clock. A round with no update is
// re-announced when it times out; a round with some closes without the rest.
func TestCloudRoundTimeout(t *testing.T) {
	r := startCloud(t, twoCommunities)
	if m := r.model(t); m.Round != 0 || m.Final {
		t.Fatalf("first model: round %d, final %v; want round 0", m.Round, m.Final)
	}

	// No update in 60s: the same round is announced again and reopened.
	r.timeout(t, t0.Add(60*time.Second))
	if m := r.model(t); m.Round != 0 {
		t.Fatalf("re-announced model: round %d, want 0", m.Round)
	}
	select {
	case p := <-r.rounds:
		t.Fatalf("round %d closed without an update", p.Round)
	default:
	}

	// One community answers; the status shows it, on the fake clock.
	r.publishUpdate(t, "a", 0)
	st := r.statusUntil(t, func(st cloud.Status) bool { return st.Cloud.Updates == 1 })
	if st.Cloud.Timeouts != 1 || st.Cloud.Empty != 1 {
		t.Errorf("status: %d timeouts, %d empty; want 1, 1", st.Cloud.Timeouts, st.Cloud.Empty)
	}
	if now := r.clock.Now(); !st.Time.Equal(now) || st.Elapsed != now.Sub(t0).Seconds() {
		t.Errorf("status at %v, elapsed %gs; want %v, %gs", st.Time, st.Elapsed, now, now.Sub(t0).Seconds())
	}
	r.noModel(t)

	// The reopened round times out 60s after it reopened, with a alone.
	r.timeout(t, t0.Add(120*time.Second))
	var p cloud.Progress
	select {
	case p = <-r.rounds:
	case <-time.After(wait):
		t.Fatal("round 0 did not close")
	}
	s := p.Summary
	if p.Round != 1 || p.Rounds != 3 || s.Round != 0 || !s.TimedOut || !slices.Equal(s.Missing, []string{"b"}) {
		t.Errorf("progress %d/%d, round %d, timed out %v, missing %v; want 1/3, round 0, timed out, missing [b]", p.Round, p.Rounds, s.Round, s.TimedOut, s.Missing)
	}
	if !s.Started.Equal(t0.Add(60*time.Second)) || !s.Closed.Equal(t0.Add(120*time.Second)) {
		t.Errorf("round open %v to %v; want +60s to +120s", s.Started.Sub(t0), s.Closed.Sub(t0))
	}
	if p.Elapsed != 120*time.Second || p.ETA != 240*time.Second {
		t.Errorf("elapsed %v, ETA %v; want 2m0s, 4m0s", p.Elapsed, p.ETA)
	}
	if m := r.model(t); m.Round != 1 || m.Final {
		t.Fatalf("next model: round %d, final %v; want round 1", m.Round, m.Final)
	}
	checkRoundsShown(t, r)
}

// checkRoundsShown: after the first round (index 0) has closed, what the
// cloud writes for people and tools counts it as round 1, like the
// progress line: metrics.jsonl's line, and the status's last round; the
// status's round in progress is round 2 (wire index 1).
func checkRoundsShown(t *testing.T, r *cloudRun) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var line struct {
		Round   int `json:"round"`
		Summary struct {
			Round int `json:"round"`
		} `json:"summary"`
	}
	if err := json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &line); err != nil {
		t.Fatal(err)
	}
	if line.Round != 1 || line.Summary.Round != 1 {
		t.Errorf("metrics.jsonl's first line: round %d, summary round %d; want 1, 1", line.Round, line.Summary.Round)
	}
	st := r.statusUntil(t, func(st cloud.Status) bool { return st.LastRound != nil })
	if st.Cloud.Round != 2 || st.LastRound.Round != 1 {
		t.Errorf("status: round %d, last round %d; want 2, 1", st.Cloud.Round, st.LastRound.Round)
	}
}
