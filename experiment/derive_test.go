package experiment_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/experiment"
)

func TestDeriveConfig(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a", "t.yaml")
	if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
		t.Fatal(err)
	}
	yaml := `name: t
model: {latent: 2, data_dim: 784, generator: [4], discriminator: [4], output: tanh}
training:
  global_rounds: 5
  local_iters: 3
cloud: {allow_anonymous: true, output: ../out}
communities:
  - id: c
    data: {kind: idx, path: data/x}
    edge: {allow_anonymous: true}
    device_count: 1
`
	if err := os.WriteFile(src, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "b", "derived.yaml")
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := experiment.DeriveConfig(src, dst, map[string]string{"training.global_rounds": "9", "training.mode": "async", "cloud.eval_every": "2"}); err != nil {
		t.Fatal(err)
	}
	top, err := config.Load(dst)
	if err != nil {
		t.Fatal(err)
	}
	tr := top.Training
	if tr.GlobalRounds != 9 || tr.LocalIters != 3 || tr.Mode != "async" || top.Cloud.EvalEvery != 2 {
		t.Errorf("rounds %d, iters %d, mode %s, eval_every %d; want 9, 3, async, 2", tr.GlobalRounds, tr.LocalIters, tr.Mode, top.Cloud.EvalEvery)
	}
	if got, want := top.Communities[0].Data.Path, filepath.Join(dir, "a", "data", "x"); got != want {
		t.Errorf("data path %s, want %s", got, want)
	}
	if top.Model.Output != "tanh" {
		t.Errorf("model.output %q, want tanh", top.Model.Output)
	}
	if got, want := top.Cloud.Output, filepath.Join(dir, "out"); got != want {
		t.Errorf("output %s, want %s", got, want)
	}
}
