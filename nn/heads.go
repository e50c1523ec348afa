package nn

import (
	"fmt"
	"math/rand/v2"
)

// DenseHeads is a dense layer with one head per code: its input is
// [x, c], x of In columns and c a code of Heads columns (one-hot), and
//
//	y = Σₖ cₖ·(x·Wₖ + bₖ) + b
//
// so that a one-hot c selects head k. It is the last layer of a
// generator whose hidden layers are shared by every domain and whose
// output layer is the domain's own (as CoGAN couples two generators):
// the hidden layers decide what is drawn, the head how it looks in the
// domain. It is computed as one Dense over the expanded row
// [c₁·x, …, c_K·x, c] (Heads·(In+1) columns), whose weight stacks W₁ … W_K
// and then b₁ … b_K; its parameters are that Dense's.
type DenseHeads struct {
	d     *Dense
	in    int
	heads int

	ex []float32 // the expanded last input
	c  []float32 // the code columns of the last input
	x  []float32 // the first In columns of the last input
	dx []float32 // input-gradient buffer
	n  int
}

// NewDenseHeads returns an in→out layer with heads heads. Every head's W
// is the same draw (one Glorot draw of an in→out Dense, so that the heads
// start as one layer); the per-head biases and b are zero. It panics if a
// size is not positive.
func NewDenseHeads(in, out, heads int, rng *rand.Rand) *DenseHeads {
	if in <= 0 || out <= 0 || heads <= 0 {
		panic(fmt.Sprintf("nn: NewDenseHeads(%d, %d, %d): sizes must be positive", in, out, heads))
	}
	h := &DenseHeads{d: NewDense(heads*(in+1), out, nil), in: in, heads: heads}
	if rng != nil {
		one := NewDense(in, out, rng)
		for k := range heads {
			copy(h.d.W.Value[k*in*out:(k+1)*in*out], one.W.Value)
		}
	}
	return h
}

// Params returns the stacked W ([Heads·(In+1), Out]) and b, as Dense's.
func (h *DenseHeads) Params() []*Param { return h.d.Params() }

// Spec returns the layer's description.
func (h *DenseHeads) Spec() LayerSpec {
	return LayerSpec{Kind: KindDenseHeads, In: h.in, Out: h.d.out, Carry: h.heads}
}

// Forward returns Σₖ cₖ·(x·Wₖ + bₖ) + b. The result is owned by h and
// valid until h's next Forward. It panics with ErrShape if x.Cols != In +
// Heads.
func (h *DenseHeads) Forward(x Mat) Mat {
	checkMat(x)
	in, k := h.in, h.heads
	if x.Cols != in+k {
		panic(fmt.Errorf("%w: dense_heads %d→%d (%d heads) got input with %d columns", ErrShape, in, h.d.out, k, x.Cols))
	}
	n := x.Rows
	h.n = n
	w := k * (in + 1)
	h.ex = grow(h.ex, n*w)
	h.x = grow(h.x, n*in)
	h.c = grow(h.c, n*k)
	for i := range n {
		row := x.Data[i*x.Cols : (i+1)*x.Cols]
		xi, ci := row[:in], row[in:]
		copy(h.x[i*in:(i+1)*in], xi)
		copy(h.c[i*k:(i+1)*k], ci)
		e := h.ex[i*w : (i+1)*w]
		for j, cj := range ci {
			blk := e[j*in : (j+1)*in]
			for t, v := range xi {
				blk[t] = cj * v
			}
		}
		copy(e[k*in:], ci)
	}
	return h.d.Forward(Mat{Rows: n, Cols: w, Data: h.ex[:n*w]})
}

// fold turns the Dense's gradient over the expanded row into dL/d[x, c]:
// dx = Σₖ cₖ·dexₖ and dcₖ = x·dexₖ + dex_{bias k}.
func (h *DenseHeads) fold(dex Mat) Mat {
	in, k := h.in, h.heads
	w, cols := k*(in+1), in+k
	h.dx = grow(h.dx, h.n*cols)
	for i := range h.n {
		e := dex.Data[i*w : (i+1)*w]
		xi, ci := h.x[i*in:(i+1)*in], h.c[i*k:(i+1)*k]
		out := h.dx[i*cols : (i+1)*cols]
		clear(out[:in])
		for j, cj := range ci {
			blk := e[j*in : (j+1)*in]
			var dc float32
			for t, g := range blk {
				out[t] += cj * g
				dc += xi[t] * g
			}
			out[in+j] = dc + e[k*in+j]
		}
	}
	return Mat{Rows: h.n, Cols: cols, Data: h.dx[:h.n*cols]}
}

// Backward accumulates the gradients of the stacked W and b and returns
// dL/d[x, c].
func (h *DenseHeads) Backward(dy Mat) Mat { return h.fold(h.d.Backward(dy)) }

// BackwardInput is Backward without touching the gradients.
func (h *DenseHeads) BackwardInput(dy Mat) Mat { return h.fold(h.d.BackwardInput(dy)) }

func (h *DenseHeads) backwardParams(dy Mat) { h.d.backwardParams(dy) }
