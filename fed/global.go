package fed

// GlobalWeights stores in dst the weights of the communities' generators in
// the global generator (paper Eq. 1; docs/DESIGN.md §2.5):
//
//	w_k = exp(L_{D*}(G_k)) / Σ_k' exp(L_{D*}(G_k'))
//
// where losses[k] = L_{D*}(G_k) is the aggregated loss (L_sync of Eq. 4 or
// L_async of Eq. 5) of community k's last local iteration, over the
// communities whose update arrived for the round. It is Softmax, with the
// same handling of dst, the same numerical guarantees and the same errors
// (with Arg "losses"). Pass the result to Average.
func GlobalWeights(dst, losses []float64) ([]float64, error) {
	return checkedSoftmax(dst, losses, "losses")
}

// Average stores in dst the parameter-wise weighted sum of the community
// generators (paper Eq. 1; docs/DESIGN.md §2.5):
//
//	G = Σ_k weights[k] · G_k,   dst[i] = Σ_k weights[k] · params[k][i]
//
// where params[k] holds G_k's parameters flattened in one order for all k
// (nn.Flatten) and weights comes from GlobalWeights. Average does not
// require the weights to sum to 1. It is Combine under other names, with
// its errors: ErrEmpty for no params, a *LengthError when
// len(weights) != len(params) or some len(params[k]) != len(dst), and a
// *ValueError for a non-finite weight or parameter or an overflowing sum.
// dst must not overlap any params[k].
func Average(dst []float32, weights []float64, params [][]float32) error {
	return weightedSum(dst, weights, params, "weights", "params")
}
