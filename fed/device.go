package fed

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fedgan/fedgan/nn"
)

// Objective is the generator objective whose gradient a device sends as
// its error feedback (docs/DESIGN.md §2.4).
type Objective int

const (
	// Minimax is the paper's Eq. 3: G minimises log(1 − D(G(z))).
	Minimax Objective = iota
	// NonSaturating sends the gradient of −log D(G(z)); the loss value
	// reported for the weights stays Eq. 3.
	NonSaturating
)

func (o Objective) String() string { return nameOf(objectiveNames[:], int(o), "Objective") }

// ParseObjective parses "minimax" or "nonsaturating".
func ParseObjective(s string) (Objective, error) {
	i, err := parseName(s, objectiveNames[:], "objective %q (want %s)", false)
	return Objective(i), err
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
	// Classes is the number of label classes of a class-conditional GAN
	// (config model.class_code); every step then needs the class of every
	// row (StepLabeled). 0 for the paper's unconditional D.
	Classes int
	// ClassMode says how D uses the classes (config model.d_class):
	// ClassInput reads [x, c_k, e_y] with e_y the row's one-hot class
	// (Mirza & Osindero 2014); ClassAux gives D Classes more outputs that
	// predict the class (the auxiliary classifier of Odena et al. 2017,
	// AC-GAN), trained on the real rows, and adds AuxWeight × the
	// cross-entropy of the generated rows' predicted class against their
	// class to the generator objective; ClassBoth does both.
	ClassMode ClassMode
	// AuxWeight is λ of the auxiliary class loss; 0 means 1.
	AuxWeight float64
	// Held marks the classes of this device's data (len Classes); nil
	// means every class. A generated row of a class the device does not
	// hold is left out of its discriminator step and gets no feedback
	// from it (a zero row of F): its D has never seen that class, so its
	// verdict on it would only push the row away from every class it
	// knows. With label-skewed devices (a non-i.i.d. split) each row is
	// then judged by the devices that hold its class.
	Held []bool
	// Noise draws the instance noise added to D's inputs (see Step); nil
	// when no noise is used.
	Noise *rand.Rand
	// SpectralNorm, when > 0, bounds the spectral norm of each of D's
	// weight matrices to this value after every optimizer step (config
	// training.d_spectral_norm; see spectralClip). 0 disables it.
	SpectralNorm float64
}

// ClassMode is how a class-conditional D uses the row classes; see
// DeviceConfig.ClassMode.
type ClassMode int

// Class modes.
const (
	ClassInput ClassMode = iota // D reads the one-hot class
	ClassAux                    // D predicts the class (AC-GAN)
	ClassBoth                   // both
)

var classModes = [...]string{"input", "aux", "both"}

func (m ClassMode) String() string { return nameOf(classModes[:], int(m), "ClassMode") }

// ParseClassMode parses "input", "aux" or "both".
func ParseClassMode(s string) (ClassMode, error) {
	i, err := parseName(s, classModes[:], "class mode %q (want %s)", false)
	return ClassMode(i), err
}

func (m ClassMode) input() bool { return m == ClassInput || m == ClassBoth }
func (m ClassMode) aux() bool   { return m == ClassAux || m == ClassBoth }

// Device is the pure computation of a device agent for one batch
// (docs/DESIGN.md §2.4): one step of D_kj on real and fake rows
// (Eq. 2), then the loss L_kj (Eq. 3) and the error feedback
// F_kj = ∂L/∂X_g on the updated D_kj. It holds no I/O.
type Device struct {
	cfg  DeviceConfig
	sn   spectralClip
	in   []float32 // D's input rows, [x, c_k, e_y]
	hf   heldRows  // the rows of fake whose class is held (DeviceConfig.Held)
	hg   heldRows  // the same for gen
	adv  []float32 // the real/fake logit of each row
	dl   []float32 // dLoss/dlogit, one row of D's outputs per row
	cls  []float32 // class logits, then their gradient (aux)
	grad []float32 // F, B×d
}

// Release drops D's and the step's working buffers (nn.Sequential.Release),
// keeping D, its optimizer state and the spectral state; the next step
// allocates them again. The simulator calls it between the steps of
// thousands of virtual devices.
func (d *Device) Release() {
	d.cfg.D.Release()
	d.in, d.adv, d.dl, d.cls, d.grad = nil, nil, nil, nil, nil
}

// NewDevice checks cfg and returns a worker.
func NewDevice(cfg DeviceConfig) (*Device, error) {
	if cfg.D == nil || cfg.Opt == nil {
		return nil, errors.New("fed: DeviceConfig needs D and Opt")
	}
	if cfg.DataDim <= 0 || cfg.Domains < 0 || cfg.Classes < 0 || (cfg.Domains > 0 && (cfg.Domain < 0 || cfg.Domain >= cfg.Domains)) {
		return nil, fmt.Errorf("fed: bad device dims: d=%d, domains=%d, domain=%d, classes=%d", cfg.DataDim, cfg.Domains, cfg.Domain, cfg.Classes)
	}
	if cfg.ClassMode < ClassInput || cfg.ClassMode > ClassBoth {
		return nil, fmt.Errorf("%w: %v", ErrMode, cfg.ClassMode)
	}
	if cfg.AuxWeight == 0 {
		cfg.AuxWeight = 1
	}
	if !(cfg.AuxWeight > 0) || math.IsInf(cfg.AuxWeight, 0) {
		return nil, fmt.Errorf("fed: AuxWeight = %g, want a finite value > 0", cfg.AuxWeight)
	}
	if in, want := cfg.D.InDim(), cfg.DataDim+cfg.Domains+cfg.inClasses(); in != want {
		return nil, fmt.Errorf("%w: D takes %d inputs, want d+K+classes = %d", nn.ErrShape, in, want)
	}
	if cfg.Held != nil && len(cfg.Held) != cfg.Classes {
		return nil, fmt.Errorf("fed: Held has %d entries, want one per class (%d)", len(cfg.Held), cfg.Classes)
	}
	if out, want := cfg.D.OutDim(), 1+cfg.auxClasses(); out != want {
		return nil, fmt.Errorf("%w: D has %d outputs, want %d (a logit and %d class logits)", nn.ErrShape, out, want, want-1)
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

// inClasses is the number of class columns of D's input.
func (c *DeviceConfig) inClasses() int {
	if c.Classes > 0 && c.ClassMode.input() {
		return c.Classes
	}
	return 0
}

// auxClasses is the number of class logits D outputs after its logit.
func (c *DeviceConfig) auxClasses() int {
	if c.Classes > 0 && c.ClassMode.aux() {
		return c.Classes
	}
	return 0
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
	return d.StepLabeled(real, fake, gen, Labels{}, noise)
}

// Labels are the classes of the rows of a step of a class-conditional D
// (DeviceConfig.Classes > 0): one per row of real, fake and gen, each in
// [0, Classes). An unconditional D takes none.
type Labels struct {
	Real, Fake, Gen []int
}

// check returns an error unless l fits nr, nf and ng rows of D with the
// given number of classes.
func (l Labels) check(classes, nr, nf, ng int) error {
	for _, s := range []struct {
		name string
		v    []int
		n    int
	}{{"real", l.Real, nr}, {"fake", l.Fake, nf}, {"gen", l.Gen, ng}} {
		if classes == 0 {
			if len(s.v) > 0 {
				return fmt.Errorf("%w: %d %s labels for a discriminator that is not class-conditional", nn.ErrShape, len(s.v), s.name)
			}
			continue
		}
		if len(s.v) != s.n {
			return fmt.Errorf("%w: %d %s labels for %d rows", nn.ErrShape, len(s.v), s.name, s.n)
		}
		for i, c := range s.v {
			if c < 0 || c >= classes {
				return fmt.Errorf("fed: %s row %d has class %d, want 0 to %d", s.name, i, c, classes-1)
			}
		}
	}
	return nil
}

// StepLabeled is Step for a class-conditional D: l gives the class of
// every row (see Labels); D judges each row together with its class, and
// the feedback is still ∂objective/∂X_g (the class is not G's output).
func (d *Device) StepLabeled(real, fake, gen []float32, l Labels, noise float64) (StepResult, error) {
	dim := d.cfg.DataDim
	if len(real) == 0 || len(real)%dim != 0 || len(fake)%dim != 0 || len(gen)%dim != 0 || len(fake) == 0 || len(gen) == 0 {
		return StepResult{}, fmt.Errorf("%w: real %d, fake %d, gen %d values for d = %d", nn.ErrShape, len(real), len(fake), len(gen), dim)
	}
	nr, nf, ng := len(real)/dim, len(fake)/dim, len(gen)/dim
	if err := l.check(d.cfg.Classes, nr, nf, ng); err != nil {
		return StepResult{}, err
	}
	if d.cfg.Held != nil {
		fake, l.Fake = d.hf.take(d.cfg.Held, dim, fake, l.Fake)
		nf = len(l.Fake)
	}
	dloss := d.stepD(real, fake, l, nr, nf, noise)

	// Eq. 3 on the updated D, and the feedback F = ∂objective/∂X_g; with
	// an auxiliary classifier the objective also has λ × the cross-entropy
	// of the generated rows' predicted classes.
	d.grad = grow(d.grad, ng*dim)
	all := ng
	d.hg.all = true
	if d.cfg.Held != nil {
		gen, l.Gen = d.hg.take(d.cfg.Held, dim, gen, l.Gen)
		if ng = len(l.Gen); ng == 0 {
			clear(d.grad)
			return StepResult{DLoss: dloss, Grad: d.grad}, nil
		}
	}
	loss := d.feedback(gen, l.Gen, ng, noise)
	res := StepResult{Loss: loss, DLoss: dloss, Grad: d.grad[:all*dim]}
	if !finite64(res.Loss) || !finite64(res.DLoss) || checkFinite32("grad", res.Grad) != nil {
		return StepResult{}, ErrDiverged
	}
	return res, nil
}

// stepD takes D's step of Eq. 2 on the nr rows of real and the nf rows of
// fake, with their classes in l, and returns D's loss before the step.
func (d *Device) stepD(real, fake []float32, l Labels, nr, nf int, noise float64) float64 {
	// Eq. 2: ascend mean log D(x) + mean log(1 − D(X_d)), i.e. descend the
	// two binary cross-entropies, on one stacked batch; with an auxiliary
	// classifier also descend its cross-entropy on the real rows.
	x := d.input(nr+nf, real, fake, l.Real, l.Fake)
	d.addNoise(x, noise)
	logits := d.cfg.D.Forward(x)
	out := logits.Cols
	adv := d.column(logits)
	d.dl = grow(d.dl, (nr+nf)*out)
	clear(d.dl)
	lr := nn.SigmoidBCE(adv[:nr], adv[:nr], 1)
	lf := nn.SigmoidBCE(adv[nr:], adv[nr:], 0)
	for i, g := range adv {
		d.dl[i*out] = g
	}
	dloss := lr + lf
	if out > 1 {
		dloss += d.auxLoss(logits, nr, l.Real)
	}
	d.cfg.D.Backward(nn.Mat{Rows: nr + nf, Cols: out, Data: d.dl})
	d.cfg.Opt.Step(d.cfg.D.Params())
	d.cfg.D.ZeroGrad()
	if d.cfg.SpectralNorm > 0 {
		d.sn.apply(d.cfg.D.Params())
	}
	return dloss
}

// feedback evaluates Eq. 3 on the ng rows of gen, of classes labels,
// writes F into d.grad (each row at its place in the batch when d.hg kept
// only some; the other rows zero) and returns the loss.
func (d *Device) feedback(gen []float32, labels []int, ng int, noise float64) float64 {
	dim := d.cfg.DataDim
	x := d.input(ng, gen, nil, labels, nil)
	d.addNoise(x, noise)
	logits := d.cfg.D.Forward(x)
	out := logits.Cols
	adv := d.column(logits)
	d.dl = grow(d.dl, ng*out)
	clear(d.dl)
	var loss float64
	if d.cfg.Objective == Minimax {
		loss = nn.LogOneMinusSigmoid(adv, adv)
	} else {
		loss = nn.LogOneMinusSigmoid(nil, adv)
		nn.NegLogSigmoid(adv, adv)
	}
	for i, g := range adv {
		d.dl[i*out] = g
	}
	if out > 1 {
		d.auxLoss(logits, ng, labels)
	}
	dx := d.cfg.D.BackwardInput(nn.Mat{Rows: ng, Cols: out, Data: d.dl})
	cols := dx.Cols
	if !d.hg.all {
		clear(d.grad)
	}
	for i := 0; i < ng; i++ {
		r := i
		if !d.hg.all {
			r = d.hg.keep[i]
		}
		copy(d.grad[r*dim:(r+1)*dim], dx.Data[i*cols:i*cols+dim])
	}
	return loss
}

// heldRows are reused buffers for the rows of a batch whose class a
// device holds.
type heldRows struct {
	all  bool      // every row is held: the batch is used as it is
	keep []int     // otherwise their positions in the batch
	x    []float32 // the rows
	y    []int     // their classes
}

// take returns the rows of x (row-major, dim columns) whose class in
// labels is held, and their classes. When every row is held it returns x
// and labels themselves (all); otherwise the result lives in h until the
// next take.
func (h *heldRows) take(held []bool, dim int, x []float32, labels []int) ([]float32, []int) {
	h.all = !slices.ContainsFunc(labels, func(y int) bool { return !held[y] })
	if h.all {
		return x, labels
	}
	h.keep, h.x, h.y = h.keep[:0], h.x[:0], h.y[:0]
	for i, y := range labels {
		if held[y] {
			h.keep = append(h.keep, i)
			h.x = append(h.x, x[i*dim:(i+1)*dim]...)
			h.y = append(h.y, y)
		}
	}
	return h.x, h.y
}

// column copies the real/fake logit (column 0) of each row of D's output
// into d.adv and returns it.
func (d *Device) column(logits nn.Mat) []float32 {
	d.adv = grow(d.adv, logits.Rows)
	for i := range d.adv {
		d.adv[i] = logits.Data[i*logits.Cols]
	}
	return d.adv
}

// auxLoss returns λ × the mean cross-entropy of the class logits (columns
// 1…C of logits) of the first n rows against labels, and writes its
// gradient into those columns of d.dl.
func (d *Device) auxLoss(logits nn.Mat, n int, labels []int) float64 {
	out, c := logits.Cols, logits.Cols-1
	d.cls = grow(d.cls, n*c)
	for i := range n {
		copy(d.cls[i*c:(i+1)*c], logits.Data[i*out+1:(i+1)*out])
	}
	m := nn.Mat{Rows: n, Cols: c, Data: d.cls[:n*c]}
	ce := nn.SoftmaxCrossEntropy(m, m, labels)
	w := float32(d.cfg.AuxWeight)
	for i := range n {
		for j := range c {
			d.dl[i*out+1+j] = w * d.cls[i*c+j]
		}
	}
	return d.cfg.AuxWeight * ce
}

// input builds [rows of a then b, c_k, e_y] in d.in, with the classes
// la of a's rows and lb of b's.
func (d *Device) input(n int, a, b []float32, la, lb []int) nn.Mat {
	dim, k := d.cfg.DataDim, d.cfg.Domains
	nc := d.cfg.inClasses()
	cols := dim + k + nc
	d.in = grow(d.in, n*cols)
	if cols == dim {
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
		if k > 0 {
			row[dim+d.cfg.Domain] = 1
		}
		if nc > 0 {
			if i < na {
				row[dim+k+la[i]] = 1
			} else {
				row[dim+k+lb[i-na]] = 1
			}
		}
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
