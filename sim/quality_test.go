package sim

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

var (
	long     = flag.Bool("long", false, "run TestQualityLong: the shipped Gaussian configs end to end (minutes)")
	configs  = flag.String("configs", "../configs/gaussian.yaml,../configs/grid25.yaml", "TestQualityLong: comma-separated topology files")
	modes    = flag.String("modes", "", "TestQualityLong: comma-separated training modes to run each config in (default: the file's)")
	seeds    = flag.String("seeds", "1,2,3", "TestQualityLong: comma-separated seeds")
	set      = flag.String("set", "", "TestQualityLong: overrides key=value,… (see applySet)")
	progress = flag.Int("progress", 0, "TestQualityLong: print the scores every N rounds (0: only the final)")
)

// evalSamples is how many samples of the final global G are scored.
const evalSamples = 2500

// score draws evalSamples samples of gen with a fixed stream and scores
// them against the global mixture of top (eval.ScoreMixture).
func score(t testing.TB, top *config.Topology, gen *nn.Sequential) eval.MixtureReport {
	t.Helper()
	x := deploy.Sample(top, gen, evalSamples, rand.New(rand.NewPCG(0x5eed, 9)))
	r, err := eval.ScoreMixture(deploy.GlobalMixture(top), x)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run simulates top and returns the report of its final global G.
func run(t testing.TB, top *config.Topology, opt Options) (eval.MixtureReport, *Result) {
	t.Helper()
	s, err := New(top, opt)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Run()
	if err != nil {
		t.Fatal(err)
	}
	return score(t, top, res.Gen), res
}

// small is four communities of two devices, each community one mode of a
// 2×2 grid (spacing 3, σ = 0.1): the paper's one-mode-per-community split,
// small enough to train in seconds.
const small = `
name: small
seed: 1
model: {latent: 4, data_dim: 2, generator: [128, 128], discriminator: [128, 128], source_code: %s}
training:
  global_rounds: 60
  local_iters: 10
  batch_size: 32
  objective: nonsaturating
  lr_g: 0.002
  lr_d: 0.001
  lr_decay: 0.5
  d_spectral_norm: 3
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[-1.5, 1.5]], std: 0.1, samples: 500}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: b, data: {kind: gaussian, means: [[1.5, 1.5]], std: 0.1, samples: 500}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: c, data: {kind: gaussian, means: [[-1.5, -1.5]], std: 0.1, samples: 500}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: d, data: {kind: gaussian, means: [[1.5, -1.5]], std: 0.1, samples: 500}, edge: {allow_anonymous: true}, device_count: 2}
`

func smallTopology(t *testing.T, code string) *config.Topology {
	t.Helper()
	top, err := config.FromBytes([]byte(strings.Replace(small, "%s", code, 1)), "small", "")
	if err != nil {
		t.Fatal(err)
	}
	return top
}

// TestQualitySmall trains the small topology with the shipped mechanism
// (community source code, nonsaturating feedback, spectrally bounded D,
// decaying generator step) for 600 generator updates per community and
// requires every mode covered with mostly high-quality samples. The same
// run with the paper's unconditional generator (source_code: none) is the
// contrast: it covers at most one mode, so the thresholds say something.
func TestQualitySmall(t *testing.T) {
	for _, tt := range []struct {
		code    string
		covered int     // at least (or at most, for none)
		hq      float64 // at least
	}{
		{"community", 4, 0.95},
		{"none", 1, 0},
	} {
		top := smallTopology(t, tt.code)
		r, res := run(t, top, Options{})
		t.Logf("source_code %s: %v; %d updates per community, virtual %s", tt.code, r, res.Edges[0].Updates, res.Virtual)
		if tt.code == "none" {
			if r.Covered > tt.covered {
				t.Errorf("source_code none: %d of 4 modes covered, want at most %d: the contrast no longer holds", r.Covered, tt.covered)
			}
			continue
		}
		if r.Covered < tt.covered || r.HighQuality < tt.hq {
			t.Errorf("source_code %s: %d of 4 modes covered, %.1f%% high quality; want %d and ≥ %.0f%%", tt.code, r.Covered, 100*r.HighQuality, tt.covered, 100*tt.hq)
		}
	}
}

// TestQualityLong runs the shipped Gaussian configs (and seeds, and
// training modes) end to end in the simulator and prints, for each run,
// the modes covered, the share of high-quality samples and the reverse KL
// of the final global generator (2500 samples), the generator updates per
// community and the virtual time, then the mean and minimum over seeds.
// It asserts nothing: it measures. Run it with
//
//	go test ./sim -run TestQualityLong -long -v -timeout 2h \
//	    [-configs ../configs/gaussian.yaml] [-modes sync,async] [-seeds 1,2,3] \
//	    [-set key=value,…] [-progress 10]
func TestQualityLong(t *testing.T) {
	if !*long {
		t.Skip("measures the shipped configs for minutes; run with -long")
	}
	for _, file := range strings.Split(*configs, ",") {
		base, err := config.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		ms := []string{base.Training.Mode}
		if *modes != "" {
			ms = strings.Split(*modes, ",")
		}
		for _, mode := range ms {
			var cov, hq, kl []float64
			for _, sd := range strings.Split(*seeds, ",") {
				top, err := config.Load(file)
				if err != nil {
					t.Fatal(err)
				}
				top.Training.Mode = mode
				if top.Seed, err = strconv.ParseUint(sd, 10, 64); err != nil {
					t.Fatal(err)
				}
				if err := applySet(top, *set); err != nil {
					t.Fatal(err)
				}
				opt := Options{}
				if *progress > 0 {
					opt.OnRound = func(s fed.RoundSummary, g *nn.Sequential) {
						if (s.Round+1)%*progress == 0 {
							fmt.Printf("  %s %s seed %s round %d: %v\n", top.Name, mode, sd, s.Round+1, score(t, top, g))
						}
					}
				}
				r, res := run(t, top, opt)
				fmt.Printf("%s %s seed %s: %v; %d generator updates per community, virtual %s\n", top.Name, mode, sd, r, res.Edges[0].Updates, res.Virtual)
				cov, hq, kl = append(cov, float64(r.Covered)), append(hq, r.HighQuality), append(kl, r.ReverseKL)
			}
			fmt.Printf("%s %s over %d seeds: modes covered mean %.2f min %.0f; high quality mean %.1f%% min %.1f%%; reverse KL mean %.4f max %.4f\n",
				base.Name, mode, len(cov), mean(cov), minOf(cov), 100*mean(hq), 100*minOf(hq), mean(kl), -minOf(neg(kl)))
		}
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func minOf(x []float64) float64 {
	m := math.Inf(1)
	for _, v := range x {
		m = math.Min(m, v)
	}
	return m
}

func neg(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = -v
	}
	return y
}

// applySet overrides training and model keys of a loaded topology, for
// experiments: obj, mode, weights, robust, src (source_code), cs
// (source_code_scale), lrg, lrd, decay, sn (d_spectral_norm), noise, gl,
// lo, b (batch) and h (hidden width of G and D).
func applySet(top *config.Topology, set string) error {
	for _, kv := range strings.Split(set, ",") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		num := err == nil
		i := int(f)
		tr, m := &top.Training, &top.Model
		switch {
		case k == "obj":
			tr.Objective = v
		case k == "mode":
			tr.Mode = v
		case k == "weights":
			tr.Weights = v
		case k == "src":
			m.SourceCode = v
		case k == "robust":
			tr.Robust = v
		case !num:
			return fmt.Errorf("set %s: %q is not a number", k, v)
		case k == "cs":
			m.SourceCodeScale = f
		case k == "lrg":
			tr.LRG = f
		case k == "lrd":
			tr.LRD = f
		case k == "decay":
			tr.LRDecay = f
		case k == "sn":
			tr.DSpectralNorm = f
		case k == "noise":
			tr.InstanceNoise = f
		case k == "gl":
			tr.GlobalRounds = i
		case k == "lo":
			tr.LocalIters = i
		case k == "b":
			tr.BatchSize = i
		case k == "h":
			m.Generator, m.Discriminator = []int{i, i}, []int{i, i}
		default:
			return fmt.Errorf("set: unknown key %q", k)
		}
	}
	return nil
}
