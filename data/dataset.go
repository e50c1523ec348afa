package data

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Dataset is a table of Len() rows of Dim numbers with optional labels.
// Rows are read in model space (see the package documentation); image
// datasets store bytes and convert on read, numeric ones store float32.
//
// A Dataset is immutable after construction and safe for concurrent reads.
type Dataset struct {
	// Name identifies the dataset in logs and errors, e.g. "mnist".
	Name string
	// Dim is the number of values in a row (784 for MNIST).
	Dim int
	// Classes is the number of label values (labels lie in [0, Classes));
	// 0 when the dataset has no labels.
	Classes int
	// Height and Width are an image's shape (Height×Width == Dim); both 0
	// for datasets that are not images.
	Height, Width int

	n      int
	pix    []byte    // n×Dim bytes, images; nil otherwise
	vals   []float32 // n×Dim values, numeric data; nil otherwise
	labels []int32   // n labels, or nil
}

// newImages makes an image dataset that takes ownership of pix and labels.
func newImages(name string, n, height, width int, pix []byte, labels []int32, classes int) *Dataset {
	return &Dataset{Name: name, Dim: height * width, Classes: classes, Height: height, Width: width, n: n, pix: pix, labels: labels}
}

// NewNumeric returns a numeric dataset over rows, a row-major n×dim slice,
// which it takes ownership of. labels may be nil; otherwise it has one
// label per row in [0, classes). It returns an error wrapping ErrDataset
// if the lengths do not match or a label is out of range.
func NewNumeric(name string, dim int, rows []float32, labels []int, classes int) (*Dataset, error) {
	if dim <= 0 || len(rows)%dim != 0 {
		return nil, fmt.Errorf("%w: %s: %d values do not form rows of %d", ErrDataset, name, len(rows), dim)
	}
	d := &Dataset{Name: name, Dim: dim, n: len(rows) / dim, vals: rows}
	if labels != nil {
		if len(labels) != d.n {
			return nil, fmt.Errorf("%w: %s: %d labels for %d rows", ErrDataset, name, len(labels), d.n)
		}
		d.labels = make([]int32, d.n)
		for i, l := range labels {
			if l < 0 || l >= classes {
				return nil, fmt.Errorf("%w: %s: label %d of row %d outside [0, %d)", ErrDataset, name, l, i, classes)
			}
			d.labels[i] = int32(l)
		}
		d.Classes = classes
	}
	return d, nil
}

// Len returns the number of rows.
func (d *Dataset) Len() int { return d.n }

// IsImage reports whether rows are stored as pixel bytes (and Row maps
// them with Pixel).
func (d *Dataset) IsImage() bool { return d.pix != nil }

// Label returns row i's label, or −1 if the dataset has no labels.
// It panics if i is out of range.
func (d *Dataset) Label(i int) int {
	if d.labels == nil {
		if i < 0 || i >= d.n {
			panic(fmt.Sprintf("data: row %d out of range [0, %d)", i, d.n))
		}
		return -1
	}
	return int(d.labels[i])
}

// Labels returns a new slice holding every row's label, or nil if the
// dataset has no labels.
func (d *Dataset) Labels() []int {
	if d.labels == nil {
		return nil
	}
	l := make([]int, len(d.labels))
	for i, v := range d.labels {
		l[i] = int(v)
	}
	return l
}

// Row writes row i, in model space, to dst[:Dim].
// It panics if i is out of range or len(dst) < Dim.
func (d *Dataset) Row(dst []float32, i int) {
	if i < 0 || i >= d.n {
		panic(fmt.Sprintf("data: row %d out of range [0, %d)", i, d.n))
	}
	dst = dst[:d.Dim]
	if d.pix != nil {
		for j, b := range d.pix[i*d.Dim : (i+1)*d.Dim] {
			dst[j] = Pixel(b)
		}
		return
	}
	copy(dst, d.vals[i*d.Dim:(i+1)*d.Dim])
}

// RowBytes writes row i of an image dataset, as stored (0–255), to
// dst[:Dim]. It panics if the dataset is not an image dataset, i is out of
// range or len(dst) < Dim.
func (d *Dataset) RowBytes(dst []byte, i int) {
	if d.pix == nil {
		panic("data: RowBytes on a dataset that does not store bytes")
	}
	copy(dst[:d.Dim], d.pix[i*d.Dim:(i+1)*d.Dim])
}

// Rows writes the rows idx, in model space, to dst row-major with stride
// Dim. It panics if an index is out of range or len(dst) < len(idx)×Dim.
func (d *Dataset) Rows(dst []float32, idx []int) {
	_ = dst[:len(idx)*d.Dim]
	for k, i := range idx {
		d.Row(dst[k*d.Dim:], i)
	}
}

// Sample writes n rows drawn uniformly at random with replacement, in
// model space, to dst row-major with stride Dim. It panics if the dataset
// is empty or len(dst) < n×Dim.
func (d *Dataset) Sample(dst []float32, n int, rng *rand.Rand) {
	if d.n == 0 {
		panic("data: Sample from an empty dataset")
	}
	_ = dst[:n*d.Dim]
	for k := range n {
		d.Row(dst[k*d.Dim:], rng.IntN(d.n))
	}
}

// SampleLabeled is Sample that also writes each drawn row's label to
// labels[:n] (−1 if the dataset has no labels). It panics as Sample does
// or if len(labels) < n.
func (d *Dataset) SampleLabeled(dst []float32, labels []int, n int, rng *rand.Rand) {
	if d.n == 0 {
		panic("data: Sample from an empty dataset")
	}
	_ = dst[:n*d.Dim]
	_ = labels[:n]
	for k := range n {
		i := rng.IntN(d.n)
		d.Row(dst[k*d.Dim:], i)
		labels[k] = d.Label(i)
	}
}

// Subset returns a new dataset holding copies of rows idx, in that order
// (an index may repeat). The copy is exact-sized and shares nothing with d,
// so d can be dropped and its memory reclaimed. It panics if an index is
// out of range.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := *d
	s.n = len(idx)
	s.pix, s.vals, s.labels = nil, nil, nil
	for _, i := range idx {
		if i < 0 || i >= d.n {
			panic(fmt.Sprintf("data: Subset index %d out of range [0, %d)", i, d.n))
		}
	}
	switch {
	case d.pix != nil:
		s.pix = make([]byte, len(idx)*d.Dim)
		for k, i := range idx {
			copy(s.pix[k*d.Dim:(k+1)*d.Dim], d.pix[i*d.Dim:])
		}
	case d.vals != nil:
		s.vals = make([]float32, len(idx)*d.Dim)
		for k, i := range idx {
			copy(s.vals[k*d.Dim:(k+1)*d.Dim], d.vals[i*d.Dim:])
		}
	}
	if d.labels != nil {
		s.labels = make([]int32, len(idx))
		for k, i := range idx {
			s.labels[k] = d.labels[i]
		}
	}
	return &s
}

// MemSize returns the bytes held by the dataset's row and label storage
// (capacities, so it is what the garbage collector keeps alive).
func (d *Dataset) MemSize() int {
	return cap(d.pix) + 4*cap(d.vals) + 4*cap(d.labels)
}

// Merge concatenates datasets with the same Dim and storage (all images or
// all numeric) into one named name. Labels are offset so that classes stay
// distinct: the labels of sets[k] are shifted by the sum of Classes of
// sets[:k] (MNIST then Fashion-MNIST gives 20 classes, Fashion-MNIST's
// labels becoming 10–19). Either every set has labels or none has.
// Image shape is kept when all sets share it.
func Merge(name string, sets ...*Dataset) (*Dataset, error) {
	if len(sets) == 0 {
		return nil, fmt.Errorf("%w: Merge of no datasets", ErrDataset)
	}
	first := sets[0]
	out := &Dataset{Name: name, Dim: first.Dim, Height: first.Height, Width: first.Width}
	n := 0
	for _, s := range sets {
		if s.Dim != first.Dim || (s.pix != nil) != (first.pix != nil) || (s.labels != nil) != (first.labels != nil) {
			return nil, fmt.Errorf("%w: cannot merge %s (dim %d, image %t, labels %t) with %s (dim %d, image %t, labels %t)",
				ErrDataset, s.Name, s.Dim, s.pix != nil, s.labels != nil, first.Name, first.Dim, first.pix != nil, first.labels != nil)
		}
		if s.Height != first.Height || s.Width != first.Width {
			out.Height, out.Width = 0, 0
		}
		n += s.n
	}
	out.n = n
	if first.pix != nil {
		out.pix = make([]byte, 0, n*first.Dim)
	} else {
		out.vals = make([]float32, 0, n*first.Dim)
	}
	if first.labels != nil {
		out.labels = make([]int32, 0, n)
	}
	for _, s := range sets {
		if s.pix != nil {
			out.pix = append(out.pix, s.pix[:s.n*s.Dim]...)
		} else {
			out.vals = append(out.vals, s.vals[:s.n*s.Dim]...)
		}
		for _, l := range s.labels {
			out.labels = append(out.labels, l+int32(out.Classes))
		}
		if s.labels != nil {
			out.Classes += s.Classes
		}
	}
	return out, nil
}

// Pixel maps an image byte to model space: b/127.5 − 1, so 0 ↦ −1 and
// 255 ↦ 1. It is computed as (b − 127.5)/127.5, which is exact in the
// numerator, so Pixel(255−b) == −Pixel(b) bit for bit: inverted MNIST is
// exactly the negation of MNIST.
func Pixel(b byte) float32 { return (float32(b) - 127.5) / 127.5 }

// PixelByte maps a model-space value back to an image byte, the inverse of
// Pixel: round((x+1)×127.5), clamped to [0, 255]; NaN maps to 0.
func PixelByte(x float32) byte {
	v := math.Round((float64(x) + 1) * 127.5)
	switch {
	case v >= 255:
		return 255
	case v > 0:
		return byte(v)
	}
	return 0 // v <= 0 or NaN
}

// PixelBytes applies PixelByte to each element of src, writing dst[:len(src)].
// It panics if len(dst) < len(src).
func PixelBytes(dst []byte, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = PixelByte(x)
	}
}
