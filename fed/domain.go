package fed

import (
	"fmt"
	"math"
)

// DomainInvariant computes the domain-invariant loss of the label-related
// scenario (paper Eq. 8; docs/DESIGN.md §2.6) over one batch of latent rows z_i:
//
//	L_inv = (1/rows) Σ_i Σ_{k<k'} ‖H_k,i − H_k',i‖₂
//
// where h[k] is H_k = G¹(z, c_k), the output of the generator's first layer
// for domain code c_k, a rows×cols row-major matrix, and row i of every
// H_k comes from the same z_i. The paper writes the sum over k ≠ k', which
// counts each pair twice; like docs/DESIGN.md §2.6 this counts each pair once (λ1
// absorbs the factor 2).
//
// When dst is not nil, DomainInvariant overwrites dst[k] with ∂L_inv/∂H_k:
//
//	∂L_inv/∂H_k,i = (1/rows) Σ_{k'≠k} (H_k,i − H_k',i) / ‖H_k,i − H_k',i‖₂
//
// taking the subgradient 0 for a pair of equal rows. Norms and sums are
// accumulated in float64. With a single domain the loss and the gradient
// are 0.
//
// DomainInvariant returns ErrEmpty when h is empty or rows or cols is not
// positive, a *LengthError when some len(h[k]) != rows*cols or, for a
// non-nil dst, len(dst) != len(h) or some len(dst[k]) != rows*cols, and a
// *ValueError for a NaN or an infinity in h. On error dst is not written.
// dst must not overlap h.
func DomainInvariant(dst [][]float32, h [][]float32, rows, cols int) (float64, error) {
	if len(h) == 0 || rows <= 0 || cols <= 0 {
		return 0, fmt.Errorf("%w: %d domains, rows = %d, cols = %d", ErrEmpty, len(h), rows, cols)
	}
	n := rows * cols
	if err := checkMats("h", h, len(h), n); err != nil {
		return 0, err
	}
	if dst != nil {
		if err := checkMats("dst", dst, len(h), n); err != nil {
			return 0, err
		}
	}
	for k, x := range h {
		if err := checkFinite32(fmt.Sprintf("h[%d]", k), x); err != nil {
			return 0, err
		}
	}
	for _, g := range dst {
		clear(g)
	}

	var loss float64
	scale := 1 / float64(rows)
	for i := range rows {
		lo, hi := i*cols, (i+1)*cols
		for k := range h {
			a := h[k][lo:hi]
			for k2 := k + 1; k2 < len(h); k2++ {
				b := h[k2][lo:hi]
				var ss float64
				for c, av := range a {
					d := float64(av) - float64(b[c])
					ss += d * d
				}
				if ss == 0 {
					continue // ‖0‖ = 0; subgradient 0.
				}
				norm := math.Sqrt(ss)
				loss += norm
				if dst == nil {
					continue
				}
				ga, gb := dst[k][lo:hi], dst[k2][lo:hi]
				f := scale / norm
				for c, av := range a {
					g := float32((float64(av) - float64(b[c])) * f)
					ga[c] += g
					gb[c] -= g
				}
			}
		}
	}
	return loss * scale, nil
}

// DomainSpecific computes the domain-specific loss of the label-related
// scenario (paper Eq. 9; docs/DESIGN.md §2.6) over one batch of latent rows:
//
//	L_spe = (1/rows) Σ_i Σ_k H(softmax(C(G(z_i, c_k))), k)
//	      = (1/rows) Σ_i Σ_k [log Σ_c exp(a_k,i,c) − a_k,i,k]
//
// where logits[k] holds the domain classifier's logits a_k = C(G(z, c_k))
// for the samples generated with domain code c_k, a rows×K row-major matrix
// (K = len(logits) domains, which are also C's classes), and H is the cross
// entropy against the domain label k. Each log-sum-exp is shifted by its
// row's maximum, so large logits neither overflow nor lose the loss.
//
// When dst is not nil, DomainSpecific overwrites dst[k] with ∂L_spe/∂a_k:
//
//	∂L_spe/∂a_k,i,c = (softmax(a_k,i)_c − [c = k]) / rows
//
// DomainSpecific returns ErrEmpty when K or rows is not positive, a
// *LengthError when len(logits) != K or some len(logits[k]) != rows*K or,
// for a non-nil dst, len(dst) != K or some len(dst[k]) != rows*K, and a
// *ValueError for a NaN or an infinity in logits. On error dst is not
// written. dst may be logits itself (the gradient then replaces the
// logits); other overlap is not allowed.
func DomainSpecific(dst [][]float32, logits [][]float32, rows, K int) (float64, error) {
	if K <= 0 || rows <= 0 {
		return 0, fmt.Errorf("%w: K = %d, rows = %d", ErrEmpty, K, rows)
	}
	n := rows * K
	if err := checkMats("logits", logits, K, n); err != nil {
		return 0, err
	}
	if dst != nil {
		if err := checkMats("dst", dst, K, n); err != nil {
			return 0, err
		}
	}
	for k, x := range logits {
		if err := checkFinite32(fmt.Sprintf("logits[%d]", k), x); err != nil {
			return 0, err
		}
	}

	var loss float64
	scale := 1 / float64(rows)
	for k, a := range logits {
		for i := range rows {
			row := a[i*K : (i+1)*K]
			m := float64(row[0])
			for _, v := range row[1:] {
				m = max(m, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - m)
			}
			loss += m + math.Log(sum) - float64(row[k])
			if dst == nil {
				continue
			}
			g := dst[k][i*K : (i+1)*K]
			for c, v := range row {
				p := math.Exp(float64(v)-m) / sum
				if c == k {
					p--
				}
				g[c] = float32(p * scale)
			}
		}
	}
	return loss * scale, nil
}

// checkMats checks that x holds count slices of length n each.
func checkMats(arg string, x [][]float32, count, n int) error {
	if len(x) != count {
		return &LengthError{Arg: arg, Got: len(x), Want: count}
	}
	for k, v := range x {
		if len(v) != n {
			return &LengthError{Arg: fmt.Sprintf("%s[%d]", arg, k), Got: len(v), Want: n}
		}
	}
	return nil
}
