package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/internal/mqttc"
)

// waitFor bounds every wait; nothing depends on the machine's speed, only
// on events arriving eventually.
const waitFor = 90 * time.Second

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds fedgan and fedgan-agent once per test process.
func binaries(t *testing.T) (fedgan, agent string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "fedgan-e2e-bin-")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "../cmd/fedgan", "../cmd/fedgan-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "fedgan"), filepath.Join(binDir, "fedgan-agent")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// topo describes a small Gaussian deployment on fixed loopback ports.
type topo struct {
	Dir         string
	CloudPort   int
	CloudURL    string // external cloud broker instead of the embedded one
	Communities []topoComm
	Rounds      int
	Iters       int
	Mode        string
	SyncPeriod  string
	Extra       string // appended to the training section
	Anonymous   bool
	// HTTP gives the cloud and each edge an HTTP address (/metrics):
	// CloudHTTP and topoComm.HTTP, free ports.
	HTTP      bool
	CloudHTTP int
	// WS gives the cloud and each edge a WebSocket listener: CloudWS and
	// topoComm.WS, free ports. MonitorHash (bcrypt) adds the read-only
	// user "monitor" to every broker; HTTPTokenFile puts every http
	// address behind that token file.
	WS            bool
	CloudWS       int
	MonitorHash   string
	HTTPTokenFile string
	// Scenario "lr": each community a domain, G(z, c_k), the cloud's
	// domain classifier C (hidden 16).
	Scenario string
}

type topoComm struct {
	ID      string
	Port    int
	HTTP    int
	WS      int
	X, Y    float64
	Devices []string
}

const topoTemplate = `name: e2e
seed: 7
{{- if .Scenario}}
scenario: {{.Scenario}}
{{- end}}
model: {latent: 4, data_dim: 2, generator: [32, 32], discriminator: [32, 32]{{if eq .Scenario "lr"}}, classifier: [16]{{end}}}
training:
  global_rounds: {{.Rounds}}
  local_iters: {{.Iters}}
  batch_size: 32
  mode: {{.Mode}}
  sync_period: {{.SyncPeriod}}
  round_timeout: 60s
  lr_g: 0.001
  lr_d: 0.001
{{.Extra}}
cloud:
{{- if .CloudURL}}
  url: {{.CloudURL}}
{{- else}}
  listen: 127.0.0.1:{{.CloudPort}}
  allow_anonymous: true
{{- if .HTTP}}
  http: 127.0.0.1:{{.CloudHTTP}}
{{- end}}
{{- if .WS}}
  websocket: 127.0.0.1:{{.CloudWS}}
{{- end}}
{{- if and .HTTP .HTTPTokenFile}}
  http_token_file: {{.HTTPTokenFile}}
{{- end}}
{{- if .MonitorHash}}
  monitor: {username: monitor, password_hash: '{{.MonitorHash}}'}
{{- end}}
{{- end}}
  output: {{.Dir}}/results
  state: {{.Dir}}/state/cloud
  eval_every: 1
  eval_samples: 500
communities:
{{- range .Communities}}
  - id: {{.ID}}
    data: {kind: gaussian, means: [[{{.X}}, {{.Y}}]], std: 0.1, samples: 500}
    edge:
      listen: 127.0.0.1:{{.Port}}
{{- if $.HTTP}}
      http: 127.0.0.1:{{.HTTP}}
{{- end}}
{{- if $.WS}}
      websocket: 127.0.0.1:{{.WS}}
{{- end}}
{{- if and $.HTTP $.HTTPTokenFile}}
      http_token_file: {{$.HTTPTokenFile}}
{{- end}}
{{- if $.MonitorHash}}
      monitor: {username: monitor, password_hash: '{{$.MonitorHash}}'}
{{- end}}
      state: {{$.Dir}}/state/{{.ID}}
{{- if $.Anonymous}}
      allow_anonymous: true
{{- else}}
      credentials: {{$.Dir}}/{{.ID}}.passwd
{{- end}}
    devices:
{{- range .Devices}}
      - {id: {{.}}{{if not $.Anonymous}}, password_file: {{$.Dir}}/{{.}}.secret{{end}}}
{{- end}}
{{- end}}
`

func (tp *topo) write(t *testing.T) string {
	t.Helper()
	if tp.Mode == "" {
		tp.Mode = "sync"
	}
	if tp.SyncPeriod == "" {
		tp.SyncPeriod = "1s"
	}
	if tp.HTTP {
		tp.CloudHTTP = freePort(t)
		for i := range tp.Communities {
			tp.Communities[i].HTTP = freePort(t)
		}
	}
	if tp.WS {
		tp.CloudWS = freePort(t)
		for i := range tp.Communities {
			tp.Communities[i].WS = freePort(t)
		}
	}
	var b bytes.Buffer
	if err := template.Must(template.New("t").Parse(topoTemplate)).Execute(&b, tp); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(tp.Dir, "topology.yaml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// newTopo is two communities of two devices each on free ports.
func newTopo(t *testing.T, rounds, iters int) *topo {
	return &topo{
		Dir: t.TempDir(), CloudPort: freePort(t), Rounds: rounds, Iters: iters, Anonymous: true,
		Communities: []topoComm{
			{ID: "a", Port: freePort(t), X: -1, Y: 0, Devices: []string{"a1", "a2"}},
			{ID: "b", Port: freePort(t), X: 1, Y: 0, Devices: []string{"b1", "b2"}},
		},
	}
}

// proc is a child process with its output captured.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	err  error
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs bin with args; the process is killed at the end of the test.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: &syncBuf{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", name, tail(p.out.String(), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s: exit after SIGINT: %v", p.name, p.err)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s: did not stop within 20s of SIGINT", p.name)
		p.kill()
	}
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", waitFor, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// watcher collects messages from a broker.
type watcher struct {
	mu   sync.Mutex
	msgs map[string][][]byte
	c    *mqttc.Client
}

func watch(t *testing.T, url string, filters ...string) *watcher {
	t.Helper()
	w := &watcher{msgs: map[string][][]byte{}}
	subs := map[string]byte{}
	for _, f := range filters {
		subs[f] = 1
	}
	c, err := mqttc.New(mqttc.Options{URL: url, ClientID: fmt.Sprintf("watch-%d", time.Now().UnixNano()), Subscriptions: subs,
		OnMessage: func(topic string, payload []byte, _ bool) {
			w.mu.Lock()
			w.msgs[topic] = append(w.msgs[topic], append([]byte(nil), payload...))
			w.mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	w.c = c
	t.Cleanup(func() { c.Close(0) })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *watcher) count(topic string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.msgs[topic])
}

func (w *watcher) last(topic string) []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := w.msgs[topic]
	if len(m) == 0 {
		return nil
	}
	return m[len(m)-1]
}

// metricsLines reads the cloud's metrics.jsonl.
func metricsLines(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		return nil
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics.jsonl: %v: %q", err, line)
		}
		out = append(out, m)
	}
	return out
}

// statusOf decodes a retained JSON status.
func statusOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("status %q: %v", b, err)
	}
	return m
}

// num digs a number out of nested JSON maps: num(m, "edge", "updates").
func num(m map[string]any, path ...string) float64 {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return -1
		}
		cur = mm[p]
	}
	f, _ := cur.(float64)
	return f
}

// writeSecrets gives every device of tp the password "pw-of-{device}":
// its .secret file and its community's .passwd file (bcrypt).
func writeSecrets(t *testing.T, tp *topo) {
	t.Helper()
	for _, c := range tp.Communities {
		var creds strings.Builder
		for _, d := range c.Devices {
			pw := "pw-of-" + d
			h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&creds, "%s:%s\n", d, h)
			if err := os.WriteFile(filepath.Join(tp.Dir, d+".secret"), []byte(pw+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(tp.Dir, c.ID+".passwd"), []byte(creds.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
