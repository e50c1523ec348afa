package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/local"
	"github.com/fedgan/fedgan/wire"
)

// runSim runs the topology in-process on a virtual clock and prints the
// same progress as run.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, false)
	out := fs.String("o", "", "results folder (default: cloud.output of the topology + \"-sim\")")
	top, err := parse(fs, args, &c, false)
	if err != nil {
		return err
	}
	output := *out
	if output == "" {
		output = top.Cloud.Output + "-sim"
	}
	start := time.Now()
	res, err := local.Simulate(ctx, top, output, eval.EvalOptions{}, func(p cloud.Progress) {
		fmt.Fprintln(stdout, local.ProgressLine(p))
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "simulated %s of training in %s: %d batches; results in %s\n", res.Virtual.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), res.Batches, output)
	return nil
}

// runWatch subscribes like mosquitto_sub -v and prints each message on
// one line, msgpack decoded: topic, type, round, iteration, tensor shapes
// and summary statistics.
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fedgan watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("b", "tcp://127.0.0.1:1883", "broker URL")
	root := fs.String("root", wire.DefaultRoot, "topic root")
	filter := fs.String("t", "", "topic filter (default: {root}/#)")
	user := fs.String("u", "", "username (e.g. the monitor user)")
	passFile := fs.String("P", "", "file holding the password")
	count := fs.Int("n", 0, "exit after this many messages (0: never)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	topics := wire.Topics{Root: *root}
	if *filter == "" {
		*filter = topics.All()
	}
	pw := ""
	if *passFile != "" {
		b, err := os.ReadFile(*passFile)
		if err != nil {
			return err
		}
		pw = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	var once sync.Once
	cl, err := mqttc.New(mqttc.Options{
		URL: *url, ClientID: fmt.Sprintf("fedgan-watch-%d", os.Getpid()), Username: *user, Password: pw,
		Subscriptions: map[string]byte{*filter: 0},
		// One attempt, like mosquitto_sub: a refused or unreachable
		// broker is an error at once, not a silent retry loop.
		Attempts: 1,
		OnMessage: func(topic string, payload []byte, retained bool) {
			line := Describe(topics, topic, payload, retained)
			mu.Lock()
			defer mu.Unlock()
			if *count > 0 && n >= *count {
				return
			}
			fmt.Fprintln(stdout, line)
			n++
			if *count > 0 && n >= *count {
				once.Do(func() { close(done) })
			}
		},
	})
	if err != nil {
		return err
	}
	defer cl.Close(100 * time.Millisecond)
	select {
	case <-ctx.Done():
	case <-done:
	case err := <-cl.Failed():
		return fmt.Errorf("watch: cannot connect: %w", err)
	}
	return nil
}

// Describe renders one message as a line for people.
func Describe(topics wire.Topics, topic string, payload []byte, retained bool) string {
	ret := ""
	if retained {
		ret = " (retained)"
	}
	t, err := topics.Parse(topic)
	if err != nil {
		if json.Valid(payload) || isText(payload) {
			return fmt.Sprintf("%s%s %s", topic, ret, clip(string(payload), 300))
		}
		return fmt.Sprintf("%s%s %d bytes", topic, ret, len(payload))
	}
	switch t.Kind {
	case wire.KindBatch:
		var m wire.Batch
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s batch: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s batch v%d round %d iter %d gen_version %d fake %s gen %s (%d bytes)", topic, ret, m.V, m.Round, m.Iter, m.Version, summary(m.Fake), summary(m.Gen), len(payload))
	case wire.KindFeedback:
		var m wire.Feedback
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s feedback: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s feedback v%d round %d iter %d gen_version %d loss %.4f d_loss %.4f grad %s compute %dus (%d bytes)", topic, ret, m.V, m.Round, m.Iter, m.Version, m.Loss, m.DLoss, summary(m.Grad), m.Timings.ComputeUS, len(payload))
	case wire.KindGenerator:
		var m wire.GeneratorUpdate
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s generator: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s generator v%d round %d loss %.4f iters %d params %s (%d bytes)", topic, ret, m.V, m.Round, m.Loss, m.Iters, summaries(m.Params), len(payload))
	case wire.KindModel:
		var m wire.GlobalModel
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s model: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s global_model v%d round %d final %v weights %v params %s (%d bytes)", topic, ret, m.V, m.Round, m.Final, m.Weights, summaries(m.Params), len(payload))
	case wire.KindCommunityModel:
		var m wire.CommunityModel
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s community_model: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s community_model v%d round %d final %v params %s d_params %s (%d bytes)", topic, ret, m.V, m.Round, m.Final, summaries(m.Params), summaries(m.DParams), len(payload))
	case wire.KindLocal:
		var m wire.LocalModel
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s local: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s local v%d round %d samples %d steps %d loss %.4f d_loss %.4f params %s d_params %s compute %dus (%d bytes)", topic, ret, m.V, m.Round, m.Samples, m.Steps, m.Loss, m.DLoss, summaries(m.Params), summaries(m.DParams), m.Timings.ComputeUS, len(payload))
	}
	return fmt.Sprintf("%s%s %s", topic, ret, clip(string(payload), 300))
}

func isText(p []byte) bool {
	for _, c := range p {
		if c < 9 || c > 126 && c < 128 {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// summary is "[64 2] mean 0.01 std 0.9 min -2 max 2".
func summary(t wire.Tensor) string {
	v, err := t.Float32s(nil)
	if err != nil {
		return fmt.Sprintf("%v invalid (%v)", t.Shape, err)
	}
	if len(v) == 0 {
		return fmt.Sprintf("%v empty", t.Shape)
	}
	var sum, sq float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range v {
		f := float64(x)
		sum += f
		sq += f * f
		lo, hi = math.Min(lo, f), math.Max(hi, f)
	}
	mean := sum / float64(len(v))
	return fmt.Sprintf("%v mean %.3g std %.3g min %.3g max %.3g", t.Shape, mean, math.Sqrt(max(sq/float64(len(v))-mean*mean, 0)), lo, hi)
}

func summaries(ts []wire.Tensor) string {
	n := 0
	for _, t := range ts {
		n += len(t.Data) / 4
	}
	return fmt.Sprintf("%d tensors, %d values", len(ts), n)
}
