package nn

import (
	"fmt"
	"math"
)

// mbstdEps keeps the standard deviation differentiable where a feature
// is constant over a group.
const mbstdEps = 1e-8

// MinibatchStd appends one column to its input: for each group of Group
// consecutive rows (the last group may be shorter), the mean over the
// features of the features' standard deviation within the group (Karras
// et al. 2018, "minibatch standard deviation"). A discriminator that sees
// it can tell a batch of near-identical samples from a varied one, which
// is the signal a generator needs to stop dropping modes. Rows only mix
// within a group, so a batch that stacks Group-aligned real and generated
// rows never mixes the two.
type MinibatchStd struct {
	Group int

	x      Mat
	y, dx  []float32
	mu, sd []float32 // per group, per feature
}

// NewMinibatchStd returns the layer with the given group size (≥ 2).
// It panics for a smaller group: a group of one row has no spread.
func NewMinibatchStd(group int) *MinibatchStd {
	if group < 2 {
		panic(fmt.Sprintf("nn: MinibatchStd group %d, want ≥ 2", group))
	}
	return &MinibatchStd{Group: group}
}

// groups returns the number of groups of rows.
func (l *MinibatchStd) groups(rows int) int { return (rows + l.Group - 1) / l.Group }

// Forward returns [x | s], s the group statistic of each row. The result
// is owned by l and valid until l's next Forward.
func (l *MinibatchStd) Forward(x Mat) Mat {
	checkMat(x)
	l.x = x
	f := x.Cols
	out := f + 1
	ng := l.groups(x.Rows)
	l.mu = grow(l.mu, ng*f)
	l.sd = grow(l.sd, ng*f)
	l.y = grow(l.y, x.Rows*out)
	for g := 0; g < ng; g++ {
		lo, hi := g*l.Group, min((g+1)*l.Group, x.Rows)
		mu, sd := l.mu[g*f:(g+1)*f], l.sd[g*f:(g+1)*f]
		clear(mu)
		clear(sd)
		for i := lo; i < hi; i++ {
			for j, v := range x.Data[i*f : (i+1)*f] {
				mu[j] += v
			}
		}
		n := float32(hi - lo)
		for j := range mu {
			mu[j] /= n
		}
		for i := lo; i < hi; i++ {
			for j, v := range x.Data[i*f : (i+1)*f] {
				d := v - mu[j]
				sd[j] += d * d
			}
		}
		var s float64
		for j := range sd {
			sd[j] = float32(math.Sqrt(float64(sd[j]/n) + mbstdEps))
			s += float64(sd[j])
		}
		stat := float32(s / float64(f))
		for i := lo; i < hi; i++ {
			row := l.y[i*out : (i+1)*out]
			copy(row[:f], x.Data[i*f:(i+1)*f])
			row[f] = stat
		}
	}
	return Mat{Rows: x.Rows, Cols: out, Data: l.y}
}

// Backward returns dL/dx: the gradient of the copied columns plus, through
// the statistic, ∂s/∂x_ij = (x_ij − μ_j)/(F·n·σ_j) times the summed
// gradient of the group's statistic column. It panics with ErrShape if dy
// does not match the last Forward's output.
func (l *MinibatchStd) Backward(dy Mat) Mat {
	checkMat(dy)
	x := l.x
	f := x.Cols
	if dy.Rows != x.Rows || dy.Cols != f+1 {
		panic(fmt.Errorf("%w: minibatch std: gradient is %d×%d, want %d×%d", ErrShape, dy.Rows, dy.Cols, x.Rows, f+1))
	}
	l.dx = grow(l.dx, x.Rows*f)
	for g := 0; g < l.groups(x.Rows); g++ {
		lo, hi := g*l.Group, min((g+1)*l.Group, x.Rows)
		var gs float32
		for i := lo; i < hi; i++ {
			gs += dy.Data[i*(f+1)+f]
		}
		c := gs / float32(f*(hi-lo))
		mu, sd := l.mu[g*f:(g+1)*f], l.sd[g*f:(g+1)*f]
		for i := lo; i < hi; i++ {
			dxr, dyr, xr := l.dx[i*f:(i+1)*f], dy.Data[i*(f+1):i*(f+1)+f], x.Data[i*f:(i+1)*f]
			for j := range dxr {
				dxr[j] = dyr[j] + c*(xr[j]-mu[j])/sd[j]
			}
		}
	}
	return Mat{Rows: x.Rows, Cols: f, Data: l.dx}
}

// BackwardInput is Backward: the layer has no parameters.
func (l *MinibatchStd) BackwardInput(dy Mat) Mat { return l.Backward(dy) }

// Params returns nil.
func (l *MinibatchStd) Params() []*Param { return nil }

// Spec returns the layer's description.
func (l *MinibatchStd) Spec() LayerSpec { return LayerSpec{Kind: KindMinibatchStd, Group: l.Group} }
