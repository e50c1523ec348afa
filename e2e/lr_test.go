package e2e

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
)

// TestLRSeparateProcesses runs the label-related scenario as separate OS
// processes over real brokers, sync and async: two communities, each a
// domain of one Gaussian mode, the cloud training the domain classifier C
// and sending L_inv and L_spe back over the bridge; and the FED GAN
// baseline on the same topology. Every round is merged from both
// communities, the metrics carry the domain losses (FED GAN's none), and
// the final G draws community k's mode under code c_k.
func TestLRSeparateProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-process test")
	}
	for _, tc := range []struct {
		name, mode, extra string
		classCode         bool
	}{
		{"sync", "sync", "", false}, {"async", "async", "", false},
		// The FED GAN baseline of Table 2: conditional GANs on the devices,
		// FedAvg, no domain classifier (no L_inv, L_spe in the metrics).
		{"fedgan", "sync", "  algorithm: fedgan", false},
		// G(z, c_k, e_y) (model.class_code): the batches carry the row
		// classes over the brokers, D reads [x, c_k, e_y], C trains on
		// rows with classes (each community's one mode is class 0).
		{"sync-class-code", "sync", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := newTopo(t, 30, 10)
			tp.Scenario, tp.Mode, tp.Extra = "lr", tc.mode, tc.extra
			fedgan := tc.extra != ""
			cfg := tp.write(t)
			if tc.classCode {
				withClassCode(t, cfg)
			}
			cloud, edges, agents := startAll(t, tp, cfg)
			eventually(t, "the final model", finished(tp))
			checkRounds(t, tp)
			lines := metricsLines(t, filepath.Join(tp.Dir, "results"))
			for _, l := range lines {
				sum := l["summary"].(map[string]any)
				_, inv := sum["l_inv"].(float64)
				_, spe := sum["l_spe"].(float64)
				if inv == fedgan || spe == fedgan {
					t.Fatalf("round %v (%s): l_inv %v, l_spe %v in the summary %v", l["round"], tc.name, inv, spe, sum)
				}
			}
			top, err := config.Load(cfg)
			if err != nil {
				t.Fatal(err)
			}
			gen, err := eval.LoadGenerator(filepath.Join(tp.Dir, "results", "generator.nnw"), top)
			if err != nil {
				t.Fatal(err)
			}
			for k, c := range top.Communities {
				x, _ := eval.Sample(top, gen, 500, *c.Domain, rand.New(rand.NewPCG(1, uint64(k))), nil)
				var mx, my float64
				for i := range 500 {
					mx, my = mx+float64(x[2*i])/500, my+float64(x[2*i+1])/500
				}
				t.Logf("domain %d: samples centred on (%.2f, %.2f)", *c.Domain, mx, my)
				if mu := c.Data.Means[0]; math.Hypot(mx-mu[0], my-mu[1]) > 0.5 {
					t.Errorf("domain %d (community %s): samples centred on (%.2f, %.2f), want its mode (%g, %g)", *c.Domain, c.ID, mx, my, mu[0], mu[1])
				}
			}
			for _, a := range agents {
				a.stop(t)
			}
			for _, e := range edges {
				e.stop(t)
			}
			cloud.stop(t)
		})
	}
}

// withClassCode adds model.class_code: 1 to the LR topology file cfg.
func withClassCode(t *testing.T, cfg string) {
	t.Helper()
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Replace(string(b), "classifier: [16]}", "classifier: [16], class_code: 1}", 1)
	if out == string(b) {
		t.Fatalf("no LR model line in %s:\n%s", cfg, b)
	}
	if err := os.WriteFile(cfg, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
