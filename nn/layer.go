package nn

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

// Param is one trainable tensor with its gradient accumulator.
// Value and Grad have the same length; Shape gives their logical shape
// (e.g. [in, out] for a Dense weight, [out] for a bias).
type Param struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
}

// Layer kinds used in LayerSpec.Kind.
const (
	KindDense     = "dense"
	KindLeakyReLU = "leaky_relu"
	KindReLU      = "relu"
	KindTanh      = "tanh"
	KindSigmoid   = "sigmoid"
	// KindMinibatchStd appends the minibatch standard deviation of groups
	// of Group rows as one more column (see MinibatchStd).
	KindMinibatchStd = "minibatch_std"
	// KindDenseCarry is a dense layer over all but the last Carry input
	// columns, which it carries through beside its output (DenseCarry).
	KindDenseCarry = "dense_carry"
	// KindDenseHeads is a dense layer with one head per code: the last
	// Carry input columns, a one-hot code, select the head (DenseHeads).
	KindDenseHeads = "dense_heads"
)

// LayerSpec describes one layer. Kind is one of "dense", "leaky_relu",
// "relu", "tanh", "sigmoid", "minibatch_std", "dense_carry", "dense_heads".
// In/Out are used by "dense", "dense_carry" (whose input is In + Carry
// columns and output Out + Carry) and "dense_heads" (whose input is In +
// Carry columns, the last Carry a code selecting one of Carry heads, and
// output Out); Alpha by "leaky_relu"; Group by "minibatch_std".
type LayerSpec struct {
	Kind  string  `json:"kind"`
	In    int     `json:"in,omitempty"`
	Out   int     `json:"out,omitempty"`
	Alpha float32 `json:"alpha,omitempty"`
	Group int     `json:"group,omitempty"`
	Carry int     `json:"carry,omitempty"`
}

// paramBackwarder is implemented by layers that can accumulate their
// parameter gradients without computing dL/dx. Sequential uses it for its
// first layer, whose input gradient nobody reads during training.
type paramBackwarder interface {
	backwardParams(dy Mat)
}
