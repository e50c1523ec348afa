package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/local"
)

// record is what a finished training run leaves in run.json, so that
// Options.Reuse can score it again without training.
type record struct {
	WallSeconds float64 `json:"wall_seconds"`
	// Bytes is what the edge brokers received and sent (devices ↔ edges).
	Bytes     int64    `json:"bytes_moved"`
	Transport string   `json:"transport"`
	Traffic   *Traffic `json:"traffic,omitempty"`
}

// Traffic is what a run over MQTT moved, from the brokers' socket
// counters. An edge talks to its own broker in-process, and its bridge
// attaches to it in-process too, so the edge brokers count the devices'
// sockets only. The cloud service talks to its embedded broker over a
// socket like the bridges: CloudIn is the edges' generator updates and
// the cloud's own global models (once per round), CloudOut each global
// model to every edge and every update once more, to the cloud service.
type Traffic struct {
	DevicesToEdges int64 `json:"devices_to_edges"` // received by the edge brokers
	EdgesToDevices int64 `json:"edges_to_devices"` // sent by the edge brokers
	CloudIn        int64 `json:"cloud_broker_in"`  // received by the cloud broker
	CloudOut       int64 `json:"cloud_broker_out"` // sent by the cloud broker
	// Updates is the number of generator updates the cloud accepted.
	Updates int64 `json:"generator_updates"`
}

// Total is every byte counted.
func (t Traffic) Total() int64 {
	return t.DevicesToEdges + t.EdgesToDevices + t.CloudIn + t.CloudOut
}

// trafficOf reads res's brokers' counters.
func trafficOf(res *local.Result) *Traffic {
	t := &Traffic{Updates: res.Cloud.Cloud.Updates}
	for _, e := range res.Edges {
		t.DevicesToEdges += e.Broker.BytesReceived
		t.EdgesToDevices += e.Broker.BytesSent
	}
	if b := res.Cloud.Broker; b != nil {
		t.CloudIn, t.CloudOut = b.BytesReceived, b.BytesSent
	}
	return t
}

// train trains run r into dir (or, with Options.Reuse, reuses what is
// there), printing its output to Stdout and dir/run.log.
func (s *session) train(ctx context.Context, r Run, top *config.Topology, cfgPath, dir string) (record, error) {
	recPath := filepath.Join(dir, "run.json")
	if s.o.Reuse {
		if rec, ok := reusable(dir); ok {
			s.say("%s: reusing the generator in %s", r.Name, dir)
			return rec, nil
		}
	}
	logf, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		return record{}, err
	}
	defer logf.Close()
	w := io.MultiWriter(s.o.Stdout, logf)
	s.say("%s: training %s (%d rounds × %d local iterations, %s)", r.Name, cfgPath, top.Training.GlobalRounds, top.Training.LocalIters, top.Training.Mode)
	start := time.Now()
	rec := record{Transport: "mqtt"}
	if s.o.Sim {
		rec.Transport = "sim"
		err = s.simulate(ctx, top, dir, w)
	} else {
		rec.Traffic, err = s.overMQTT(ctx, top, dir, w)
		if rec.Traffic != nil {
			rec.Bytes = rec.Traffic.DevicesToEdges + rec.Traffic.EdgesToDevices
		}
	}
	if err != nil {
		return rec, err
	}
	rec.WallSeconds = time.Since(start).Seconds()
	b, _ := json.MarshalIndent(rec, "", "  ")
	return rec, atomicfile.Write(recPath, append(b, '\n'), 0o644)
}

// reusable returns the record of the run in dir if it finished: run.json
// and the result generator are there.
func reusable(dir string) (record, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		return record{}, false
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, false
	}
	if _, err := os.Stat(filepath.Join(dir, cloud.GeneratorFile)); err != nil {
		return record{}, false
	}
	return rec, true
}

// overMQTT runs top's whole hierarchy on this machine (as `fedgan run`
// does, printing the same lines to w) and returns what its brokers
// received and sent.
func (s *session) overMQTT(ctx context.Context, top *config.Topology, dir string, w io.Writer) (*Traffic, error) {
	fmt.Fprintln(w, local.Header(top))
	res, err := local.Run(ctx, top, local.Options{Output: dir, Logger: s.o.Logger,
		OnStart: func(st local.Started) { fmt.Fprintln(w, st) },
		OnRound: func(p cloud.Progress) { fmt.Fprintln(w, local.ProgressLine(p)) },
	})
	if err != nil {
		return nil, err
	}
	fmt.Fprint(w, res.Summary())
	return trafficOf(res), nil
}

// simulate trains top with the in-process simulator, evaluating as the
// cloud does, and writes generator.nnw; it prints progress to w at
// evaluations.
func (s *session) simulate(ctx context.Context, top *config.Topology, dir string, w io.Writer) error {
	_, err := local.Simulate(ctx, top, dir, eval.EvalOptions{CacheDir: s.o.Cache}, func(p cloud.Progress) {
		if p.Eval != nil {
			fmt.Fprintln(w, local.ProgressLine(p))
		}
	})
	return err
}
