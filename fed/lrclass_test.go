package fed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// Class codes in the LR scenario: G(z, c_k, e_y) (docs/DESIGN.md §2.6).

// copyGen is G: one Dense layer w×w that copies its input row [z, c_k,
// e_y] to its output, so that G¹ (FirstLayers 1) and G's rows are its
// input rows.
func copyGen(t *testing.T, w int) *nn.Sequential {
	t.Helper()
	g := must(nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: w, Out: w}}, nil))
	clear(g.Params()[0].Value)
	clear(g.Params()[1].Value)
	for i := range w {
		g.Params()[0].Value[i*w+i] = 1
	}
	return g
}

// domainC is C: a Dense layer w → k whose logit c is s × column off+c of
// its input (the domain code of a copyGen row), every other weight 0.
func domainC(t *testing.T, w, k, off int, s float32) *nn.Sequential {
	t.Helper()
	c := must(nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: w, Out: k}}, nil))
	clear(c.Params()[0].Value)
	clear(c.Params()[1].Value)
	for d := range k {
		c.Params()[0].Value[(off+d)*k+d] = s
	}
	return c
}

// TestDomainLossClassRows: Eq. 8 and 9 compare the rows of one z under
// every domain code, and with a class code those rows also share the
// row's class. With G copying its input, row i of domain k is [z_i, c_k,
// e_y_i]: two domains differ in the code alone, so each pair of domains
// adds ‖c_k − c_k'‖ = √2 to L_inv per row, whatever the classes; had the
// classes differed between the domains it would be 2. C's logits are
// s·c_k, so every row's cross-entropy is log(e^s + K − 1) − s.
func TestDomainLossClassRows(t *testing.T) {
	const s = 2
	for _, tc := range []struct {
		name            string
		l               Layout
		ys              []int
		wantInv         float64
		wantSpePerClass float64
	}{
		{"no class code", Layout{Latent: 1, Domains: 2}, nil, math.Sqrt2, 2 * (math.Log(math.Exp(s)+1) - s)},
		{"classes shared by the domains", Layout{Latent: 1, Domains: 2, Classes: 3}, []int{2, 0, 1, 2}, math.Sqrt2, 2 * (math.Log(math.Exp(s)+1) - s)},
		{"three domains", Layout{Latent: 1, Domains: 3, Classes: 3}, []int{1, 1, 0, 2}, 3 * math.Sqrt2, 3 * (math.Log(math.Exp(s)+2) - s)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, rows := tc.l.Width(), 4
			gen, cls := copyGen(t, w), domainC(t, w, tc.l.Domains, tc.l.DomainOff(), s)
			z := []float32{0.5, -1, 2, 0.25}
			var d domainLoss
			linv, lspe, err := d.eval(gen, cls, 1, z, tc.ys, rows, tc.l, 0, 0, false)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(linv-tc.wantInv) > 1e-6 || math.Abs(lspe-tc.wantSpePerClass) > 1e-5 {
				t.Errorf("L_inv %g, L_spe %g; want %g, %g", linv, lspe, tc.wantInv, tc.wantSpePerClass)
			}
			for k := range tc.l.Domains {
				for i := range rows {
					want := make([]float32, w)
					want[0], want[tc.l.DomainOff()+k] = z[i], 1
					if tc.ys != nil {
						want[tc.l.ClassOff()+tc.ys[i]] = 1
					}
					if got := d.in[k][i*w : (i+1)*w]; !slices.Equal(got, want) {
						t.Errorf("domain %d row %d: %v, want %v", k, i, got, want)
					}
				}
			}
		})
	}
}

// lrClassEdge is an LR edge of domain 1 of 2 with a class code of 4
// classes, holding classes 1 and 3, with G copying its input and C
// reading the domain code.
func lrClassEdge(t *testing.T, mutate func(*EdgeConfig)) (*Edge, error) {
	l := Layout{Latent: 1, Domains: 2, Classes: 4}
	cfg := EdgeConfig{
		Community: "c", Devices: []string{"a"}, Mode: Sync, SyncPeriod: time.Second, Weights: WeightsConstant,
		LocalIters: 5, Batch: 8, DataDim: l.Width(), Gen: copyGen(t, l.Width()), Opt: nn.NewSGD(0.1, 0), RNG: rand.NewPCG(3, 3),
		Layout: l, Domain: 1, ClassSet: []int{1, 3}, Classifier: domainC(t, l.Width(), 2, l.DomainOff(), 1), FirstLayers: 1,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	return NewEdge(cfg)
}

// lrFirstBatch is firstBatch for an lrClassEdge: the global model carries
// C and λ1, λ2.
func lrFirstBatch(t *testing.T, e *Edge, l1, l2 float64) *wire.Batch {
	t.Helper()
	t0 := time.Unix(0, 0)
	if err := e.Presence(t0, "a", true); err != nil {
		t.Fatal(err)
	}
	g := &Global{Round: 0, Params: nn.Flatten(nil, e.cfg.Gen.Params()), Classifier: nn.Flatten(nil, e.cfg.Classifier.Params()), Lambda1: l1, Lambda2: l2}
	if err := e.Global(t0, g); err != nil {
		t.Fatal(err)
	}
	return e.Ready().Batches[0]
}

// TestLREdgeClassRows: an LR edge with a class code draws every row with
// its own domain code and a class of its community's, and the batch
// carries the classes, as FR's do.
func TestLREdgeClassRows(t *testing.T) {
	e, err := lrClassEdge(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := lrFirstBatch(t, e, 0, 0)
	seen := map[byte]bool{}
	for _, part := range labelledParts(b) {
		if len(part.labels) != 8 {
			t.Fatalf("%s: %d labels, want 8", part.name, len(part.labels))
		}
		for i, y := range part.labels {
			row := part.rows[i*7 : (i+1)*7]
			want := []float32{row[0], 0, 1, 0, 0, 0, 0} // z, c_1, e_y
			want[3+y] = 1
			if !slices.Equal(row, want) {
				t.Errorf("%s row %d: %v, want %v", part.name, i, row, want)
			}
			seen[y] = true
		}
	}
	if len(seen) != 2 || !seen[1] || !seen[3] {
		t.Errorf("classes drawn %v, want 1 and 3 only", seen)
	}
	if b.Domain != 1 {
		t.Errorf("batch domain %d, want 1", b.Domain)
	}
}

// TestLREdgeClassTerms: with zero feedback the LR edge's update is the
// domain terms' alone; with a class code they are computed on rows that
// carry classes of the community's (G's class columns get gradient only
// from rows of those classes), and L_inv is √2 (the domain code's
// distance: the two domain rows share z and y).
func TestLREdgeClassTerms(t *testing.T) {
	e, err := lrClassEdge(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(e.cfg.Gen.Params()[0].Value)
	b := lrFirstBatch(t, e, 0.5, 0.5)
	e.Advance()
	if err := e.Feedback(time.Unix(0, 0), &Feedback{Device: "a", Round: 0, Iter: b.Iter, Version: b.Version, Loss: -0.5, Grad: make([]float32, 8*7)}); err != nil {
		t.Fatal(err)
	}
	if e.Stats().Updates != 1 {
		t.Fatalf("%d generator updates, want 1", e.Stats().Updates)
	}
	if got := e.Stats().LInv; math.Abs(got-math.Sqrt2) > 1e-6 {
		t.Errorf("L_inv %g, want √2", got)
	}
	w := e.cfg.Gen.Params()[0].Value
	for y := range 4 {
		row := 3 + y // input row of class y in W [in=7, out=7]
		moved := !slices.Equal(w[row*7:(row+1)*7], before[row*7:(row+1)*7])
		if held := y == 1 || y == 3; moved != held {
			t.Errorf("class %d: weights moved %v, want %v (the community holds 1 and 3)", y, moved, held)
		}
	}
}

// TestCloudClassifierClassRows: with a class code the cloud trains C on
// rows G(z, c_k, e_y), y drawn uniformly from all classes after each
// row's z. One SGD step (rate 1) from C = 0 on B = 2 rows per domain
// moves C's weight of class column y towards domain k by
// Σ_{rows of class y} ([k = d] − 1/2)/(K·B), which the test replays from
// the cloud's random stream; L_inv is then √2 (the rows compared share z
// and y).
func TestCloudClassifierClassRows(t *testing.T) {
	l := Layout{Latent: 1, Domains: 2, Classes: 3}
	w := l.Width()
	cls := must(nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: w, Out: 2}}, nil))
	clear(cls.Params()[0].Value)
	c, err := NewCloud(CloudConfig{Communities: []string{"m", "i"}, GlobalRounds: 1, RoundTimeout: time.Minute, Gen: copyGen(t, w), RNG: rand.NewPCG(3, 3),
		Layout: l, Classifier: cls, ClassifierOpt: nn.NewSGD(1, 0), ClassifierSteps: 1, Batch: 2, FirstLayers: 1})
	if err != nil {
		t.Fatal(err)
	}
	c.trainClassifier()
	rng := rand.New(rand.NewPCG(3, 3))
	want := make([]float64, 3*2) // [class, domain]
	for i := range 4 {
		rng.NormFloat64()
		y, d := rng.IntN(3), i/2
		for k := range 2 {
			want[y*2+k] += (b2f(k == d) - 0.5) / 4
		}
	}
	got := cls.Params()[0].Value[l.ClassOff()*2:]
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Errorf("C's weights of the class columns %v, want %v", got, want)
			break
		}
	}
	if math.Abs(c.linv-math.Sqrt2) > 1e-6 {
		t.Errorf("L_inv %g, want √2", c.linv)
	}
}

// TestLRClassErrors: an LR edge takes a class code now, with the same
// checks as FR's.
func TestLRClassErrors(t *testing.T) {
	if _, err := lrClassEdge(t, nil); err != nil {
		t.Fatalf("LR with a class code: %v", err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(*EdgeConfig)
		want   string
	}{
		{"no class set", func(c *EdgeConfig) { c.ClassSet = nil }, "needs the classes of the community's data"},
		{"class out of range", func(c *EdgeConfig) { c.ClassSet = []int{1, 4} }, "ClassSet[1] = 4, want a class in [0, 4)"},
	} {
		if _, err := lrClassEdge(t, tc.mutate); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
