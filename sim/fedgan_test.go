package sim

import (
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
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
