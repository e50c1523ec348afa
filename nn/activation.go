package nn

import (
	"fmt"
	"math"
)

// LeakyReLU is y = x for x > 0 and y = Alpha·x otherwise, element-wise.
// Its derivative at 0 is taken as Alpha.
type LeakyReLU struct {
	Alpha float32

	x     Mat
	y, dx []float32
}

// NewLeakyReLU returns a LeakyReLU with the given negative slope.
func NewLeakyReLU(alpha float32) *LeakyReLU { return &LeakyReLU{Alpha: alpha} }

// Forward applies the activation. The result is owned by l and valid until
// l's next Forward. Forward keeps a reference to x for Backward.
func (l *LeakyReLU) Forward(x Mat) Mat {
	checkMat(x)
	l.x = x
	n := x.Rows * x.Cols
	l.y = grow(l.y, n)
	leakyForward(l.y, x.Data[:n], l.Alpha)
	return Mat{Rows: x.Rows, Cols: x.Cols, Data: l.y}
}

// Backward returns dy ⊙ f'(x). It panics with ErrShape if dy does not
// match the last Forward's output.
func (l *LeakyReLU) Backward(dy Mat) Mat {
	checkActGrad(dy, l.x)
	n := dy.Rows * dy.Cols
	l.dx = grow(l.dx, n)
	leakyBackward(l.dx, dy.Data[:n], l.x.Data[:n], l.Alpha)
	return Mat{Rows: dy.Rows, Cols: dy.Cols, Data: l.dx}
}

// BackwardInput is Backward: the layer has no parameters.
func (l *LeakyReLU) BackwardInput(dy Mat) Mat { return l.Backward(dy) }

// Params returns nil.
func (l *LeakyReLU) Params() []*Param { return nil }

// Spec returns the layer's description.
func (l *LeakyReLU) Spec() LayerSpec { return LayerSpec{Kind: KindLeakyReLU, Alpha: l.Alpha} }

// ReLU is y = max(x, 0) element-wise. Its derivative at 0 is taken as 0.
type ReLU struct {
	x     Mat
	y, dx []float32
}

// NewReLU returns a ReLU.
func NewReLU() *ReLU { return &ReLU{} }

// Forward applies the activation. The result is owned by r and valid until
// r's next Forward. Forward keeps a reference to x for Backward.
func (r *ReLU) Forward(x Mat) Mat {
	checkMat(x)
	r.x = x
	n := x.Rows * x.Cols
	r.y = grow(r.y, n)
	leakyForward(r.y, x.Data[:n], 0)
	return Mat{Rows: x.Rows, Cols: x.Cols, Data: r.y}
}

// Backward returns dy ⊙ f'(x). It panics with ErrShape if dy does not
// match the last Forward's output.
func (r *ReLU) Backward(dy Mat) Mat {
	checkActGrad(dy, r.x)
	n := dy.Rows * dy.Cols
	r.dx = grow(r.dx, n)
	leakyBackward(r.dx, dy.Data[:n], r.x.Data[:n], 0)
	return Mat{Rows: dy.Rows, Cols: dy.Cols, Data: r.dx}
}

// BackwardInput is Backward: the layer has no parameters.
func (r *ReLU) BackwardInput(dy Mat) Mat { return r.Backward(dy) }

// Params returns nil.
func (r *ReLU) Params() []*Param { return nil }

// Spec returns the layer's description.
func (r *ReLU) Spec() LayerSpec { return LayerSpec{Kind: KindReLU} }

// Tanh is y = tanh(x) element-wise, computed in float32 with an absolute
// error below 4e-7.
type Tanh struct {
	rows, cols int
	y, dx      []float32
}

// NewTanh returns a Tanh.
func NewTanh() *Tanh { return &Tanh{} }

// Forward applies the activation. The result is owned by t and valid until
// t's next Forward.
func (t *Tanh) Forward(x Mat) Mat {
	checkMat(x)
	t.rows, t.cols = x.Rows, x.Cols
	n := x.Rows * x.Cols
	t.y = grow(t.y, n)
	tanhForward(t.y, x.Data[:n])
	return Mat{Rows: x.Rows, Cols: x.Cols, Data: t.y}
}

// Backward returns dy ⊙ (1 − y²). It panics with ErrShape if dy does not
// match the last Forward's output.
func (t *Tanh) Backward(dy Mat) Mat {
	checkMat(dy)
	if dy.Rows != t.rows || dy.Cols != t.cols {
		panic(fmt.Errorf("%w: tanh: gradient is %d×%d, want %d×%d", ErrShape, dy.Rows, dy.Cols, t.rows, t.cols))
	}
	n := dy.Rows * dy.Cols
	t.dx = grow(t.dx, n)
	dx, y := t.dx, t.y[:n]
	for i, g := range dy.Data[:n] {
		v := y[i]
		dx[i] = g * (1 - v*v)
	}
	return Mat{Rows: dy.Rows, Cols: dy.Cols, Data: dx}
}

// BackwardInput is Backward: the layer has no parameters.
func (t *Tanh) BackwardInput(dy Mat) Mat { return t.Backward(dy) }

// Params returns nil.
func (t *Tanh) Params() []*Param { return nil }

// Spec returns the layer's description.
func (t *Tanh) Spec() LayerSpec { return LayerSpec{Kind: KindTanh} }

// Sigmoid is y = 1/(1+exp(−x)) element-wise.
type Sigmoid struct {
	rows, cols int
	y, dx      []float32
}

// NewSigmoid returns a Sigmoid.
func NewSigmoid() *Sigmoid { return &Sigmoid{} }

// Forward applies the activation. The result is owned by s and valid until
// s's next Forward.
func (s *Sigmoid) Forward(x Mat) Mat {
	checkMat(x)
	s.rows, s.cols = x.Rows, x.Cols
	n := x.Rows * x.Cols
	s.y = grow(s.y, n)
	y := s.y
	for i, v := range x.Data[:n] {
		y[i] = float32(sigmoid(float64(v)))
	}
	return Mat{Rows: x.Rows, Cols: x.Cols, Data: y}
}

// Backward returns dy ⊙ y(1 − y). It panics with ErrShape if dy does not
// match the last Forward's output.
func (s *Sigmoid) Backward(dy Mat) Mat {
	checkMat(dy)
	if dy.Rows != s.rows || dy.Cols != s.cols {
		panic(fmt.Errorf("%w: sigmoid: gradient is %d×%d, want %d×%d", ErrShape, dy.Rows, dy.Cols, s.rows, s.cols))
	}
	n := dy.Rows * dy.Cols
	s.dx = grow(s.dx, n)
	dx, y := s.dx, s.y[:n]
	for i, g := range dy.Data[:n] {
		v := y[i]
		dx[i] = g * v * (1 - v)
	}
	return Mat{Rows: dy.Rows, Cols: dy.Cols, Data: dx}
}

// BackwardInput is Backward: the layer has no parameters.
func (s *Sigmoid) BackwardInput(dy Mat) Mat { return s.Backward(dy) }

// Params returns nil.
func (s *Sigmoid) Params() []*Param { return nil }

// Spec returns the layer's description.
func (s *Sigmoid) Spec() LayerSpec { return LayerSpec{Kind: KindSigmoid} }

func checkActGrad(dy, x Mat) {
	checkMat(dy)
	if dy.Rows != x.Rows || dy.Cols != x.Cols {
		panic(fmt.Errorf("%w: activation: gradient is %d×%d, want %d×%d", ErrShape, dy.Rows, dy.Cols, x.Rows, x.Cols))
	}
}

// sigmoid is the logistic function, computed without overflow.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softplus is log(1 + exp(x)), computed without overflow.
func softplus(x float64) float64 {
	return math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x)))
}
