package fed

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

func TestInstanceNoise(t *testing.T) {
	for _, c := range []struct {
		sigma0        float64
		round, rounds int
		want          float64
	}{
		{0.5, 0, 10, 0.5},
		{0.5, 5, 10, 0.25},
		{0.5, 9, 10, 0.05},
		{0.5, 10, 10, 0}, // from round Rounds on: none
		{0.5, 11, 10, 0},
		{0, 3, 10, 0},
		{0.2, 0, 0, 0},
		{1, 1, 4, 0.75},
	} {
		if got := InstanceNoise(c.sigma0, c.round, c.rounds); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("InstanceNoise(%g, %d, %d) = %g, want %g", c.sigma0, c.round, c.rounds, got, c.want)
		}
	}
}

// TestAgentDraw checks that a step's input has real rows of the local
// data with their labels and the batch's row classes, and no labels
// without a class-conditional D.
func TestAgentDraw(t *testing.T) {
	for _, classes := range []int{0, 3} {
		d, err := nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2 + classes, Out: 1}}, rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(0.1, 0), DataDim: 2, Classes: classes})
		if err != nil {
			t.Fatal(err)
		}
		data := testRows{[]float32{0, 0, 1, 1, 2, 2}} // row i: (i, i), class i
		a, err := NewAgent(AgentConfig{Worker: w, Data: data, Dim: 2, RNG: rand.New(rand.NewPCG(1, 1))})
		if err != nil {
			t.Fatal(err)
		}
		x := wire.NewTensor([]int{4, 2}, make([]float32, 8))
		b := &wire.Batch{Fake: x, Gen: x}
		if classes > 0 {
			b.FakeLabels, b.GenLabels = []byte{2, 1, 0, 2}, []byte{0, 0, 1, 2}
		}
		if err := a.Work(dur(t, "0s"), b, dur(t, "0s")); err != nil {
			t.Fatalf("classes %d: %v", classes, err)
		}
		if len(a.real) != 8 {
			t.Fatalf("classes %d: drew %d values, want 8", classes, len(a.real))
		}
		for i := range 4 {
			if v := a.real[2*i]; a.real[2*i+1] != v || (v != 0 && v != 1 && v != 2) {
				t.Errorf("classes %d: row %d is %v, not a row of the data", classes, i, a.real[2*i:2*i+2])
			}
		}
		if classes == 0 {
			if a.labels.Real != nil || a.labels.Fake != nil || a.labels.Gen != nil {
				t.Errorf("without classes: labels %+v", a.labels)
			}
			continue
		}
		for i, y := range a.labels.Real {
			if float32(y) != a.real[2*i] {
				t.Errorf("real row %d %v has label %d", i, a.real[2*i:2*i+2], y)
			}
		}
		if len(a.labels.Real) != 4 || !slices.Equal(a.labels.Fake, []int{2, 1, 0, 2}) || !slices.Equal(a.labels.Gen, []int{0, 0, 1, 2}) {
			t.Errorf("labels %+v; want 4 real ones and the batch's", a.labels)
		}
	}
}

func TestNewAgentErrors(t *testing.T) {
	d, err := nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 1}}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewSGD(0.1, 0), DataDim: 2})
	if err != nil {
		t.Fatal(err)
	}
	rows, rng := testRows{[]float32{0, 0}}, rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		cfg  AgentConfig
		want string
	}{
		{AgentConfig{Data: rows, Dim: 2, RNG: rng}, "needs Worker, Data and RNG"},
		{AgentConfig{Worker: w, Dim: 2, RNG: rng}, "needs Worker, Data and RNG"},
		{AgentConfig{Worker: w, Data: rows, Dim: 2}, "needs Worker, Data and RNG"},
		{AgentConfig{Worker: w, Data: rows, Dim: 3, RNG: rng}, "local data has 3 columns, the discriminator reads 2"},
		{AgentConfig{Worker: w, Data: testRows{}, Dim: 2, RNG: rng}, "no local data"},
		{AgentConfig{Worker: w, Data: rows, Dim: 2, RNG: rng, InstanceNoise: -1}, "InstanceNoise = -1"},
		{AgentConfig{Worker: w, Data: rows, Dim: 2, RNG: rng, InstanceNoise: math.NaN()}, "InstanceNoise = NaN"},
	} {
		if _, err := NewAgent(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error containing %q", err, c.want)
		}
	}
}

// TestMailbox: the newest batch wins, a repeat of the batch taken last is
// dropped, and the same iteration in another round is not a repeat.
func TestMailbox(t *testing.T) {
	b := func(round int, iter int64) *wire.Batch { return &wire.Batch{Round: round, Iter: iter} }
	var m Mailbox
	if got, _ := m.Take(); got != nil {
		t.Fatalf("empty mailbox gave %+v", got)
	}
	if m.Put(dur(t, "1s"), b(0, 1)) || !m.Put(dur(t, "2s"), b(0, 2)) {
		t.Error("Put: replaced wrong")
	}
	for _, c := range []struct {
		put          *wire.Batch
		round        int
		iter         int64
		took         bool
		replaced, rp int64
	}{
		{nil, 0, 2, true, 1, 0},      // the newest, arrived at 2s
		{b(0, 2), 0, 0, false, 1, 1}, // a repeat
		{b(0, 1), 0, 1, true, 1, 1},  // an older id, but the newest to arrive
		{b(1, 1), 1, 1, true, 1, 1},  // same iteration, later round
		{nil, 0, 0, false, 1, 1},     // empty
		{b(1, 1), 0, 0, false, 1, 2}, // a repeat again
	} {
		if c.put != nil {
			m.Put(dur(t, "3s"), c.put)
		}
		got, at := m.Take()
		if (got != nil) != c.took || got != nil && (got.Round != c.round || got.Iter != c.iter) {
			t.Errorf("after %+v: took %+v, want round %d iter %d (%v)", c.put, got, c.round, c.iter, c.took)
		}
		if got != nil && c.put == nil && !at.Equal(dur(t, "2s")) {
			t.Errorf("arrived %v, want 2s", at)
		}
		if m.Replaced() != c.replaced || m.Repeated() != c.rp {
			t.Errorf("after %+v: replaced %d repeated %d, want %d %d", c.put, m.Replaced(), m.Repeated(), c.replaced, c.rp)
		}
	}
}
