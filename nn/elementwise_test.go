package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// specialFloats are mixed into the kernels' inputs: zeros of both signs,
// infinities, NaN, subnormals and values near 1.
var specialFloats = []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
	float32(math.NaN()), 1e-40, -1e-40, 1, -1, math.MaxFloat32, -math.SmallestNonzeroFloat32}

func kernelInput(n int, rng *rand.Rand) []float32 {
	x := make([]float32, n)
	for i := range x {
		if rng.IntN(8) == 0 {
			x[i] = specialFloats[rng.IntN(len(specialFloats))]
		} else {
			x[i] = float32(rng.NormFloat64())
		}
	}
	return x
}

func sameBits(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

// TestKernelsMatchReference checks that the dispatching element-wise
// kernels (SSE on amd64) give the reference code's bits for every length
// up to 67, special values included.
func TestKernelsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 68; n++ {
		x, dy := kernelInput(n, rng), kernelInput(n, rng)
		for _, alpha := range []float32{0, 0.2, -0.5} {
			got, want := make([]float32, n), make([]float32, n)
			leakyForward(got, x, alpha)
			leakyForwardRef(want, x, alpha)
			if i := sameBits(got, want); i >= 0 {
				t.Fatalf("leakyForward n=%d alpha=%v: [%d] got %v, want %v (x=%v)", n, alpha, i, got[i], want[i], x[i])
			}
			leakyBackward(got, dy, x, alpha)
			leakyBackwardRef(want, dy, x, alpha)
			if i := sameBits(got, want); i >= 0 {
				t.Fatalf("leakyBackward n=%d alpha=%v: [%d] got %v, want %v", n, alpha, i, got[i], want[i])
			}
		}
		tg, tw := make([]float32, n), make([]float32, n)
		tx := kernelInput(n, rng)
		for i := range tx {
			if rng.IntN(3) == 0 {
				tx[i] *= 8 // reach the clamp and ±9 branches
			} else if rng.IntN(4) == 0 {
				tx[i] *= 1e-4 // and the small one
			}
		}
		tanhForward(tg, tx)
		tanhRef(tw, tx)
		if i := sameBits(tg, tw); i >= 0 {
			t.Fatalf("tanhForward n=%d: [%d] got %v, want %v (x=%v)", n, i, tg[i], tw[i], tx[i])
		}
		h := &adamHyper{b1: 0.5, c1: 0.5, b2: 0.999, c2: 0.001, step: 2e-4 / 0.5, invBC2: float32(1 / math.Sqrt(0.001)), eps: 1e-8}
		w1, g := kernelInput(n, rng), kernelInput(n, rng)
		m1, v1 := kernelInput(n, rng), kernelInput(n, rng)
		for i := range v1 {
			v1[i] = float32(math.Abs(float64(v1[i])))
		}
		w2, m2, v2 := append([]float32(nil), w1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
		adamUpdate(w1, g, m1, v1, h)
		adamRef(w2, g, m2, v2, h)
		for _, c := range []struct {
			name      string
			got, want []float32
		}{{"w", w1, w2}, {"m", m1, m2}, {"v", v1, v2}} {
			if i := sameBits(c.got, c.want); i >= 0 {
				t.Fatalf("adamUpdate n=%d: %s[%d] got %v, want %v", n, c.name, i, c.got[i], c.want[i])
			}
		}
	}
}

func BenchmarkAdamUpdate(b *testing.B) {
	n := 1 << 20
	w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	h := &adamHyper{b1: 0.5, c1: 0.5, b2: 0.999, c2: 0.001, step: 2e-4, invBC2: 1, eps: 1e-8}
	b.SetBytes(int64(n * 4))
	ct := startCPU(b)
	for i := 0; i < b.N; i++ {
		adamUpdate(w, g, m, v, h)
	}
	b.ReportMetric(ct.seconds()*1e9/float64(b.N)/float64(n), "cpu-ns/elem")
}

func BenchmarkLeakyForward(b *testing.B) {
	n := 128 * 512
	x, y := make([]float32, n), make([]float32, n)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	b.SetBytes(int64(n * 4))
	for i := 0; i < b.N; i++ {
		leakyForward(y, x, 0.2)
	}
}

// TestTanhAccuracy bounds tanhForward's error against math.Tanh on a fine
// grid over [−12, 12] and checks the special values.
func TestTanhAccuracy(t *testing.T) {
	var xs []float32
	for x := float32(-12); x < 12; x += 1.0 / 8192 {
		xs = append(xs, x)
	}
	xs = append(xs, 1e-30, -1e-30, 3.9e-4, 4e-4, 7.9, 8.9, 9)
	y := make([]float32, len(xs))
	tanhForward(y, xs)
	for i, x := range xs {
		want := math.Tanh(float64(x))
		if d := math.Abs(float64(y[i]) - want); d > 4e-7 {
			t.Errorf("tanh(%v): got %v, want %v (error %.3g)", x, y[i], want, d)
		}
		if (y[i] < 0) != (x < 0) && y[i] != 0 {
			t.Errorf("tanh(%v) = %v has the wrong sign", x, y[i])
		}
	}
	special := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.NaN())}
	got := make([]float32, len(special))
	tanhForward(got, special)
	if got[0] != 1 || got[1] != -1 || got[2] != 0 || !math.IsNaN(float64(got[3])) {
		t.Errorf("tanh(+Inf, −Inf, 0, NaN): got %v, want [1 -1 0 NaN]", got)
	}
}
