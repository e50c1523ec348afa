package sim

import (
	"flag"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/wire"
)

var robustTable = flag.Bool("robust", false, "run TestRobustTable: every lie × rule × mode on the two-community topology (minutes)")

// duo is two communities of three devices, each community two modes of a
// 2×2 grid (spacing 3, σ = 0.1): the topology of the lying-device runs,
// the simulator-size settings of configs/gaussian.yaml cut down.
const duo = `
name: duo
seed: 1
model: {latent: 4, data_dim: 2, generator: [128, 128], discriminator: [128, 128], source_code: community}
training:
  global_rounds: 80
  local_iters: 10
  batch_size: 32
  objective: nonsaturating
  lr_g: 0.002
  lr_d: 0.001
  lr_decay: 0.5
  d_spectral_norm: 3
  mode: MODE
  robust: RULE
cloud: {allow_anonymous: true}
communities:
  - id: a
    data: {kind: gaussian, means: [[-1.5, 1.5], [1.5, 1.5]], std: 0.1, samples: 1000}
    edge: {allow_anonymous: true}
    devices: [{id: a1}, {id: a2}, {id: liar SENSOR}]
  - id: b
    data: {kind: gaussian, means: [[-1.5, -1.5], [1.5, -1.5]], std: 0.1, samples: 1000}
    edge: {allow_anonymous: true}
    devices: [{id: b1}, {id: b2}, {id: b3}]
`

// liar is the lying device's id (in community a).
const liar = "liar"

// lie is one way for device "liar" to report: a rewrite of its feedback,
// or local data of its own (a broken sensor).
type lie struct {
	name   string
	tamper func(localIters int) func(string, *wire.Feedback)
	sensor string // the device's data override
}

// scaleGrad multiplies fb's feedback tensor by s.
func scaleGrad(fb *wire.Feedback, s float32) {
	v, err := fb.Grad.Values()
	if err != nil {
		panic(err)
	}
	w := make([]float32, len(v))
	for i, x := range v {
		w[i] = x * s
	}
	fb.Grad = wire.NewTensor(fb.Grad.Shape, w)
}

var lieList = []lie{
	{name: "honest"},
	{name: "loss 1e30", tamper: func(int) func(string, *wire.Feedback) {
		return func(d string, fb *wire.Feedback) {
			if d == liar {
				fb.Loss = 1e30
			}
		}
	}},
	{name: "1e30 last iter", tamper: func(lo int) func(string, *wire.Feedback) {
		return func(d string, fb *wire.Feedback) {
			if d == liar && fb.Iter%int64(lo) == 0 {
				fb.Loss = 1e30
			}
		}
	}},
	{name: "loss 0, F×1e30", tamper: func(int) func(string, *wire.Feedback) {
		return func(d string, fb *wire.Feedback) {
			if d == liar {
				fb.Loss = 0
				scaleGrad(fb, 1e30)
			}
		}
	}},
	{name: "constant sensor", sensor: `data: {kind: gaussian, means: [[0, 0]], std: 0.000001, samples: 1000}`},
	{name: "noise sensor", sensor: `data: {kind: gaussian, means: [[0, 0]], std: 3, samples: 1000}`},
}

// duoTop is duo with rule and mode, the liar's data replaced by sensor
// when it is set.
func duoTop(t testing.TB, rule, mode, sensor string) *config.Topology {
	t.Helper()
	if sensor != "" {
		sensor = ", " + sensor
	}
	src := duo
	if rule == "" {
		src = strings.Replace(src, "  robust: RULE\n", "", 1) // the configuration's default
	}
	src = strings.NewReplacer("MODE", mode, "RULE", rule, " SENSOR", sensor).Replace(src)
	top, err := config.FromBytes([]byte(src), "duo", "")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// duoRun simulates duo with rule and mode, the liar lying as l says,
// and scores the final global G against the four real modes (a broken
// sensor's data is not one).
func duoRun(t testing.TB, rule, mode string, l lie) eval.MixtureReport {
	t.Helper()
	top := duoTop(t, rule, mode, l.sensor)
	opt := Options{}
	if l.tamper != nil {
		opt.Tamper = l.tamper(top.Training.LocalIters)
	}
	s, err := New(top, opt)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	return score(t, duoTop(t, rule, mode, ""), res.Gen)
}

// covers reports whether r is a good result on duo: all four modes, at
// least 80% of samples of high quality (the honest run: 85–92%).
func covers(r eval.MixtureReport) bool { return r.Covered == 4 && r.HighQuality >= 0.8 }

// TestRobustLies: with one of six devices lying about its loss or
// feedback (a loss of 1e30 always, 1e30 on the last local iteration of
// each round only, a loss of 0 with its feedback ×1e30), sync and async,
// the default rule (clip) still covers all four modes with mostly
// high-quality samples; under the paper's arithmetic (robust: none) every
// one of these runs loses modes, so the lies test something.
func TestRobustLies(t *testing.T) {
	for _, l := range lieList[1:4] {
		for _, mode := range []string{"sync", "async"} {
			r := duoRun(t, "", mode, l)
			t.Logf("%s, %s, default rule: %v", l.name, mode, r)
			if !covers(r) {
				t.Errorf("%s, %s, default rule: %d of 4 modes, %.1f%% high quality; want 4 and ≥ 80%%", l.name, mode, r.Covered, 100*r.HighQuality)
			}
			r = duoRun(t, "none", mode, l)
			t.Logf("%s, %s, none: %v", l.name, mode, r)
			if covers(r) {
				t.Errorf("%s, %s, none: %d of 4 modes, %.1f%% high quality: the lie no longer breaks the paper's arithmetic", l.name, mode, r.Covered, 100*r.HighQuality)
			}
		}
	}
}

// TestRobustSensors: a broken sensor (its data all one point, or pure
// noise) reports plausible losses and feedback, so clip only bounds its
// share; the coordinate-wise trimmed mean (the rule for communities whose
// devices hold the same distribution) leaves it out, and clip with
// quarantine leaves out the constant sensor, whose feedback is clipped in
// most iterations.
func TestRobustSensors(t *testing.T) {
	for _, l := range lieList[4:] {
		for _, mode := range []string{"sync", "async"} {
			r := duoRun(t, "trimmed", mode, l)
			t.Logf("%s, %s, trimmed: %v", l.name, mode, r)
			if r.Covered < 4 || r.HighQuality < 0.65 {
				t.Errorf("%s, %s, trimmed: %d of 4 modes, %.1f%% high quality; want 4 and ≥ 65%%", l.name, mode, r.Covered, 100*r.HighQuality)
			}
		}
	}
	top := duoTop(t, "clip", "sync", lieList[4].sensor)
	top.Training.RobustQuarantine = true
	s, err := New(top, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	r := score(t, duoTop(t, "clip", "sync", ""), res.Gen)
	st := res.Edges[0]
	t.Logf("constant sensor, sync, clip + quarantine: %v; suspects %v, quarantined %d", r, st.Suspects, st.Quarantined)
	if !covers(r) || len(st.Suspects) != 1 || st.Suspects[0] != liar || st.Quarantined == 0 {
		t.Errorf("constant sensor, clip + quarantine: %v, suspects %v, quarantined %d; want 4 modes, ≥ 80%%, the liar quarantined", r, st.Suspects, st.Quarantined)
	}
}

// TestRobustTable measures every lie × rule × mode on duo and prints a
// table (docs/DESIGN.md §2.11; docs/RESULTS.md): run it with
//
//	go test ./sim -run TestRobustTable -robust -v -timeout 1h   (make robust)
func TestRobustTable(t *testing.T) {
	if !*robustTable {
		t.Skip("measures for minutes; run with -robust")
	}
	rules := []string{"none", "clip", "trimmed", "median"}
	fmt.Printf("| lie | mode |")
	for _, r := range rules {
		fmt.Printf(" %s: modes, HQ |", r)
	}
	fmt.Printf("\n|---|---|%s\n", strings.Repeat("---|", len(rules)))
	for _, mode := range []string{"sync", "async"} {
		for _, l := range lieList {
			fmt.Printf("| %s | %s |", l.name, mode)
			for _, rule := range rules {
				r := duoRun(t, rule, mode, l)
				hq := r.HighQuality
				if math.IsNaN(hq) {
					hq = 0
				}
				fmt.Printf(" %d/4, %.1f%% |", r.Covered, 100*hq)
			}
			fmt.Println()
		}
	}
}
