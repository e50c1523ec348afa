package fed_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"testing"
	"testing/quick"

	"github.com/fedgan/fedgan/fed"
)

func TestCombine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		coeffs []float64
		grads  [][]float32
		want   []float64
	}{
		{
			// dst[0] = 0.5·1 − 2·0.5 + 0.25·4    = 0.5 − 1 + 1   = 0.5
			// dst[1] = 0.5·2 − 2·0   + 0.25·(−8) = 1 + 0 − 2     = −1
			// dst[2] = 0.5·3 − 2·(−1) + 0.25·2   = 1.5 + 2 + 0.5 = 4
			name:   "three devices",
			coeffs: []float64{0.5, -2, 0.25},
			grads:  [][]float32{{1, 2, 3}, {0.5, 0, -1}, {4, -8, 2}},
			want:   []float64{0.5, -1, 4},
		},
		{
			// The exact coefficients of TestSyncWeights' two devices:
			// dst[0] = 0.7399611873026518·1 + 0.2600388126973482·3
			//        = 0.7399611873026518 + 0.7801164380920446 = 1.5200776253946964
			// dst[1] = 0.7399611873026518·(−1) + 0.2600388126973482·0.5
			//        = −0.7399611873026518 + 0.1300194063486741 = −0.6099417809539777
			name:   "Eq. 4 coefficients",
			coeffs: []float64{0.7399611873026518, 0.2600388126973482},
			grads:  [][]float32{{1, -1}, {3, 0.5}},
			want:   []float64{1.5200776253946964, -0.6099417809539777},
		},
		{
			name:   "one device",
			coeffs: []float64{-1.5},
			grads:  [][]float32{{2, -4, 0}},
			want:   []float64{-3, 6, 0},
		},
		{
			// A zero coefficient contributes nothing, even −0·x.
			name:   "zero coefficient",
			coeffs: []float64{0, 1},
			grads:  [][]float32{{1e30, -1e30}, {2, 3}},
			want:   []float64{2, 3},
		},
		{
			name:   "empty tensors",
			coeffs: []float64{1, 2},
			grads:  [][]float32{{}, {}},
			want:   []float64{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]float32, len(tc.want))
			for i := range dst {
				dst[i] = 99 // must be overwritten, not added to
			}
			if err := fed.Combine(dst, tc.coeffs, tc.grads); err != nil {
				t.Fatalf("Combine: got error %v, want nil", err)
			}
			eqCheckSlice32(t, "dst", dst, tc.want, 1e-7)
		})
	}
}

func TestCombineErrors(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		name   string
		dst    int
		coeffs []float64
		grads  [][]float32
		want   error
		arg    string // Arg of the *LengthError or *ValueError
		index  int    // Index of the *ValueError
	}{
		{name: "no grads", dst: 2, coeffs: nil, grads: nil, want: fed.ErrEmpty},
		{name: "no grads, coefficients", dst: 2, coeffs: []float64{1}, grads: [][]float32{}, want: fed.ErrEmpty},
		{name: "too few coefficients", dst: 2, coeffs: []float64{1}, grads: [][]float32{{1, 2}, {3, 4}}, want: fed.ErrLength, arg: "coeffs"},
		{name: "too many coefficients", dst: 2, coeffs: []float64{1, 2, 3}, grads: [][]float32{{1, 2}, {3, 4}}, want: fed.ErrLength, arg: "coeffs"},
		{name: "short tensor", dst: 2, coeffs: []float64{1, 1}, grads: [][]float32{{1, 2}, {3}}, want: fed.ErrLength, arg: "grads[1]"},
		{name: "long tensor", dst: 2, coeffs: []float64{1, 1}, grads: [][]float32{{1, 2, 0}, {3, 4}}, want: fed.ErrLength, arg: "grads[0]"},
		{name: "short dst", dst: 1, coeffs: []float64{1}, grads: [][]float32{{1, 2}}, want: fed.ErrLength, arg: "grads[0]"},
		{name: "NaN coefficient", dst: 2, coeffs: []float64{1, math.NaN()}, grads: [][]float32{{1, 2}, {3, 4}}, want: fed.ErrNonFinite, arg: "coeffs", index: 1},
		{name: "-Inf coefficient", dst: 2, coeffs: []float64{math.Inf(-1), 1}, grads: [][]float32{{1, 2}, {3, 4}}, want: fed.ErrNonFinite, arg: "coeffs", index: 0},
		{name: "coefficient beyond float32", dst: 2, coeffs: []float64{1e39, 1}, grads: [][]float32{{1, 2}, {3, 4}}, want: fed.ErrNonFinite, arg: "coeffs", index: 0},
		{name: "NaN in a tensor", dst: 3, coeffs: []float64{1, 1}, grads: [][]float32{{1, 2, 3}, {3, 4, nan}}, want: fed.ErrNonFinite, arg: "grads[1]", index: 2},
		{name: "+Inf in a tensor", dst: 3, coeffs: []float64{1, 1}, grads: [][]float32{{1, inf, 3}, {3, 4, 5}}, want: fed.ErrNonFinite, arg: "grads[0]", index: 1},
		{name: "Inf − Inf", dst: 1, coeffs: []float64{1, 1}, grads: [][]float32{{inf}, {-inf}}, want: fed.ErrNonFinite, arg: "grads[0]", index: 0},
		{name: "NaN with coefficient 0", dst: 2, coeffs: []float64{1, 0}, grads: [][]float32{{1, 2}, {nan, 4}}, want: fed.ErrNonFinite, arg: "grads[1]", index: 0},
		{name: "Inf with coefficient 0", dst: 2, coeffs: []float64{0, 1}, grads: [][]float32{{1, -inf}, {3, 4}}, want: fed.ErrNonFinite, arg: "grads[0]", index: 1},
		{name: "overflow", dst: 2, coeffs: []float64{1, 1}, grads: [][]float32{{1, 3e38}, {3, 3e38}}, want: fed.ErrNonFinite, arg: "dst", index: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fed.Combine(make([]float32, tc.dst), tc.coeffs, tc.grads)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Combine: got error %v, want %v", err, tc.want)
			}
			var le *fed.LengthError
			var ve *fed.ValueError
			switch {
			case errors.As(err, &le):
				if le.Arg != tc.arg {
					t.Errorf("got LengthError.Arg %q, want %q", le.Arg, tc.arg)
				}
			case errors.As(err, &ve):
				if ve.Arg != tc.arg || ve.Index != tc.index {
					t.Errorf("got ValueError{Arg: %q, Index: %d}, want {Arg: %q, Index: %d}", ve.Arg, ve.Index, tc.arg, tc.index)
				}
			}
		})
	}
}

// TestCombineQuick checks Combine against a float64 reference on random
// sizes, including lengths that are not multiples of a SIMD width.
func TestCombineQuick(t *testing.T) {
	f := func(seed int64) bool {
		r := rand.New(rand.NewSource(seed))
		m, n := 1+r.Intn(9), r.Intn(70)
		coeffs := make([]float64, m)
		grads := make([][]float32, m)
		for j := range grads {
			coeffs[j] = r.NormFloat64()
			if r.Intn(5) == 0 {
				coeffs[j] = 0
			}
			grads[j] = make([]float32, n)
			for i := range grads[j] {
				grads[j][i] = float32(r.NormFloat64() * 10)
			}
		}
		dst := make([]float32, n)
		if err := fed.Combine(dst, coeffs, grads); err != nil {
			t.Logf("Combine: %v", err)
			return false
		}
		for i := range dst {
			var want, scale float64
			for j := range grads {
				want += float64(float32(coeffs[j])) * float64(grads[j][i])
				scale += math.Abs(coeffs[j] * float64(grads[j][i]))
			}
			// float32 accumulation: a few ulps of the largest term per term.
			if math.Abs(float64(dst[i])-want) > 1e-6*scale*float64(m) {
				t.Logf("Combine (m = %d, n = %d): dst[%d] = %v, want %v", m, n, i, dst[i], want)
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, eqQuickConfig(t)); err != nil {
		t.Error(err)
	}
}

func BenchmarkCombine(b *testing.B) {
	const rows, cols = 64, 784 // B×d of an MNIST batch
	for _, devices := range []int{1, 5, 10} {
		b.Run(fmt.Sprintf("devices=%d", devices), func(b *testing.B) {
			r := rand.New(rand.NewSource(1))
			coeffs := make([]float64, devices)
			grads := make([][]float32, devices)
			for j := range grads {
				coeffs[j] = r.Float64()
				grads[j] = make([]float32, rows*cols)
				for i := range grads[j] {
					grads[j][i] = float32(r.NormFloat64())
				}
			}
			dst := make([]float32, rows*cols)
			b.SetBytes(int64(4 * rows * cols * devices))
			for b.Loop() {
				if err := fed.Combine(dst, coeffs, grads); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestWeightMode(t *testing.T) {
	for _, tc := range []struct {
		mode fed.WeightMode
		name string
	}{
		{fed.WeightsExact, "exact"},
		{fed.WeightsConstant, "constant"},
		{fed.WeightsUniform, "uniform"},
	} {
		if got := tc.mode.String(); got != tc.name {
			t.Errorf("%d.String(): got %q, want %q", int(tc.mode), got, tc.name)
		}
		got, err := fed.ParseWeightMode(tc.name)
		if err != nil || got != tc.mode {
			t.Errorf("ParseWeightMode(%q): got %v, %v, want %v, nil", tc.name, got, err, tc.mode)
		}
		b, err := tc.mode.MarshalText()
		if err != nil || string(b) != tc.name {
			t.Errorf("%v.MarshalText(): got %q, %v, want %q, nil", tc.mode, b, err, tc.name)
		}
		var m fed.WeightMode = 99
		if err := m.UnmarshalText([]byte(tc.name)); err != nil || m != tc.mode {
			t.Errorf("UnmarshalText(%q): got %v, %v, want %v, nil", tc.name, m, err, tc.mode)
		}
	}
	var zero fed.WeightMode
	if zero != fed.WeightsExact {
		t.Errorf("zero WeightMode: got %v, want exact (the default)", zero)
	}
	for _, s := range []string{"", "Exact", "EXACT", " exact", "const", "sync"} {
		if _, err := fed.ParseWeightMode(s); !errors.Is(err, fed.ErrMode) {
			t.Errorf("ParseWeightMode(%q): got error %v, want ErrMode", s, err)
		}
		m := fed.WeightsConstant
		if err := m.UnmarshalText([]byte(s)); !errors.Is(err, fed.ErrMode) || m != fed.WeightsConstant {
			t.Errorf("UnmarshalText(%q): got %v, %v, want constant (unchanged), ErrMode", s, m, err)
		}
	}
	bad := fed.WeightMode(7)
	if got := bad.String(); got != "WeightMode(7)" {
		t.Errorf("WeightMode(7).String(): got %q, want \"WeightMode(7)\"", got)
	}
	if _, err := bad.MarshalText(); !errors.Is(err, fed.ErrMode) {
		t.Errorf("WeightMode(7).MarshalText(): got error %v, want ErrMode", err)
	}
}

func TestStalenessMode(t *testing.T) {
	for _, tc := range []struct {
		mode fed.StalenessMode
		name string
	}{
		{fed.StalenessTime, "time"},
		{fed.StalenessVersions, "versions"},
	} {
		if got := tc.mode.String(); got != tc.name {
			t.Errorf("%d.String(): got %q, want %q", int(tc.mode), got, tc.name)
		}
		got, err := fed.ParseStalenessMode(tc.name)
		if err != nil || got != tc.mode {
			t.Errorf("ParseStalenessMode(%q): got %v, %v, want %v, nil", tc.name, got, err, tc.mode)
		}
		b, err := tc.mode.MarshalText()
		if err != nil || string(b) != tc.name {
			t.Errorf("%v.MarshalText(): got %q, %v, want %q, nil", tc.mode, b, err, tc.name)
		}
		var m fed.StalenessMode = 99
		if err := m.UnmarshalText([]byte(tc.name)); err != nil || m != tc.mode {
			t.Errorf("UnmarshalText(%q): got %v, %v, want %v, nil", tc.name, m, err, tc.mode)
		}
	}
	var zero fed.StalenessMode
	if zero != fed.StalenessTime {
		t.Errorf("zero StalenessMode: got %v, want time (the default)", zero)
	}
	for _, s := range []string{"", "Time", "version", "clock", "versions "} {
		if _, err := fed.ParseStalenessMode(s); !errors.Is(err, fed.ErrMode) {
			t.Errorf("ParseStalenessMode(%q): got error %v, want ErrMode", s, err)
		}
		m := fed.StalenessVersions
		if err := m.UnmarshalText([]byte(s)); !errors.Is(err, fed.ErrMode) || m != fed.StalenessVersions {
			t.Errorf("UnmarshalText(%q): got %v, %v, want versions (unchanged), ErrMode", s, m, err)
		}
	}
	bad := fed.StalenessMode(-1)
	if got := bad.String(); got != "StalenessMode(-1)" {
		t.Errorf("StalenessMode(-1).String(): got %q, want \"StalenessMode(-1)\"", got)
	}
	if _, err := bad.MarshalText(); !errors.Is(err, fed.ErrMode) {
		t.Errorf("StalenessMode(-1).MarshalText(): got error %v, want ErrMode", err)
	}
}

// TestModesText checks that the modes travel through an encoder that
// honours encoding.TextMarshaler (as encoding/json and yaml.v3 do) by name.
func TestModesText(t *testing.T) {
	type cfg struct {
		Weights   fed.WeightMode    `json:"weights"`
		Staleness fed.StalenessMode `json:"staleness"`
	}
	b, err := json.Marshal(cfg{fed.WeightsConstant, fed.StalenessVersions})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"weights":"constant","staleness":"versions"}`; string(b) != want {
		t.Errorf("json.Marshal: got %s, want %s", b, want)
	}
	var got cfg
	if err := json.Unmarshal([]byte(`{"weights":"exact","staleness":"time"}`), &got); err != nil {
		t.Fatal(err)
	}
	if got != (cfg{fed.WeightsExact, fed.StalenessTime}) {
		t.Errorf("json.Unmarshal: got %+v, want {exact time}", got)
	}
	if err := json.Unmarshal([]byte(`{"weights":"softmax"}`), &got); !errors.Is(err, fed.ErrMode) {
		t.Errorf("json.Unmarshal of an unknown weights: got error %v, want ErrMode", err)
	}
}

func TestErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fed.LengthError{Arg: "grads[2]", Got: 3, Want: 4}, "fed: len(grads[2]) = 3, want 4"},
		{&fed.ValueError{Arg: "losses", Index: 1, Value: math.Inf(-1)}, "fed: losses[1] = -Inf, want a finite value"},
		{fed.ErrEmpty, "fed: empty input"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error(): got %q, want %q", got, tc.want)
		}
	}
}
