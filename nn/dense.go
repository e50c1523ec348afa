package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Dense is a fully connected layer y = x·W + b, with W of shape [In, Out]
// stored row-major and b of shape [Out].
//
// Forward keeps a reference to its input x (it does not copy it): x must
// not be modified between Forward and the matching Backward.
type Dense struct {
	W, B Param

	in, out int
	params  [2]*Param

	x  Mat       // last input (a reference, not a copy)
	y  []float32 // output buffer
	dx []float32 // input-gradient buffer
	s  scratch   // working space of the matrix products
}

// NewDense returns an in→out Dense layer. W is drawn from the Glorot
// (Xavier) uniform distribution U(−a, a), a = sqrt(6/(in+out)), one
// rng.Float64 per weight in row-major order; b is zero. With a nil rng W
// is zero. It panics if in or out is not positive.
func NewDense(in, out int, rng *rand.Rand) *Dense {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewDense(%d, %d): sizes must be positive", in, out))
	}
	d := &Dense{
		W:   Param{Name: "weight", Shape: []int{in, out}, Value: make([]float32, in*out), Grad: make([]float32, in*out)},
		B:   Param{Name: "bias", Shape: []int{out}, Value: make([]float32, out), Grad: make([]float32, out)},
		in:  in,
		out: out,
	}
	d.params = [2]*Param{&d.W, &d.B}
	if rng != nil {
		a := math.Sqrt(6 / float64(in+out))
		for i := range d.W.Value {
			d.W.Value[i] = float32((2*rng.Float64() - 1) * a)
		}
	}
	return d
}

// In returns the input width.
func (d *Dense) In() int { return d.in }

// Out returns the output width.
func (d *Dense) Out() int { return d.out }

// Params returns W and B, in that order. The slice is owned by d.
func (d *Dense) Params() []*Param { return d.params[:] }

// Spec returns the layer's description.
func (d *Dense) Spec() LayerSpec { return LayerSpec{Kind: KindDense, In: d.in, Out: d.out} }

// Forward returns x·W + b. The result is owned by d and valid until d's
// next Forward. It panics with ErrShape if x.Cols != In.
func (d *Dense) Forward(x Mat) Mat {
	checkMat(x)
	if x.Cols != d.in {
		panic(fmt.Errorf("%w: dense %d→%d got input with %d columns", ErrShape, d.in, d.out, x.Cols))
	}
	n := x.Rows
	d.x = x
	d.y = grow(d.y, n*d.out)
	y := d.y
	if n == 0 {
		return Mat{Rows: 0, Cols: d.out, Data: y}
	}
	denseForward(y, x.Data, d.W.Value, d.B.Value, n, d.in, d.out, &d.s)
	return Mat{Rows: n, Cols: d.out, Data: y}
}

// Backward accumulates dL/dW = xᵀ·dy and dL/db = Σ_rows dy into the
// gradients and returns dL/dx = dy·Wᵀ, owned by d and valid until d's
// next Backward. It panics with ErrShape if dy does not match the last
// Forward's output.
func (d *Dense) Backward(dy Mat) Mat {
	d.checkDY(dy)
	d.accumulate(dy)
	return d.inputGrad(dy)
}

// BackwardInput returns dL/dx = dy·Wᵀ without touching the gradients.
func (d *Dense) BackwardInput(dy Mat) Mat {
	d.checkDY(dy)
	return d.inputGrad(dy)
}

func (d *Dense) backwardParams(dy Mat) {
	d.checkDY(dy)
	d.accumulate(dy)
}

func (d *Dense) checkDY(dy Mat) {
	checkMat(dy)
	if dy.Rows != d.x.Rows || dy.Cols != d.out {
		panic(fmt.Errorf("%w: dense %d→%d: gradient is %d×%d, want %d×%d", ErrShape, d.in, d.out, dy.Rows, dy.Cols, d.x.Rows, d.out))
	}
}

func (d *Dense) accumulate(dy Mat) {
	n := dy.Rows
	if n == 0 {
		return
	}
	denseWeightGrad(d.W.Grad, d.x.Data, dy.Data, n, d.in, d.out, &d.s)
	gb := d.B.Grad[:d.out]
	for i := 0; i < n; i++ {
		row := dy.Data[i*d.out : (i+1)*d.out]
		for j, v := range row {
			gb[j] += v
		}
	}
}

func (d *Dense) inputGrad(dy Mat) Mat {
	n := dy.Rows
	d.dx = grow(d.dx, n*d.in)
	if n == 0 {
		return Mat{Rows: 0, Cols: d.in, Data: d.dx}
	}
	denseInputGrad(d.dx, dy.Data, d.W.Value, n, d.in, d.out, &d.s)
	return Mat{Rows: n, Cols: d.in, Data: d.dx}
}
