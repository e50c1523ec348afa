package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// ErrSpec is wrapped by every error about an invalid layer description.
var ErrSpec = errors.New("nn: invalid layer spec")

// SpecError reports an invalid LayerSpec at position Index of a list.
type SpecError struct {
	Index  int
	Spec   LayerSpec
	Reason string
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("nn: layer %d (%q): %s", e.Index, e.Spec.Kind, e.Reason)
}

// Unwrap returns ErrSpec.
func (e *SpecError) Unwrap() error { return ErrSpec }

// Sequential is a chain of layers.
//
// The output of Forward is owned by the last layer; the input gradient
// returned by Backward is owned by the first layer. Layers may be shared
// between several Sequentials (see Slice); a Forward through any of them
// invalidates the cached state of the shared layers.
type Sequential struct {
	Layers []Layer

	// params caches Params; paramsOf is the Layers slice it was built from.
	params   []*Param
	paramsOf []Layer
}

// maxDim bounds every Dense dimension accepted by Build (and Load).
const maxDim = 1 << 24

// maxParams bounds the total parameter count accepted by Build (and Load).
const maxParams = 1 << 28

// Build constructs a network from specs, initialising weights from rng
// (see NewDense for the distribution). It returns a *SpecError wrapping
// ErrSpec for an unknown kind, a non-positive or oversized dimension, a
// Dense whose In differs from the previous Dense's Out, or a LeakyReLU
// slope that is not finite. A nil rng leaves the weights zero.
func Build(specs []LayerSpec, rng *rand.Rand) (*Sequential, error) {
	if err := validateSpecs(specs); err != nil {
		return nil, err
	}
	s := &Sequential{Layers: make([]Layer, len(specs))}
	for i, sp := range specs {
		switch sp.Kind {
		case KindDense:
			s.Layers[i] = NewDense(sp.In, sp.Out, rng)
		case KindLeakyReLU:
			s.Layers[i] = NewLeakyReLU(sp.Alpha)
		case KindReLU:
			s.Layers[i] = NewReLU()
		case KindTanh:
			s.Layers[i] = NewTanh()
		case KindSigmoid:
			s.Layers[i] = NewSigmoid()
		case KindMinibatchStd:
			s.Layers[i] = NewMinibatchStd(sp.Group)
		case KindDenseCarry:
			s.Layers[i] = NewDenseCarry(sp.In, sp.Out, sp.Carry, rng)
		case KindDenseHeads:
			s.Layers[i] = NewDenseHeads(sp.In, sp.Out, sp.Carry, rng)
		}
	}
	return s, nil
}

// paramCount is the number of parameters of a layer described by sp.
func paramCount(sp LayerSpec) int {
	switch sp.Kind {
	case KindDense, KindDenseCarry:
		return sp.In*sp.Out + sp.Out
	case KindDenseHeads:
		return sp.Carry*(sp.In+1)*sp.Out + sp.Out
	}
	return 0
}

func validateSpecs(specs []LayerSpec) error {
	prevOut := 0
	total := 0
	for i, sp := range specs {
		bad := func(format string, args ...any) error {
			return &SpecError{Index: i, Spec: sp, Reason: fmt.Sprintf(format, args...)}
		}
		switch sp.Kind {
		case KindDense:
			if sp.In <= 0 || sp.Out <= 0 || sp.In > maxDim || sp.Out > maxDim {
				return bad("dimensions %d→%d out of range [1, %d]", sp.In, sp.Out, maxDim)
			}
			if prevOut != 0 && sp.In != prevOut {
				return bad("input width %d, previous dense layer outputs %d", sp.In, prevOut)
			}
			total += sp.In*sp.Out + sp.Out
			if total > maxParams {
				return bad("more than %d parameters", maxParams)
			}
			prevOut = sp.Out
		case KindLeakyReLU:
			if a := float64(sp.Alpha); math.IsNaN(a) || math.IsInf(a, 0) {
				return bad("alpha %v is not finite", sp.Alpha)
			}
		case KindReLU, KindTanh, KindSigmoid:
		case KindDenseCarry:
			if sp.In <= 0 || sp.Out <= 0 || sp.Carry <= 0 || sp.In+sp.Carry > maxDim || sp.Out+sp.Carry > maxDim {
				return bad("dimensions %d→%d carrying %d out of range [1, %d]", sp.In, sp.Out, sp.Carry, maxDim)
			}
			if prevOut != 0 && sp.In+sp.Carry != prevOut {
				return bad("input width %d + %d carried, previous dense layer outputs %d", sp.In, sp.Carry, prevOut)
			}
			total += sp.In*sp.Out + sp.Out
			if total > maxParams {
				return bad("more than %d parameters", maxParams)
			}
			prevOut = sp.Out + sp.Carry
		case KindDenseHeads:
			if sp.In <= 0 || sp.Out <= 0 || sp.Carry <= 0 || sp.In+sp.Carry > maxDim || sp.Out > maxDim || sp.Carry*(sp.In+1) > maxDim {
				return bad("dimensions %d→%d with %d heads out of range [1, %d]", sp.In, sp.Out, sp.Carry, maxDim)
			}
			if prevOut != 0 && sp.In+sp.Carry != prevOut {
				return bad("input width %d + a code of %d, previous dense layer outputs %d", sp.In, sp.Carry, prevOut)
			}
			total += paramCount(sp)
			if total > maxParams {
				return bad("more than %d parameters", maxParams)
			}
			prevOut = sp.Out
		case KindMinibatchStd:
			if sp.Group < 2 || sp.Group > maxDim {
				return bad("group %d out of range [2, %d]", sp.Group, maxDim)
			}
			if prevOut == 0 {
				return bad("needs a dense layer before it")
			}
			prevOut++ // one more column
		default:
			return bad("unknown kind")
		}
	}
	return nil
}

// MLP is a convenience for Dense/activation stacks: sizes[0] inputs,
// hidden layers followed by LeakyReLU(alpha), and a final Dense followed
// by the activation named by out ("", "tanh", "sigmoid").
// It returns an error wrapping ErrSpec if len(sizes) < 2, a size is not
// positive, or out is not one of those names.
func MLP(sizes []int, alpha float32, out string, rng *rand.Rand) (*Sequential, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("%w: MLP needs at least 2 sizes, got %d", ErrSpec, len(sizes))
	}
	var specs []LayerSpec
	for i := 0; i+1 < len(sizes); i++ {
		specs = append(specs, LayerSpec{Kind: KindDense, In: sizes[i], Out: sizes[i+1]})
		if i+2 < len(sizes) {
			specs = append(specs, LayerSpec{Kind: KindLeakyReLU, Alpha: alpha})
		}
	}
	switch out {
	case "":
	case KindTanh, KindSigmoid:
		specs = append(specs, LayerSpec{Kind: out})
	default:
		return nil, fmt.Errorf("%w: MLP output activation %q, want \"\", \"tanh\" or \"sigmoid\"", ErrSpec, out)
	}
	return Build(specs, rng)
}

// Forward runs x through every layer and returns the last layer's output,
// owned by that layer. With no layers it returns x.
func (s *Sequential) Forward(x Mat) Mat {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Backward backpropagates dy (dL/d output of the last Forward) through
// every layer, accumulating parameter gradients, and returns dL/dx, owned
// by the first layer.
func (s *Sequential) Backward(dy Mat) Mat {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].Backward(dy)
	}
	return dy
}

// BackwardParams is Backward without the input gradient: it accumulates
// every parameter gradient and skips computing dL/dx for the first layer,
// which for a Dense first layer saves one matrix product. Use it for
// ordinary training steps.
func (s *Sequential) BackwardParams(dy Mat) {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if i == 0 {
			if pb, ok := s.Layers[0].(paramBackwarder); ok {
				pb.backwardParams(dy)
				return
			}
		}
		dy = s.Layers[i].Backward(dy)
	}
}

// BackwardInput backpropagates dy and returns dL/dx without touching any
// parameter gradient.
func (s *Sequential) BackwardInput(dy Mat) Mat {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		dy = s.Layers[i].BackwardInput(dy)
	}
	return dy
}

// Params returns every layer's parameters in layer order (for a Dense: W
// then B). The slice is cached and owned by s: do not modify it. It stays
// valid until s.Layers is changed.
func (s *Sequential) Params() []*Param {
	if s.paramsOf != nil && sameLayers(s.paramsOf, s.Layers) {
		return s.params
	}
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	s.params = ps
	s.paramsOf = append(make([]Layer, 0, len(s.Layers)), s.Layers...)
	return ps
}

func sameLayers(a, b []Layer) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Specs returns the layers' descriptions, in order.
func (s *Sequential) Specs() []LayerSpec {
	specs := make([]LayerSpec, len(s.Layers))
	for i, l := range s.Layers {
		specs[i] = l.Spec()
	}
	return specs
}

// ZeroGrad sets every parameter gradient to zero.
func (s *Sequential) ZeroGrad() {
	for _, p := range s.Params() {
		clear(p.Grad)
	}
}

// NumParams returns the total number of scalar parameters.
func (s *Sequential) NumParams() int {
	n := 0
	for _, p := range s.Params() {
		n += len(p.Value)
	}
	return n
}

// InDim returns the input width of the first dense layer (a dense_carry
// layer's with its carried columns), or 0 if there is none.
func (s *Sequential) InDim() int {
	for _, l := range s.Layers {
		switch sp := l.Spec(); sp.Kind {
		case KindDense:
			return sp.In
		case KindDenseCarry, KindDenseHeads:
			return sp.In + sp.Carry
		}
	}
	return 0
}

// OutDim returns the output width of the last dense layer (a dense_carry
// layer's with its carried columns), or 0 if there is none.
func (s *Sequential) OutDim() int {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		switch sp := s.Layers[i].Spec(); sp.Kind {
		case KindDense, KindDenseHeads:
			return sp.Out
		case KindDenseCarry:
			return sp.Out + sp.Carry
		}
	}
	return 0
}

// Slice returns a Sequential over layers i..j-1 of s that shares the layer
// objects (and so their parameters and buffers) with s. For a generator
// built by MLP, s.Slice(0, 2).Forward(x) is the output of the first
// Dense+LeakyReLU block. It panics if the range is invalid.
func (s *Sequential) Slice(i, j int) *Sequential {
	if i < 0 || j < i || j > len(s.Layers) {
		panic(fmt.Sprintf("nn: Slice(%d, %d) of %d layers", i, j, len(s.Layers)))
	}
	return &Sequential{Layers: s.Layers[i:j:j]}
}

// Flatten copies all parameter values, in Params order, into dst and
// returns it (allocating when dst is too short).
func Flatten(dst []float32, params []*Param) []float32 {
	n := 0
	for _, p := range params {
		n += len(p.Value)
	}
	if cap(dst) < n {
		dst = make([]float32, n)
	}
	dst = dst[:n]
	off := 0
	for _, p := range params {
		off += copy(dst[off:], p.Value)
	}
	return dst
}

// Unflatten copies src into the parameter values. It returns ErrShape
// when len(src) differs from the total parameter count.
func Unflatten(params []*Param, src []float32) error {
	n := 0
	for _, p := range params {
		n += len(p.Value)
	}
	if n != len(src) {
		return fmt.Errorf("%w: %d values for %d parameters", ErrShape, len(src), n)
	}
	off := 0
	for _, p := range params {
		off += copy(p.Value, src[off:])
	}
	return nil
}
