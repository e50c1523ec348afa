package eval_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/nn"
)

// turnedLR is the LR stripes topology: community a holds the stripes
// (domain 0: class 0 bright in the top half, class 1 in the bottom half),
// community b the same images turned a quarter (domain 1: class 0 bright
// in the left half, class 1 in the right half). Both domains share the
// labels and each is told from the other at a glance, as MNIST and
// inverted MNIST are. (Inverted stripes would not do: inverting the 4×4
// stripes of class 0 gives those of class 1 up to a small shift of
// brightness, so the labels would be ambiguous across domains.)
var turnedLR = strings.Replace(stripes, "name: stripes", "name: stripes-lr\nscenario: lr", 1) + `  - id: b
    data: {kind: idx, path: turned}
    edge: {allow_anonymous: true}
    device_count: 1
`

// writeTurned writes the images of the IDX folder src, each turned a
// quarter (transposed), with their labels into dst.
func writeTurned(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"train", "t10k"} {
		img, err := os.ReadFile(filepath.Join(src, base+"-images-idx3-ubyte"))
		if err != nil {
			t.Fatal(err)
		}
		lab, err := os.ReadFile(filepath.Join(src, base+"-labels-idx1-ubyte"))
		if err != nil {
			t.Fatal(err)
		}
		out := append([]byte(nil), img...)
		for i := 16; i < len(img); i += 16 {
			for r := range 4 {
				for c := range 4 {
					out[i+c*4+r] = img[i+r*4+c]
				}
			}
		}
		if err := os.WriteFile(filepath.Join(dst, base+"-images-idx3-ubyte"), out, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, base+"-labels-idx1-ubyte"), lab, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// turnedTopology writes the stripes and their turned copy into dir and
// returns the LR topology over them and a generator of it.
func turnedTopology(t *testing.T, dir string) (*config.Topology, *nn.Sequential) {
	t.Helper()
	writeStripes(t, filepath.Join(dir, "stripes"), 200)
	writeTurned(t, filepath.Join(dir, "stripes"), filepath.Join(dir, "turned"))
	return stripesTopology(t, dir, turnedLR, 200)
}

var lrSettings = eval.ClassifierSettings{Hidden: []int{16}, Epochs: 20, Batch: 16, LR: 3e-3}

// openTurned opens the LR evaluation of the turned stripes, training its
// classifiers.
func openTurned(t *testing.T, dir string) (*config.Topology, *nn.Sequential, *eval.LREval) {
	t.Helper()
	top, gen := turnedTopology(t, dir)
	le, err := eval.OpenLREval(top, eval.LROptions{EvalOptions: eval.EvalOptions{CacheDir: filepath.Join(dir, "cache"), Settings: lrSettings, Train: true}})
	if err != nil {
		t.Fatal(err)
	}
	return top, gen, le
}

// stripeWiring says how wireLR wires G: the stripe that the units of
// domain k draw for the sign of z_0.
type stripeWiring struct {
	name string
	// swapLabels makes domain 1 draw class 1 where domain 0 draws class 0.
	swapLabels bool
	// swapDomains makes each code draw the other domain's stripes.
	swapDomains bool
	// ignoreDomain makes G's output independent of the domain code: the
	// domain-0 stripe of the sign of z_0 in every domain.
	ignoreDomain bool
}

// bright says whether pixel p (row-major 4×4) is bright in domain d's
// image of class c.
func bright(d, c, p int) bool {
	if d == 0 {
		return (p < 8) == (c == 0) // top half for class 0
	}
	return (p%4 < 2) == (c == 0) // left half for class 0
}

// wireLR sets gen's weights so that G(z, c_k) draws a stripe of class 0
// for z_0 > 0 and of class 1 for z_0 < 0, in domain k's look: hidden unit
// 2k+s is LeakyReLU(±3 z_0 + 20 (c_k − 1)), on only with code k and the
// sign s (0: +, 1: −), and draws its stripe (±5 before tanh) into the
// output; w changes which stripe that is.
func wireLR(t *testing.T, top *config.Topology, gen *nn.Sequential, w stripeWiring) {
	t.Helper()
	l := top.GenLayout()
	if l.Domains != 2 {
		t.Fatalf("%d domains, want 2", l.Domains)
	}
	first, last := clearedDense(t, gen)
	h := first.W.Shape[1]
	for k := range 2 {
		for s := range 2 {
			u := 2*k + s
			first.W.Value[0*h+u] = float32(3 * (1 - 2*s))
			if !w.ignoreDomain {
				first.W.Value[(l.DomainOff()+k)*h+u] = 20
				first.B.Value[u] = -20
			}
			d, c := k, s
			if w.swapDomains {
				d = 1 - k
			}
			if w.ignoreDomain {
				d = 0
			}
			if w.swapLabels && k == 1 {
				c = 1 - s
			}
			drawStripe(last, u, d, c)
		}
	}
}

// clearedDense returns the two dense layers of gen, an LR generator of
// two domains, with every parameter of gen set to 0.
func clearedDense(t *testing.T, gen *nn.Sequential) (first, last *nn.Dense) {
	t.Helper()
	var dense []*nn.Dense
	for _, layer := range gen.Layers {
		if d, ok := layer.(*nn.Dense); ok {
			dense = append(dense, d)
		}
	}
	if len(dense) != 2 {
		t.Fatalf("generator of %d dense layers, want 2", len(dense))
	}
	for _, p := range gen.Params() {
		clear(p.Value)
	}
	return dense[0], dense[1]
}

// drawStripe makes hidden unit u of the output layer last draw domain d's
// stripe of class c: +5 before tanh on its bright pixels, −5 elsewhere.
func drawStripe(last *nn.Dense, u, d, c int) {
	out := last.W.Shape[1]
	for p := range out {
		v := float32(-5)
		if bright(d, c, p) {
			v = 5
		}
		last.W.Value[u*out+p] = v
	}
}

// TestLREval: the classifiers of the turned stripes are right on both
// domains; a G wired to draw the same label for the same z in both
// domains agrees, one that swaps the labels in domain 1 does not, one
// that swaps the domains draws the wrong domain, with a worse FID, and one
// that ignores the domain code agrees only outside its domains.
func TestLREval(t *testing.T) {
	dir := t.TempDir()
	top, gen, le := openTurned(t, dir)
	if len(le.Domains) != 2 || !le.DomainTrained || le.DomainCls.Classes != 2 || le.Digits.Cls.Classes != 2 {
		t.Fatalf("opened %d domains, domain classifier trained %v of %d classes, digit classifier of %d classes; want 2, true, 2, 2",
			len(le.Domains), le.DomainTrained, le.DomainCls.Classes, le.Digits.Cls.Classes)
	}
	for d, dom := range le.Domains {
		if dom.DigitAccuracy < 0.97 || dom.DomainAccuracy < 0.97 || dom.Test.Len() != 200 || dom.Communities[0] != []string{"a", "b"}[d] {
			t.Errorf("domain %d: %d test rows, digit accuracy %.3f, domain accuracy %.3f, communities %v",
				d, dom.Test.Len(), dom.DigitAccuracy, dom.DomainAccuracy, dom.Communities)
		}
	}
	if le.RealDomainAccuracy < 0.97 {
		t.Errorf("real domain accuracy %.3f, want ≥ 0.97", le.RealDomainAccuracy)
	}

	tests := []struct {
		w                        stripeWiring
		agree, domains, inDomain [2]float64 // bounds
	}{
		{stripeWiring{name: "right"}, [2]float64{0.95, 1}, [2]float64{0.95, 1}, [2]float64{0.95, 1}},
		{stripeWiring{name: "labels swapped", swapLabels: true}, [2]float64{0, 0.05}, [2]float64{0.95, 1}, [2]float64{0, 0.05}},
		{stripeWiring{name: "domains swapped", swapDomains: true}, [2]float64{0.95, 1}, [2]float64{0, 0.05}, [2]float64{0, 0.05}},
		// Domain 0's stripes in both domains: agreement by ignoring the code.
		{stripeWiring{name: "domain ignored", ignoreDomain: true}, [2]float64{0.95, 1}, [2]float64{0.45, 0.55}, [2]float64{0, 0.05}},
	}
	fids := map[string][]float64{}
	for _, tt := range tests {
		wireLR(t, top, gen, tt.w)
		rep, err := le.Score(top, gen, 300, rand.New(rand.NewPCG(2, 3)))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Agreement < tt.agree[0] || rep.Agreement > tt.agree[1] {
			t.Errorf("%s: label agreement %.3f, want in %v", tt.w.name, rep.Agreement, tt.agree)
		}
		if rep.DomainAccuracy < tt.domains[0] || rep.DomainAccuracy > tt.domains[1] {
			t.Errorf("%s: domain accuracy %.3f, want in %v", tt.w.name, rep.DomainAccuracy, tt.domains)
		}
		if rep.AgreementInDomain < tt.inDomain[0] || rep.AgreementInDomain > tt.inDomain[1] {
			t.Errorf("%s: label agreement in domain %.3f, want in %v", tt.w.name, rep.AgreementInDomain, tt.inDomain)
		}
		// Both labels are drawn about equally often: chance agrees half the time.
		if math.Abs(rep.ChanceAgreement-0.5) > 0.05 || rep.PairAgreement[0][1] != rep.Agreement || rep.PairAgreement[1][0] != rep.Agreement || rep.PairAgreement[0][0] != 1 {
			t.Errorf("%s: chance agreement %.3f (want ≈ 0.5), pair agreement %v (want %.3f off the diagonal)", tt.w.name, rep.ChanceAgreement, rep.PairAgreement, rep.Agreement)
		}
		for d, dr := range rep.Domains {
			if dr.Domain != d || dr.Scores.Samples != 300 || math.IsNaN(dr.Scores.FID) || math.IsInf(dr.Scores.FID, 0) || dr.Scores.Covered != 2 {
				t.Errorf("%s: domain %d: %+v; want 300 samples covering both classes, a finite FID", tt.w.name, d, dr)
			}
			fids[tt.w.name] = append(fids[tt.w.name], dr.Scores.FID)
		}
		again, err := le.Score(top, gen, 300, rand.New(rand.NewPCG(2, 3)))
		if err != nil || !reflect.DeepEqual(again, rep) {
			t.Errorf("%s: a second Score with the same rng differs (%v):\n%s\n%s", tt.w.name, err, again, rep)
		}
	}
	for d := range 2 {
		if r, s := fids["right"][d], fids["domains swapped"][d]; !(r < s) {
			t.Errorf("domain %d: FID %.3f of the right G, %.3f of the G that swaps the domains; want the right one lower", d, r, s)
		}
	}
}

// TestLREvalCache: the domain classifier is cached beside the digit
// classifier and found by the next call; without Train a missing one is
// an ErrNoClassifier.
func TestLREvalCache(t *testing.T) {
	dir := t.TempDir()
	top, _, first := openTurned(t, dir)
	opts := eval.LROptions{EvalOptions: eval.EvalOptions{CacheDir: filepath.Join(dir, "cache"), Settings: lrSettings}}
	le, err := eval.OpenLREval(top, opts)
	if err != nil {
		t.Fatal(err)
	}
	if le.DomainTrained || le.Digits.Trained || le.DomainCls.Key != first.DomainCls.Key || le.RealDomainAccuracy != first.RealDomainAccuracy {
		t.Errorf("reopened: trained %v/%v, key %.16s (first %.16s), real domain accuracy %.3f (first %.3f)",
			le.Digits.Trained, le.DomainTrained, le.DomainCls.Key, first.DomainCls.Key, le.RealDomainAccuracy, first.RealDomainAccuracy)
	}
	if len(le.DomainInfo.Accuracy) != 2 || le.DomainInfo.Rows != 400 {
		t.Errorf("domain classifier's description: %+v; want 400 rows and an accuracy per domain", le.DomainInfo)
	}
	// Other domain settings: another classifier, not in the cache.
	opts.DomainSettings = eval.ClassifierSettings{Hidden: []int{4}, Epochs: 2}
	if _, err := eval.OpenLREval(top, opts); !errors.Is(err, eval.ErrNoClassifier) {
		t.Errorf("other domain settings without Train: got %v, want ErrNoClassifier", err)
	}
}

// TestLRErrors: what the LR evaluation refuses, and why.
func TestLRErrors(t *testing.T) {
	dir := t.TempDir()
	fr, frGen := stripesTopology(t, dir, stripes, 50)
	if _, err := eval.OpenLREval(fr, eval.LROptions{}); err == nil || !strings.Contains(err.Error(), "scenario: lr") {
		t.Errorf("OpenLREval of an FR topology: got %v", err)
	}
	if err := eval.LRGridPNG(&bytes.Buffer{}, fr, frGen, 4); err == nil || !strings.Contains(err.Error(), "not a label-related topology") {
		t.Errorf("LRGridPNG of an FR topology: got %v", err)
	}

	top, gen, le := openTurned(t, filepath.Join(dir, "lr"))
	if _, err := le.Score(top, gen, 1, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Errorf("Score of 1 latent: no error")
	}
	if _, err := le.Score(top, frGen, 10, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "inputs") {
		t.Errorf("Score of an FR generator: got %v", err)
	}
	if _, err := le.Score(fr, frGen, 10, rand.New(rand.NewPCG(1, 1))); err == nil || !strings.Contains(err.Error(), "domain codes") {
		t.Errorf("Score with an FR topology: got %v", err)
	}
	// A diverged G.
	for _, p := range gen.Params() {
		for i := range p.Value {
			p.Value[i] = float32(math.NaN())
		}
	}
	if _, err := le.Score(top, gen, 10, rand.New(rand.NewPCG(1, 1))); !errors.Is(err, eval.ErrData) {
		t.Errorf("Score of a G that draws NaN: got %v, want ErrData", err)
	}
	if err := eval.LRGridPNG(&bytes.Buffer{}, top, gen, 0); err == nil {
		t.Errorf("LRGridPNG of 0 columns: no error")
	}
}

// TestLRGrid: the Fig. 5 grid has one row per domain and one column per
// latent, every cell of a column drawn from the same z: with a G that
// ignores the domain code the cells of a column are equal, and the
// columns differ; with the right G the rows differ.
func TestLRGrid(t *testing.T) {
	dir := t.TempDir()
	top, gen := turnedTopology(t, dir)
	const columns = 7
	z, err := eval.LRGridLatents(top, columns)
	if err != nil {
		t.Fatal(err)
	}
	l := top.GenLayout()
	for j := range columns {
		a, b := z[j*l.Width():(j+1)*l.Width()], z[(columns+j)*l.Width():(columns+j+1)*l.Width()]
		if !reflect.DeepEqual(a[:l.Latent], b[:l.Latent]) || a[l.DomainOff()] != 1 || b[l.DomainOff()+1] != 1 || a[l.DomainOff()+1] != 0 || b[l.DomainOff()] != 0 {
			t.Errorf("column %d: inputs %v and %v; want the same z with domain codes [1 0] and [0 1]", j, a, b)
		}
	}
	for _, tt := range []struct {
		w          stripeWiring
		sameColumn bool
	}{
		{stripeWiring{name: "domain ignored", ignoreDomain: true}, true},
		{stripeWiring{name: "right"}, false},
	} {
		wireLR(t, top, gen, tt.w)
		path := filepath.Join(dir, tt.w.name, "lr-grid.png")
		if err := eval.WriteLRGridFile(path, top, gen, columns); err != nil {
			t.Fatal(err)
		}
		img := decodePNG(t, path)
		cell := 4*2 + eval.GridGap
		if b := img.Bounds(); b.Dx() != columns*cell+eval.GridGap || b.Dy() != 2*cell+eval.GridGap {
			t.Fatalf("%s: grid of %v, want %d×%d", tt.w.name, b.Size(), columns*cell+eval.GridGap, 2*cell+eval.GridGap)
		}
		cells := func(row, col int) []byte {
			var px []byte
			for y := range 8 {
				for x := range 8 {
					r, _, _, _ := img.At(eval.GridGap+col*cell+x, eval.GridGap+row*cell+y).RGBA()
					px = append(px, byte(r>>8))
				}
			}
			return px
		}
		distinct := map[string]bool{}
		for j := range columns {
			distinct[string(cells(0, j))] = true
			if same := bytes.Equal(cells(0, j), cells(1, j)); same != tt.sameColumn {
				t.Errorf("%s: column %d: domains draw equal cells %v, want %v", tt.w.name, j, same, tt.sameColumn)
			}
		}
		if len(distinct) < 2 {
			t.Errorf("%s: every column of the grid is the same image: the columns do not draw different z", tt.w.name)
		}
	}
}

func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
