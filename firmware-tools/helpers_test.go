package firmwaretools

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/edge"
)

// waitFor bounds every wait on an event; nothing depends on the
// machine's speed, only on the event arriving eventually.
const waitFor = 90 * time.Second

// Stamped into the test builds.
const (
	testVersion = "v0.0.0-fwtest"
	testCommit  = "c0ffee1"
)

// monitorPassword logs the tests in as the edge's monitor.
const monitorPassword = "watch-me"

// builds shares one build folder between the tests of this process: each
// architecture is compiled once.
var builds struct {
	mu   sync.Mutex
	dir  string
	done map[string]error
}

// buildAgents builds fedgan-agent for the named architectures (once per
// process) and returns the build folder.
func buildAgents(t testing.TB, names ...string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not on PATH: cannot cross-compile the agent")
	}
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.dir == "" {
		d, err := os.MkdirTemp("", "fedgan-fw-test-build-")
		if err != nil {
			t.Fatal(err)
		}
		builds.dir, builds.done = d, map[string]error{}
	}
	for _, n := range names {
		err, ok := builds.done[n]
		if !ok {
			a, perr := ParseArch(n)
			if perr != nil {
				t.Fatal(perr)
			}
			start := time.Now()
			_, err = Build(context.Background(), BuildOptions{Dir: "..", Out: builds.dir, Arches: []Arch{a}, Version: testVersion, Commit: testCommit})
			builds.done[n] = err
			t.Logf("built fedgan-agent for %s in %s", n, time.Since(start).Round(time.Millisecond))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return builds.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// fixture is a deployment folder written from testdata/gaussian.yaml.tmpl.
type fixture struct {
	Dir                          string
	Rounds, Iters                int
	CloudPort, EdgePort, TLSPort int
	MonitorHash                  string
	// Data is the MNIST folder (mnist.yaml.tmpl only).
	Data string
	// Algorithm is training.algorithm (gaussian.yaml.tmpl; empty: the
	// default, FR).
	Algorithm string
}

// Path is the topology file.
func (f *fixture) Path() string { return filepath.Join(f.Dir, "topology.yaml") }

// EdgeURL is the edge broker's plain TCP address.
func (f *fixture) EdgeURL() string {
	return "tcp://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(f.EdgePort))
}

// newFixture writes the test topology with free ports into a new folder.
func newFixture(t testing.TB, tls bool, mutate ...func(*fixture)) *fixture {
	t.Helper()
	return newFixtureFrom(t, "testdata/gaussian.yaml.tmpl", tls, "", mutate...)
}

// newFixtureFrom writes the topology template tmplPath, after mutate has
// changed the fixture's fields.
func newFixtureFrom(t testing.TB, tmplPath string, tls bool, data string, mutate ...func(*fixture)) *fixture {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(monitorPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{Dir: t.TempDir(), Rounds: 1000, Iters: 10, CloudPort: freePort(t), EdgePort: freePort(t), MonitorHash: string(h), Data: data}
	if tls {
		f.TLSPort = freePort(t)
	}
	for _, m := range mutate {
		m(f)
	}
	tmpl := template.Must(template.ParseFiles(tmplPath))
	var b bytes.Buffer
	if err := tmpl.Execute(&b, f); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.Path(), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// provisionFixture provisions every device and the bridge, at bcrypt's
// minimum cost (the tests check the default cost separately).
func provisionFixture(t testing.TB, f *fixture, creds Credentials) (string, *ProvisionResult) {
	t.Helper()
	out := filepath.Join(f.Dir, "provisioned")
	res, err := Provision(ProvisionOptions{Topology: f.Path(), Out: out, Credentials: creds, Bridges: true, BcryptCost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	return out, res
}

// stack is a cloud and one edge running in this process.
type stack struct {
	Edge  *edge.Service
	Cloud *cloud.Service
}

// startStack runs the fixture's cloud and edge c1 on their topology
// ports until the test ends.
func startStack(t testing.TB, f *fixture) *stack { t.Helper(); return startServices(t, f, true) }

// startServices runs edge c1, and the cloud if withCloud. Without the
// cloud the edge never receives a global model and sends no batch: its
// devices stay connected and idle.
func startServices(t testing.TB, f *fixture, withCloud bool) *stack {
	t.Helper()
	top, err := config.Load(f.Path())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, ctx := errgroup.WithContext(ctx)
	st := &stack{}
	ready := []<-chan struct{}{}
	if withCloud {
		cl, err := cloud.New(top, cloud.Options{Output: filepath.Join(f.Dir, "results"), State: filepath.Join(f.Dir, "state", "cloud")})
		if err != nil {
			t.Fatal(err)
		}
		g.Go(func() error { return cl.Run(ctx) })
		st.Cloud, ready = cl, append(ready, cl.Ready())
	}
	ed, err := edge.New(top, "c1", edge.Options{State: filepath.Join(f.Dir, "state", "c1"), NoBridge: !withCloud})
	if err != nil {
		t.Fatal(err)
	}
	g.Go(func() error { return ed.Run(ctx) })
	st.Edge, ready = ed, append(ready, ed.Ready())
	t.Cleanup(func() {
		cancel()
		if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("stack: %v", err)
		}
	})
	for _, r := range ready {
		select {
		case <-r:
		case <-ctx.Done():
			t.Fatalf("stack stopped: %v", g.Wait())
		case <-time.After(waitFor):
			t.Fatal("stack not ready")
		}
	}
	return st
}
