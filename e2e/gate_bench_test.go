package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/crypto/bcrypt"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/local"
)

// BenchmarkGateStormDuringTraining runs configs/gaussian.yaml with bcrypt
// passwords (bcrypt.DefaultCost) on every edge, once quiet and once with
// an attacker that makes 300 wrong-password connections, 20 in parallel,
// to an edge as soon as the hierarchy has started (docs/RESULTS.md §5):
//
//	go test ./e2e -run '^$' -bench GateStorm -benchtime 1x -v
//
// With GATE_BASELINE=1 it also runs the storm with the login limits off.
func BenchmarkGateStormDuringTraining(b *testing.B) {
	for range b.N {
		quiet := trainWithStorm(b, 0, false)
		storm := trainWithStorm(b, 300, false)
		b.Logf("rounds/s: quiet %.2f, with the storm %.2f (%.2fx)", quiet, storm, storm/quiet)
		b.ReportMetric(storm/quiet, "storm/quiet")
		if os.Getenv("GATE_BASELINE") != "" {
			// The login limits off (what the broker did before them):
			// every attempt runs bcrypt, as many at once as arrive.
			open := trainWithStorm(b, 300, true)
			b.Logf("rounds/s with the login limits off: %.2f (%.2fx)", open, open/quiet)
			b.ReportMetric(open/quiet, "unlimited/quiet")
		}
	}
}

// edgeAddrs is a slog handler that records the address and community
// of every "edge started" record.
type edgeAddrs struct {
	attrs []slog.Attr
	edges chan [2]string // address, community
}

func (h edgeAddrs) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "edge started" {
		return nil
	}
	var addr, comm string
	for _, a := range h.attrs {
		if a.Key == "community" {
			comm = a.Value.String()
		}
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			addr = a.Value.String()
		}
		return true
	})
	select {
	case h.edges <- [2]string{addr, comm}:
	default:
	}
	return nil
}
func (h edgeAddrs) Enabled(context.Context, slog.Level) bool { return true }
func (h edgeAddrs) WithAttrs(as []slog.Attr) slog.Handler {
	return edgeAddrs{attrs: append(append([]slog.Attr{}, h.attrs...), as...), edges: h.edges}
}
func (h edgeAddrs) WithGroup(string) slog.Handler { return h }

// The attack starts at round attackAt; the training rate is measured over
// rounds attackAt to measureTo, in the quiet run and in the attacked one.
const attackAt, measureTo = 10, 40

// trainWithStorm trains configs/gaussian.yaml with passwords and, when
// attempts > 0, an attacker; it returns the rounds per second over rounds
// attackAt to measureTo.
func trainWithStorm(b *testing.B, attempts int, unlimited bool) float64 {
	top, err := config.Load("../configs/gaussian.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	top.Cloud.Output = filepath.Join(dir, "out")
	withPasswords(b, top, dir)
	if unlimited {
		top.Limits.AuthFreeFailures, top.Limits.AuthConcurrency = 1<<30, 1<<16
	}
	h := edgeAddrs{edges: make(chan [2]string, 1)}
	var mu sync.Mutex
	at := map[int]time.Time{}
	var attack sync.WaitGroup
	var attackTook time.Duration
	res, err := local.Run(context.Background(), top, local.Options{
		Logger: slog.New(h),
		OnRound: func(p cloud.Progress) {
			mu.Lock()
			at[p.Round] = time.Now()
			mu.Unlock()
			if attempts == 0 || p.Round != attackAt {
				return
			}
			edge := <-h.edges
			attack.Add(1)
			go func() {
				defer attack.Done()
				start := time.Now()
				storm(edge[0], edge[1]+"-d1", attempts, 20)
				attackTook = time.Since(start)
			}()
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	attack.Wait()
	rate := float64(measureTo-attackAt) / at[measureTo].Sub(at[attackAt]).Seconds()
	refused := map[string]int64{}
	for _, e := range res.Edges {
		for k, v := range e.Broker.Refused {
			refused[k] += v
		}
	}
	b.Logf("%d wrong-password attempts: rounds %d to %d at %.2f rounds/s (the whole run: %d rounds in %v); attack took %v; refusals on the edges %v",
		attempts, attackAt, measureTo, rate, res.Rounds(), res.Wall.Round(time.Millisecond), attackTook.Round(time.Millisecond), refused)
	return rate
}

// withPasswords gives every device a password, checked by its edge
// against a bcrypt hash at bcrypt's default cost.
func withPasswords(b *testing.B, top *config.Topology, dir string) {
	for i := range top.Communities {
		cm := &top.Communities[i]
		var creds strings.Builder
		for j := range cm.Devices {
			d := &cm.Devices[j]
			pw := "pw-" + d.ID
			h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&creds, "%s:%s\n", d.ID, h)
			d.PasswordFile = filepath.Join(dir, d.ID+".pw")
			if err := os.WriteFile(d.PasswordFile, []byte(pw+"\n"), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		cm.Edge.AllowAnonymous = false
		cm.Edge.Credentials = filepath.Join(dir, cm.ID+".passwd")
		if err := os.WriteFile(cm.Edge.Credentials, []byte(creds.String()), 0o600); err != nil {
			b.Fatal(err)
		}
	}
}

// storm makes n connections as user with a wrong password to addr,
// parallel at a time, as fast as the broker answers.
func storm(addr, user string, n, parallel int) {
	work := make(chan int, n)
	for i := range n {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + addr).
					SetClientID(fmt.Sprintf("intruder-%d", i)).SetUsername(user).SetPassword("guess").
					SetProtocolVersion(4).SetAutoReconnect(false).SetConnectRetry(false))
				tok := c.Connect()
				tok.WaitTimeout(10 * time.Second)
				if tok.Error() == nil {
					c.Disconnect(0)
				}
			}
		}()
	}
	wg.Wait()
}
