package fed_test

import (
	"fmt"
	"time"

	"github.com/fedgan/fedgan/fed"
)

// An edge's synchronous update (Eq. 4): weigh the two devices' losses, then
// combine their feedback tensors into ∂L_sync/∂X_g for backpropagation
// through G_k.
func ExampleSyncWeights() {
	losses := []float64{-0.5, -1.0} // L_kj = mean log(1 − D_kj(X_g)), Eq. 3
	grads := [][]float32{           // F_kj = ∂L_kj/∂X_g, here B×d = 1×2
		{1, -1},
		{3, 0.5},
	}
	w, err := fed.SyncWeights(losses, fed.WeightsExact)
	if err != nil {
		fmt.Println(err)
		return
	}
	dx := make([]float32, 2)
	if err := fed.Combine(dx, w.Coeffs, grads); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("weights %.4f\n", w.Weights)
	fmt.Printf("L_sync  %.4f\n", w.Loss)
	fmt.Printf("coeffs  %.4f\n", w.Coeffs)
	fmt.Printf("dL/dX_g %.4f\n", dx)
	// Output:
	// weights [0.6225 0.3775]
	// L_sync  -0.6888
	// coeffs  [0.7400 0.2600]
	// dL/dX_g [1.5201 -0.6099]
}

// An edge's asynchronous update (Eq. 5): feedback received 0.5 s and 2 s
// after the generator versions it was computed on, with τ = 1 s.
func ExampleAsyncWeights() {
	produced := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	staleness := []float64{
		fed.TimeStaleness(produced.Add(500*time.Millisecond), produced, time.Second),
		fed.TimeStaleness(produced.Add(2*time.Second), produced, time.Second),
	}
	w, err := fed.AsyncWeights([]float64{-0.6, -0.9}, staleness)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("staleness %.1f\n", staleness)
	fmt.Printf("weights   %.4f\n", w.Weights)
	fmt.Printf("coeffs    %.4f\n", w.Coeffs)
	fmt.Printf("L_async   %.4f\n", w.Loss)
	// Output:
	// staleness [0.5 2.0]
	// weights   [0.6065 0.1353]
	// coeffs    [0.3033 0.0677]
	// L_async   -0.2429
}

// The cloud's global aggregation (Eq. 1) of two communities' generators.
func ExampleAverage() {
	w, err := fed.GlobalWeights(nil, []float64{-0.7, -0.4}) // L_{D*}(G_k)
	if err != nil {
		fmt.Println(err)
		return
	}
	g := make([]float32, 3)
	if err := fed.Average(g, w, [][]float32{{1, 2, -3}, {3, -1, 0.5}}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("weights %.4f\n", w)
	fmt.Printf("G       %.4f\n", g)
	// Output:
	// weights [0.4256 0.5744]
	// G       [2.1489 0.2767 -0.9895]
}

// Softmax stays finite where exp overflows.
func ExampleSoftmax() {
	w, err := fed.Softmax(nil, []float64{1000, 1001, -1000})
	fmt.Printf("%.4f %v\n", w, err)
	_, err = fed.Softmax(nil, nil)
	fmt.Println(err)
	// Output:
	// [0.2689 0.7311 0.0000] <nil>
	// fed: empty input: no x
}

// Domain-invariant loss (Eq. 8) of two domains' first-layer outputs for
// one latent row.
func ExampleDomainInvariant() {
	h := [][]float32{{0, 0}, {3, 4}} // H_0, H_1: 1 row × 2 columns
	grad := [][]float32{make([]float32, 2), make([]float32, 2)}
	l, err := fed.DomainInvariant(grad, h, 1, 2)
	fmt.Println(l, err)
	fmt.Println(grad)
	// Output:
	// 5 <nil>
	// [[-0.6 -0.8] [0.6 0.8]]
}

func ExampleParseWeightMode() {
	m, err := fed.ParseWeightMode("constant")
	fmt.Println(m, err)
	_, err = fed.ParseWeightMode("softmax")
	fmt.Println(err)
	// Output:
	// constant <nil>
	// fed: unknown mode: weights "softmax", want "exact", "constant" or "uniform"
}
