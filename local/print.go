package local

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/kv"
)

// Header is the line `fedgan run` prints before starting top: its size and
// its training settings.
func Header(top *config.Topology) string {
	devices := 0
	for _, cm := range top.Communities {
		devices += len(cm.Devices)
	}
	tr := top.Training
	return fmt.Sprintf("fedgan run %s: %s, %s, %s × %s (%s, objective %s)", top.Name, count(len(top.Communities), "community", "communities"),
		count(devices, "device", "devices"), count(tr.GlobalRounds, "round", "rounds"), count(tr.LocalIters, "local iteration", "local iterations"),
		tr.Mode, tr.Objective)
}

// count is "1 device" or "n devices".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// maxEdgesListed is how many edge brokers the start lines name.
const maxEdgesListed = 12

// String is the lines `fedgan run` prints once every service is up: every
// broker's URL and the exact commands that watch the run, the readable
// JSON topics with mosquitto_sub and everything, decoded, with fedgan
// watch (the brokers listen on free ports, so only these lines say where).
func (s Started) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "all devices started after %s\n", s.After.Round(time.Millisecond))
	fmt.Fprintf(&b, "  cloud broker %s\n", s.CloudURL)
	for i, u := range s.EdgeURLs {
		if i == maxEdgesListed {
			fmt.Fprintf(&b, "  … and %d more edge brokers\n", len(s.EdgeURLs)-i)
			break
		}
		fmt.Fprintf(&b, "  edge %s broker %s\n", s.Communities[i], u)
	}
	root := s.Root
	if root == "" {
		root = "fedgan/v1"
	}
	host, port := hostPort(s.CloudURL)
	fmt.Fprintf(&b, "watch it:\n  fedgan watch -L %s                      # the cloud: global model and status, generator updates\n", s.CloudURL)
	fmt.Fprintf(&b, "  mosquitto_sub -h %s -p %s -v -t '%s/global/status'\n", host, port, root)
	if len(s.EdgeURLs) > 0 {
		c := s.Communities[0]
		host, port := hostPort(s.EdgeURLs[0])
		fmt.Fprintf(&b, "  fedgan watch -L %s -t '%s/c/%s/#'   # community %s: batches, feedback, presence, status\n", s.EdgeURLs[0], root, c, c)
		fmt.Fprintf(&b, "  mosquitto_sub -h %s -p %s -v -t '%s/c/%s/status' -t '%s/c/%s/presence/+'", host, port, root, c, root, c)
	}
	return strings.TrimRight(b.String(), "\n")
}

// hostPort splits a tcp://host:port URL.
func hostPort(url string) (host, port string) {
	_, hp, _ := strings.Cut(url, "://")
	host, port, ok := strings.Cut(hp, ":")
	if !ok {
		port = "1883"
	}
	return host, port
}

// Summary is the lines `fedgan run` prints at the end, each ending in a
// newline: wall time, rounds and invalid messages, then one line per edge
// (updates, feedback, late and partial rounds, invalid messages, broker
// bytes received and sent), then where the results are.
func (r *Result) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "done in %s: %d rounds; invalid messages %s\n", r.Wall.Round(time.Second), r.Rounds(), kv.String(r.Cloud.Invalid, itoa))
	for _, es := range r.Edges {
		fmt.Fprintf(&b, "  edge %-6s updates %5d  feedback %6d  late %d  partial %d  invalid %s  broker in %s out %s\n",
			es.Community, es.Edge.Updates, es.Edge.Feedback, es.Edge.Late, es.Edge.Partial, kv.String(es.Invalid, itoa), BytesHuman(es.Broker.BytesReceived), BytesHuman(es.Broker.BytesSent))
	}
	fmt.Fprintf(&b, "results in %s: metrics.jsonl, generator.nnw, pictures\n", r.Output)
	return b.String()
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// ProgressLine is the line `fedgan run` and `fedgan sim` print after a
// round: the mean loss of the community generators, missing communities,
// the evaluation's main scores, elapsed time and ETA.
func ProgressLine(p cloud.Progress) string {
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

// BytesHuman formats a byte count as `fedgan run` prints it: whole bytes,
// KiB and MiB to 0.1, GiB to 0.01.
func BytesHuman(n int64) string {
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
