package config

import (
	"errors"
	"strings"
	"testing"
)

// TestShapeProblems checks that a mistake in the file's shape names its
// line and key path, suggests the nearest key for a typo, says what type
// a value must have, and is not followed by the validator's complaint
// about the zero value it left behind.
func TestShapeProblems(t *testing.T) {
	const base = `name: x
model: {latent: 2, data_dim: 2, generator: [8], discriminator: [8]}
training:
  global_rounds: 3
  local_iters: 2
  batch_size: 8
cloud: {allow_anonymous: true}
communities:
  - id: a
    data: {kind: gaussian, means: [[0, 0]], std: 1, samples: 100}
    edge: {allow_anonymous: true}
    devices: [{id: a1}]
`
	for _, tt := range []struct {
		name, old, new string
		want           []string // each must appear
		not            []string // none may appear
	}{
		{"typo", "  global_rounds: 3", "  global_round: 3",
			[]string{"line 4: training.global_round: unknown key; did you mean global_rounds?"},
			[]string{"training.global_rounds: must be", "config.Training", "not found in type"}},
		{"nested typo with the community's id", "edge: {allow_anonymous: true}", "edge: {allow_anonymous: true, listne: ':1883'}",
			[]string{"line 11: communities[a].edge.listne: unknown key; did you mean listen?"}, nil},
		{"a device's key", "devices: [{id: a1}]", "devices: [{id: a1, pasword_file: x}]",
			[]string{"line 12: communities[a].devices[a1].pasword_file: unknown key; did you mean password_file?"}, nil},
		{"no near key lists the keys", "  batch_size: 8", "  batch_size: 8\n  colour: red",
			[]string{"line 7: training.colour: unknown key; the keys of training are ", "global_rounds"}, nil},
		{"unknown top-level key", "name: x", "name: x\nclodu: {}",
			[]string{"line 2: clodu: unknown key; did you mean cloud?"}, nil},
		{"integer", "  batch_size: 8", "  batch_size: sixty-four",
			[]string{"line 6: training.batch_size: `sixty-four` is not an integer"},
			[]string{"cannot unmarshal", "training.batch_size: must"}},
		{"number", "std: 1,", "std: wide,",
			[]string{"line 10: communities[a].data.std: `wide` is not a number"}, []string{"std: must be > 0"}},
		{"bool", "cloud: {allow_anonymous: true}", "cloud: {allow_anonymous: maybe}",
			[]string{"line 7: cloud.allow_anonymous: `maybe` is not true or false"}, nil},
		{"duration", "  batch_size: 8", "  batch_size: 8\n  sync_period: soon",
			[]string{`line 7: training.sync_period: "soon" is not a duration`}, nil},
		{"a list wanted", "generator: [8]", "generator: 8",
			[]string{"line 2: model.generator: `8` is not a list"}, []string{"list at least one hidden width"}},
		{"a mapping wanted", "cloud: {allow_anonymous: true}", "cloud: yes",
			[]string{"line 7: cloud: `yes` is not a mapping"}, nil},
		{"inline partition keys are known", "devices: [{id: a1}]", "devices: [{id: a1, partition: {kind: shards, classes_per_device: 1, part: 0, parts: 1}}]",
			nil, []string{"unknown key"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.Replace(base, tt.old, tt.new, 1)
			if src == base {
				t.Fatalf("%q not in the base file", tt.old)
			}
			_, err := FromBytes([]byte(src), "x.yaml", "")
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("no %q in:\n%s", w, msg)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(msg, n) {
					t.Errorf("%q in:\n%s", n, msg)
				}
			}
		})
	}
}

func TestNearest(t *testing.T) {
	known := []string{"global_rounds", "local_iters", "batch_size", "mode", "lr_g", "lr_d"}
	for _, tt := range []struct{ k, want string }{
		{"global_round", "global_rounds"},
		{"globl_rounds", "global_rounds"},
		{"batchsize", "batch_size"},
		{"mod", "mode"},
		{"colour", ""},
		{"lr", "lr_g"}, // a prefix of two keys: the first in order
	} {
		if got := nearest(tt.k, known); got != tt.want {
			t.Errorf("nearest(%q) = %q, want %q", tt.k, got, tt.want)
		}
	}
}

// FuzzFromBytes: no topology file, however broken, panics the loader or
// the shape walk; every failure is a *Error.
func FuzzFromBytes(f *testing.F) {
	f.Add([]byte("name: x\ntraining: {global_round: 3}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte("model: &m {latent: 2}\ncloud: {<<: *m}\ncommunities: [{id: a, devices: [{id: a1, partition: {kind: 1}}]}]\n"))
	f.Add([]byte("communities: [[1], {id: [2]}]\ntraining: [1]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		top, err := FromBytes(b, "fuzz.yaml", "")
		if err == nil && top == nil {
			t.Fatal("no topology and no error")
		}
		if err != nil && !errors.Is(err, ErrConfig) {
			t.Fatalf("error %v does not wrap ErrConfig", err)
		}
	})
}
