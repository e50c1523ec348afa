package eval_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/nn"
)

// turnedLRClasses is turnedLR with a class code of the two stripe
// classes: G(z, c_k, e_y).
var turnedLRClasses = strings.NewReplacer("output: tanh}", "output: tanh, class_code: 2}",
	"path: stripes}", "path: stripes, classes: 2}", "path: turned}", "path: turned, classes: 2}").Replace(turnedLR)

// wireLRClasses sets gen's weights so that G(z, c_k, e_y) draws, in
// domain k's look, the stripe of class y (of 1 − y in domain 1 when
// swap), whatever z: hidden unit 2k+y is LeakyReLU(20 c_k + 20 e_y − 20),
// 20 with code k and class y, 0 or −4 otherwise, and draws its stripe (±5
// before tanh).
func wireLRClasses(t *testing.T, top *config.Topology, gen *nn.Sequential, swap bool) {
	t.Helper()
	l := top.GenLayout()
	if l.Domains != 2 || l.Classes != 2 {
		t.Fatalf("%d domains, %d classes: want 2 and 2", l.Domains, l.Classes)
	}
	first, last := clearedDense(t, gen)
	h := first.W.Shape[1]
	for k := range 2 {
		for y := range 2 {
			u := 2*k + y
			first.W.Value[(l.DomainOff()+k)*h+u] = 20
			first.W.Value[(l.ClassOff()+y)*h+u] = 20
			first.B.Value[u] = -20
			c := y
			if swap && k == 1 {
				c = 1 - y
			}
			drawStripe(last, u, k, c)
		}
	}
}

// TestLREvalClassCode: with a class code the latent is (z, y), shared by
// the domains. A G that draws class y in both domains agrees on every
// latent, draws the class asked for (class accuracy 1 per domain) and
// agrees by the class alone (chance given the class 1), and a classifier
// trained on its labelled samples of a domain reads that domain's real
// images (TSTR 1); one that draws 1 − y in domain 1 agrees on none, and
// domain 1's class accuracy and TSTR are 0.
func TestLREvalClassCode(t *testing.T) {
	dir := t.TempDir()
	writeStripes(t, filepath.Join(dir, "stripes"), 200)
	writeTurned(t, filepath.Join(dir, "stripes"), filepath.Join(dir, "turned"))
	top, gen := stripesTopology(t, dir, turnedLRClasses, 200)
	le, err := eval.OpenLREval(top, eval.LROptions{EvalOptions: eval.EvalOptions{CacheDir: filepath.Join(dir, "cache"), Settings: lrSettings, Train: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name                          string
		swap                          bool
		agree, givenClass, inDomain   float64
		classAccuracy, domainAccuracy [2]float64
		tstr                          [2]float64
	}{
		{"right", false, 1, 1, 1, [2]float64{1, 1}, [2]float64{1, 1}, [2]float64{1, 1}},
		{"domain 1 draws the other class", true, 0, 0, 0, [2]float64{1, 0}, [2]float64{1, 1}, [2]float64{1, 0}},
	} {
		wireLRClasses(t, top, gen, tt.swap)
		rep, err := le.Score(top, gen, 300, rand.New(rand.NewPCG(2, 3)))
		if err != nil {
			t.Fatal(err)
		}
		near := func(got, want float64) bool { return math.Abs(got-want) <= 0.03 }
		if !near(rep.Agreement, tt.agree) || !near(rep.ChanceGivenClass, tt.givenClass) || !near(rep.AgreementInDomain, tt.inDomain) {
			t.Errorf("%s: agreement %.3f, given the class %.3f, in domain %.3f; want %g, %g, %g",
				tt.name, rep.Agreement, rep.ChanceGivenClass, rep.AgreementInDomain, tt.agree, tt.givenClass, tt.inDomain)
		}
		// The classes are drawn with equal shares: independent draws of
		// the same histograms agree half the time.
		if math.Abs(rep.ChanceAgreement-0.5) > 0.06 {
			t.Errorf("%s: chance agreement %.3f, want ≈ 0.5", tt.name, rep.ChanceAgreement)
		}
		for d, dr := range rep.Domains {
			if !near(dr.ClassAccuracy, tt.classAccuracy[d]) || !near(dr.DomainAccuracy, tt.domainAccuracy[d]) {
				t.Errorf("%s: domain %d: class accuracy %.3f, domain accuracy %.3f; want %g, %g",
					tt.name, d, dr.ClassAccuracy, dr.DomainAccuracy, tt.classAccuracy[d], tt.domainAccuracy[d])
			}
		}
		if s := rep.String(); !strings.Contains(s, "chance given the class") || !strings.Contains(s, "class accuracy") {
			t.Errorf("%s: the summary leaves out the class scores:\n%s", tt.name, s)
		}
		tstr, err := le.TSTR(top, gen, 300, rand.New(rand.NewPCG(2, 4)), nil)
		if err != nil {
			t.Fatal(err)
		}
		for d := range 2 {
			if !near(tstr[d], tt.tstr[d]) {
				t.Errorf("%s: domain %d: TSTR %.3f, want %g", tt.name, d, tstr[d], tt.tstr[d])
			}
		}
	}
	plain, _ := stripesTopology(t, dir, turnedLR, 200)
	if _, err := le.TSTR(plain, gen, 300, rand.New(rand.NewPCG(2, 4)), nil); err == nil {
		t.Error("TSTR of a generator without a class code: no error")
	}
}

// TestLRGridClassCode: with a class code column j of the Fig. 5 grid is
// the latent (z_j, j mod classes) in every domain row.
func TestLRGridClassCode(t *testing.T) {
	dir := t.TempDir()
	writeStripes(t, filepath.Join(dir, "stripes"), 50)
	writeTurned(t, filepath.Join(dir, "stripes"), filepath.Join(dir, "turned"))
	top, _ := stripesTopology(t, dir, turnedLRClasses, 50)
	const columns = 5
	z, err := eval.LRGridLatents(top, columns)
	if err != nil {
		t.Fatal(err)
	}
	l := top.GenLayout()
	w := l.Width()
	for j := range columns {
		for k := range 2 {
			row := z[(k*columns+j)*w : (k*columns+j+1)*w]
			want := make([]float32, 4)
			want[k], want[2+j%2] = 1, 1 // c_k, e_y
			if !slices.Equal(row[l.DomainOff():], want) || !reflect.DeepEqual(row[:l.Latent], z[j*w:j*w+l.Latent]) {
				t.Errorf("column %d, domain %d: input %v; want z_%d with codes %v", j, k, row, j, want)
			}
		}
	}
}
