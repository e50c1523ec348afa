// Package eval is evaluation: an evaluation classifier, IS, FID, coverage,
// pictures; and 2-D Gaussian-mixture metrics (docs/DESIGN.md §8.2).
//
// # Image scores
//
// Image scores come from one evaluation classifier per scenario, trained
// on the real training data of its datasets (for MNIST + Fashion-MNIST,
// 120,000 images of 20 classes) by [TrainClassifier]: an MLP on nn
// (784→512→256→20, ReLU, Adam, 12 epochs by default). They are on this
// project's own scale, for comparing runs with each other, not with the
// paper's absolute figures.
//
// [Classifier.Reference] fits the real side once — the Gaussian of the
// classifier's penultimate (256-wide) features of [ReferenceRows] real
// test images, and their class histogram — and [Classifier.Score]
// scores generated rows against it:
//
//   - FID: the Fréchet distance of the two feature Gaussians ([Frechet];
//     matrix square roots from gonum's symmetric eigendecomposition);
//   - IS: exp(E KL(p(y|x) ‖ p(y))) on the same classifier, one split
//     ([InceptionScore]);
//   - class coverage: classes that hold at least a quarter of their real
//     share of the samples, by the most likely class;
//   - class KL: KL(generated ‖ real) of the class histograms ([KL]).
//
// FID is biased upwards for few samples: compare scores of equally many
// samples only (10,000 for the final tables, the cloud's cheaper periodic
// evaluation uses fewer).
//
// # The classifier cache
//
// A classifier is trained once and kept in a [Cache] folder under its key,
// [ClassifierKey]: the SHA-256 of its settings and of every training row
// and label. The key is computed from the data at hand each time, so a
// classifier of other data or settings is never used: [Cache.Load]
// reports it missing (a [*MissingError] listing what the folder holds),
// and the caller trains a new one or reports that. Because the key depends
// on the rows and not on where they were read from, a topology that holds
// MNIST and Fashion-MNIST as two datasets and one that holds them merged
// in one IDX folder share their classifier.
//
// # A topology's generator
//
// [Sample] and [SampleAll] draw rows from a topology's global generator
// (with the LR domain codes and the FR source and class codes of
// fed.Layout filled in as the cloud draws them). [OpenImageEval] gathers
// what scoring an image topology needs — its real data (deploy.Real), its
// cached (or newly trained) classifier and the reference — into an
// [ImageEval], which scores samples ([ImageEval.Score]) and measures the
// train-on-synthetic accuracy of a class-conditional generator
// ([ImageEval.TSTR]). [ReportMap] and [MixtureMap] are the scores as the
// keys of metrics.jsonl. [LoadGenerator] reads a saved generator.
//
// # The label-related scenario
//
// In the LR scenario the communities hold the same labels in different
// domains (MNIST and inverted MNIST) and G(z, c_k) takes a domain code,
// no class. [OpenLREval] opens an [LREval]: a digit classifier (the
// evaluation classifier of [OpenImageEval], trained on every domain's
// real images with their shared labels), a domain classifier (the same
// images labelled with their community's domain, cached beside it) and
// each domain's real test images. [LREval.Score] draws n latents z and
// passes each through G with every domain code, and reports ([LRReport])
// per domain the FID, IS and class coverage of G(z, c_k) against that
// domain's real test images; the cross-domain label agreement (the share
// of z that the digit classifier labels alike in every domain: the
// paper's Fig. 5 property), beside what independent labels would give;
// the share of samples the domain classifier assigns to the domain they
// were drawn for; and the share of z whose samples are all in their
// domains and alike in label (a G that ignores the domain code agrees
// trivially, but not in its domains). With a class code (G(z, c_k, y))
// it also reports each domain's class accuracy, and [LREval.TSTR] the
// train-on-synthetic accuracy per domain; the paper's G(z, c_k) draws no
// class to label a sample with, so it has neither.
//
// # Pictures
//
// [Grid] draws images as one PNG grid; [GridPNG] and [WriteGridFile] draw
// a generator's GridSide × GridSide grid from the fixed inputs of
// [GridLatents]; [LRGridPNG] and [WriteLRGridFile] draw an LR generator's
// Fig. 5 grid, one row per domain and one column per z ([LRGridLatents]);
// [Scatter] draws 2-D samples over a mixture's modes.
//
// # Gaussian mixtures
//
// Gaussian-mixture scores ([ScoreMixture]) follow the VEEGAN/PacGAN
// protocol for the 2-D ring and grid benchmarks and work in any
// dimension: high-quality samples, modes covered, and the reverse KL
// divergence of the generated mode histogram from the mixture's weights.
package eval
