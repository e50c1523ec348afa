package nn_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"github.com/fedgan/fedgan/nn"
)

// A tiny network learns XOR with Adam and the logistic loss.
func Example() {
	rng := rand.New(rand.NewPCG(42, 0))
	net, err := nn.MLP([]int{2, 8, 1}, 0.1, "", rng)
	if err != nil {
		panic(err)
	}
	opt := nn.NewAdam(0.05, 0.9, 0.999, 1e-8)
	// Rows 0-1 are the positives (target 1), rows 2-3 the negatives.
	x := nn.Mat{Rows: 4, Cols: 2, Data: []float32{0, 1, 1, 0, 0, 0, 1, 1}}
	grad := nn.NewMat(4, 1)
	for step := 0; step < 1000; step++ {
		net.ZeroGrad()
		logits := net.Forward(x).Data
		nn.SigmoidBCE(grad.Data[:2], logits[:2], 1)
		nn.SigmoidBCE(grad.Data[2:], logits[2:], 0)
		net.BackwardParams(grad)
		opt.Step(net.Params())
	}
	for i, a := range net.Forward(x).Data {
		fmt.Printf("%v → %v\n", x.Row(i), a > 0)
	}
	// Output:
	// [0 1] → true
	// [1 0] → true
	// [0 0] → false
	// [1 1] → false
}

// The generator's first layer block and the discriminator's input
// gradient, as the paper's Eq. 8 and the device feedback need them.
func ExampleSequential_Slice() {
	rng := rand.New(rand.NewPCG(1, 0))
	g, _ := nn.MLP([]int{10, 32, 64, 16}, 0.2, "tanh", rng)
	d, _ := nn.MLP([]int{16, 32, 1}, 0.2, "", rng)
	z := nn.NewMat(5, 10)
	nn.FillNormal(z.Data, rng)

	h := g.Slice(0, 2).Forward(z) // Dense + LeakyReLU: G¹(z)
	fmt.Println("first block:", h.Rows, "×", h.Cols)

	fake := g.Forward(z)
	dl := nn.NewMat(5, 1)
	nn.LogOneMinusSigmoid(dl.Data, d.Forward(fake).Data)
	feedback := d.BackwardInput(dl) // ∂L/∂X_g, D's gradients untouched
	fmt.Println("feedback:", feedback.Rows, "×", feedback.Cols)
	// Output:
	// first block: 5 × 32
	// feedback: 5 × 16
}

// Save and Load round-trip a network, architecture included.
func ExampleLoad() {
	net, _ := nn.MLP([]int{3, 4, 2}, 0.2, "sigmoid", rand.New(rand.NewPCG(1, 0)))
	var buf bytes.Buffer
	if err := nn.Save(&buf, net); err != nil {
		panic(err)
	}
	back, err := nn.Load(&buf)
	if err != nil {
		panic(err)
	}
	for _, s := range back.Specs() {
		fmt.Printf("%+v\n", s)
	}
	fmt.Println(back.NumParams(), "parameters")
	// Output:
	// {Kind:dense In:3 Out:4 Alpha:0 Group:0 Carry:0}
	// {Kind:leaky_relu In:0 Out:0 Alpha:0.2 Group:0 Carry:0}
	// {Kind:dense In:4 Out:2 Alpha:0 Group:0 Carry:0}
	// {Kind:sigmoid In:0 Out:0 Alpha:0 Group:0 Carry:0}
	// 26 parameters
}
