package fed_test

import (
	"errors"
	"math"
	"testing"

	"github.com/fedgan/fedgan/fed"
)

// TestGlobal follows Eq. 1 by hand for two communities with losses
// L_{D*}(G_0) = −0.7 and L_{D*}(G_1) = −0.4:
//
//	w_0 = e^-0.7 / (e^-0.7 + e^-0.4) = 1 / (1 + e^0.3) = 1 / 2.3498588075760031
//	    = 0.42555748318834101,  w_1 = 1 − w_0 = 0.57444251681165899
//
// and G_0 = [1, 2, −3], G_1 = [3, −1, 0.5]:
//
//	G[0] = 1·w_0 + 3·w_1    = 0.42555748318834101 + 1.7233275504349770  = 2.1488850336233180
//	G[1] = 2·w_0 − 1·w_1    = 0.85111496637668203 − 0.57444251681165899 = 0.27667244956502304
//	G[2] = −3·w_0 + 0.5·w_1 = −1.2766724495650230 + 0.28722125840582949 = −0.98945119115919354
func TestGlobal(t *testing.T) {
	w, err := fed.GlobalWeights(nil, []float64{-0.7, -0.4})
	if err != nil {
		t.Fatalf("GlobalWeights: %v", err)
	}
	eqCheckSlice(t, "GlobalWeights", w, []float64{0.42555748318834101, 0.57444251681165899}, 1e-15)

	dst := []float32{9, 9, 9}
	if err := fed.Average(dst, w, [][]float32{{1, 2, -3}, {3, -1, 0.5}}); err != nil {
		t.Fatalf("Average: %v", err)
	}
	eqCheckSlice32(t, "Average", dst, []float64{2.1488850336233180, 0.27667244956502304, -0.98945119115919354}, 1e-7)
}

func TestGlobalWeightsSingle(t *testing.T) {
	// One community: G = G_0 whatever its loss.
	w, err := fed.GlobalWeights(make([]float64, 0, 4), []float64{-123.4})
	if err != nil {
		t.Fatal(err)
	}
	eqCheckSlice(t, "GlobalWeights", w, []float64{1}, 0)
	dst := make([]float32, 3)
	if err := fed.Average(dst, w, [][]float32{{0.25, -7, 1e-20}}); err != nil {
		t.Fatal(err)
	}
	eqCheckSlice32(t, "Average", dst, []float64{0.25, -7, float64(float32(1e-20))}, 0)
}

func TestGlobalErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		losses []float64
		want   error
	}{
		{"no communities", nil, fed.ErrEmpty},
		{"NaN", []float64{-1, math.NaN()}, fed.ErrNonFinite},
		{"-Inf", []float64{math.Inf(-1)}, fed.ErrNonFinite},
	} {
		t.Run("GlobalWeights/"+tc.name, func(t *testing.T) {
			w, err := fed.GlobalWeights(nil, tc.losses)
			if !errors.Is(err, tc.want) || w != nil {
				t.Fatalf("GlobalWeights(%v): got %v, %v, want nil, %v", tc.losses, w, err, tc.want)
			}
			var ve *fed.ValueError
			if errors.As(err, &ve) && ve.Arg != "losses" {
				t.Errorf("got ValueError.Arg %q, want \"losses\"", ve.Arg)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		dst     int
		weights []float64
		params  [][]float32
		want    error
		arg     string
	}{
		{"no params", 2, nil, nil, fed.ErrEmpty, ""},
		{"weights short", 2, []float64{1}, [][]float32{{1, 2}, {3, 4}}, fed.ErrLength, "weights"},
		{"params[1] short", 2, []float64{0.5, 0.5}, [][]float32{{1, 2}, {3}}, fed.ErrLength, "params[1]"},
		{"dst short", 1, []float64{0.5, 0.5}, [][]float32{{1, 2}, {3, 4}}, fed.ErrLength, "params[0]"},
		{"NaN weight", 2, []float64{math.NaN(), 0.5}, [][]float32{{1, 2}, {3, 4}}, fed.ErrNonFinite, "weights"},
		{"Inf parameter", 2, []float64{0.5, 0.5}, [][]float32{{1, 2}, {float32(math.Inf(1)), 4}}, fed.ErrNonFinite, "params[1]"},
	} {
		t.Run("Average/"+tc.name, func(t *testing.T) {
			err := fed.Average(make([]float32, tc.dst), tc.weights, tc.params)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Average: got error %v, want %v", err, tc.want)
			}
			var le *fed.LengthError
			var ve *fed.ValueError
			switch {
			case errors.As(err, &le):
				if le.Arg != tc.arg {
					t.Errorf("got LengthError.Arg %q, want %q", le.Arg, tc.arg)
				}
			case errors.As(err, &ve):
				if ve.Arg != tc.arg {
					t.Errorf("got ValueError.Arg %q, want %q", ve.Arg, tc.arg)
				}
			}
		})
	}
}
