package deploy_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// twoCommunities has community a (two devices, 100 samples each, modes
// split per device) and b (one device, 300 samples).
func twoCommunities(t *testing.T, code string) *config.Topology {
	t.Helper()
	top, err := config.FromBytes([]byte(strings.Replace(`
model: {latent: 3, data_dim: 2, generator: [8], discriminator: [8], source_code: CODE, source_code_scale: 4}
training: {global_rounds: 2, local_iters: 1, batch_size: 4, d_spectral_norm: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0], [2, 0]], std: 1, samples: 100}, partition: {kind: modes}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: b, data: {kind: gaussian, means: [[1, 0]], std: 1, samples: 300}, edge: {allow_anonymous: true}, device_count: 1}
`, "CODE", code, 1)), "inline", "")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// TestLatents checks that every row carries z and exactly one source code
// of the configured scale, drawn with the sources' data shares.
func TestLatents(t *testing.T) {
	for _, tt := range []struct {
		code   string
		shares []float64
	}{
		{"community", []float64{0.4, 0.6}},
		{"device", []float64{0.2, 0.2, 0.6}},
	} {
		top := twoCommunities(t, tt.code)
		const n = 20000
		z := deploy.Latents(top, nil, n, rand.New(rand.NewPCG(1, 2)))
		cols := 3 + len(tt.shares)
		if len(z) != n*cols {
			t.Fatalf("%s: %d values, want %d", tt.code, len(z), n*cols)
		}
		counts := make([]float64, len(tt.shares))
		var zsum, zsq float64
		for i := range n {
			row := z[i*cols : (i+1)*cols]
			for _, v := range row[:3] {
				zsum += float64(v)
				zsq += float64(v) * float64(v)
			}
			set := 0
			for k, v := range row[3:] {
				switch v {
				case 0:
				case 4:
					set++
					counts[k]++
				default:
					t.Fatalf("%s: row %d code %v, want one entry of 4", tt.code, i, row[3:])
				}
			}
			if set != 1 {
				t.Fatalf("%s: row %d code %v, want one entry of 4", tt.code, i, row[3:])
			}
		}
		for k, c := range counts {
			// Binomial standard error at n = 20000 is at most 0.0036.
			if got := c / n; math.Abs(got-tt.shares[k]) > 0.015 {
				t.Errorf("%s: code %d drawn %.3f of the time, want %.3f", tt.code, k, got, tt.shares[k])
			}
		}
		if mean, v := zsum/(3*n), zsq/(3*n); math.Abs(mean) > 0.02 || math.Abs(v-1) > 0.03 {
			t.Errorf("%s: z mean %.3f, second moment %.3f; want N(0, 1)", tt.code, mean, v)
		}
	}
}

// TestEdgeSourceRows checks that setup gives each device of a community
// its own code on its rows (source_code: device).
func TestEdgeSourceRows(t *testing.T) {
	top := twoCommunities(t, "device")
	e, err := deploy.Edge(top, "a")
	if err != nil {
		t.Fatal(err)
	}
	// A G that outputs its input's code columns 0 and 1: devices a-d1 and
	// a-d2 have codes 0 and 1, so rows alternate (4, 0), (0, 4).
	g, err := nn.Build(top.GeneratorSpec(), rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Params()) != 4 {
		t.Fatalf("G has %d parameters, want 4 (one hidden layer)", len(g.Params()))
	}
	w1, w2 := g.Params()[0], g.Params()[2]
	for _, p := range g.Params() {
		clear(p.Value)
	}
	// Input column 3+k feeds hidden unit k; hidden unit k feeds output k.
	w1.Value[3*8+0], w1.Value[4*8+1] = 1, 1
	w2.Value[0*2+0], w2.Value[1*2+1] = 1, 1
	now := time.Unix(0, 0)
	for _, d := range []string{"a-d1", "a-d2"} {
		if err := e.Presence(now, d, true); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Global(now, &fed.Global{Round: 0, Params: nn.Flatten(nil, g.Params())}); err != nil {
		t.Fatal(err)
	}
	xg, err := e.Ready().Batches[0].Gen.Float32s(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{4, 0, 0, 4, 4, 0, 0, 4}
	for i := range want {
		if xg[i] != want[i] {
			t.Fatalf("X_g: got %v, want %v", xg, want)
		}
	}
	if _, err := deploy.Device(top, "a-d1", nil); err != nil {
		t.Errorf("device with d_spectral_norm: %v", err)
	}
	x := deploy.Sample(top, g, 10, rand.New(rand.NewPCG(3, 3)))
	if len(x) != 20 {
		t.Errorf("Sample: %d values, want 20", len(x))
	}
}

// TestLatentsDrawOrder pins the order in which Latents draws from rng:
// each row's z, then its source code (shares 0.4 and 0.6: code 0 for a
// uniform draw below 0.4), so that evaluations reproduce.
func TestLatentsDrawOrder(t *testing.T) {
	top := twoCommunities(t, "community")
	z := deploy.Latents(top, nil, 50, rand.New(rand.NewPCG(7, 8)))
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 50 {
		want := make([]float32, 5)
		for j := range 3 {
			want[j] = float32(rng.NormFloat64())
		}
		if rng.Float64() < 0.4 {
			want[3] = 4
		} else {
			want[4] = 4
		}
		if got := z[i*5 : (i+1)*5]; !slices.Equal(got, want) {
			t.Fatalf("row %d: %v, want %v", i, got, want)
		}
	}
}
