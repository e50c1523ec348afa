// Package nn is a small float32 neural-network library on gonum's blas32:
// just enough to train the multilayer-perceptron generators, discriminators
// and classifiers of the federated GAN, fast and without allocating.
//
// # Matrices
//
// A Mat is a dense row-major float32 matrix whose rows are the samples of
// a batch: an n×d Mat holds n samples of dimension d. Mats are plain
// values (Rows, Cols, Data); slicing and copying them never copies Data.
//
// # Layers
//
// A Layer maps a batch to a batch and back:
//
//	y  := l.Forward(x)        // y = f(x); l keeps what Backward needs
//	dx := l.Backward(dy)      // dy = ∂L/∂y; accumulates ∂L/∂θ, returns ∂L/∂x
//	dx  = l.BackwardInput(dy) // ∂L/∂x only: parameter gradients untouched
//
// The layers are Dense (y = x·W + b, W of shape [In, Out]), LeakyReLU,
// ReLU, Tanh and Sigmoid. A Sequential chains them; Build creates one from
// a list of LayerSpecs and MLP from a list of sizes.
//
// Every layer owns its output and gradient buffers. The Mat returned by
// Forward or Backward is a view of the layer's buffer and is valid until
// that layer's next call: copy it if you need it longer. Buffers grow to
// the largest batch seen and are then reused, so that a steady-state
// training step allocates nothing; the batch size may change from call to
// call. Forward keeps a reference to its input rather than a copy, so the
// input must not be changed before the matching Backward.
//
// Backward accumulates (adds to) Param.Grad; call ZeroGrad before each
// step. Sequential.BackwardParams is Backward without the input gradient of
// the first layer, the cheapest way to train; BackwardInput gives ∂L/∂x
// without touching parameter gradients, which is what a device needs to
// send error feedback (∂L/∂X_g) for a discriminator it is not updating.
//
// Slice returns a Sequential over some of the layers that shares the layer
// objects. For a generator built by MLP, whose layers are Dense,
// LeakyReLU, Dense, ..., g.Slice(0, 2).Forward(z) is the output of its
// first layer block (the paper's G¹ in Eq. 8), and for a classifier
// c.Slice(0, len(c.Layers)-1) yields its penultimate features. Because the
// layers are shared, a Forward through a slice invalidates the cached state
// of those layers in the full network too.
//
// # Losses
//
// The losses take logits and are computed in float64 from softplus and
// log-sum-exp formulations, so that they are finite and exact even for
// logits of ±1000. Each returns the batch mean and, when dst is not nil,
// writes ∂mean/∂logit into dst:
//
//	SigmoidBCE          −[t log σ(a) + (1−t) log(1−σ(a))] = softplus(a) − t·a
//	LogOneMinusSigmoid  log(1−σ(a)) = −softplus(a)   (paper Eq. 3)
//	NegLogSigmoid       −log σ(a) = softplus(−a)     (non-saturating)
//	SoftmaxCrossEntropy logsumexp(a) − a[label]
//
// # Optimizers
//
// Adam (as in PyTorch, with bias correction) and SGD (with optional
// momentum) implement Optimizer. Step updates the parameters from their
// gradients; it keeps its state in flat slabs bound to the parameter list
// of the first Step. MarshalBinary and UnmarshalBinary save and restore
// that state, shapes included: restoring and stepping gives bit-identical
// results to never having saved.
//
// # Parameters and files
//
// Params lists the trainable tensors in a fixed order (per Dense layer, W
// then B). Flatten and Unflatten copy all of them to and from one flat
// slice, which is what travels over the network. Save and Load write and
// read a whole network, architecture and parameters:
//
//	magic "FGNN", version u16 = 1
//	layer count u32, then per layer: kind (u8 length + bytes), In u32,
//	  Out u32, Alpha f32
//	tensor count u32, then per tensor: rank u8, dims u32…, values f32…
//	CRC-32 (IEEE) u32 of everything before it
//
// all little-endian. Load checks the header, the checksum, every layer
// description and every shape, and returns a *FormatError wrapping
// ErrFormat for anything truncated or corrupted; it never panics on its
// input and never allocates more than the input can fill.
//
// # Initialisation and determinism
//
// Dense weights are drawn from the Glorot (Xavier) uniform distribution
// U(−√(6/(in+out)), +√(6/(in+out))) and biases start at zero. Every random
// draw comes from the *rand.Rand passed in, in a documented order, and
// every sum runs in a fixed order, so the same seed gives bit-identical
// networks and training runs on the same backend (see Speed).
//
// # Speed
//
// A training step's time goes to the matrix products, then to Adam and the
// activations. Backend reports which implementation runs the products:
//
//   - "gonum+avx512", "gonum+avx2": the default build on amd64 CPUs with
//     AVX-512F, or with AVX2 and FMA. nn's own packed 4×32 (AVX-512) and
//     4×16 (AVX2) kernels in Go assembly compute the products, gonum's
//     blas32 the edges and matrix-vector products. Single-threaded.
//   - "gonum": the default build elsewhere (ARM boards, purego tag): gonum's
//     native blas32, called in panels small enough to run serially.
//   - "openblas": built with -tags openblas and cgo (Debian's
//     libopenblas-dev), blas32 points at OpenBLAS and the products use its
//     threads.
//
// Adam and LeakyReLU run in SSE, AVX or AVX-512 loops on amd64 that
// perform the same IEEE operations in the same order as the portable Go
// code, so their results do not depend on the instruction set; the matrix
// products do (FMA rounds once where gonum rounds twice), but each backend
// sums every element in a fixed order. A 1-output Dense layer uses
// matrix-vector products; in the OpenBLAS build the weight gradient of a
// large input is computed from a transposed copy, which OpenBLAS runs
// faster than its transposed-operand kernel.
//
// nn itself starts no goroutines. A network and its layers are not safe
// for concurrent use; distinct networks are independent.
//
// BenchmarkGANStep measures the reference GAN step (generator
// 100→256→512→784, discriminator 784→512→256→1, batch 64, Adam on both);
// bench/run.sh compares the builds with PyTorch.
//
// # Errors
//
// Shape mismatches between layers and batches are programmer errors and
// panic with an error wrapping ErrShape, as gonum's mat does. Bad input —
// malformed files, invalid layer specs, optimizer state for other shapes —
// is reported as an error: ErrFormat, ErrSpec and ErrShape are the
// sentinels to test with errors.Is.
//
// # Usage
//
// A GAN training step, discriminator then generator:
//
//	rng := rand.New(rand.NewPCG(seed, 0))
//	g, _ := nn.MLP([]int{100, 256, 512, 784}, 0.2, "tanh", rng)
//	d, _ := nn.MLP([]int{784, 512, 256, 1}, 0.2, "", rng)
//	gOpt := nn.NewAdam(2e-4, 0.5, 0.999, 1e-8)
//	dOpt := nn.NewAdam(2e-4, 0.5, 0.999, 1e-8)
//	z := nn.NewMat(64, 100)
//	dReal, dFake, dG := nn.NewMat(64, 1), nn.NewMat(64, 1), nn.NewMat(64, 1)
//	for step := 0; step < steps; step++ {
//		nn.FillNormal(z.Data, rng)
//		fake := g.Forward(z)
//
//		// Discriminator: maximise log D(x) + log(1 − D(G(z))).
//		d.ZeroGrad()
//		nn.SigmoidBCE(dReal.Data, d.Forward(real).Data, 1)
//		d.BackwardParams(dReal)
//		nn.SigmoidBCE(dFake.Data, d.Forward(fake).Data, 0)
//		d.BackwardParams(dFake)
//		dOpt.Step(d.Params())
//
//		// Generator: minimise −log D(G(z)) through D's input gradient.
//		g.ZeroGrad()
//		nn.NegLogSigmoid(dG.Data, d.Forward(fake).Data)
//		feedback := d.BackwardInput(dG) // ∂L/∂X_g, 64×784
//		g.BackwardParams(feedback)
//		gOpt.Step(g.Params())
//	}
package nn
