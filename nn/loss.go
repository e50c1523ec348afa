package nn

import (
	"fmt"
	"math"
)

// The losses below take logits (pre-sigmoid or pre-softmax scores), work
// in float64 internally and use softplus(x) = log(1+eˣ) and log-sum-exp so
// that they stay finite for any finite logit. Each returns the mean over
// the batch and, when dst is not nil, writes d(mean)/d(logit) into dst.
// dst may alias logits.

// SigmoidBCE: mean over i of −[t log σ(a_i) + (1−t) log(1−σ(a_i))].
// Per element that is softplus(a) − t·a, with gradient (σ(a) − t)/n.
// It panics with ErrShape if dst is not nil and len(dst) != len(logits).
// It returns 0 for empty logits.
func SigmoidBCE(dst, logits []float32, target float32) float64 {
	checkLossDst(dst, logits)
	if len(logits) == 0 {
		return 0
	}
	n := float64(len(logits))
	t := float64(target)
	var sum float64
	for i, v := range logits {
		a := float64(v)
		sum += softplus(a) - t*a
		if dst != nil {
			dst[i] = float32((sigmoid(a) - t) / n)
		}
	}
	return sum / n
}

// LogOneMinusSigmoid: mean over i of log(1 − σ(a_i)) (paper Eq. 3).
// Per element that is −softplus(a), with gradient −σ(a)/n.
// It panics with ErrShape if dst is not nil and len(dst) != len(logits).
// It returns 0 for empty logits.
func LogOneMinusSigmoid(dst, logits []float32) float64 {
	checkLossDst(dst, logits)
	if len(logits) == 0 {
		return 0
	}
	n := float64(len(logits))
	var sum float64
	for i, v := range logits {
		a := float64(v)
		sum -= softplus(a)
		if dst != nil {
			dst[i] = float32(-sigmoid(a) / n)
		}
	}
	return sum / n
}

// NegLogSigmoid: mean over i of −log σ(a_i) (non-saturating generator loss).
// Per element that is softplus(−a), with gradient −σ(−a)/n.
// It panics with ErrShape if dst is not nil and len(dst) != len(logits).
// It returns 0 for empty logits.
func NegLogSigmoid(dst, logits []float32) float64 {
	checkLossDst(dst, logits)
	if len(logits) == 0 {
		return 0
	}
	n := float64(len(logits))
	var sum float64
	for i, v := range logits {
		a := float64(v)
		sum += softplus(-a)
		if dst != nil {
			dst[i] = float32(-sigmoid(-a) / n)
		}
	}
	return sum / n
}

// SoftmaxCrossEntropy: mean over rows of −log softmax(logits_i)[labels_i].
// Per row that is logsumexp(a) − a[label], with gradient
// (softmax(a) − onehot(label))/rows. dst is written when dst.Data is not
// nil; it must then be logits.Rows×logits.Cols and may alias logits.
// It panics with ErrShape if len(labels) != logits.Rows or dst has the
// wrong shape, and if a label is outside [0, logits.Cols): labels are the
// caller's to validate. It returns 0 for zero rows.
func SoftmaxCrossEntropy(dst Mat, logits Mat, labels []int) float64 {
	checkMat(logits)
	if len(labels) != logits.Rows {
		panic(fmt.Errorf("%w: %d labels for %d rows", ErrShape, len(labels), logits.Rows))
	}
	write := dst.Data != nil
	if write {
		checkMat(dst)
		if dst.Rows != logits.Rows || dst.Cols != logits.Cols {
			panic(fmt.Errorf("%w: gradient is %d×%d, logits %d×%d", ErrShape, dst.Rows, dst.Cols, logits.Rows, logits.Cols))
		}
	}
	if logits.Rows == 0 {
		return 0
	}
	c := logits.Cols
	n := float64(logits.Rows)
	var sum float64
	for i, lab := range labels {
		if lab < 0 || lab >= c {
			panic(fmt.Sprintf("nn: label %d of row %d outside [0, %d)", lab, i, c))
		}
		row := logits.Data[i*c : (i+1)*c]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		sum += lse - float64(row[lab])
		if write {
			g := dst.Data[i*c : (i+1)*c]
			for j, v := range row {
				p := math.Exp(float64(v) - lse)
				if j == lab {
					p--
				}
				g[j] = float32(p / n)
			}
		}
	}
	return sum / n
}

func checkLossDst(dst, logits []float32) {
	if dst != nil && len(dst) != len(logits) {
		panic(fmt.Errorf("%w: gradient has %d elements, logits %d", ErrShape, len(dst), len(logits)))
	}
}
