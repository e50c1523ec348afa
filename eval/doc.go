// Package eval is evaluation: an evaluation classifier, IS, FID, coverage,
// pictures; and 2-D Gaussian-mixture metrics (DESIGN.md §7).
//
// Image scores come from one evaluation classifier per scenario, trained
// on the real training data of its datasets; they are on this project's
// own scale, for comparing runs with each other, not with the paper's
// absolute figures.
//
// Gaussian-mixture scores ([ScoreMixture]) follow the VEEGAN/PacGAN
// protocol for the 2-D ring and grid benchmarks and work in any
// dimension: high-quality samples, modes covered, and the reverse KL
// divergence of the generated mode histogram from the mixture's weights.
package eval
