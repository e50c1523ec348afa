package fed

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

// TestCloudEMA checks the moving average of G against hand-computed
// values: round t mixes with β_t = min(EMA, (1+t)/(10+t)).
func TestCloudEMA(t *testing.T) {
	newCloud := func() *Cloud {
		t.Helper()
		ema, err := nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 2}}, rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewCloud(CloudConfig{Communities: []string{"a"}, GlobalRounds: 3, RoundTimeout: time.Minute,
			Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), EMA: 0.9, EMAGen: ema})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newCloud()
	g0 := c.Gen().Params()[0].Value[0]
	if got := c.EvalGen().Params()[0].Value[0]; got != g0 {
		t.Fatalf("EMA starts at %v, want G's %v", got, g0)
	}
	if c.EvalGen() == c.Gen() {
		t.Fatal("EvalGen is G with EMA set")
	}
	n := len(nn.Flatten(nil, c.Gen().Params()))
	update := func(c *Cloud, round int, v float32) {
		t.Helper()
		p := make([]float32, n)
		for i := range p {
			p[i] = v
		}
		if err := c.Update(time.Unix(int64(round), 0), &Update{Community: "a", Round: round, Params: p}); err != nil {
			t.Fatal(err)
		}
		c.Advance()
	}
	c.Start(time.Unix(0, 0))
	c.Advance()
	// Round 0: one community, so G becomes all 1; β_0 = min(0.9, 1/10) = 0.1.
	update(c, 0, 1)
	want := 0.1*float64(g0) + 0.9*1
	if got := c.EvalGen().Params()[0].Value[0]; math.Abs(float64(got)-want) > 1e-6 {
		t.Fatalf("after round 0: EMA %v, want 0.1·%v + 0.9·1 = %v", got, g0, want)
	}
	if got := c.Gen().Params()[0].Value[0]; got != 1 {
		t.Fatalf("G = %v after round 0, want 1 (the EMA must not touch G)", got)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	// Round 1: G = 2; β_1 = min(0.9, 2/11).
	update(c, 1, 2)
	b1 := 2.0 / 11
	want = b1*want + (1-b1)*2
	got := c.EvalGen().Params()[0].Value[0]
	if math.Abs(float64(got)-want) > 1e-6 {
		t.Fatalf("after round 1: EMA %v, want %v", got, want)
	}
	// A restored cloud continues the same average.
	r := newCloud()
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	r.Start(time.Unix(1, 0))
	r.Advance()
	update(r, 1, 2)
	if rg := r.EvalGen().Params()[0].Value[0]; rg != got {
		t.Fatalf("restored cloud's EMA after round 1 = %v, want %v", rg, got)
	}
}

func TestCloudEMAConfig(t *testing.T) {
	for _, tc := range []struct {
		ema    float64
		withG  bool
		wantOK bool
	}{
		{0, false, true},
		{0.99, true, true},
		{0.99, false, false},
		{1, true, false},
		{-0.1, true, false},
		{math.NaN(), true, false},
	} {
		cfg := CloudConfig{Communities: []string{"a"}, GlobalRounds: 1, RoundTimeout: time.Minute, Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), EMA: tc.ema}
		if tc.withG {
			cfg.EMAGen = tinyGen(t)
		}
		c, err := NewCloud(cfg)
		if (err == nil) != tc.wantOK {
			t.Errorf("EMA %v, EMAGen %v: error %v, want ok=%v", tc.ema, tc.withG, err, tc.wantOK)
		}
		if err == nil && tc.ema == 0 && c.EvalGen() != c.Gen() {
			t.Errorf("EMA 0: EvalGen is not G")
		}
	}
}

// TestCloudServerLRDecay checks the server step by hand with SGD as the
// server optimizer: G moves lr_t of the way to the Eq. 1 average, with
// lr_t = lr·(1 − decay·t/rounds).
func TestCloudServerLRDecay(t *testing.T) {
	c, err := NewCloud(CloudConfig{Communities: []string{"a"}, GlobalRounds: 4, RoundTimeout: time.Minute,
		Gen: tinyGen(t), RNG: rand.NewPCG(3, 3), ServerOpt: nn.NewSGD(1, 0), ServerLRDecay: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	n := len(nn.Flatten(nil, c.Gen().Params()))
	c.Start(time.Unix(0, 0))
	c.Advance()
	prev := float64(c.Gen().Params()[0].Value[0])
	for round, lr := range []float64{1, 0.875, 0.75} {
		p := make([]float32, n)
		for i := range p {
			p[i] = 10
		}
		if err := c.Update(time.Unix(int64(round), 0), &Update{Community: "a", Round: round, Params: p}); err != nil {
			t.Fatal(err)
		}
		c.Advance()
		want := prev + lr*(10-prev)
		if got := float64(c.Gen().Params()[0].Value[0]); math.Abs(got-want) > 1e-4 {
			t.Fatalf("round %d: G = %v, want %v (server lr %v)", round, got, want, lr)
		}
		prev = want
	}
	for _, bad := range []CloudConfig{
		{ServerLRDecay: 0.5},                              // no server optimizer
		{ServerLRDecay: 1, ServerOpt: nn.NewSGD(1, 0)},    // out of range
		{ServerLRDecay: -0.1, ServerOpt: nn.NewSGD(1, 0)}, // out of range
	} {
		bad.Communities, bad.GlobalRounds, bad.RoundTimeout, bad.Gen, bad.RNG = []string{"a"}, 4, time.Minute, tinyGen(t), rand.NewPCG(3, 3)
		if _, err := NewCloud(bad); err == nil {
			t.Errorf("ServerLRDecay %g with server optimizer %T: no error", bad.ServerLRDecay, bad.ServerOpt)
		}
	}
}
