package fed_test

import (
	"errors"
	"math"
	"math/rand"
	"slices"
	"testing"
	"testing/quick"

	"gonum.org/v1/gonum/diff/fd"
	"gonum.org/v1/gonum/floats/scalar"

	"github.com/fedgan/fedgan/fed"
)

func TestSyncWeights(t *testing.T) {
	for _, tc := range []struct {
		name   string
		losses []float64
		mode   fed.WeightMode
		w, c   []float64
		loss   float64
	}{
		{
			// w_0 = 1/(1 + e^-0.5) = 0.6224593312018546, w_1 = 0.3775406687981454
			// L_sync = 0.6224593312018546·(−0.5) + 0.3775406687981454·(−1.0)
			//        = −0.3112296656009273 − 0.3775406687981454 = −0.6887703343990727
			// c_0 = w_0 (1 + (−0.5) + 0.6887703343990727) = w_0 · 1.1887703343990727 = 0.7399611873026518
			// c_1 = w_1 (1 + (−1.0) + 0.6887703343990727) = w_1 · 0.6887703343990727 = 0.2600388126973482
			name:   "two devices, exact",
			losses: []float64{-0.5, -1.0},
			mode:   fed.WeightsExact,
			w:      []float64{0.6224593312018546, 0.3775406687981454},
			c:      []float64{0.7399611873026518, 0.2600388126973482},
			loss:   -0.6887703343990727,
		},
		{
			// The same weights and loss; c_j = w_j.
			name:   "two devices, constant",
			losses: []float64{-0.5, -1.0},
			mode:   fed.WeightsConstant,
			w:      []float64{0.6224593312018546, 0.3775406687981454},
			c:      []float64{0.6224593312018546, 0.3775406687981454},
			loss:   -0.6887703343990727,
		},
		{
			// Σ e^L = e^-2 + e^-0.1 + e^-5 = 0.1353352832366127 + 0.9048374180359595
			// + 0.006737946999085467 = 1.0469106482716577
			// w = [0.12927109248533997, 0.8642928787951039, 0.006436028719556084]
			// L_sync = −2 w_0 − 0.1 w_1 − 5 w_2
			//        = −0.25854218497067994 − 0.08642928787951039 − 0.03218014359778042 = −0.37715161644797076
			// c_0 = w_0 (1 − 2 + 0.37715161644797076)   = w_0 · (−0.6228483835520292) = −0.08051629099449888
			// c_1 = w_1 (1 − 0.1 + 0.37715161644797076) = w_1 · 1.2771516164479708  = 1.1038330472376371
			// c_2 = w_2 (1 − 5 + 0.37715161644797076)   = w_2 · (−3.622848383552029) = −0.023316756243138195
			// The device far below L_sync gets a negative coefficient.
			name:   "three devices, exact",
			losses: []float64{-2, -0.1, -5},
			mode:   fed.WeightsExact,
			w:      []float64{0.12927109248533997, 0.8642928787951039, 0.006436028719556084},
			c:      []float64{-0.08051629099449888, 1.1038330472376371, -0.023316756243138195},
			loss:   -0.37715161644797076,
		},
		{
			// One device: w = 1, L_sync = L, c = 1·(1 + L − L) = 1.
			name:   "one device",
			losses: []float64{-0.7},
			mode:   fed.WeightsExact,
			w:      []float64{1},
			c:      []float64{1},
			loss:   -0.7,
		},
		{
			// Equal losses: w = 1/3, L_sync = −0.3, c = w (1 + 0) = 1/3.
			name:   "ties",
			losses: []float64{-0.3, -0.3, -0.3},
			mode:   fed.WeightsExact,
			w:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			c:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			loss:   -0.3,
		},
		{
			// w = [1, e^-2000 → 0]; L_sync = 1000; c_0 = 1·(1 + 0) = 1, c_1 = 0
			// (not 0·(1 − 2000 − 1000), which would be −0 only by luck).
			name:   "±1000",
			losses: []float64{1000, -1000},
			mode:   fed.WeightsExact,
			w:      []float64{1, 0},
			c:      []float64{1, 0},
			loss:   1000,
		},
		{
			// e^1000/(e^1000 + e^1001) = 1/(1 + e) = 0.2689414213699951;
			// L_sync = 1000 w_0 + 1001 w_1 = 1000 + w_1 = 1000.7310585786300049;
			// c_0 = w_0 (1 − 0.7310585786300049) = 0.07232948812851327,
			// c_1 = w_1 (1 + 0.2689414213699951) = 0.9276705118714867.
			name:   "would overflow",
			losses: []float64{1000, 1001},
			mode:   fed.WeightsExact,
			w:      []float64{0.2689414213699951, 0.7310585786300049},
			c:      []float64{0.07232948812851327, 0.9276705118714867},
			loss:   1000.7310585786300049,
		},
		{
			// Without the clamp to [min, max], w·MaxFloat64 summed could round
			// to +Inf; with it L_sync = MaxFloat64 and c = w (1 + 0) = 1/3.
			name:   "MaxFloat64",
			losses: []float64{math.MaxFloat64, math.MaxFloat64, math.MaxFloat64},
			mode:   fed.WeightsExact,
			w:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			c:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			loss:   math.MaxFloat64,
		},
		{
			// Plain averaging (M-D GAN): w = c = 1/2 whatever the losses,
			// L_sync = (−0.5 − 1.0)/2 = −0.75 (exact: −0.68877…).
			name:   "two devices, uniform",
			losses: []float64{-0.5, -1.0},
			mode:   fed.WeightsUniform,
			w:      []float64{0.5, 0.5},
			c:      []float64{0.5, 0.5},
			loss:   -0.75,
		},
		{
			// w = c = 1/3; L_sync = (−2 − 0.1 − 5)/3 = −7.1/3 = −2.3666666666666667;
			// no negative coefficient for the device far below L_sync.
			name:   "three devices, uniform",
			losses: []float64{-2, -0.1, -5},
			mode:   fed.WeightsUniform,
			w:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			c:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			loss:   -2.3666666666666667,
		},
		{
			// The softmax puts all the weight on 1000; the mean is 0.
			name:   "±1000, uniform",
			losses: []float64{1000, -1000},
			mode:   fed.WeightsUniform,
			w:      []float64{0.5, 0.5},
			c:      []float64{0.5, 0.5},
			loss:   0,
		},
		{
			// Σ L_j would overflow; Σ L_j/n does not: L_sync = MaxFloat64.
			name:   "MaxFloat64, uniform",
			losses: []float64{math.MaxFloat64, math.MaxFloat64, math.MaxFloat64},
			mode:   fed.WeightsUniform,
			w:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			c:      []float64{1.0 / 3, 1.0 / 3, 1.0 / 3},
			loss:   math.MaxFloat64,
		},
		{
			name:   "±MaxFloat64",
			losses: []float64{-math.MaxFloat64, math.MaxFloat64},
			mode:   fed.WeightsExact,
			w:      []float64{0, 1},
			c:      []float64{0, 1},
			loss:   math.MaxFloat64,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fed.SyncWeights(tc.losses, tc.mode)
			if err != nil {
				t.Fatalf("SyncWeights(%v, %v): got error %v, want nil", tc.losses, tc.mode, err)
			}
			eqCheckSlice(t, "Weights", got.Weights, tc.w, 1e-15)
			eqCheckSlice(t, "Coeffs", got.Coeffs, tc.c, 1e-15)
			if !scalar.EqualWithinAbsOrRel(got.Loss, tc.loss, 1e-15, 1e-15) {
				t.Errorf("Loss: got %.17g, want %.17g", got.Loss, tc.loss)
			}
		})
	}
}

// TestSyncWeightsHighPrecision checks the exact mode against 50-digit
// values (Python decimal, prec = 50: w = softmax(L), L_sync = Σ w L,
// c_j = w_j (1 + L_j − L_sync)) for inputs where cancellation in
// L_j − L_sync matters.
func TestSyncWeightsHighPrecision(t *testing.T) {
	for _, tc := range []struct {
		losses []float64
		c      []float64
		loss   float64
	}{
		{
			losses: []float64{1, 2, 3, 4, 5},
			c: []float64{
				-0.028580397203384357793361574386410635571975725006350,
				-0.046004653571977146137701926343188146246904692015366,
				-0.038925069392990278465546850419962666243306815451335,
				0.12831234845026379053688824967361241561454167208337,
				0.98519777171808799185972210147594903244764556038963,
			},
			loss: 4.4519415676621947310950974994060523625745879310706,
		},
		{
			losses: []float64{-1001, -1002, -1003, -1004, -1005},
			c: []float64{
				0.98519777171808799185972210147594903244764556037089,
				0.12831234845026379053688824967361241561454167207649,
				-0.038925069392990278465546850419962666243306815453867,
				-0.046004653571977146137701926343188146246904692016298,
				-0.028580397203384357793361574386410635571975725006693,
			},
			loss: -1001.5480584323378052689049025005939476374254120689,
		},
	} {
		got, err := fed.SyncWeights(tc.losses, fed.WeightsExact)
		if err != nil {
			t.Fatalf("SyncWeights(%v): %v", tc.losses, err)
		}
		// L_j − L_sync is formed as (L_j − max L) − Σ w (L − max L), so the
		// coefficients keep full precision even near −1001, where
		// L_j − L_sync computed directly would lose log2(1000) ≈ 10 bits.
		eqCheckSlice(t, "Coeffs", got.Coeffs, tc.c, 1e-15)
		if !scalar.EqualWithinAbsOrRel(got.Loss, tc.loss, 0, 1e-15) {
			t.Errorf("SyncWeights(%v).Loss: got %.17g, want %.17g", tc.losses, got.Loss, tc.loss)
		}
	}
}

// syncLoss is L_sync of Eq. 4 written out directly, the function whose
// gradient the exact coefficients must be.
func syncLoss(l []float64) float64 {
	m := slices.Max(l)
	var num, den float64
	for _, v := range l {
		e := math.Exp(v - m)
		num += e * v
		den += e
	}
	return num / den
}

// TestSyncWeightsGradient checks that the exact coefficients are
// ∂L_sync/∂L_j, by central finite differences, and that the constant
// ones are not (except where they coincide, for equal losses).
func TestSyncWeightsGradient(t *testing.T) {
	for _, losses := range [][]float64{
		{-0.5, -1.0},
		{-2, -0.1, -5},
		{-0.69, -0.70, -0.71, -3, -0.01},
		{-40, -41, -39.5},
		{3, -3},
	} {
		grad := fd.Gradient(nil, syncLoss, losses, &fd.Settings{Formula: fd.Central})
		got, err := fed.SyncWeights(losses, fed.WeightsExact)
		if err != nil {
			t.Fatalf("SyncWeights(%v): %v", losses, err)
		}
		for j := range losses {
			if !scalar.EqualWithinAbsOrRel(got.Coeffs[j], grad[j], 1e-8, 1e-8) {
				t.Errorf("SyncWeights(%v).Coeffs[%d]: got %.12g, want ∂L_sync/∂L_%d = %.12g (finite differences)", losses, j, got.Coeffs[j], j, grad[j])
			}
		}
		cst, err := fed.SyncWeights(losses, fed.WeightsConstant)
		if err != nil {
			t.Fatal(err)
		}
		if scalar.EqualWithinAbsOrRel(cst.Coeffs[0], grad[0], 1e-3, 1e-3) {
			t.Errorf("SyncWeights(%v, constant).Coeffs[0] = %.12g equals the gradient %.12g; the test inputs should tell the modes apart", losses, cst.Coeffs[0], grad[0])
		}
	}
}

func TestSyncWeightsQuick(t *testing.T) {
	cfg := eqQuickConfig(t)
	t.Run("finite; weights sum to 1; loss within [min, max]", func(t *testing.T) {
		f := func(x eqLosses, constant bool) bool {
			mode := fed.WeightsExact
			if constant {
				mode = fed.WeightsConstant
			}
			got, err := fed.SyncWeights(x, mode)
			if err != nil {
				t.Logf("SyncWeights(%v): %v", x, err)
				return false
			}
			var sum float64
			for j := range x {
				if !eqFinite(got.Weights[j]) || !eqFinite(got.Coeffs[j]) {
					t.Logf("SyncWeights(%v, %v): w %v, c %v", x, mode, got.Weights, got.Coeffs)
					return false
				}
				sum += got.Weights[j]
			}
			if math.Abs(sum-1) > 1e-14 {
				t.Logf("SyncWeights(%v): Σw = %.17g", x, sum)
				return false
			}
			if !eqFinite(got.Loss) || got.Loss < slices.Min(x) || got.Loss > slices.Max(x) {
				t.Logf("SyncWeights(%v): loss %v outside [min, max]", x, got.Loss)
				return false
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("constant coefficients are the weights", func(t *testing.T) {
		f := func(x eqLosses) bool {
			got, err := fed.SyncWeights(x, fed.WeightsConstant)
			return err == nil && slices.Equal(got.Coeffs, got.Weights)
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("exact coefficients sum to 1", func(t *testing.T) {
		// Σ_j w_j (1 + L_j − L_sync) = 1 + Σ w_j L_j − L_sync = 1.
		f := func(x eqLosses) bool {
			if !x.moderate() {
				return true
			}
			got, err := fed.SyncWeights(x, fed.WeightsExact)
			if err != nil {
				return false
			}
			var sum float64
			for _, c := range got.Coeffs {
				sum += c
			}
			// Rounding of L_j − L_sync, at most ulp(1000) ≈ 1e-13 per term.
			if math.Abs(sum-1) > 1e-11 {
				t.Logf("SyncWeights(%v): Σc = %.17g, want 1", x, sum)
				return false
			}
			return true
		}
		if err := quick.Check(f, cfg); err != nil {
			t.Error(err)
		}
	})
	t.Run("exact coefficients are the gradient", func(t *testing.T) {
		f := func(seed int64, n uint8) bool {
			r := rand.New(rand.NewSource(seed))
			x := make([]float64, 1+int(n)%8)
			for i := range x {
				x[i] = -r.ExpFloat64() * 3
			}
			got, err := fed.SyncWeights(x, fed.WeightsExact)
			if err != nil {
				return false
			}
			grad := fd.Gradient(nil, syncLoss, x, &fd.Settings{Formula: fd.Central})
			for j := range x {
				if !scalar.EqualWithinAbsOrRel(got.Coeffs[j], grad[j], 1e-7, 1e-7) {
					t.Logf("SyncWeights(%v).Coeffs[%d]: got %.12g, want %.12g", x, j, got.Coeffs[j], grad[j])
					return false
				}
			}
			return true
		}
		c := *cfg
		c.MaxCount /= 10
		if err := quick.Check(f, &c); err != nil {
			t.Error(err)
		}
	})
}

func TestSyncWeightsErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		losses []float64
		mode   fed.WeightMode
		want   error
	}{
		{"nil", nil, fed.WeightsExact, fed.ErrEmpty},
		{"empty", []float64{}, fed.WeightsConstant, fed.ErrEmpty},
		{"NaN", []float64{-1, math.NaN()}, fed.WeightsExact, fed.ErrNonFinite},
		{"+Inf", []float64{math.Inf(1)}, fed.WeightsExact, fed.ErrNonFinite},
		{"-Inf", []float64{-1, math.Inf(-1)}, fed.WeightsConstant, fed.ErrNonFinite},
		{"unknown mode", []float64{-1}, fed.WeightMode(3), fed.ErrMode}, // 2 is WeightsUniform
		{"negative mode", []float64{-1}, fed.WeightMode(-1), fed.ErrMode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fed.SyncWeights(tc.losses, tc.mode)
			if !errors.Is(err, tc.want) {
				t.Fatalf("SyncWeights(%v, %v): got error %v, want %v", tc.losses, tc.mode, err, tc.want)
			}
			if got.Weights != nil || got.Coeffs != nil || got.Loss != 0 {
				t.Errorf("SyncWeights(%v, %v): got %+v with the error, want the zero Weighting", tc.losses, tc.mode, got)
			}
		})
	}
}

func eqFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// TestSyncWeightsUniform checks the M-D GAN averaging on random losses:
// every weight and coefficient is 1/n, which is ∂L_sync/∂L_j of the mean,
// and L_sync is the mean, inside [min L, max L].
func TestSyncWeightsUniform(t *testing.T) {
	f := func(x eqLosses) bool {
		got, err := fed.SyncWeights(x, fed.WeightsUniform)
		if err != nil {
			t.Logf("SyncWeights(%v, uniform): %v", x, err)
			return false
		}
		n := float64(len(x))
		var mean float64
		for j, v := range x {
			if got.Weights[j] != 1/n || got.Coeffs[j] != 1/n {
				t.Logf("SyncWeights(%v, uniform): w %v, c %v, want 1/%d each", x, got.Weights, got.Coeffs, len(x))
				return false
			}
			mean += v / n
		}
		if got.Loss < slices.Min(x) || got.Loss > slices.Max(x) {
			t.Logf("SyncWeights(%v, uniform): loss %v outside [min, max]", x, got.Loss)
			return false
		}
		if !scalar.EqualWithinAbsOrRel(got.Loss, mean, 1e-12, 1e-12) {
			t.Logf("SyncWeights(%v, uniform): loss %v, want the mean %v", x, got.Loss, mean)
			return false
		}
		return true
	}
	if err := quick.Check(f, eqQuickConfig(t)); err != nil {
		t.Error(err)
	}
	grad := fd.Gradient(nil, func(l []float64) float64 {
		w, err := fed.SyncWeights(l, fed.WeightsUniform)
		if err != nil {
			t.Fatal(err)
		}
		return w.Loss
	}, []float64{-0.69, -0.70, -3, -0.01}, &fd.Settings{Formula: fd.Central})
	for j, g := range grad {
		if !scalar.EqualWithinAbsOrRel(g, 0.25, 1e-8, 1e-8) {
			t.Errorf("∂L_sync/∂L_%d = %.12g by finite differences, want the coefficient 1/4", j, g)
		}
	}
}
