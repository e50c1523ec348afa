package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
)

// TestMDGANGaussian trains the M-D GAN baseline of Fig. 3
// (configs/mdgan-gaussian.yaml: one community of the 45 devices of
// configs/gaussian.yaml, uniform weights, no server step) for 20
// rounds and checks that it is M-D GAN and that it trains: one edge whose
// every device weighs 1/45, one community at Eq. 1 weight 1 in every
// round, and a generator with at least 90% of its samples within 3σ of a
// mode, which its initial G does not reach (44%). (M-D GAN's unconditional G
// covers one of the nine modes here, as FR's does with source_code: none:
// TestQualitySmall; docs/RESULTS.md §8 has the long runs.)
func TestMDGANGaussian(t *testing.T) {
	top, err := config.Load("../configs/mdgan-gaussian.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	top.Training.GlobalRounds = rounds
	g0, err := deploy.Generator(top, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	init := score(t, top, g0)
	r, res := run(t, top, Options{})
	t.Logf("initial G: %v; after %d rounds: %v", init, rounds, r)
	if len(res.Edges) != 1 || len(res.Edges[0].Weights) != 45 {
		t.Fatalf("%d edges, weights %v; want one edge weighing 45 devices", len(res.Edges), res.Edges)
	}
	for id, w := range res.Edges[0].Weights {
		if w != 1.0/45 {
			t.Errorf("device %s weighs %v, want 1/45", id, w)
		}
	}
	for _, s := range res.Rounds {
		if len(s.Weights) != 1 || s.Weights["all"] != 1 {
			t.Errorf("round %d: Eq. 1 weights %v, want the one community at 1", s.Round, s.Weights)
		}
	}
	if init.HighQuality >= 0.9 {
		t.Fatalf("the initial G already has %.1f%% high-quality samples: the bar says nothing", 100*init.HighQuality)
	}
	if r.Covered < 1 || r.HighQuality < 0.9 {
		t.Errorf("after %d rounds: %d modes covered, %.1f%% high quality; want ≥ 1 and ≥ 90%%", rounds, r.Covered, 100*r.HighQuality)
	}
}
