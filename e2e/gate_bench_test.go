package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
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
// to an edge as soon as the hierarchy has started (docs/RESULTS.md §6):
//
//	go test ./e2e -run '^$' -bench GateStorm -benchtime 1x -v
func BenchmarkGateStormDuringTraining(b *testing.B) {
	for range b.N {
		quiet := trainWithStorm(b, 0)
		storm := trainWithStorm(b, 300)
		b.Logf("rounds/s: quiet %.1f, with the storm %.1f (%.2fx)", quiet, storm, storm/quiet)
		b.ReportMetric(storm/quiet, "storm/quiet")
	}
}

// edgeAddrs is a slog handler that records the addresses in "edge
// started" records.
type edgeAddrs struct {
	slog.Handler
	addrs chan string
}

func (h edgeAddrs) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "edge started" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "addr" {
				select {
				case h.addrs <- a.Value.String():
				default:
				}
			}
			return true
		})
	}
	return nil
}
func (h edgeAddrs) Enabled(context.Context, slog.Level) bool { return true }
func (h edgeAddrs) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h edgeAddrs) WithGroup(string) slog.Handler            { return h }

// trainWithStorm trains configs/gaussian.yaml with passwords and, when
// attempts > 0, an attacker; it returns the rounds per second.
func trainWithStorm(b *testing.B, attempts int) float64 {
	top, err := config.Load("../configs/gaussian.yaml")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	top.Cloud.Output = filepath.Join(dir, "out")
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
	h := edgeAddrs{addrs: make(chan string, 1)}
	var mu sync.Mutex
	var rounds []time.Time
	var attack sync.WaitGroup
	var attackTook time.Duration
	res, err := local.Run(context.Background(), top, local.Options{
		Logger: slog.New(h),
		OnStart: func(local.Started) {
			if attempts == 0 {
				return
			}
			addr := <-h.addrs
			attack.Add(1)
			go func() {
				defer attack.Done()
				start := time.Now()
				storm(addr, attempts, 20)
				attackTook = time.Since(start)
			}()
		},
		OnRound: func(p cloud.Progress) {
			mu.Lock()
			rounds = append(rounds, time.Now())
			mu.Unlock()
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	attack.Wait()
	sort.Slice(rounds, func(i, j int) bool { return rounds[i].Before(rounds[j]) })
	rate := float64(len(rounds)-1) / rounds[len(rounds)-1].Sub(rounds[0]).Seconds()
	refused := map[string]int64{}
	for _, e := range res.Edges {
		for k, v := range e.Broker.Refused {
			refused[k] += v
		}
	}
	b.Logf("%d wrong-password attempts: %d rounds at %.1f rounds/s; attack took %v; refusals on the edges %v",
		attempts, len(rounds), rate, attackTook.Round(time.Millisecond), refused)
	return rate
}

// storm makes n connections with a wrong password to addr, parallel at a
// time, as fast as the broker answers.
func storm(addr string, n, parallel int) {
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
					SetClientID(fmt.Sprintf("intruder-%d", i)).SetUsername("c1-d1").SetPassword("guess").
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
