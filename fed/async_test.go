package fed_test

import (
	"errors"
	"math"
	"math/rand"
	"testing"
	"testing/quick"
	"time"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/fedgan/fedgan/fed"
)

func TestAsyncWeights(t *testing.T) {
	for _, tc := range []struct {
		name              string
		losses, staleness []float64
		w, c              []float64
		loss              float64
	}{
		{
			// w = [e^0, e^-1, e^-0.5] = [1, 0.36787944117144233, 0.6065306597126334]
			// c = w/3 = [0.3333333333333333, 0.12262648039048077, 0.20217688657087781]
			// L_async = (1/3)(1·(−0.5) + 0.36787944117144233·(−1) + 0.6065306597126334·(−2))
			//         = (1/3)(−0.5 − 0.36787944117144233 − 1.2130613194252668)
			//         = (1/3)(−2.080940760596709) = −0.6936469201989031
			name:      "three devices",
			losses:    []float64{-0.5, -1.0, -2.0},
			staleness: []float64{0, 1, 0.5},
			w:         []float64{1, 0.36787944117144233, 0.6065306597126334},
			c:         []float64{1.0 / 3, 0.12262648039048077, 0.20217688657087781},
			loss:      -0.6936469201989031,
		},
		{
			// All fresh: Eq. 5 is the plain mean, (−0.2 − 0.6)/2 = −0.4.
			name:      "fresh",
			losses:    []float64{-0.2, -0.6},
			staleness: []float64{0, 0},
			w:         []float64{1, 1},
			c:         []float64{0.5, 0.5},
			loss:      -0.4,
		},
		{
			// A negative staleness is clamped to 0: weight e^0 = 1, not e^3.
			name:      "negative staleness",
			losses:    []float64{-0.9},
			staleness: []float64{-3},
			w:         []float64{1},
			c:         []float64{1},
			loss:      -0.9,
		},
		{
			// e^-1000 underflows to 0: the stale device drops out, but |M| = 2
			// still divides, L_async = (1/2)(−0.4) = −0.2.
			name:      "very stale",
			losses:    []float64{-0.4, -7},
			staleness: []float64{0, 1000},
			w:         []float64{1, 0},
			c:         []float64{0.5, 0},
			loss:      -0.2,
		},
		{
			// Dividing by |M| before summing: MaxFloat64/2 + MaxFloat64/2, not
			// (MaxFloat64 + MaxFloat64)/2 = +Inf.
			name:      "MaxFloat64",
			losses:    []float64{math.MaxFloat64, math.MaxFloat64},
			staleness: []float64{0, 0},
			w:         []float64{1, 1},
			c:         []float64{0.5, 0.5},
			loss:      math.MaxFloat64,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fed.AsyncWeights(tc.losses, tc.staleness)
			if err != nil {
				t.Fatalf("AsyncWeights(%v, %v): got error %v, want nil", tc.losses, tc.staleness, err)
			}
			eqCheckSlice(t, "Weights", got.Weights, tc.w, 1e-15)
			eqCheckSlice(t, "Coeffs", got.Coeffs, tc.c, 1e-15)
			if !scalar.EqualWithinAbsOrRel(got.Loss, tc.loss, 1e-15, 1e-15) {
				t.Errorf("Loss: got %.17g, want %.17g", got.Loss, tc.loss)
			}
		})
	}
}

// TestAsyncWeightsGradient checks Coeffs = ∂L_async/∂L_j by finite
// differences of Eq. 5 written out directly.
func TestAsyncWeightsGradient(t *testing.T) {
	staleness := []float64{0, 1, 0.5, 2.25}
	losses := []float64{-0.5, -1.0, -2.0, -0.1}
	f := func(l []float64) float64 {
		var sum float64
		for j := range l {
			sum += math.Exp(-staleness[j]) * l[j]
		}
		return sum / float64(len(l))
	}
	grad := fd.Gradient(nil, f, losses, &fd.Settings{Formula: fd.Central})
	got, err := fed.AsyncWeights(losses, staleness)
	if err != nil {
		t.Fatal(err)
	}
	eqCheckSlice(t, "Coeffs", got.Coeffs, grad, 1e-9)
	if want := f(losses); !scalar.EqualWithinAbsOrRel(got.Loss, want, 1e-15, 1e-15) {
		t.Errorf("Loss: got %.17g, want %.17g", got.Loss, want)
	}
}

func TestAsyncWeightsQuick(t *testing.T) {
	cfg := eqQuickConfig(t)
	t.Run("staleness 0 gives weight 1", func(t *testing.T) {
		f := func(x eqLosses) bool {
			got, err := fed.AsyncWeights(x, make([]float64, len(x)))
			if err != nil {
				return false
			}
			for j := range x {
				if got.Weights[j] != 1 || got.Coeffs[j] != 1/float64(len(x)) {
					t.Logf("AsyncWeights(%v, 0): w %v, c %v", x, got.Weights, got.Coeffs)
					return false
				}
			}
			return eqFinite(got.Loss)
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("staler never weighs more; finite; in [0, 1]", func(t *testing.T) {
		f := func(x eqLosses, seed int64) bool {
			r := rand.New(rand.NewSource(seed))
			s := make([]float64, len(x))
			for i := range s {
				s[i] = r.ExpFloat64() * []float64{0.1, 1, 10, 1000}[r.Intn(4)]
			}
			got, err := fed.AsyncWeights(x, s)
			if err != nil {
				return false
			}
			var sum float64
			for i := range s {
				w := got.Weights[i]
				if !eqFinite(w) || w < 0 || w > 1 || !eqFinite(got.Coeffs[i]) {
					t.Logf("AsyncWeights(%v, %v): w %v", x, s, got.Weights)
					return false
				}
				sum += got.Coeffs[i]
				for j := range s {
					if s[i] > s[j] && got.Weights[i] > got.Weights[j] {
						t.Logf("AsyncWeights: s %v > %v but w %v > %v", s[i], s[j], got.Weights[i], got.Weights[j])
						return false
					}
				}
			}
			if sum > 1+1e-15 {
				t.Logf("AsyncWeights(%v, %v): Σc = %v > 1", x, s, sum)
				return false
			}
			return eqFinite(got.Loss)
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
}

func TestAsyncWeightsErrors(t *testing.T) {
	for _, tc := range []struct {
		name              string
		losses, staleness []float64
		want              error
		arg               string // of the *LengthError or *ValueError
	}{
		{"nil", nil, nil, fed.ErrEmpty, ""},
		{"empty", []float64{}, []float64{}, fed.ErrEmpty, ""},
		{"short staleness", []float64{-1, -2}, []float64{0}, fed.ErrLength, "staleness"},
		{"long staleness", []float64{-1}, []float64{0, 0}, fed.ErrLength, "staleness"},
		{"NaN loss", []float64{math.NaN()}, []float64{0}, fed.ErrNonFinite, "losses"},
		{"Inf loss", []float64{-1, math.Inf(-1)}, []float64{0, 0}, fed.ErrNonFinite, "losses"},
		{"NaN staleness", []float64{-1}, []float64{math.NaN()}, fed.ErrNonFinite, "staleness"},
		{"Inf staleness", []float64{-1}, []float64{math.Inf(1)}, fed.ErrNonFinite, "staleness"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fed.AsyncWeights(tc.losses, tc.staleness)
			if !errors.Is(err, tc.want) {
				t.Fatalf("AsyncWeights(%v, %v): got error %v, want %v", tc.losses, tc.staleness, err, tc.want)
			}
			if got.Weights != nil || got.Coeffs != nil || got.Loss != 0 {
				t.Errorf("got %+v with the error, want the zero Weighting", got)
			}
			var le *fed.LengthError
			var ve *fed.ValueError
			switch {
			case errors.As(err, &le):
				if le.Arg != tc.arg || le.Got != len(tc.staleness) || le.Want != len(tc.losses) {
					t.Errorf("got %+v, want LengthError{Arg: %q, Got: %d, Want: %d}", *le, tc.arg, len(tc.staleness), len(tc.losses))
				}
			case errors.As(err, &ve):
				if ve.Arg != tc.arg {
					t.Errorf("got ValueError.Arg %q, want %q", ve.Arg, tc.arg)
				}
			}
		})
	}
}

func TestTimeStaleness(t *testing.T) {
	lat := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		rec  time.Time
		tau  time.Duration
		want float64
	}{
		{"same instant", lat, time.Second, 0},
		{"1.5 s at τ = 1 s", lat.Add(1500 * time.Millisecond), time.Second, 1.5},
		{"1 s at τ = 250 ms", lat.Add(time.Second), 250 * time.Millisecond, 4},
		{"3 ms at τ = 1 s", lat.Add(3 * time.Millisecond), time.Second, 0.003},
		{"received before produced", lat.Add(-time.Second), time.Second, 0},
		{"one nanosecond at τ = 1 ns", lat.Add(1), 1, 1},
		{"different zones, same instant", lat.In(time.FixedZone("X", 3600)), time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fed.TimeStaleness(tc.rec, lat, tc.tau); !scalar.EqualWithinAbsOrRel(got, tc.want, 1e-15, 1e-15) {
				t.Errorf("TimeStaleness(lat%+v, lat, %v): got %v, want %v", tc.rec.Sub(lat), tc.tau, got, tc.want)
			}
		})
	}
	for _, tau := range []time.Duration{0, -time.Second} {
		t.Run("panics for tau "+tau.String(), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("TimeStaleness(…, %v): got no panic, want one", tau)
				}
			}()
			fed.TimeStaleness(lat.Add(time.Second), lat, tau)
		})
	}
}

func TestVersionStaleness(t *testing.T) {
	for _, tc := range []struct {
		current, fb int64
		want        float64
	}{
		{5, 5, 0},
		{7, 5, 2},
		{5, 7, 0}, // from the future: fresh
		{0, -1, 1},
		// current − fb overflows int64; it must be very stale, never fresh.
		{5, math.MinInt64, 9223372036854775813},
		{math.MaxInt64, math.MinInt64, 18446744073709551615},
		{math.MinInt64, math.MaxInt64, 0},
	} {
		if got := fed.VersionStaleness(tc.current, tc.fb); got != tc.want {
			t.Errorf("VersionStaleness(%d, %d): got %v, want %v", tc.current, tc.fb, got, tc.want)
		}
	}
}
