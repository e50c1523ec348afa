package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fedgan/fedgan/nn"
)

// gan is the reference GAN training step used by the benchmark and the
// determinism and allocation tests: generator m→256→512→784 (LeakyReLU
// 0.2 between, Tanh out), discriminator 784→512→256→1 (LeakyReLU 0.2,
// logit out), Adam(2e-4, 0.5, 0.999) on both.
//
// One step: fake = G(z) for fresh z; one discriminator step on [real;
// fake] (BCE against 1 for real rows, 0 for fake rows); one generator step
// with the non-saturating loss −log D(fake), backpropagated through D's
// input gradient into G. bench/torch_gan_step.py does the same in PyTorch.
type gan struct {
	batch, latent, dim int

	g, d          *nn.Sequential
	gOpt, dOpt    *nn.Adam
	rng           *rand.Rand
	real, z, xcat nn.Mat
	dLogit        nn.Mat // 2·batch×1 gradient buffer
	gLogit        nn.Mat // batch×1

	dLoss, gLoss float64
}

func newGAN(t testing.TB, seed uint64, batch int) *gan {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	g, err := nn.MLP([]int{100, 256, 512, 784}, 0.2, "tanh", rng)
	if err != nil {
		t.Fatal(err)
	}
	d, err := nn.MLP([]int{784, 512, 256, 1}, 0.2, "", rng)
	if err != nil {
		t.Fatal(err)
	}
	s := &gan{
		batch: batch, latent: 100, dim: 784,
		g: g, d: d,
		gOpt:   nn.NewAdam(2e-4, 0.5, 0.999, 1e-8),
		dOpt:   nn.NewAdam(2e-4, 0.5, 0.999, 1e-8),
		rng:    rng,
		real:   nn.NewMat(batch, 784),
		z:      nn.NewMat(batch, 100),
		xcat:   nn.NewMat(2*batch, 784),
		dLogit: nn.NewMat(2*batch, 1),
		gLogit: nn.NewMat(batch, 1),
	}
	// "Real" data: a fixed batch in [−1, 1].
	for i := range s.real.Data {
		s.real.Data[i] = 2*rng.Float32() - 1
	}
	return s
}

func (s *gan) step() {
	b := s.batch
	nn.FillNormal(s.z.Data, s.rng)
	fake := s.g.Forward(s.z)

	// Discriminator step on [real; fake].
	copy(s.xcat.Data[:b*s.dim], s.real.Data)
	copy(s.xcat.Data[b*s.dim:], fake.Data[:b*s.dim])
	s.d.ZeroGrad()
	logits := s.d.Forward(s.xcat)
	s.dLoss = nn.SigmoidBCE(s.dLogit.Data[:b], logits.Data[:b], 1) +
		nn.SigmoidBCE(s.dLogit.Data[b:], logits.Data[b:2*b], 0)
	s.d.BackwardParams(s.dLogit)
	s.dOpt.Step(s.d.Params())

	// Generator step through the updated discriminator.
	s.g.ZeroGrad()
	logits = s.d.Forward(fake)
	s.gLoss = nn.NegLogSigmoid(s.gLogit.Data, logits.Data[:b])
	dx := s.d.BackwardInput(s.gLogit)
	s.g.BackwardParams(dx)
	s.gOpt.Step(s.g.Params())
}

// BenchmarkGANStep times the reference GAN step at batch 64. The
// sub-benchmark is named after nn.Backend().
func BenchmarkGANStep(b *testing.B) {
	b.Run(nn.Backend(), func(b *testing.B) {
		s := newGAN(b, 1, 64)
		s.step() // grow buffers, allocate optimizer state
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := processCPU()
		for i := 0; i < b.N; i++ {
			s.step()
		}
		cpu := processCPU() - cpu0
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
		// CPU time per step over all threads: on a loaded machine this shows
		// what the step costs when wall-clock figures are noisy.
		b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "cpu-ms/step")
	})
}

// TestGANStepNoAllocs checks that a steady-state training step allocates
// nothing.
func TestGANStepNoAllocs(t *testing.T) {
	s := newGAN(t, 1, 16)
	s.step()
	if got := testing.AllocsPerRun(3, s.step); got != 0 {
		t.Errorf("allocations per GAN step: got %v, want 0", got)
	}
}

// TestGANStepDeterministic runs the same training twice from the same seed
// and compares every parameter bit for bit.
func TestGANStepDeterministic(t *testing.T) {
	steps := 3
	if testing.Short() {
		steps = 2
	}
	run := func() ([]float32, []float32, float64) {
		s := newGAN(t, 7, 64)
		for i := 0; i < steps; i++ {
			s.step()
		}
		return nn.Flatten(nil, s.g.Params()), nn.Flatten(nil, s.d.Params()), s.gLoss
	}
	g1, d1, l1 := run()
	g2, d2, l2 := run()
	if !equal32(g1, g2) || !equal32(d1, d2) || l1 != l2 {
		t.Errorf("two runs from the same seed differ (losses %v, %v)", l1, l2)
	}
}

// TestGANStepVaryingBatch checks that batch sizes may change from call to
// call, growing and shrinking buffers.
func TestGANStepVaryingBatch(t *testing.T) {
	s := newGAN(t, 3, 8)
	for _, b := range []int{8, 3, 16, 1} {
		s.batch = b
		s.real, s.z = nn.NewMat(b, 784), nn.NewMat(b, 100)
		s.xcat, s.dLogit, s.gLogit = nn.NewMat(2*b, 784), nn.NewMat(2*b, 1), nn.NewMat(b, 1)
		s.step()
		if s.dLoss != s.dLoss || s.gLoss != s.gLoss {
			t.Fatalf("batch %d: NaN loss", b)
		}
	}
}

// TestAlignmentIndependence feeds the same batch, gradient and weights
// from buffers at different 4-byte offsets: outputs, input gradients and
// parameter gradients must agree bit for bit. (gonum's assembly dot
// product splits its sums by operand alignment; nn must not inherit that.)
func TestAlignmentIndependence(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x0 := randMat(7, 37, rng)
	for _, out := range []int{1, 21} {
		net, err := nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: 37, Out: out}}, rng)
		if err != nil {
			t.Fatal(err)
		}
		dy0 := randMat(7, out, rng)
		var ref [][]float32
		for off := 0; off < 4; off++ {
			xb := make([]float32, off+len(x0.Data))
			copy(xb[off:], x0.Data)
			db := make([]float32, off+len(dy0.Data))
			copy(db[off:], dy0.Data)
			// The weights too: Param.Value may be any slice of the right length.
			w := net.Params()[0]
			wb := make([]float32, off+len(w.Value))
			copy(wb[off:], w.Value)
			w.Value = wb[off:]
			net.ZeroGrad()
			y := net.Forward(nn.Mat{Rows: 7, Cols: 37, Data: xb[off:]})
			got := [][]float32{append([]float32(nil), y.Data...)}
			dx := net.Backward(nn.Mat{Rows: 7, Cols: out, Data: db[off:]})
			got = append(got, append([]float32(nil), dx.Data...))
			got = append(got, nn.Flatten(nil, gradsOf(net.Params())))
			if off == 0 {
				ref = got
				continue
			}
			for k, name := range []string{"y", "dx", "grads"} {
				if !equal32(got[k], ref[k]) {
					t.Errorf("out=%d, offset %d: %s differs from offset 0", out, off, name)
				}
			}
		}
	}
}
