package fed

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fedgan/fedgan/nn"
)

// Objective is the generator objective whose gradient a device sends as
// its error feedback (DESIGN.md §2.4).
type Objective int

const (
	// Minimax is the paper's Eq. 3: G minimises log(1 − D(G(z))).
	Minimax Objective = iota
	// NonSaturating sends the gradient of −log D(G(z)); the loss value
	// reported for the weights stays Eq. 3.
	NonSaturating
)

func (o Objective) String() string {
	switch o {
	case Minimax:
		return "minimax"
	case NonSaturating:
		return "nonsaturating"
	}
	return fmt.Sprintf("Objective(%d)", int(o))
}

// ParseObjective parses "minimax" or "nonsaturating".
func ParseObjective(s string) (Objective, error) {
	switch s {
	case "minimax":
		return Minimax, nil
	case "nonsaturating":
		return NonSaturating, nil
	}
	return 0, fmt.Errorf("%w: objective %q (want minimax or nonsaturating)", ErrMode, s)
}

// ErrDiverged is returned when a model produced a NaN or an infinity; the
// step's result must not be sent.
var ErrDiverged = errors.New("fed: model diverged (non-finite value)")

// DeviceConfig configures a device's discriminator worker.
type DeviceConfig struct {
	// D is the discriminator D_kj: (DataDim + Domains) inputs, one logit.
	D *nn.Sequential
	// Opt updates D (Adam in the paper's setting).
	Opt nn.Optimizer
	// Objective selects the feedback gradient.
	Objective Objective
	// DataDim is d. Domains is K in the LR scenario (0 in FR), and Domain
	// the community's code index c_k.
	DataDim, Domains, Domain int
	// Noise draws the instance noise added to D's inputs (see Step); nil
	// when no noise is used.
	Noise *rand.Rand
	// SpectralNorm, when > 0, bounds the spectral norm of each of D's
	// weight matrices to this value after every optimizer step (config
	// training.d_spectral_norm; see spectralClip). 0 disables it.
	SpectralNorm float64
}

// Device is the pure computation of a device agent for one batch
// (DESIGN.md §2.1 step 2): one step of D_kj on real and fake rows
// (Eq. 2), then the loss L_kj (Eq. 3) and the error feedback
// F_kj = ∂L/∂X_g on the updated D_kj. It holds no I/O.
type Device struct {
	cfg  DeviceConfig
	sn   spectralClip
	in   []float32 // D's input rows, [x, c_k]
	dl   []float32 // dLoss/dlogit
	grad []float32 // F, B×d
}

// NewDevice checks cfg and returns a worker.
func NewDevice(cfg DeviceConfig) (*Device, error) {
	if cfg.D == nil || cfg.Opt == nil {
		return nil, errors.New("fed: DeviceConfig needs D and Opt")
	}
	if cfg.DataDim <= 0 || cfg.Domains < 0 || (cfg.Domains > 0 && (cfg.Domain < 0 || cfg.Domain >= cfg.Domains)) {
		return nil, fmt.Errorf("fed: bad device dims: d=%d, domains=%d, domain=%d", cfg.DataDim, cfg.Domains, cfg.Domain)
	}
	if in := cfg.D.InDim(); in != cfg.DataDim+cfg.Domains {
		return nil, fmt.Errorf("%w: D takes %d inputs, want d+K = %d", nn.ErrShape, in, cfg.DataDim+cfg.Domains)
	}
	if out := cfg.D.OutDim(); out != 1 {
		return nil, fmt.Errorf("%w: D has %d outputs, want 1", nn.ErrShape, out)
	}
	if !(cfg.SpectralNorm >= 0) || math.IsInf(cfg.SpectralNorm, 0) {
		return nil, fmt.Errorf("fed: SpectralNorm = %g, want a finite value ≥ 0", cfg.SpectralNorm)
	}
	d := &Device{cfg: cfg, sn: spectralClip{c: cfg.SpectralNorm}}
	if cfg.SpectralNorm > 0 {
		d.sn.apply(cfg.D.Params()) // start inside the constraint
	}
	return d, nil
}

// StepResult is what a device reports for one batch.
type StepResult struct {
	// Loss is L_kj = mean_i log(1 − D(X_g,i)) on the updated D (Eq. 3).
	Loss float64
	// DLoss is D's binary cross-entropy on real and fake rows before its step
	// (the negated Eq. 2).
	DLoss float64
	// Grad is F_kj, B×d row-major. It is owned by the Device and valid
	// until the next Step.
	Grad []float32
}

// Step trains D on real (n rows) against fake (b rows), then evaluates the
// generator objective on gen (b rows). All are row-major with DataDim
// columns. real, fake and gen are not modified.
//
// noise is the standard deviation of the instance noise added to every
// row D sees, real and generated alike (Sønderby et al. 2016; Arjovsky &
// Bottou 2017): it makes the supports of the real and generated
// distributions overlap, so that a discriminator that has only ever seen
// its own community's modes still gives a useful gradient for samples
// far from them. The feedback F is the gradient with respect to X_g (the
// noise is additive). 0 disables it.
func (d *Device) Step(real, fake, gen []float32, noise float64) (StepResult, error) {
	dim := d.cfg.DataDim
	if len(real) == 0 || len(real)%dim != 0 || len(fake)%dim != 0 || len(gen)%dim != 0 || len(fake) == 0 || len(gen) == 0 {
		return StepResult{}, fmt.Errorf("%w: real %d, fake %d, gen %d values for d = %d", nn.ErrShape, len(real), len(fake), len(gen), dim)
	}
	nr, nf, ng := len(real)/dim, len(fake)/dim, len(gen)/dim

	// Eq. 2: ascend mean log D(x) + mean log(1 − D(X_d)), i.e. descend the
	// two binary cross-entropies, on one stacked batch.
	x := d.input(nr+nf, real, fake)
	d.addNoise(x, noise)
	logits := d.cfg.D.Forward(x)
	d.dl = grow(d.dl, nr+nf)
	lr := nn.SigmoidBCE(d.dl[:nr], logits.Data[:nr], 1)
	lf := nn.SigmoidBCE(d.dl[nr:nr+nf], logits.Data[nr:nr+nf], 0)
	d.cfg.D.Backward(nn.Mat{Rows: nr + nf, Cols: 1, Data: d.dl[:nr+nf]})
	d.cfg.Opt.Step(d.cfg.D.Params())
	d.cfg.D.ZeroGrad()
	if d.cfg.SpectralNorm > 0 {
		d.sn.apply(d.cfg.D.Params())
	}

	// Eq. 3 on the updated D, and the feedback F = ∂objective/∂X_g.
	x = d.input(ng, gen, nil)
	d.addNoise(x, noise)
	logits = d.cfg.D.Forward(x)
	d.dl = grow(d.dl, ng)
	var loss float64
	if d.cfg.Objective == Minimax {
		loss = nn.LogOneMinusSigmoid(d.dl[:ng], logits.Data[:ng])
	} else {
		loss = nn.LogOneMinusSigmoid(nil, logits.Data[:ng])
		nn.NegLogSigmoid(d.dl[:ng], logits.Data[:ng])
	}
	dx := d.cfg.D.BackwardInput(nn.Mat{Rows: ng, Cols: 1, Data: d.dl[:ng]})
	d.grad = grow(d.grad, ng*dim)
	cols := dx.Cols
	for i := 0; i < ng; i++ {
		copy(d.grad[i*dim:(i+1)*dim], dx.Data[i*cols:i*cols+dim])
	}
	res := StepResult{Loss: loss, DLoss: lr + lf, Grad: d.grad[:ng*dim]}
	if !finite64(res.Loss) || !finite64(res.DLoss) || checkFinite32("grad", res.Grad) != nil {
		return StepResult{}, ErrDiverged
	}
	return res, nil
}

// input builds [rows of a then b, c_k] in d.in.
func (d *Device) input(n int, a, b []float32) nn.Mat {
	dim, k := d.cfg.DataDim, d.cfg.Domains
	cols := dim + k
	d.in = grow(d.in, n*cols)
	if k == 0 {
		copy(d.in, a)
		copy(d.in[len(a):], b)
		return nn.Mat{Rows: n, Cols: cols, Data: d.in[:n*cols]}
	}
	na := len(a) / dim
	for i := 0; i < n; i++ {
		row := d.in[i*cols : (i+1)*cols]
		if i < na {
			copy(row, a[i*dim:(i+1)*dim])
		} else {
			copy(row, b[(i-na)*dim:(i-na+1)*dim])
		}
		clear(row[dim:])
		row[dim+d.cfg.Domain] = 1
	}
	return nn.Mat{Rows: n, Cols: cols, Data: d.in[:n*cols]}
}

// addNoise adds N(0, σ²) to the data columns of x.
func (d *Device) addNoise(x nn.Mat, sigma float64) {
	if sigma <= 0 || d.cfg.Noise == nil {
		return
	}
	dim := d.cfg.DataDim
	for i := 0; i < x.Rows; i++ {
		row := x.Data[i*x.Cols : i*x.Cols+dim]
		for j := range row {
			row[j] += float32(sigma * d.cfg.Noise.NormFloat64())
		}
	}
}

// grow returns s with length n, reusing its storage when it can.
func grow(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}
