package firmwaretools

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	fx "github.com/fedgan/fedgan/internal/fixture"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// minIters is how many iterations each emulated agent must complete.
const minIters = 20

// tap counts what the devices of community c1 publish, seen by the edge
// broker's monitor account.
type tap struct {
	mu       sync.Mutex
	feedback map[string]int      // answers: FR batches and Fed GAN rounds
	local    map[string]int      // Fed GAN local models only
	presence map[string][]string // live states, in order
	changed  chan struct{}
	client   *mqttc.Client
}

func newTap(t testing.TB, f *fixture) *tap {
	t.Helper()
	tp := &tap{feedback: map[string]int{}, local: map[string]int{}, presence: map[string][]string{}, changed: make(chan struct{}, 1)}
	topics := wire.Topics{Root: wire.DefaultRoot}
	c, err := mqttc.New(mqttc.Options{
		URL: f.EdgeURL(), ClientID: "fedgan-test-tap", Username: "watcher", Password: monitorPassword,
		Subscriptions: map[string]byte{topics.FeedbackFilter("c1"): 1, topics.PresenceFilter("c1"): 1, topics.LocalFilter("c1"): 1},
		OnMessage: func(topic string, payload []byte, retained bool) {
			tt, err := topics.Parse(topic)
			if err != nil {
				return
			}
			tp.mu.Lock()
			switch tt.Kind {
			case wire.KindFeedback, wire.KindLocal: // an FR batch or a Fed GAN round answered
				tp.feedback[tt.Device]++
				if tt.Kind == wire.KindLocal {
					tp.local[tt.Device]++
				}
			case wire.KindPresence:
				if p, err := wire.DecodePresence(payload, nil, tt); err == nil && !retained {
					tp.presence[tt.Device] = append(tp.presence[tt.Device], p.State)
				}
			}
			tp.mu.Unlock()
			select {
			case tp.changed <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tp.client = c
	t.Cleanup(func() { c.Close(0) })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return tp
}

// wait blocks until cond (called with the lock held) holds.
func (tp *tap) wait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	tp.waitWithin(t, waitFor, what, cond)
}

// waitWithin is wait with its own bound.
func (tp *tap) waitWithin(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(limit)
	for {
		tp.mu.Lock()
		ok := cond()
		fb := make(map[string]int, len(tp.feedback))
		for k, v := range tp.feedback {
			fb[k] = v
		}
		pres := make(map[string][]string, len(tp.presence))
		for k, v := range tp.presence {
			pres[k] = v
		}
		tp.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-tp.changed:
		case <-deadline:
			t.Fatalf("%s: not within %s (feedback %v, presence %v)", what, limit, fb, pres)
		}
	}
}

// agentProc is a device agent child process.
type agentProc struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

// lockedBuffer is a log sink shared by goroutines and the test.
type lockedBuffer = fx.LockedBuffer

// startAgent runs argv; the test's cleanup stops it (SIGTERM, then kill).
func startAgent(t testing.TB, argv []string, env ...string) *agentProc {
	t.Helper()
	p := &agentProc{cmd: exec.Command(argv[0], argv[1:]...), out: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(p.cmd.Environ(), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.stop(10*time.Second) != nil && t.Failed() {
			t.Logf("%s output:\n%s", argv[0], p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits up to grace, then kills. It returns the
// exit error (nil for a clean exit).
func (p *agentProc) stop(grace time.Duration) error {
	if p.cmd.ProcessState != nil {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(grace):
		p.cmd.Process.Kill()
		err := <-p.done
		p.done <- err
		return err
	}
}

// TestAgentOnQemu runs the arm64 and the armv7 agents under Debian's
// qemu-user-static, each with the slice and password provisioned for it,
// against a real edge and cloud on loopback: both come online, answer at
// least minIters batches (FR) or rounds (the Fed GAN baseline, where the
// board trains G and D and uploads both) of the Gaussian scenario, and on
// SIGTERM say offline and exit cleanly.
func TestAgentOnQemu(t *testing.T) {
	for _, algorithm := range []string{"fr", "fedgan"} {
		t.Run(algorithm, func(t *testing.T) { agentOnQemu(t, algorithm) })
	}
}

func agentOnQemu(t *testing.T, algorithm string) {
	devices := []struct{ id, arch string }{{"d1", "arm64"}, {"d2", "armv7"}}
	for _, d := range devices {
		a, _ := ParseArch(d.arch)
		if _, err := exec.LookPath(a.Qemu); err != nil {
			t.Skipf("%s not installed (Debian package qemu-user-static): cannot run the %s agent", a.Qemu, d.arch)
		}
	}
	bin := buildAgents(t, "arm64", "armv7")
	f := newFixture(t, false, func(f *fixture) { f.Algorithm = algorithm })
	prov, _ := provisionFixture(t, f, CredAuto)
	st := startStack(t, f)
	tp := newTap(t, f)

	procs := map[string]*agentProc{}
	for _, d := range devices {
		a, _ := ParseArch(d.arch)
		slice := filepath.Join(prov, "devices", d.id, DeviceConfig)
		procs[d.id] = startAgent(t, a.QemuCommand(filepath.Join(bin, d.arch, Agent), "-c", slice, "--id", d.id, "-v"))
	}
	tp.wait(t, "both agents online and ≥ 20 answers each", func() bool {
		for _, d := range devices {
			if tp.feedback[d.id] < minIters || len(tp.presence[d.id]) == 0 || tp.presence[d.id][0] != wire.StateOnline {
				return false
			}
		}
		return true
	})
	s := st.Edge.Status()
	t.Logf("edge: iteration %d, round %d, %d feedback, live %v", s.Edge.Iter, s.Edge.Round, s.Edge.Feedback, s.Edge.Live)
	for _, d := range devices {
		p := procs[d.id]
		if err := p.stop(20 * time.Second); err != nil {
			t.Errorf("%s (%s) did not exit cleanly on SIGTERM: %v\n%s", d.id, d.arch, err, p.out.String())
		}
		if out := p.out.String(); !strings.Contains(out, "agent started") {
			t.Errorf("%s: agent log lacks \"agent started\":\n%s", d.id, out)
		}
	}
	tp.wait(t, "both agents offline after SIGTERM", func() bool {
		for _, d := range devices {
			ps := tp.presence[d.id]
			if len(ps) == 0 || ps[len(ps)-1] != wire.StateOffline {
				return false
			}
		}
		return true
	})
	tp.mu.Lock()
	defer tp.mu.Unlock()
	t.Logf("%s answers: %v, of which local models: %v", algorithm, tp.feedback, tp.local)
	for _, d := range devices {
		// A Fed GAN board answers a round with its whole G and D, an FR
		// board never does.
		if want := algorithm == "fedgan"; (tp.local[d.id] == tp.feedback[d.id]) != want || (tp.local[d.id] > 0) != want {
			t.Errorf("%s (%s): %d answers, %d of them local models under %s", d.id, d.arch, tp.feedback[d.id], tp.local[d.id], algorithm)
		}
	}
}
