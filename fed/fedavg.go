package fed

import (
	"fmt"
	"math"

	"github.com/fedgan/fedgan/wire"
)

// Algorithm is what the hierarchy trains (config training.algorithm;
// docs/DESIGN.md §2.12).
type Algorithm int

const (
	// FR is the paper's algorithm: devices train discriminators, edges
	// community generators from their feedback, the cloud merges the
	// generators (Eq. 1–5).
	FR Algorithm = iota
	// FedGAN is the baseline the paper compares FR with (Fed GAN, Fan &
	// Liu 2020): every device trains a whole GAN on its local data, and
	// edges and the cloud average the models (FedAvg, weighted by sample
	// counts).
	FedGAN
)

func (a Algorithm) String() string { return nameOf(algorithmNames[:], int(a), "Algorithm") }

// ParseAlgorithm parses "fr" or "fedgan".
func ParseAlgorithm(s string) (Algorithm, error) {
	i, err := parseName(s, algorithmNames[:], "algorithm %q (want %s)", false)
	return Algorithm(i), err
}

// FedAvgWeights stores in dst the FedAvg weights of models trained on
// samples[k] rows each (McMahan et al. 2017; docs/DESIGN.md §2.12):
//
//	w_k = n_k / Σ_k' n_k'
//
// dst is reused when it has the capacity. With weightCap c > 0 (training.robust
// other than none) no weight exceeds c/n (n = len(samples); CapWeights:
// the mass above it goes to the others in proportion to their weights),
// and the second result is how many weights were capped. A count outside
// [1, wire.MaxSamples] is a *ValueError, no samples ErrEmpty: an absurd
// count never reaches the average.
func FedAvgWeights(dst []float64, samples []int64, weightCap float64) ([]float64, int, error) {
	if len(samples) == 0 {
		return nil, 0, fmt.Errorf("%w: no sample counts", ErrEmpty)
	}
	var total float64
	for i, n := range samples {
		if n < 1 || n > wire.MaxSamples {
			return nil, 0, &ValueError{Arg: "samples", Index: i, Value: float64(n)}
		}
		total += float64(n)
	}
	if weightCap < 0 || math.IsNaN(weightCap) || math.IsInf(weightCap, 0) {
		return nil, 0, &ValueError{Arg: "weightCap", Value: weightCap}
	}
	if cap(dst) < len(samples) {
		dst = make([]float64, len(samples))
	}
	dst = dst[:len(samples)]
	for i, n := range samples {
		dst[i] = float64(n) / total
	}
	capped := 0
	if weightCap > 0 {
		capped = CapWeights(dst, weightCap/float64(len(samples)))
	}
	return dst, capped, nil
}

// FedAvg stores in dst the weighted average of models, parameter by
// parameter (docs/DESIGN.md §2.12):
//
//	dst[i] = Σ_k weights[k] · params[k][i]
//
// with weights from FedAvgWeights. The edges average their devices' G and
// D with it, the cloud the communities'. It is Average (Eq. 1's sum) with
// its errors; dst must not overlap any params[k].
func FedAvg(dst []float32, weights []float64, params [][]float32) error {
	return weightedSum(dst, weights, params, "weights", "params")
}

// fedAvgModels averages whole models, G and D, with FedAvg: the FedAvg
// weights of samples (capped at rob's weight cap under a robust rule)
// applied to the G parameters gs into g and the D parameters ds into d.
// It returns the weights and how many were capped; the edge and the cloud
// of Fed GAN both call it.
func fedAvgModels(g, d []float32, samples []int64, gs, ds [][]float32, rob RobustConfig) ([]float64, int, error) {
	weightCap := 0.0
	if rob.Rule != RobustNone {
		weightCap = rob.WeightCap
	}
	w, capped, err := FedAvgWeights(nil, samples, weightCap)
	if err != nil {
		return nil, 0, err
	}
	if err := FedAvg(g, w, gs); err != nil {
		return nil, 0, err
	}
	if err := FedAvg(d, w, ds); err != nil {
		return nil, 0, err
	}
	return w, capped, nil
}
