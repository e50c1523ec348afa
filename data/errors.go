package data

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. They are wrapped, with details, in the typed errors
// below; check them with errors.Is.
var (
	// ErrIDXMagic: the first four bytes are not an IDX magic number
	// (0x00 0x00 type ndims) or name an unknown element type.
	ErrIDXMagic = errors.New("data: bad IDX magic number")
	// ErrIDXDims: the dimensions are missing, inconsistent with what the
	// file should hold (e.g. an image file that is not N×rows×cols), or
	// they disagree with the matching label file.
	ErrIDXDims = errors.New("data: bad IDX dimensions")
	// ErrIDXShort: the file ends before the payload its header announces.
	ErrIDXShort = errors.New("data: IDX file is truncated")
	// ErrIDXTrailing: bytes follow the payload its header announces.
	ErrIDXTrailing = errors.New("data: IDX file has trailing bytes")
	// ErrIDXTooLarge: the header announces a payload over the size limit.
	ErrIDXTooLarge = errors.New("data: IDX payload too large")
	// ErrIDXType: the element type is valid IDX but not what the caller
	// needs (images and labels must be unsigned bytes).
	ErrIDXType = errors.New("data: unsupported IDX element type")

	// ErrNotFound: a dataset's files are not where they were looked for.
	ErrNotFound = errors.New("data: dataset not found")

	// ErrCSV: a CSV file is malformed (no header, a non-numeric value, a
	// ragged row, no data).
	ErrCSV = errors.New("data: bad CSV")
	// ErrScaler: a Scaler is inconsistent (lengths, non-finite bounds,
	// min > max) or does not match the data's columns.
	ErrScaler = errors.New("data: bad scaler")

	// ErrMixture: a Mixture is invalid (no modes, ragged means,
	// non-positive std or weight, non-finite values).
	ErrMixture = errors.New("data: bad mixture")

	// ErrPartition: a partitioner cannot satisfy its parameters.
	ErrPartition = errors.New("data: cannot partition")

	// ErrDataset: datasets cannot be combined or a request does not fit
	// the dataset (e.g. a row index out of range read from input).
	ErrDataset = errors.New("data: bad dataset")
)

// FileError records a failure to read or decode one file, like
// io/fs.PathError. Err wraps one of the sentinels above or an I/O error.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }

func (e *FileError) Unwrap() error { return e.Err }

// NotFoundError says that a dataset is missing and how to install it.
// It wraps ErrNotFound and, where there was one, the underlying error
// (for example an fs.ErrNotExist for the first missing file).
type NotFoundError struct {
	Dataset string   // dataset name, e.g. "fashion-mnist"
	Tried   []string // files or directories looked at, in order
	Hint    string   // how to install it, one sentence
	Err     error    // the underlying cause, or nil
}

func (e *NotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "data: dataset %s not found", e.Dataset)
	if len(e.Tried) > 0 {
		fmt.Fprintf(&b, " (looked in %s)", strings.Join(e.Tried, ", "))
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	if e.Hint != "" {
		b.WriteString("; ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

func (e *NotFoundError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotFound}
	}
	return []error{ErrNotFound, e.Err}
}

// CSVError locates a problem in a CSV file. Line and Column are 1-based;
// Column is 0 when the problem concerns a whole line. Err wraps ErrCSV.
type CSVError struct {
	Path   string // "" when read from a reader without a name
	Line   int
	Column int
	Name   string // the column's header name, when known
	Err    error
}

func (e *CSVError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(":")
	}
	fmt.Fprintf(&b, "line %d", e.Line)
	if e.Column > 0 {
		fmt.Fprintf(&b, ", column %d", e.Column)
		if e.Name != "" {
			fmt.Fprintf(&b, " (%q)", e.Name)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *CSVError) Unwrap() error { return e.Err }
