package nn

import (
	"fmt"
	"math"
)

// Optimizer updates parameters from their accumulated gradients.
//
// An optimizer binds its state to the parameter list of its first Step (or
// to the state restored by UnmarshalBinary): later Steps must pass
// parameters of the same count and shapes, in the same order, or Step
// panics with ErrShape. MarshalBinary captures the whole state, so that
// UnmarshalBinary followed by Step gives bit-identical results to never
// having saved.
type Optimizer interface {
	Step(params []*Param)
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// slab is optimizer state laid out as one flat slice per moment, with each
// parameter's segment at a fixed offset, plus the shapes it was built for.
type slab struct {
	shapes [][]int
	offs   []int // len(shapes)+1 offsets into the flat moments
}

func (s *slab) bound() bool { return s.offs != nil }

// bind sizes the slab for params.
func (s *slab) bind(params []*Param) int {
	s.shapes = make([][]int, len(params))
	s.offs = make([]int, len(params)+1)
	for i, p := range params {
		s.shapes[i] = append([]int(nil), p.Shape...)
		s.offs[i+1] = s.offs[i] + len(p.Value)
	}
	return s.offs[len(params)]
}

// check returns an error wrapping ErrShape if params do not match the
// slab.
func (s *slab) check(params []*Param) error {
	if len(params) != len(s.shapes) {
		return fmt.Errorf("%w: optimizer state for %d tensors, got %d", ErrShape, len(s.shapes), len(params))
	}
	for i, p := range params {
		if !equalShape(p.Shape, s.shapes[i]) || len(p.Value) != s.offs[i+1]-s.offs[i] || len(p.Grad) != len(p.Value) {
			return fmt.Errorf("%w: optimizer state tensor %d has shape %v, parameter %q has shape %v (%d values, %d grads)",
				ErrShape, i, s.shapes[i], p.Name, p.Shape, len(p.Value), len(p.Grad))
		}
	}
	return nil
}

func (s *slab) encodeShapes(e *encoder) {
	e.u32(uint32(len(s.shapes)))
	for _, sh := range s.shapes {
		e.shape(sh)
	}
}

// decodeShapes reads the shapes written by encodeShapes, checking that
// moments floats per element fit in the remaining input.
func (s *slab) decodeShapes(d *decoder, moments int) {
	n := int(d.u32())
	if d.err == nil && n > d.remaining() {
		d.fail(nil, "%d tensors cannot fit in %d bytes", n, d.remaining())
	}
	if d.err != nil {
		return
	}
	shapes := make([][]int, n)
	offs := make([]int, n+1)
	for i := range shapes {
		r := int(d.u8())
		if d.err == nil && r > 8 {
			d.fail(nil, "tensor rank %d > 8", r)
		}
		if d.err != nil {
			return
		}
		sh := make([]int, r)
		size := 1
		for j := range sh {
			v := int(d.u32())
			if d.err == nil && v > maxDim {
				d.fail(nil, "dimension %d > %d", v, maxDim)
			}
			if d.err != nil {
				return
			}
			sh[j] = v
			size *= v
		}
		shapes[i] = sh
		offs[i+1] = offs[i] + size
		if offs[i+1] > maxParams {
			d.fail(nil, "more than %d parameters", maxParams)
			return
		}
	}
	if need := 4 * moments * offs[n]; need > d.remaining() {
		d.fail(nil, "state for %d parameters needs %d bytes, %d left", offs[n], need, d.remaining())
		return
	}
	s.shapes, s.offs = shapes, offs
}

// Adam is Kingma & Ba's optimizer with bias correction, in the form used
// by PyTorch's torch.optim.Adam (without weight decay or amsgrad):
//
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	θ ← θ − (lr/(1−β1ᵗ)) · m / (√v/√(1−β2ᵗ) + ε)
//
// with t the 1-based step count. The moments live in two flat slabs
// covering every parameter. The zero value is not usable: use NewAdam.
type Adam struct {
	LR, Beta1, Beta2, Eps float32

	t    int64
	slab slab
	m, v []float32
}

// NewAdam returns an Adam optimizer with learning rate lr, moment decay
// rates beta1 and beta2 and denominator term eps (common values: 2e-4,
// 0.5, 0.999, 1e-8 for GANs; 1e-3, 0.9, 0.999, 1e-8 otherwise).
func NewAdam(lr, beta1, beta2, eps float32) *Adam {
	return &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps}
}

// Steps returns the number of Steps taken so far.
func (a *Adam) Steps() int64 { return a.t }

// Check returns an error wrapping ErrShape if params do not match the
// parameter list a's state was built for (by a first Step or restored by
// UnmarshalBinary); Step would panic on them. It returns nil if a has no
// state yet.
func (a *Adam) Check(params []*Param) error {
	if !a.slab.bound() {
		return nil
	}
	return a.slab.check(params)
}

// Step applies one Adam update to params using their Grad. It does not
// clear the gradients. It panics with ErrShape if params do not match the
// parameters of earlier Steps or of restored state (see Check).
func (a *Adam) Step(params []*Param) {
	if !a.slab.bound() {
		n := a.slab.bind(params)
		a.m = make([]float32, n)
		a.v = make([]float32, n)
	} else if err := a.slab.check(params); err != nil {
		panic(err)
	}
	a.t++
	b1, b2 := float64(a.Beta1), float64(a.Beta2)
	bc1 := 1 - math.Pow(b1, float64(a.t))
	bc2 := 1 - math.Pow(b2, float64(a.t))
	h := adamHyper{
		b1: a.Beta1, c1: float32(1 - b1),
		b2: a.Beta2, c2: float32(1 - b2),
		step:   float32(float64(a.LR) / bc1),
		invBC2: float32(1 / math.Sqrt(bc2)),
		eps:    a.Eps,
	}
	for i, p := range params {
		lo, hi := a.slab.offs[i], a.slab.offs[i+1]
		adamUpdate(p.Value, p.Grad, a.m[lo:hi], a.v[lo:hi], &h)
	}
}

// Adam state layout: magic "FGAD", version u16 = 1, LR, Beta1, Beta2, Eps
// f32, t u64, tensors u32, shapes (rank u8, dims u32…), m f32…, v f32…,
// CRC-32 u32.
const (
	adamMagic   = "FGAD"
	adamVersion = 1
)

// MarshalBinary encodes the hyperparameters, the step count and both
// moments.
func (a *Adam) MarshalBinary() ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 64+8*len(a.m))}
	e.bytes([]byte(adamMagic))
	e.u16(adamVersion)
	e.f32(a.LR)
	e.f32(a.Beta1)
	e.f32(a.Beta2)
	e.f32(a.Eps)
	e.u64(uint64(a.t))
	a.slab.encodeShapes(e)
	e.floats(a.m)
	e.floats(a.v)
	return e.finish(), nil
}

// UnmarshalBinary restores state written by MarshalBinary, hyperparameters
// included. It returns a *FormatError wrapping ErrFormat for malformed,
// truncated or corrupted input and leaves a unchanged in that case. The
// parameter shapes are checked against the next Step (or Check).
func (a *Adam) UnmarshalBinary(b []byte) error {
	d := newDecoder("adam state", b, adamMagic, adamVersion)
	lr, b1, b2, eps := d.f32(), d.f32(), d.f32(), d.f32()
	t := d.u64()
	if d.err == nil && t > math.MaxInt64 {
		d.fail(nil, "step count %d out of range", t)
	}
	var s slab
	s.decodeShapes(d, 2)
	if d.err != nil {
		return d.err
	}
	if len(s.shapes) == 0 && t == 0 {
		// Never stepped: no state bound yet.
		s = slab{}
	}
	n := 0
	if s.bound() {
		n = s.offs[len(s.shapes)]
	}
	m, v := make([]float32, n), make([]float32, n)
	d.floats(m)
	d.floats(v)
	d.end()
	if d.err != nil {
		return d.err
	}
	a.LR, a.Beta1, a.Beta2, a.Eps = lr, b1, b2, eps
	a.t, a.slab, a.m, a.v = int64(t), s, m, v
	return nil
}

// SGD is plain stochastic gradient descent with optional momentum, in
// PyTorch's form: with Momentum μ > 0, b ← μ·b + g and θ ← θ − LR·b;
// with μ = 0, θ ← θ − LR·g. The zero value has LR 0; set LR before use.
type SGD struct {
	LR, Momentum float32

	slab slab
	buf  []float32 // momentum buffer b
	t    int64
}

// NewSGD returns an SGD optimizer with learning rate lr and momentum
// (0 for none).
func NewSGD(lr, momentum float32) *SGD { return &SGD{LR: lr, Momentum: momentum} }

// Check returns an error wrapping ErrShape if params do not match the
// parameter list o's state was built for. It returns nil if o has no state
// yet.
func (o *SGD) Check(params []*Param) error {
	if !o.slab.bound() {
		return nil
	}
	return o.slab.check(params)
}

// Step applies one update to params using their Grad. It does not clear
// the gradients. It panics with ErrShape if params do not match those of
// earlier Steps or of restored state (see Check).
func (o *SGD) Step(params []*Param) {
	if !o.slab.bound() {
		o.buf = make([]float32, o.slab.bind(params))
	} else if err := o.slab.check(params); err != nil {
		panic(err)
	}
	first := o.t == 0
	o.t++
	lr, mu := o.LR, o.Momentum
	for i, p := range params {
		w, g := p.Value, p.Grad[:len(p.Value)]
		if mu == 0 {
			for j, gj := range g {
				w[j] -= lr * gj
			}
			continue
		}
		b := o.buf[o.slab.offs[i]:o.slab.offs[i+1]]
		b = b[:len(w)]
		for j, gj := range g {
			bj := gj
			if !first {
				bj = mu*b[j] + gj
			}
			b[j] = bj
			w[j] -= lr * bj
		}
	}
}

// SGD state layout: magic "FGSG", version u16 = 1, LR, Momentum f32,
// t u64, tensors u32, shapes, momentum buffer f32…, CRC-32 u32.
const (
	sgdMagic   = "FGSG"
	sgdVersion = 1
)

// MarshalBinary encodes the hyperparameters, the step count and the
// momentum buffer.
func (o *SGD) MarshalBinary() ([]byte, error) {
	e := &encoder{b: make([]byte, 0, 64+4*len(o.buf))}
	e.bytes([]byte(sgdMagic))
	e.u16(sgdVersion)
	e.f32(o.LR)
	e.f32(o.Momentum)
	e.u64(uint64(o.t))
	o.slab.encodeShapes(e)
	e.floats(o.buf)
	return e.finish(), nil
}

// UnmarshalBinary restores state written by MarshalBinary, hyperparameters
// included. It returns a *FormatError wrapping ErrFormat for malformed,
// truncated or corrupted input and leaves o unchanged in that case.
func (o *SGD) UnmarshalBinary(b []byte) error {
	d := newDecoder("sgd state", b, sgdMagic, sgdVersion)
	lr, mu := d.f32(), d.f32()
	t := d.u64()
	if d.err == nil && t > math.MaxInt64 {
		d.fail(nil, "step count %d out of range", t)
	}
	var s slab
	s.decodeShapes(d, 1)
	if d.err != nil {
		return d.err
	}
	if len(s.shapes) == 0 && t == 0 {
		s = slab{}
	}
	n := 0
	if s.bound() {
		n = s.offs[len(s.shapes)]
	}
	buf := make([]float32, n)
	d.floats(buf)
	d.end()
	if d.err != nil {
		return d.err
	}
	o.LR, o.Momentum, o.t, o.slab, o.buf = lr, mu, int64(t), s, buf
	return nil
}
