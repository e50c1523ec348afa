package nn

import (
	"fmt"
	"slices"
)

// CodeAffine scales and shifts each column by a code's own amounts: its
// input is [x, c], x of In columns and c a code of Carry columns
// (one-hot), and
//
//	y = Σₖ cₖ·(sₖ ⊙ x + tₖ)
//
// with sₖ, tₖ of In entries each, so that a one-hot c applies code k's
// per-column scale and shift. Placed between a generator's last dense
// layer and its output activation, it makes the domains of the LR
// scenario one picture under per-pixel changes of contrast, luminance or
// polarity (MNIST and inverted MNIST: s₂ = −s₁): the layers before it
// decide what is drawn for every domain at once. Every scale starts at
// codeAffineScale0 and every shift at 0, so a fresh layer treats every
// domain alike.
type CodeAffine struct {
	s, t   Param // [Carry, In]
	in, k  int
	params [2]*Param

	x, c []float32 // the last input, split
	y    []float32
	dx   []float32
	n    int
}

// codeAffineScale0 is every scale's first value: small, so that a
// domain's scales can change sign (MNIST to inverted MNIST) in a few
// hundred optimizer steps, while the layers before it still get a
// gradient.
const codeAffineScale0 = 0.1

// NewCodeAffine returns the layer for in columns and k codes. It panics
// if a size is not positive.
func NewCodeAffine(in, k int) *CodeAffine {
	if in <= 0 || k <= 0 {
		panic(fmt.Sprintf("nn: NewCodeAffine(%d, %d): sizes must be positive", in, k))
	}
	a := &CodeAffine{
		s:  Param{Name: "scale", Shape: []int{k, in}, Value: slices.Repeat([]float32{codeAffineScale0}, k*in), Grad: make([]float32, k*in)},
		t:  Param{Name: "shift", Shape: []int{k, in}, Value: make([]float32, k*in), Grad: make([]float32, k*in)},
		in: in, k: k,
	}
	a.params = [2]*Param{&a.s, &a.t}
	return a
}

// Params returns the scales and shifts, in that order.
func (a *CodeAffine) Params() []*Param { return a.params[:] }

// Spec returns the layer's description.
func (a *CodeAffine) Spec() LayerSpec {
	return LayerSpec{Kind: KindCodeAffine, In: a.in, Out: a.in, Carry: a.k}
}

// Forward returns Σₖ cₖ·(sₖ ⊙ x + tₖ). The result is owned by a and valid
// until a's next Forward. It panics with ErrShape if x.Cols != In + Carry.
func (a *CodeAffine) Forward(x Mat) Mat {
	checkMat(x)
	in, k := a.in, a.k
	if x.Cols != in+k {
		panic(fmt.Errorf("%w: code_affine %d (%d codes) got input with %d columns", ErrShape, in, k, x.Cols))
	}
	n := x.Rows
	a.n = n
	a.x, a.c, a.y = grow(a.x, n*in), grow(a.c, n*k), grow(a.y, n*in)
	for i := range n {
		row := x.Data[i*x.Cols : (i+1)*x.Cols]
		xi, ci := row[:in], row[in:]
		copy(a.x[i*in:(i+1)*in], xi)
		copy(a.c[i*k:(i+1)*k], ci)
		y := a.y[i*in : (i+1)*in]
		clear(y)
		for j, cj := range ci {
			if cj == 0 {
				continue
			}
			s, t := a.s.Value[j*in:(j+1)*in], a.t.Value[j*in:(j+1)*in]
			for u, v := range xi {
				y[u] += cj * (s[u]*v + t[u])
			}
		}
	}
	return Mat{Rows: n, Cols: in, Data: a.y[:n*in]}
}

// grads accumulates the parameter gradients (when params) and writes
// dL/d[x, c] into a.dx (when input).
func (a *CodeAffine) grads(dy Mat, params, input bool) Mat {
	checkMat(dy)
	in, k := a.in, a.k
	if dy.Rows != a.n || dy.Cols != in {
		panic(fmt.Errorf("%w: code_affine: gradient is %d×%d, want %d×%d", ErrShape, dy.Rows, dy.Cols, a.n, in))
	}
	cols := in + k
	if input {
		a.dx = grow(a.dx, a.n*cols)
	}
	for i := range a.n {
		g, xi, ci := dy.Data[i*in:(i+1)*in], a.x[i*in:(i+1)*in], a.c[i*k:(i+1)*k]
		var dx []float32
		if input {
			dx = a.dx[i*cols : (i+1)*cols]
			clear(dx[:in])
		}
		for j, cj := range ci {
			s, t := a.s.Value[j*in:(j+1)*in], a.t.Value[j*in:(j+1)*in]
			if params && cj != 0 {
				gs, gt := a.s.Grad[j*in:(j+1)*in], a.t.Grad[j*in:(j+1)*in]
				for u, gu := range g {
					gs[u] += cj * xi[u] * gu
					gt[u] += cj * gu
				}
			}
			if input {
				var dc float32
				for u, gu := range g {
					dx[u] += cj * s[u] * gu
					dc += gu * (s[u]*xi[u] + t[u])
				}
				dx[in+j] = dc
			}
		}
	}
	if !input {
		return Mat{}
	}
	return Mat{Rows: a.n, Cols: cols, Data: a.dx[:a.n*cols]}
}

// Backward accumulates the scales' and shifts' gradients and returns
// dL/d[x, c].
func (a *CodeAffine) Backward(dy Mat) Mat { return a.grads(dy, true, true) }

// BackwardInput is Backward without touching the gradients.
func (a *CodeAffine) BackwardInput(dy Mat) Mat { return a.grads(dy, false, true) }

func (a *CodeAffine) backwardParams(dy Mat) { a.grads(dy, true, false) }
