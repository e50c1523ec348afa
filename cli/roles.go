package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/device"
	"github.com/fedgan/fedgan/edge"
)

func runCloud(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, false)
	top, err := parse(fs, args, &c, false)
	if err != nil {
		return err
	}
	s, err := cloud.New(top, cloud.Options{Logger: c.logger(stderr, false)})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, true)
	top, err := parse(fs, args, &c, true)
	if err != nil {
		return err
	}
	s, err := edge.New(top, c.id, edge.Options{Logger: c.logger(stderr, false)})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// runAll starts the whole hierarchy in this process: the cloud with its
// embedded broker, one embedded broker and edge service per community and
// every device agent, each as its own MQTT client on loopback. Brokers
// listen on free ports; the topology's addresses are not used.
func runAll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, false)
	out := fs.String("o", "", "results folder (default: cloud.output of the topology)")
	resume := fs.Bool("resume", false, "resume from the checkpoints of a previous run instead of starting afresh")
	top, err := parse(fs, args, &c, false)
	if err != nil {
		return err
	}
	log := c.logger(stderr, true)
	// Progress comes from the cloud's goroutine; everything else from here.
	stdout = &lockedWriter{w: stdout}
	output := *out
	if output == "" {
		output = top.Cloud.Output
	}
	state := filepath.Join(output, "state")
	if !*resume {
		for _, p := range []string{state, filepath.Join(output, "metrics.jsonl")} {
			if err := os.RemoveAll(p); err != nil {
				return err
			}
		}
	}
	if err := os.MkdirAll(output, 0o755); err != nil {
		return err
	}
	devices := 0
	for _, cm := range top.Communities {
		devices += len(cm.Devices)
	}
	fmt.Fprintf(stdout, "fedgan run %s: %d communities, %d devices, %d rounds × %d local iterations (%s, objective %s)\n",
		top.Name, len(top.Communities), devices, top.Training.GlobalRounds, top.Training.LocalIters, top.Training.Mode, top.Training.Objective)

	start := time.Now()
	cl, err := cloud.New(top, cloud.Options{
		Listen: "127.0.0.1:0", Output: output, State: filepath.Join(state, "cloud"), Logger: log,
		OnRound: func(p cloud.Progress) { fmt.Fprintln(stdout, progressLine(p)) },
	})
	if err != nil {
		return err
	}
	// Three tiers, each with its own context so that shutdown goes from
	// the devices up: they say offline while their edge still listens.
	tiers := [3]tier{}
	for i := range tiers {
		tiers[i].ctx, tiers[i].cancel = context.WithCancel(ctx)
		tiers[i].g, tiers[i].ctx = errgroup.WithContext(tiers[i].ctx)
	}
	failed := make(chan struct{})
	var failOnce sync.Once
	fail := func() { failOnce.Do(func() { close(failed) }) }
	stop := func() error {
		var first error
		for i := range tiers {
			tiers[i].cancel()
			if err := tiers[i].g.Wait(); err != nil && first == nil && !errors.Is(err, context.Canceled) {
				first = err
			}
		}
		return first
	}
	devs, edges, top3 := &tiers[0], &tiers[1], &tiers[2]
	top3.goRun(fail, cl.Run)
	if err := waitReady(top3.ctx, cl.Ready()); err != nil {
		return firstErr(stop(), err)
	}
	cloudURL := top.Cloud.URL // an external cloud broker
	if cloudURL == "" {
		cloudURL = "tcp://" + cl.Addr()
	}
	es := make([]*edge.Service, len(top.Communities))
	for i, cm := range top.Communities {
		e, err := edge.New(top, cm.ID, edge.Options{Listen: "127.0.0.1:0", CloudURL: cloudURL, State: filepath.Join(state, cm.ID), Logger: log})
		if err != nil {
			return firstErr(stop(), err)
		}
		es[i] = e
		edges.goRun(fail, e.Run)
	}
	for i, cm := range top.Communities {
		if err := waitReady(edges.ctx, es[i].Ready()); err != nil {
			return firstErr(stop(), err)
		}
		url := "tcp://" + es[i].Addr()
		for _, d := range cm.Devices {
			a, err := device.New(top, d.ID, device.Options{URL: url, Logger: log})
			if err != nil {
				return firstErr(stop(), err)
			}
			devs.goRun(fail, a.Run)
		}
	}
	fmt.Fprintf(stdout, "cloud broker %s, %d edge brokers, all devices started after %s; watch with: fedgan watch -b %s\n",
		cloudURL, len(es), time.Since(start).Round(time.Millisecond), cloudURL)
	select {
	case <-cl.Done():
	case <-failed:
	case <-ctx.Done():
	}
	err = stop()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return err
	}
	select {
	case <-cl.Done():
	default:
		return fmt.Errorf("run: stopped before the final round")
	}
	st := cl.Status()
	fmt.Fprintf(stdout, "done in %s: %d rounds; invalid messages %v\n", time.Since(start).Round(time.Second), st.Cloud.Round, st.Invalid)
	for _, e := range es {
		es := e.Status()
		fmt.Fprintf(stdout, "  edge %-6s updates %5d  feedback %6d  late %d  partial %d  invalid %v  broker in %s out %s\n",
			es.Community, es.Edge.Updates, es.Edge.Feedback, es.Edge.Late, es.Edge.Partial, es.Invalid, bytesHuman(es.Broker.BytesReceived), bytesHuman(es.Broker.BytesSent))
	}
	fmt.Fprintf(stdout, "results in %s: metrics.jsonl, generator.nnw, pictures\n", output)
	return nil
}

// lockedWriter serialises writes from several goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// tier is one level of the hierarchy in a local run.
type tier struct {
	ctx    context.Context
	cancel context.CancelFunc
	g      *errgroup.Group
}

// goRun runs a service; one that stops on its own stops the whole run.
func (t *tier) goRun(fail func(), run func(context.Context) error) {
	t.g.Go(func() error {
		err := run(t.ctx)
		if t.ctx.Err() == nil {
			fail()
			if err == nil {
				err = errors.New("run: a service stopped by itself")
			}
		}
		return err
	})
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil && e != context.Canceled {
			return e
		}
	}
	return nil
}

func waitReady(ctx context.Context, ready <-chan struct{}) error {
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("run: a service stopped while starting: %w", context.Cause(ctx))
	case <-time.After(30 * time.Second):
		return fmt.Errorf("run: a service did not start within 30s")
	}
}

func progressLine(p cloud.Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "round %d/%d", p.Round, p.Rounds)
	ids := make([]string, 0, len(p.Summary.Losses))
	for id := range p.Summary.Losses {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var sum float64
	for _, id := range ids {
		sum += p.Summary.Losses[id]
	}
	if len(ids) > 0 {
		fmt.Fprintf(&b, "  mean L_D*(G_k) %.3f", sum/float64(len(ids)))
	}
	if len(p.Summary.Missing) > 0 {
		fmt.Fprintf(&b, "  missing %v", p.Summary.Missing)
	}
	if ev := p.Eval; ev != nil {
		if c, ok := ev["modes_covered"]; ok {
			fmt.Fprintf(&b, "  modes %v/%v  high quality %.1f%%", c, ev["modes"], 100*toFloat(ev["high_quality"]))
		}
		if v, ok := ev["fid"]; ok {
			fmt.Fprintf(&b, "  FID %.2f", toFloat(v))
		}
	}
	fmt.Fprintf(&b, "  elapsed %s  ETA %s", p.Elapsed.Round(time.Second), p.ETA.Round(time.Second))
	return b.String()
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case float32:
		return float64(x)
	case int:
		return float64(x)
	}
	return 0
}

func bytesHuman(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
