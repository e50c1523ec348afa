package config

import (
	"strings"
	"testing"

	"github.com/fedgan/fedgan/fed"
)

// TestGenLayout checks G's input layout in each scenario: m = 3 latent
// columns, then 2 domain columns (LR, two communities), 2 or 3 source-code
// columns (one per community or per device: a has two devices, b one) or 4
// class columns.
func TestGenLayout(t *testing.T) {
	const base = `
scenario: SCENARIO
model: {latent: 3, data_dim: 2, generator: [8], discriminator: [8], classifier: [4], source_code: SOURCE, class_code: CLASSES}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, domain: 0, data: {kind: gaussian, means: [[0, 0], [1, 1]], std: 1, samples: 100}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: b, domain: 1, data: {kind: gaussian, means: [[1, 0], [2, 0]], std: 1, samples: 300, label_offset: 2}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		scenario, source, classes string
		want                      fed.Layout
		width                     int
	}{
		{"fr", "none", "0", fed.Layout{Latent: 3}, 3},
		{"lr", "none", "0", fed.Layout{Latent: 3, Domains: 2}, 5},
		{"fr", "community", "0", fed.Layout{Latent: 3, SourceCodes: 2}, 5},
		{"fr", "device", "0", fed.Layout{Latent: 3, SourceCodes: 3}, 6},
		{"fr", "none", "4", fed.Layout{Latent: 3, Classes: 4}, 7},
	} {
		name := tt.scenario + "/" + tt.source + "/" + tt.classes
		r := strings.NewReplacer("SCENARIO", tt.scenario, "SOURCE", tt.source, "CLASSES", tt.classes)
		src := r.Replace(base)
		if tt.scenario == "fr" {
			src = strings.ReplaceAll(src, "domain: 0, ", "")
			src = strings.ReplaceAll(src, "domain: 1, ", "")
		}
		top, err := FromBytes([]byte(src), "inline", "")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := top.GenLayout(); got != tt.want {
			t.Errorf("%s: layout %+v, want %+v", name, got, tt.want)
		}
		if got := top.GenInDim(); got != tt.width {
			t.Errorf("%s: G input width %d, want %d", name, got, tt.width)
		}
		if got := top.GeneratorSpec()[0].In; got != tt.width {
			t.Errorf("%s: G spec input %d, want %d", name, got, tt.width)
		}
	}
}
