package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/kv"
	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/local"
	"github.com/fedgan/fedgan/wire"
)

// simCommand is `fedgan sim`: the topology in-process on a virtual clock,
// printing the same progress as run.
func simCommand(stdout io.Writer) *cobra.Command {
	var c common
	var out string
	cmd := &cobra.Command{
		Use:   "sim -c CONFIG [-o DIR]",
		Short: "the same state machines in one goroutine on a virtual clock",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			top, err := load(&c, false)
			if err != nil {
				return err
			}
			output := out
			if output == "" {
				output = top.Cloud.Output + "-sim"
			}
			start := time.Now()
			res, err := local.Simulate(cmd.Context(), top, output, eval.EvalOptions{}, func(p cloud.Progress) {
				fmt.Fprintln(stdout, local.ProgressLine(p))
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "simulated %s of training in %s: %d batches; results in %s\n", res.Virtual.Round(time.Millisecond), time.Since(start).Round(time.Millisecond), res.Batches, output)
			return nil
		},
	}
	c.register(cmd.Flags(), false)
	cmd.Flags().StringVarP(&out, "output", "o", "", "results folder (default: cloud.output of the topology + \"-sim\")")
	return cmd
}

// watchFlags are the flags of `fedgan watch`, mosquitto_sub's where it
// has them.
type watchFlags struct {
	host, url, user, pw, pwFile, root string
	port, count                       int
	topics                            []string
}

// watchCommand is `fedgan watch`: it subscribes like mosquitto_sub -v and
// prints each message on one line, msgpack decoded: topic, type, round,
// iteration, tensor shapes and summary statistics.
func watchCommand(stdout io.Writer) *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch [-h HOST] [-p PORT] [-t FILTER]... [-u USER (-P PASSWORD | --password-file FILE)]",
		Short: "print every message, decoded, one line each, like mosquitto_sub -v",
		Long: `Subscribes to a broker like mosquitto_sub -v and prints every message on one
line, msgpack decoded (topic, type, round, iteration, tensor shapes and
statistics); JSON topics as they are. The flags are mosquitto_sub's: -h is the
host, so help is --help only. One attempt to connect: a broker that refuses or
cannot be reached is an error (exit status 1) at once.`,
		Example: `  fedgan watch -p 1883 -t 'fedgan/v1/c/+/status'
  fedgan watch -h gateway -u monitor --password-file monitor.pw
  fedgan watch -L 'mqtt://gateway:1883/fedgan/v1/global/#'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return watch(cmd, f, stdout)
		},
	}
	fs := cmd.Flags()
	// -h is the host, as in mosquitto_sub: help is --help only (cobra
	// adds -h/--help unless the command has a help flag).
	fs.Bool("help", false, "help for watch")
	fs.StringVarP(&f.host, "host", "h", "127.0.0.1", "broker host")
	fs.IntVarP(&f.port, "port", "p", 1883, "broker port")
	fs.StringVarP(&f.url, "url", "L", "", "broker URL instead of -h and -p: tcp://, mqtt://, ssl://, mqtts://, ws:// or wss://host:port[/topic] (a path is the topic, as in mosquitto_sub)")
	fs.StringVarP(&f.url, "broker", "b", "", "the same as -L/--url")
	fs.StringArrayVarP(&f.topics, "topic", "t", nil, "topic filter; repeatable (default: {root}/#)")
	fs.StringVarP(&f.user, "username", "u", "", "username (e.g. the monitor user)")
	fs.StringVarP(&f.pw, "pw", "P", "", "password (visible to other users in ps: prefer --password-file)")
	fs.StringVar(&f.pwFile, "password-file", "", "file whose first line is the password")
	fs.StringVar(&f.root, "root", wire.DefaultRoot, "topic root")
	fs.IntVarP(&f.count, "count", "C", 0, "exit after this many messages (0: never)")
	fs.IntVarP(&f.count, "n", "n", 0, "the same as -C/--count")
	_ = fs.MarkHidden("n")
	_ = fs.MarkHidden("broker")
	return cmd
}

// watchURL is the broker URL of f without its user information and path,
// the username, password and topic filters those give, or a usage error.
// No error repeats a password.
func watchURL(fs *pflag.FlagSet, f watchFlags) (string, watchFlags, error) {
	if f.url == "" {
		if f.port <= 0 || f.port > 65535 {
			return "", f, fmt.Errorf("%w: -p/--port %d is not a port", ErrUsage, f.port)
		}
		return "tcp://" + net.JoinHostPort(f.host, strconv.Itoa(f.port)), f, nil
	}
	if fs.Changed("host") || fs.Changed("port") {
		return "", f, fmt.Errorf("%w: give -L/--url or -h/--host and -p/--port, not both", ErrUsage)
	}
	u, err := url.Parse(f.url)
	if err != nil || u.Host == "" {
		// url's errors quote the URL, which may hold a password.
		return "", f, fmt.Errorf("%w: -L/--url wants scheme://host:port[/topic], e.g. tcp://127.0.0.1:1883", ErrUsage)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return "", f, fmt.Errorf("%w: -L/--url: unknown scheme %q (tcp, mqtt, ssl, mqtts, ws or wss)", ErrUsage, u.Scheme)
	}
	if u.User != nil {
		if f.user == "" {
			f.user = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && f.pw == "" && f.pwFile == "" {
			f.pw = p
		}
		u.User = nil
	}
	if !strings.HasPrefix(u.Scheme, "ws") {
		// mqtt://host/a/# is topic a/#: url.Parse takes the # for the
		// start of an (empty) fragment.
		t := strings.TrimPrefix(u.Path, "/")
		if strings.Contains(f.url, "#") {
			t += "#"
		}
		if t != "" && len(f.topics) == 0 {
			f.topics = []string{t}
		}
		u.Path, u.RawPath, u.Fragment = "", "", ""
	}
	return u.String(), f, nil
}

func watch(cmd *cobra.Command, f watchFlags, stdout io.Writer) error {
	if f.pw != "" && f.pwFile != "" {
		return fmt.Errorf("%w: give -P/--pw or --password-file, not both", ErrUsage)
	}
	broker, f, err := watchURL(cmd.Flags(), f)
	if err != nil {
		return err
	}
	topics := wire.Topics{Root: f.root}
	if len(f.topics) == 0 {
		f.topics = []string{topics.All()}
	}
	pw := f.pw
	if f.pwFile != "" {
		b, err := os.ReadFile(f.pwFile)
		if err != nil {
			return err
		}
		pw = strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	subs := map[string]byte{}
	for _, t := range f.topics {
		subs[t] = 0
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	var once sync.Once
	cl, err := mqttc.New(mqttc.Options{
		URL: broker, ClientID: fmt.Sprintf("fedgan-watch-%d", os.Getpid()), Username: f.user, Password: pw,
		Subscriptions: subs,
		// One attempt, like mosquitto_sub: a refused or unreachable
		// broker is an error at once, not a silent retry loop.
		Attempts: 1,
		OnMessage: func(topic string, payload []byte, retained bool) {
			line := Describe(topics, topic, payload, retained)
			mu.Lock()
			defer mu.Unlock()
			if f.count > 0 && n >= f.count {
				return
			}
			fmt.Fprintln(stdout, line)
			n++
			if f.count > 0 && n >= f.count {
				once.Do(func() { close(done) })
			}
		},
	})
	if err != nil {
		return err
	}
	defer cl.Close(100 * time.Millisecond)
	select {
	case <-cmd.Context().Done():
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
	case wire.KindPreview:
		if err := wire.CheckPreview(payload, 0); err != nil {
			return fmt.Sprintf("%s%s preview: %v", topic, ret, err)
		}
		cfg, _ := png.DecodeConfig(bytes.NewReader(payload))
		return fmt.Sprintf("%s%s preview png %d×%d (%d bytes)", topic, ret, cfg.Width, cfg.Height, len(payload))
	case wire.KindBatch:
		var m wire.Batch
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s batch: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s batch v%d round %d iter %d gen_version %d fake %s gen %s (%d bytes)", topic, ret, m.V, wire.RoundNumber(m.Round, false), m.Iter, m.Version, summary(m.Fake), summary(m.Gen), len(payload))
	case wire.KindFeedback:
		var m wire.Feedback
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s feedback: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s feedback v%d round %d iter %d gen_version %d loss %.4f d_loss %.4f grad %s compute %dus (%d bytes)", topic, ret, m.V, wire.RoundNumber(m.Round, false), m.Iter, m.Version, m.Loss, m.DLoss, summary(m.Grad), m.Timings.ComputeUS, len(payload))
	case wire.KindGenerator:
		var m wire.GeneratorUpdate
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s generator: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s generator v%d round %d loss %.4f iters %d params %s (%d bytes)", topic, ret, m.V, wire.RoundNumber(m.Round, false), m.Loss, m.Iters, summaries(m.Params), len(payload))
	case wire.KindModel:
		var m wire.GlobalModel
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s model: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s global_model v%d round %d final %t weights %s params %s (%d bytes)", topic, ret, m.V, wire.RoundNumber(m.Round, m.Final), m.Final, kv.String(m.Weights, formatWeight), summaries(m.Params), len(payload))
	case wire.KindCommunityModel:
		var m wire.CommunityModel
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s community_model: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s community_model v%d round %d final %t params %s d_params %s (%d bytes)", topic, ret, m.V, wire.RoundNumber(m.Round, m.Final), m.Final, summaries(m.Params), summaries(m.DParams), len(payload))
	case wire.KindLocal:
		var m wire.LocalModel
		if err := msgpack.Unmarshal(payload, &m); err != nil {
			return fmt.Sprintf("%s%s local: undecodable (%v), %d bytes", topic, ret, err, len(payload))
		}
		return fmt.Sprintf("%s%s local v%d round %d samples %d steps %d loss %.4f d_loss %.4f params %s d_params %s compute %dus (%d bytes)", topic, ret, m.V, wire.RoundNumber(m.Round, false), m.Samples, m.Steps, m.Loss, m.DLoss, summaries(m.Params), summaries(m.DParams), m.Timings.ComputeUS, len(payload))
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

func formatWeight(w float64) string { return strconv.FormatFloat(w, 'g', 4, 64) }

// shape is a tensor's shape as JSON: "[64,2]".
func shape(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(p, ",") + "]"
}

// summary is "[64,2] mean 0.01 std 0.9 min -2 max 2".
func summary(t wire.Tensor) string {
	v, err := t.Float32s(nil)
	if err != nil {
		return fmt.Sprintf("%s invalid (%v)", shape(t.Shape), err)
	}
	if len(v) == 0 {
		return fmt.Sprintf("%s empty", shape(t.Shape))
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
	return fmt.Sprintf("%s mean %.3g std %.3g min %.3g max %.3g", shape(t.Shape), mean, math.Sqrt(max(sq/float64(len(v))-mean*mean, 0)), lo, hi)
}

func summaries(ts []wire.Tensor) string {
	n := 0
	for _, t := range ts {
		n += len(t.Data) / 4
	}
	return fmt.Sprintf("%d tensors, %d values", len(ts), n)
}
