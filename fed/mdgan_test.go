package fed

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// The M-D GAN baseline (docs/DESIGN.md §2.13) is the hierarchy with one
// community whose edge averages its devices' feedback (WeightsUniform)
// under a cloud without a server optimizer. These tests check the two
// claims that mapping rests on.

// TestCloudOneCommunityIsIdentity: Eq. 1 over one community gives it
// weight 1, and the cloud without ServerOpt publishes that community's G
// bit for bit, so that the cloud adds nothing to M-D GAN's one generator:
// under robust none (Eq. 1 exactly) and under the default clip (a lone
// community has no reference to be clipped against).
func TestCloudOneCommunityIsIdentity(t *testing.T) {
	for _, loss := range []float64{-0.7, 0, 123.5, -1e300} {
		w, err := GlobalWeights(nil, []float64{loss})
		if err != nil || len(w) != 1 || w[0] != 1 {
			t.Fatalf("GlobalWeights([%g]) = %v, %v; want [1]", loss, w, err)
		}
	}
	for _, rob := range []RobustConfig{{}, DefaultRobust} {
		oneCommunityCloud(t, rob)
	}
}

// oneCommunityCloud runs three rounds of a one-community cloud with
// robust aggregation rob and checks that G is the community's G each time.
func oneCommunityCloud(t *testing.T, rob RobustConfig) {
	t.Helper()
	c, err := NewCloud(CloudConfig{Communities: []string{"all"}, GlobalRounds: 3, RoundTimeout: time.Minute, Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), Robust: rob})
	if err != nil {
		t.Fatal(err)
	}
	n := len(nn.Flatten(nil, c.Gen().Params()))
	r := rand.New(rand.NewPCG(5, 5))
	c.Start(time.Unix(0, 0))
	c.Advance()
	for round := range 3 {
		p := make([]float32, n)
		for i := range p {
			p[i] = float32(r.NormFloat64()) * float32(math.Pow(10, float64(r.IntN(9)-4)))
		}
		if err := c.Update(time.Unix(int64(round), 0), &Update{Community: "all", Round: round, Loss: -math.Abs(r.NormFloat64()), Params: slices.Clone(p)}); err != nil {
			t.Fatal(err)
		}
		ready := c.Ready()
		c.Advance()
		if got := nn.Flatten(nil, c.Gen().Params()); !slices.Equal(got, p) {
			t.Fatalf("robust %v, round %d: the global G differs from the one community's G", rob.Rule, round)
		}
		if len(ready.Rounds) != 1 || ready.Rounds[0].Weights["all"] != 1 {
			t.Fatalf("robust %v, round %d: summaries %+v, want one with weight 1 for the one community", rob.Rule, round, ready.Rounds)
		}
	}
}

// TestUniformRobust: with uniform weights no device's weight exceeds 1/n,
// so the robust weight cap (≥ 1/n) never binds and RobustSyncWeights is
// SyncWeights unchanged; only the loss floor and the feedback clip of
// Bound can act on uniform aggregation.
func TestUniformRobust(t *testing.T) {
	rc, err := DefaultRobust.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(7, 7))
	for range 200 {
		losses := make([]float64, 1+r.IntN(20))
		for j := range losses {
			losses[j] = 10 * r.NormFloat64()
		}
		for _, capAt := range []float64{1, rc.WeightCap} {
			rc.WeightCap = capAt
			got, capped, err := rc.RobustSyncWeights(losses, WeightsUniform)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := SyncWeights(losses, WeightsUniform)
			if capped != 0 || !slices.Equal(got.Weights, want.Weights) || !slices.Equal(got.Coeffs, want.Coeffs) || got.Loss != want.Loss {
				t.Fatalf("RobustSyncWeights(%v, uniform) with cap %g: %+v, %d capped; want %+v, none capped", losses, capAt, got, capped, want)
			}
		}
	}
}
