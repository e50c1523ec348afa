package nn

import (
	"fmt"
	"math/rand/v2"
)

// DenseCarry is a Dense layer over the first In columns of its input that
// carries the last Carry columns through unchanged:
//
//	y = [x₁·W + b, x₂],  x = [x₁ (In columns), x₂ (Carry columns)]
//
// so that a conditioning code at the end of the input skips the layer
// and reaches the next one (a generator whose first layer must not see the
// code, and whose next layers must). The activation after it leaves a
// one-hot code as it is (LeakyReLU and ReLU keep 0 and 1).
type DenseCarry struct {
	d     *Dense
	carry int

	x1  []float32 // the first In columns of the last input, contiguous
	y   []float32 // output buffer
	dy1 []float32 // the first Out columns of a gradient, contiguous
	dx  []float32 // input-gradient buffer
	n   int       // rows of the last input
}

// NewDenseCarry returns an in→out Dense layer that carries carry more
// input columns through; W is drawn as NewDense draws it. It panics if a
// size is not positive.
func NewDenseCarry(in, out, carry int, rng *rand.Rand) *DenseCarry {
	if carry <= 0 {
		panic(fmt.Sprintf("nn: NewDenseCarry(%d, %d, %d): sizes must be positive", in, out, carry))
	}
	return &DenseCarry{d: NewDense(in, out, rng), carry: carry}
}

// Params returns W and B, in that order, as Dense's.
func (c *DenseCarry) Params() []*Param { return c.d.Params() }

// Spec returns the layer's description.
func (c *DenseCarry) Spec() LayerSpec {
	return LayerSpec{Kind: KindDenseCarry, In: c.d.in, Out: c.d.out, Carry: c.carry}
}

// Forward returns [x₁·W + b, x₂]. The result is owned by c and valid until
// c's next Forward. It panics with ErrShape if x.Cols != In + Carry.
func (c *DenseCarry) Forward(x Mat) Mat {
	checkMat(x)
	in, out, k := c.d.in, c.d.out, c.carry
	if x.Cols != in+k {
		panic(fmt.Errorf("%w: dense_carry %d→%d (+%d) got input with %d columns", ErrShape, in, out, k, x.Cols))
	}
	n := x.Rows
	c.n = n
	c.x1 = grow(c.x1, n*in)
	for i := range n {
		copy(c.x1[i*in:(i+1)*in], x.Data[i*x.Cols:i*x.Cols+in])
	}
	h := c.d.Forward(Mat{Rows: n, Cols: in, Data: c.x1[:n*in]})
	w := out + k
	c.y = grow(c.y, n*w)
	for i := range n {
		copy(c.y[i*w:i*w+out], h.Data[i*out:(i+1)*out])
		copy(c.y[i*w+out:(i+1)*w], x.Data[i*x.Cols+in:(i+1)*x.Cols])
	}
	return Mat{Rows: n, Cols: w, Data: c.y[:n*w]}
}

// split copies the Dense part of dy into c.dy1 and returns it.
func (c *DenseCarry) split(dy Mat) Mat {
	checkMat(dy)
	out, w := c.d.out, c.d.out+c.carry
	if dy.Rows != c.n || dy.Cols != w {
		panic(fmt.Errorf("%w: dense_carry: gradient is %d×%d, want %d×%d", ErrShape, dy.Rows, dy.Cols, c.n, w))
	}
	c.dy1 = grow(c.dy1, c.n*out)
	for i := range c.n {
		copy(c.dy1[i*out:(i+1)*out], dy.Data[i*w:i*w+out])
	}
	return Mat{Rows: c.n, Cols: out, Data: c.dy1[:c.n*out]}
}

// join returns [dx₁, dy₂]: the Dense part's input gradient and the
// carried columns' gradient, passed through.
func (c *DenseCarry) join(dx1 Mat, dy Mat) Mat {
	in, out, k := c.d.in, c.d.out, c.carry
	cols := in + k
	c.dx = grow(c.dx, c.n*cols)
	for i := range c.n {
		copy(c.dx[i*cols:i*cols+in], dx1.Data[i*in:(i+1)*in])
		copy(c.dx[i*cols+in:(i+1)*cols], dy.Data[i*(out+k)+out:(i+1)*(out+k)])
	}
	return Mat{Rows: c.n, Cols: cols, Data: c.dx[:c.n*cols]}
}

// Backward accumulates dL/dW and dL/db from dy's first Out columns and
// returns dL/dx: the Dense part's, then dy's carried columns.
func (c *DenseCarry) Backward(dy Mat) Mat {
	return c.join(c.d.Backward(c.split(dy)), dy)
}

// BackwardInput is Backward without touching the gradients.
func (c *DenseCarry) BackwardInput(dy Mat) Mat {
	return c.join(c.d.BackwardInput(c.split(dy)), dy)
}

func (c *DenseCarry) backwardParams(dy Mat) { c.d.backwardParams(c.split(dy)) }
