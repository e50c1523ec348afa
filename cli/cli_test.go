package cli

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/internal/fixture"
	"github.com/fedgan/fedgan/wire"
)

const tiny = fixture.Tiny

// TestRun runs `fedgan run` in-process on a tiny topology: every message
// crosses real MQTT on loopback, and the results folder is complete.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(cfg, []byte(tiny), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "results")
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Main(ctx, []string{"run", "-c", cfg, "-o", out}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"2 communities, 4 devices", "round 1/2", "round 2/2", "modes ", "done in", "results in"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, f := range []string{"metrics.jsonl", "generator.nnw", "scatter.png", "scatter_r0002.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("results: %v", err)
		}
	}
}

// TestRunInterrupted: a run stopped by a signal (its context cancelled)
// says how to resume and exits with status 130.
func TestRunInterrupted(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tiny.yaml")
	if err := os.WriteFile(cfg, []byte(tiny), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr fixture.LockedBuffer
	go func() {
		for !strings.Contains(stdout.String(), "fedgan run") {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	err := Main(ctx, []string{"run", "-c", cfg, "-o", filepath.Join(dir, "out")}, &stdout, &stderr)
	if !errors.Is(err, ErrInterrupted) || ExitCode(err) != 130 {
		t.Fatalf("run cancelled: %v (exit %d), want ErrInterrupted and 130\nstdout:\n%s", err, ExitCode(err), stdout.String())
	}
	if want := "fedgan run -c " + cfg + " -o " + filepath.Join(dir, "out") + " --resume"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"run"}, "-c/--config CONFIG is required"},
		{[]string{"edge", "-c", "x.yaml"}, "--id is required"},
		{[]string{"agent", "-c", "x.yaml"}, "required"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		err := Main(context.Background(), tt.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), tt.want) || ExitCode(err) != 2 {
			t.Errorf("%v: got %v (exit %d), want a usage error with %q", tt.args, err, ExitCode(err), tt.want)
		}
	}
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"run", "-c", "/nonexistent.yaml"}, &out, &out); err == nil || ExitCode(err) != 1 || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing config: got %v", err)
	}
}

func TestDescribe(t *testing.T) {
	topics := wire.Topics{}
	b, err := wire.AppendBatch(nil, &wire.Batch{V: 1, Community: "a", Iter: 3, Version: 2,
		Fake: wire.NewTensor([]int{2, 2}, []float32{1, 2, 3, 4}), Gen: wire.NewTensor([]int{2, 2}, []float32{0, 0, 0, 0})})
	if err != nil {
		t.Fatal(err)
	}
	g, d := []wire.Tensor{wire.NewTensor([]int{2}, []float32{1, 3})}, []wire.Tensor{wire.NewTensor([]int{1}, []float32{-1})}
	cm, err := wire.AppendCommunityModel(nil, &wire.CommunityModel{V: 1, Community: "a", Round: 4, Params: g, DParams: d})
	if err != nil {
		t.Fatal(err)
	}
	lm, err := wire.AppendLocalModel(nil, &wire.LocalModel{V: 1, Community: "a", Device: "a1", Round: 4, Samples: 500, Steps: 10, Params: g, DParams: d})
	if err != nil {
		t.Fatal(err)
	}
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewGray(image.Rect(0, 0, 30, 20))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		topic   string
		payload []byte
		want    []string
	}{
		{topics.Batch("a"), b, []string{"batch v1", "iter 3", "gen_version 2", "[2,2] mean 2.5", "max 4"}},
		{topics.GlobalPreview(), pic.Bytes(), []string{"preview png 30×20 (", " bytes)"}},
		{topics.GlobalPreview(), []byte("\x89PNG garbage"), []string{"preview: ", "not a PNG"}},
		{topics.CommunityModel("a"), cm, []string{"community_model v1", "round 5" /* wire index 4 */, "params 1 tensors, 2 values", "d_params 1 tensors, 1 values"}},
		{topics.Local("a", "a1"), lm, []string{"local v1", "round 5", "samples 500", "steps 10", "d_params 1 tensors, 1 values"}},
		{topics.Batch("a"), []byte{0xc1}, []string{"undecodable"}},
		{topics.Status("a"), []byte(`{"round":1}`), []string{`{"round":1}`}},
		{"$SYS/broker/connection/cloud/state", []byte("1"), []string{"state 1"}},
	}
	for _, tt := range tests {
		got := Describe(topics, tt.topic, tt.payload, false)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("Describe(%s): got %q, want it to contain %q", tt.topic, got, w)
			}
		}
	}
}
