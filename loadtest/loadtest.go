package loadtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/device"
	"github.com/fedgan/fedgan/edge"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/wire"
)

// Models are the values of Options.Model.
var Models = []string{"gaussian", "mnist"}

// Options is one load test.
type Options struct {
	// Agents connected; Sample asked per iteration (0: all, the paper's
	// broadcast); Quorum closes an iteration (0: every asked device).
	Agents, Sample, Quorum int
	// Iterations timed (the edge's local iterations, one round).
	Iterations int
	// Model is "gaussian" (G 4→32→32→2, D 2→32→32→1) or "mnist" (the
	// reference MLPs: G 100→256→512→784, D 784→512→256→1; batches of
	// 64×784).
	Model string
	// Batch is B; default 64.
	Batch int
	// WireDType is training.wire_dtype: "f32" (default) or "bf16".
	WireDType string
	// Idle, if > 0, measures the edge's CPU time over this long with every
	// agent connected before training starts.
	Idle time.Duration
	// Procs is how many child processes run the agents; 0 runs them in
	// this process (then the CPU and memory figures include them).
	Procs int
	// Spawn starts one child process running agents [from, to) of the
	// topology file against url (the CLI re-executes itself); required
	// with Procs > 0. The child must stop when its stdin closes.
	Spawn func(ctx context.Context, topology, url string, from, to int) (Child, error)
	// OnConnected, if set, is called once every agent is online, before
	// training (the CLI writes a heap profile there).
	OnConnected func()
	// Dir holds the topology and the edge's state; default a temporary
	// folder, removed at the end.
	Dir string
	// Timeout bounds the whole test; default 10 minutes.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Child is a running agent process.
type Child interface {
	// Stop ends it and waits; it returns its CPU time.
	Stop() (time.Duration, error)
}

// Report is what a load test measured (docs/RESULTS.md's scale section
// explains each figure).
type Report struct {
	Model      string `json:"model"`
	Agents     int    `json:"agents"`
	Sample     int    `json:"sample"`
	Quorum     int    `json:"quorum"`
	WireDType  string `json:"wire_dtype"`
	Procs      int    `json:"agent_processes"`
	Iterations int    `json:"iterations"`

	// ConnectSeconds: from the first agent started to every one online.
	ConnectSeconds float64 `json:"connect_seconds"`
	// IdleCPUPerSecond: the edge's CPU seconds per second with every agent
	// connected and none asked (Options.Idle).
	IdleCPUPerSecond float64 `json:"idle_cpu_per_second,omitempty"`
	ItersPerSecond   float64 `json:"iterations_per_second"`
	// LatencyP50Ms and P99: time from one batch to the next (one sync
	// iteration: batch out, feedback in, update).
	LatencyP50Ms float64 `json:"iteration_latency_p50_ms"`
	LatencyP99Ms float64 `json:"iteration_latency_p99_ms"`
	// EdgeCPUPerIterMs: this process's CPU time per iteration (the edge
	// and its broker when the agents run in child processes).
	EdgeCPUPerIterMs float64 `json:"edge_cpu_per_iteration_ms"`
	// RSS of this process: before any agent, with every agent connected,
	// and its peak.
	RSSBaseMiB      float64 `json:"edge_rss_base_mib"`
	RSSConnectedMiB float64 `json:"edge_rss_connected_mib"`
	RSSPeakMiB      float64 `json:"edge_rss_peak_mib"`
	// RSSPerConnKiB is (connected − base) / agents.
	RSSPerConnKiB float64 `json:"edge_rss_per_connection_kib"`
	// Where the edge's memory is with every agent connected (Connected),
	// and at the end of Options.Idle (Idle): the Go runtime's view.
	Connected Mem  `json:"edge_mem_connected"`
	Idle      *Mem `json:"edge_mem_idle,omitempty"`
	// RSSIdlePerConnKiB is (RSS after the idle period − base) / agents.
	RSSIdlePerConnKiB float64 `json:"edge_rss_idle_per_connection_kib,omitempty"`
	// Broker bytes per timed iteration, and one encoded batch.
	BytesInPerIter  float64 `json:"broker_bytes_in_per_iteration"`
	BytesOutPerIter float64 `json:"broker_bytes_out_per_iteration"`
	BatchBytes      int     `json:"batch_bytes"`
	// OutPerBatch is BytesOutPerIter / BatchBytes.
	OutPerBatch float64 `json:"broker_out_per_batch"`
	// Every ask accounted for: answered in time, late (after its
	// iteration closed), or never (dropped: unanswered and not late).
	Asked      int64 `json:"asked"`
	Answered   int64 `json:"answered"`
	Late       int64 `json:"late"`
	Unanswered int64 `json:"unanswered"`
	Dropped    int64 `json:"dropped"`
	// AgentCPUSeconds is the child processes' CPU time in all.
	AgentCPUSeconds float64 `json:"agent_cpu_seconds,omitempty"`
	WallSeconds     float64 `json:"wall_seconds"`
}

func (o *Options) check() error {
	switch {
	case o.Agents < 1 || o.Agents > 100000:
		return fmt.Errorf("loadtest: agents %d, want 1 to 100000", o.Agents)
	case o.Sample < 0 || o.Sample > o.Agents:
		return fmt.Errorf("loadtest: sample %d, want 0 (all) to the %d agents", o.Sample, o.Agents)
	case o.Iterations < 2:
		return fmt.Errorf("loadtest: iterations %d, want at least 2", o.Iterations)
	case !slices.Contains(Models, o.Model):
		return fmt.Errorf("loadtest: model %q, want one of %s", o.Model, strings.Join(Models, ", "))
	case o.Procs < 0 || o.Procs > o.Agents:
		return fmt.Errorf("loadtest: %d agent processes for %d agents", o.Procs, o.Agents)
	case o.Procs > 0 && o.Spawn == nil:
		return errors.New("loadtest: Procs > 0 needs Spawn")
	}
	if o.Batch == 0 {
		o.Batch = 64
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Community is the id of the load test's one community.
const Community = "load"

// Topology is the YAML of a load test's topology: one community of
// agents devices on a loopback edge, one round of iterations.
func Topology(o Options) string {
	model := "{latent: 4, data_dim: 2, generator: [32, 32], discriminator: [32, 32]}"
	mean := "[0, 0]"
	dtype := o.WireDType
	if dtype == "" {
		dtype = "f32"
	}
	if o.Model == "mnist" {
		model = "{latent: 100, data_dim: 784, generator: [256, 512], discriminator: [512, 256], output: tanh}"
		mean = "[" + strings.TrimSuffix(strings.Repeat("0, ", 784), ", ") + "]"
	}
	return fmt.Sprintf(`name: loadtest
seed: 1
model: %s
training: {global_rounds: 1, local_iters: %d, batch_size: %d, mode: sync, sync_period: 30s, device_timeout: 1h, sample: %d, quorum: %d, round_timeout: 1h, wire_dtype: %s}
limits: {max_pending_connections: 4096}
cloud: {allow_anonymous: true}
communities:
  - id: %s
    data: {kind: gaussian, means: [%s], std: 1, samples: 64}
    edge: {listen: "127.0.0.1:0", allow_anonymous: true}
    device_count: %d
`, model, o.Iterations, o.Batch, o.Sample, o.Quorum, dtype, Community, mean, o.Agents)
}

// Synthetic is the data every agent of a process shares: the load test
// measures transport and the edge, not data.
func Synthetic(top *config.Topology) (*data.Dataset, error) {
	d := top.Model.DataDim
	rng := rand.New(rand.NewPCG(1, 1))
	rows := make([]float32, 256*d)
	for i := range rows {
		rows[i] = rng.Float32()*2 - 1
	}
	return data.NewNumeric("synthetic", d, rows, nil, 0)
}

// RunAgents runs agents [from, to) of top against url until ctx ends,
// sharing one synthetic dataset.
func RunAgents(ctx context.Context, top *config.Topology, url string, from, to int) error {
	ds, err := Synthetic(top)
	if err != nil {
		return err
	}
	devs := top.Communities[0].Devices
	if from < 0 || to > len(devs) || from >= to {
		return fmt.Errorf("loadtest: agents [%d, %d) of %d", from, to, len(devs))
	}
	var wg sync.WaitGroup
	errs := make(chan error, to-from)
	for _, d := range devs[from:to] {
		a, err := device.New(top, d.ID, device.Options{URL: url, Data: ds})
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.Run(ctx); err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("agent %s: %w", d.ID, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// Run runs one load test.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fedgan-loadtest-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(Topology(o)), 0o644); err != nil {
		return nil, err
	}
	top, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	t := &test{o: o, top: top, spec: top.Spec(), topics: wire.Topics{Root: top.Root}, start: time.Now(), done: make(chan struct{})}
	return t.run(ctx, path, dir)
}

type test struct {
	o      Options
	top    *config.Topology
	spec   *wire.Spec
	topics wire.Topics
	start  time.Time

	svc    *edge.Service
	online sync.Map // device id → true
	nOn    atomic.Int64

	mu      sync.Mutex
	batchAt []time.Time // when each iteration's batch went out, then the upload
	lastIt  int64
	batchB  int
	done    chan struct{} // closed at the upload
}

// onFlush runs on the edge's loop after each publish: it notes when each
// iteration's batch (and the round's upload) went out.
func (t *test) onFlush(r fed.EdgeReady) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range r.Batches {
		if b.Iter == t.lastIt {
			continue
		}
		t.lastIt = b.Iter
		t.batchAt = append(t.batchAt, time.Now())
		if t.batchB == 0 {
			if p, err := wire.AppendBatch(nil, b); err == nil {
				t.batchB = len(p)
			}
		}
	}
	if len(r.Updates) > 0 && t.done != nil {
		t.batchAt = append(t.batchAt, time.Now())
		close(t.done)
		t.done = nil
	}
}

func (t *test) run(ctx context.Context, path, dir string) (*Report, error) {
	o := t.o
	rep := &Report{Model: o.Model, Agents: o.Agents, Sample: o.Sample, Quorum: o.Quorum, WireDType: t.top.Training.WireDType, Procs: o.Procs, Iterations: o.Iterations}
	svc, err := edge.New(t.top, Community, edge.Options{Listen: "127.0.0.1:0", NoBridge: true, State: filepath.Join(dir, "state"),
		Logger: o.Logger, OnFlush: t.onFlush, Quiet: true}) // the status every second, as deployed
	if err != nil {
		return nil, err
	}
	t.svc = svc
	ectx, ecancel := context.WithCancel(ctx)
	edgeDone := make(chan error, 1)
	go func() { edgeDone <- svc.Run(ectx) }()
	defer func() { ecancel(); <-edgeDone }()
	select {
	case <-svc.Ready():
	case err := <-edgeDone:
		edgeDone <- err
		return nil, fmt.Errorf("loadtest: edge stopped: %w", err)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if err := svc.Broker().Subscribe(t.topics.PresenceFilter(Community), t.onPresence); err != nil {
		return nil, err
	}
	rep.RSSBaseMiB = rssMiB("VmRSS")
	url := "tcp://" + svc.Addr()
	stopAgents, err := t.startAgents(ctx, path, url)
	if err != nil {
		return nil, err
	}
	agentCPU := time.Duration(0)
	defer func() {
		if stopAgents != nil {
			stopAgents()
		}
	}()
	connStart := time.Now()
	for t.nOn.Load() < int64(o.Agents) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return nil, fmt.Errorf("loadtest: %d of %d agents online: %w", t.nOn.Load(), o.Agents, err)
		}
	}
	rep.ConnectSeconds = time.Since(connStart).Seconds()
	rep.RSSConnectedMiB = rssMiB("VmRSS")
	rep.Connected = readMem()
	if o.OnConnected != nil {
		o.OnConnected()
	}
	rep.RSSPerConnKiB = (rep.RSSConnectedMiB - rep.RSSBaseMiB) * 1024 / float64(o.Agents)
	if o.Idle > 0 {
		c0 := cpuTime()
		if err := sleep(ctx, o.Idle); err != nil {
			return nil, err
		}
		rep.IdleCPUPerSecond = (cpuTime() - c0).Seconds() / o.Idle.Seconds()
		m := readMem()
		rep.Idle = &m
		rep.RSSIdlePerConnKiB = (m.RSSMiB - rep.RSSBaseMiB) * 1024 / float64(o.Agents)
	}
	if err := t.train(ctx, rep); err != nil {
		return nil, err
	}
	if stopAgents != nil {
		agentCPU = stopAgents()
		stopAgents = nil
	}
	rep.AgentCPUSeconds = agentCPU.Seconds()
	rep.RSSPeakMiB = rssMiB("VmHWM")
	rep.WallSeconds = time.Since(t.start).Seconds()
	return rep, nil
}

// train starts the round with a global model and waits for its last
// iteration; it fills the rates, latencies, bytes and accounting.
func (t *test) train(ctx context.Context, rep *Report) error {
	g, err := deploy.Generator(t.top, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return err
	}
	p, err := wire.AppendGlobalModel(nil, &wire.GlobalModel{V: wire.Version, Round: 0, Params: fed.ParamTensors(g.Params())})
	if err != nil {
		return err
	}
	t.mu.Lock()
	done := t.done
	t.mu.Unlock()
	b0, c0 := t.svc.Broker().Stats(), cpuTime()
	if err := t.svc.Broker().Publish(t.topics.GlobalModel(), p, true, 1); err != nil {
		return err
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.mu.Lock()
		n := len(t.batchAt)
		t.mu.Unlock()
		return fmt.Errorf("loadtest: %d of %d iterations: %w", n, t.o.Iterations, ctx.Err())
	}
	b1, c1 := t.svc.Broker().Stats(), cpuTime()
	// The status (every second) catches up with the upload.
	for t.svc.Status().Edge.State != "uploaded" {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	st := t.svc.Status().Edge
	t.mu.Lock()
	at := slices.Clone(t.batchAt)
	rep.BatchBytes = t.batchB
	t.mu.Unlock()
	n := float64(t.o.Iterations)
	var lat []float64
	for i := 1; i < len(at); i++ {
		lat = append(lat, at[i].Sub(at[i-1]).Seconds()*1000)
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		rep.LatencyP50Ms, rep.LatencyP99Ms = quantile(lat, 0.5), quantile(lat, 0.99)
		rep.ItersPerSecond = float64(len(lat)) / at[len(at)-1].Sub(at[0]).Seconds()
	}
	rep.EdgeCPUPerIterMs = (c1 - c0).Seconds() * 1000 / n
	rep.BytesInPerIter = float64(b1.BytesReceived-b0.BytesReceived) / n
	rep.BytesOutPerIter = float64(b1.BytesSent-b0.BytesSent) / n
	if rep.BatchBytes > 0 {
		rep.OutPerBatch = rep.BytesOutPerIter / float64(rep.BatchBytes)
	}
	rep.Asked, rep.Late, rep.Unanswered = st.Asked, st.Late, st.Unanswered
	rep.Answered = st.Feedback - st.Late - st.Duplicate
	rep.Dropped = st.Unanswered - st.Late
	if rep.Asked == 0 { // broadcast: every live device is asked
		rep.Asked = rep.Answered + rep.Unanswered
	}
	return nil
}

// quantile of sorted xs (nearest rank).
func quantile(xs []float64, q float64) float64 {
	i := int(q*float64(len(xs))+0.5) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

func (t *test) onPresence(topic string, payload []byte) {
	tp, err := t.topics.Parse(topic)
	if err != nil {
		return
	}
	p, err := wire.DecodePresence(payload, t.spec, tp)
	if err != nil || p.State != wire.StateOnline {
		return
	}
	if _, loaded := t.online.LoadOrStore(p.Device, true); !loaded {
		t.nOn.Add(1)
	}
}

// startAgents starts the agents in this process or in Procs children; the
// function it returns stops them and returns the children's CPU time.
func (t *test) startAgents(ctx context.Context, path, url string) (func() time.Duration, error) {
	o := t.o
	if o.Procs == 0 {
		actx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := RunAgents(actx, t.top, url, 0, o.Agents); err != nil {
				o.Logger.Warn("agents stopped", slog.Any("error", err))
			}
		}()
		return func() time.Duration { cancel(); <-done; return 0 }, nil
	}
	var children []Child
	stop := func() time.Duration {
		var cpu time.Duration
		for _, c := range children {
			d, err := c.Stop()
			if err != nil {
				o.Logger.Warn("agent process", slog.Any("error", err))
			}
			cpu += d
		}
		return cpu
	}
	per := (o.Agents + o.Procs - 1) / o.Procs
	for from := 0; from < o.Agents; from += per {
		c, err := o.Spawn(ctx, path, url, from, min(from+per, o.Agents))
		if err != nil {
			stop()
			return nil, err
		}
		children = append(children, c)
	}
	return stop, nil
}

// Mem is the edge process's memory at one moment, in MiB: its RSS and
// the Go runtime's account of it.
type Mem struct {
	RSSMiB float64 `json:"rss_mib"`
	// Goroutines running in the process.
	Goroutines int `json:"goroutines"`
	// HeapLiveMiB: heap objects (live and not yet collected); HeapIdle:
	// heap spans with no objects still held from the OS; Stacks: goroutine
	// stacks; Other: the rest the runtime holds (GC metadata, buffers).
	HeapLiveMiB float64 `json:"heap_objects_mib"`
	HeapIdleMiB float64 `json:"heap_idle_unreleased_mib"`
	StacksMiB   float64 `json:"stacks_mib"`
	OtherMiB    float64 `json:"runtime_other_mib"`
	// NumGC is the number of garbage collections so far.
	NumGC uint32 `json:"gc_count"`
}

func readMem() Mem {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	const mib = 1 << 20
	return Mem{
		RSSMiB:      rssMiB("VmRSS"),
		Goroutines:  runtime.NumGoroutine(),
		HeapLiveMiB: float64(ms.HeapAlloc) / mib,
		HeapIdleMiB: float64(ms.HeapIdle-ms.HeapReleased) / mib,
		StacksMiB:   float64(ms.StackSys) / mib,
		OtherMiB:    float64(ms.MSpanSys+ms.MCacheSys+ms.BuckHashSys+ms.GCSys+ms.OtherSys) / mib,
		NumGC:       ms.NumGC,
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
