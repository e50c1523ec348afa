package sim

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
)

// fedganTopology is the small topology (four communities, one mode each,
// two devices each) with training.algorithm: fedgan.
func fedganTopology(t *testing.T, code string) *config.Topology {
	t.Helper()
	y := strings.Replace(strings.Replace(small, "%s", code, 1), "training:\n", "training:\n  algorithm: fedgan\n", 1)
	top, err := config.FromBytes([]byte(y), "small-fedgan", "")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// TestFedGANSmall trains the Fed GAN baseline on the small topology with
// the same model, data and settings as TestQualitySmall's FR run (600
// local steps per device), and holds it to a bar FR meets there: every
// mode covered with most samples of high quality. It also checks the
// protocol's counts: every device answered every round, nothing was
// late, rejected or averaged without its devices.
func TestFedGANSmall(t *testing.T) {
	top := fedganTopology(t, "community")
	r, res := run(t, top, Options{})
	t.Logf("fedgan: %v; %d rounds, virtual %s", r, len(res.Rounds), res.Virtual)
	if r.Covered < 4 || r.HighQuality < 0.9 {
		t.Errorf("Fed GAN: %d of 4 modes covered, %.1f%% high quality; want 4 and ≥ 90%%", r.Covered, 100*r.HighQuality)
	}
	if len(res.Rounds) != top.Training.GlobalRounds {
		t.Fatalf("%d rounds, want %d", len(res.Rounds), top.Training.GlobalRounds)
	}
	for i, e := range res.Edges {
		if e.Updates != int64(top.Training.GlobalRounds) || e.Feedback != 2*int64(top.Training.GlobalRounds) || e.Late+e.Duplicate+e.Empty+e.Partial != 0 || len(e.Rejected) > 0 {
			t.Errorf("edge %d: %+v", i, e)
		}
	}
	for _, s := range res.Rounds {
		for id, w := range s.Weights {
			if w != 0.25 { // four communities of 1000 samples each
				t.Fatalf("round %d: community %s has weight %g, want 0.25", s.Round, id, w)
			}
		}
	}
}

// TestFedGANLR trains the Fed GAN baseline in the label-related scenario
// (four domains, one per community, one mode each): every device trains
// the conditional GAN of its domain, G(z, c_k) against D(x, c_k), and
// FedAvg merges them, with no domain classifier. The global G must draw
// community k's mode under code c_k, every domain, and the cloud must not
// have trained or sent a classifier.
func TestFedGANLR(t *testing.T) {
	y := strings.Replace(small, "source_code: %s}", "classifier: [16]}", 1)
	y = strings.Replace(strings.Replace(y, "name: small\n", "name: small-lr\nscenario: lr\n", 1), "training:\n", "training:\n  algorithm: fedgan\n", 1)
	top, err := config.FromBytes([]byte(y), "small-fedgan-lr", "")
	if err != nil {
		t.Fatal(err)
	}
	_, res := run(t, top, Options{})
	// Every domain's share (run's score draws FR's latents, without a code).
	r, err := eval.ScoreMixture(deploy.GlobalMixture(top), eval.SampleAll(top, res.Gen, evalSamples, rand.New(rand.NewPCG(0x5eed, 9))))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fedgan lr: %v; %d rounds", r, len(res.Rounds))
	if r.Covered < 4 {
		t.Errorf("%d of 4 modes covered over the domains, want 4", r.Covered)
	}
	for k, c := range top.Communities {
		x, _ := eval.Sample(top, res.Gen, 500, *c.Domain, rand.New(rand.NewPCG(1, uint64(k))), nil)
		var mx, my float64
		for i := range 500 {
			mx, my = mx+float64(x[2*i])/500, my+float64(x[2*i+1])/500
		}
		if mu := c.Data.Means[0]; math.Hypot(mx-mu[0], my-mu[1]) > 0.3 {
			t.Errorf("domain %d (community %s): samples centred on (%.2f, %.2f), want its mode (%g, %g)", *c.Domain, c.ID, mx, my, mu[0], mu[1])
		}
	}
	for _, s := range res.Rounds {
		if s.ClsLoss != 0 || s.LInv != 0 || s.LSpe != 0 {
			t.Fatalf("round %d: classifier loss %g, L_inv %g, L_spe %g: Fed GAN has no domain classifier", s.Round, s.ClsLoss, s.LInv, s.LSpe)
		}
	}
}
