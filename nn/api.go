package nn

// This file pins the API that the rest of the module builds against.
// Bodies marked "TODO(nn)" are filled in by the nn work; signatures stay.

import (
	"errors"
	"io"
	"math/rand/v2"
)

// ErrShape is returned (or, for programmer errors, panicked with) when
// dimensions do not match.
var ErrShape = errors.New("nn: dimension mismatch")

// Mat is a dense row-major float32 matrix with stride Cols.
// len(Data) >= Rows*Cols. A Mat returned by a layer is owned by that layer
// and is valid until the layer's next Forward or Backward call.
type Mat struct {
	Rows, Cols int
	Data       []float32
}

// Param is one trainable tensor with its gradient accumulator.
// Value and Grad have the same length; Shape gives their logical shape
// (e.g. [in, out] for a Dense weight, [out] for a bias).
type Param struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
}

// Layer is one differentiable stage. Forward caches what Backward needs;
// a Forward must be followed by at most one Backward for the same batch.
type Layer interface {
	// Forward computes the layer's output for the batch x.
	Forward(x Mat) Mat
	// Backward takes dL/dy for the last Forward's output, accumulates
	// dL/dθ into the layer's Param.Grad and returns dL/dx.
	Backward(dy Mat) Mat
	// BackwardInput returns dL/dx without touching parameter gradients.
	BackwardInput(dy Mat) Mat
	// Params returns the layer's trainable tensors (nil for activations).
	Params() []*Param
	// Spec describes the layer so that it can be rebuilt.
	Spec() LayerSpec
}

// LayerSpec describes one layer. Kind is one of "dense", "leaky_relu",
// "relu", "tanh", "sigmoid". In/Out are used by "dense"; Alpha by
// "leaky_relu".
type LayerSpec struct {
	Kind  string  `json:"kind"`
	In    int     `json:"in,omitempty"`
	Out   int     `json:"out,omitempty"`
	Alpha float32 `json:"alpha,omitempty"`
}

// Sequential is a chain of layers.
type Sequential struct {
	Layers []Layer
}

// Build constructs a network from specs, initialising weights from rng.
func Build(specs []LayerSpec, rng *rand.Rand) (*Sequential, error) { panic("TODO(nn)") }

// MLP is a convenience for Dense/activation stacks: sizes[0] inputs,
// hidden layers followed by LeakyReLU(alpha), and a final Dense followed
// by the activation named by out ("", "tanh", "sigmoid").
func MLP(sizes []int, alpha float32, out string, rng *rand.Rand) (*Sequential, error) {
	panic("TODO(nn)")
}

func (s *Sequential) Forward(x Mat) Mat          { panic("TODO(nn)") }
func (s *Sequential) Backward(dy Mat) Mat        { panic("TODO(nn)") }
func (s *Sequential) BackwardInput(dy Mat) Mat   { panic("TODO(nn)") }
func (s *Sequential) Params() []*Param           { panic("TODO(nn)") }
func (s *Sequential) Specs() []LayerSpec         { panic("TODO(nn)") }
func (s *Sequential) ZeroGrad()                  { panic("TODO(nn)") }
func (s *Sequential) NumParams() int             { panic("TODO(nn)") }
func (s *Sequential) InDim() int                 { panic("TODO(nn)") }
func (s *Sequential) OutDim() int                { panic("TODO(nn)") }
func (s *Sequential) Slice(i, j int) *Sequential { panic("TODO(nn)") }

// Flatten copies all parameter values, in Params order, into dst and
// returns it (allocating when dst is too short).
func Flatten(dst []float32, params []*Param) []float32 { panic("TODO(nn)") }

// Unflatten copies src into the parameter values. It returns ErrShape
// when len(src) differs from the total parameter count.
func Unflatten(params []*Param, src []float32) error { panic("TODO(nn)") }

// Save writes the architecture and parameters; Load reads them back,
// checking every shape.
func Save(w io.Writer, s *Sequential) error { panic("TODO(nn)") }
func Load(r io.Reader) (*Sequential, error) { panic("TODO(nn)") }

// Optimizer updates parameters from their accumulated gradients.
type Optimizer interface {
	Step(params []*Param)
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

// Adam is Kingma & Ba's optimizer.
type Adam struct {
	LR, Beta1, Beta2, Eps float32
	// unexported state: moments per param, step count
}

func NewAdam(lr, beta1, beta2, eps float32) *Adam { panic("TODO(nn)") }

// SGD is plain stochastic gradient descent with optional momentum.
type SGD struct {
	LR, Momentum float32
}

// Losses. Each returns the mean loss over the batch and, when dst is not
// nil, writes the gradient of that mean with respect to the logits into dst.

// SigmoidBCE: mean over i of −[t log σ(a_i) + (1−t) log(1−σ(a_i))].
func SigmoidBCE(dst, logits []float32, target float32) float64 { panic("TODO(nn)") }

// LogOneMinusSigmoid: mean over i of log(1 − σ(a_i)) (paper Eq. 3).
func LogOneMinusSigmoid(dst, logits []float32) float64 { panic("TODO(nn)") }

// NegLogSigmoid: mean over i of −log σ(a_i) (non-saturating generator loss).
func NegLogSigmoid(dst, logits []float32) float64 { panic("TODO(nn)") }

// SoftmaxCrossEntropy: mean over rows of −log softmax(logits_i)[labels_i].
func SoftmaxCrossEntropy(dst Mat, logits Mat, labels []int) float64 { panic("TODO(nn)") }

// FillNormal fills dst with N(0,1) draws from rng.
func FillNormal(dst []float32, rng *rand.Rand) { panic("TODO(nn)") }

// ConcatCols writes [a | b] row by row into dst (a.Rows == b.Rows).
func ConcatCols(dst Mat, a, b Mat) Mat { panic("TODO(nn)") }
