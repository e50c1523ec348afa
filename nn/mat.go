package nn

import (
	"errors"
	"math/rand/v2"
)

// ErrShape is returned (or, for programmer errors, panicked with) when
// dimensions do not match.
var ErrShape = errors.New("nn: dimension mismatch")

// Mat is a dense row-major float32 matrix with stride Cols.
// len(Data) >= Rows*Cols. A Mat returned by a layer is owned by that layer
// and is valid until the layer's next Forward or Backward call.
type Mat struct {
	Rows, Cols int
	Data       []float32
}

// NewMat returns a zeroed r×c matrix. It panics if r or c is negative.
func NewMat(r, c int) Mat {
	if r < 0 || c < 0 {
		panic(ErrShape)
	}
	return Mat{Rows: r, Cols: c, Data: make([]float32, r*c)}
}

// Row returns row i as a slice sharing m's storage.
// It panics if i is out of range.
func (m Mat) Row(i int) []float32 {
	if uint(i) >= uint(m.Rows) {
		panic("nn: row index out of range")
	}
	return m.Data[i*m.Cols : (i+1)*m.Cols : (i+1)*m.Cols]
}

// At returns the element at row i, column j.
// It panics if i or j is out of range.
func (m Mat) At(i, j int) float32 {
	if uint(i) >= uint(m.Rows) || uint(j) >= uint(m.Cols) {
		panic("nn: index out of range")
	}
	return m.Data[i*m.Cols+j]
}

// Set sets the element at row i, column j to v.
// It panics if i or j is out of range.
func (m Mat) Set(i, j int, v float32) {
	if uint(i) >= uint(m.Rows) || uint(j) >= uint(m.Cols) {
		panic("nn: index out of range")
	}
	m.Data[i*m.Cols+j] = v
}

// RowSlice returns the view of rows i..j-1 of m, sharing m's storage.
// It panics if the range is invalid.
func (m Mat) RowSlice(i, j int) Mat {
	if i < 0 || j < i || j > m.Rows {
		panic("nn: row range out of bounds")
	}
	return Mat{Rows: j - i, Cols: m.Cols, Data: m.Data[i*m.Cols : j*m.Cols : j*m.Cols]}
}

// ConcatCols writes [a | b] row by row into dst (a.Rows == b.Rows) and
// returns it. dst's storage is reused when it has capacity for
// a.Rows×(a.Cols+b.Cols) elements and is allocated otherwise; dst's Rows
// and Cols on entry are ignored. It panics with ErrShape if a.Rows != b.Rows.
// dst must not overlap a or b.
func ConcatCols(dst Mat, a, b Mat) Mat {
	if a.Rows != b.Rows {
		panic(ErrShape)
	}
	cols := a.Cols + b.Cols
	dst.Rows, dst.Cols = a.Rows, cols
	dst.Data = grow(dst.Data, a.Rows*cols)
	for i := 0; i < a.Rows; i++ {
		row := dst.Data[i*cols : (i+1)*cols]
		copy(row[:a.Cols], a.Data[i*a.Cols:(i+1)*a.Cols])
		copy(row[a.Cols:], b.Data[i*b.Cols:(i+1)*b.Cols])
	}
	return dst
}

// FillNormal fills dst with N(0,1) draws from rng, one rng.NormFloat64
// per element in order.
func FillNormal(dst []float32, rng *rand.Rand) {
	for i := range dst {
		dst[i] = float32(rng.NormFloat64())
	}
}

// grow returns buf resliced to n elements, allocating a new slice when
// buf's capacity is too small. The contents are unspecified.
func grow(buf []float32, n int) []float32 {
	if cap(buf) < n {
		return make([]float32, n)
	}
	return buf[:n]
}

// checkMat panics with ErrShape if m's storage is too short.
func checkMat(m Mat) {
	if m.Rows < 0 || m.Cols < 0 || len(m.Data) < m.Rows*m.Cols {
		panic(ErrShape)
	}
}
