package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"
)

// Tensor dtypes: DTypeF32 is IEEE-754 binary32, little-endian (4 bytes an
// element); DTypeBF16 is bfloat16, the top half of a binary32 rounded to
// nearest even, little-endian (2 bytes an element: the same range, 8
// significant bits; a setting for X_d, X_g and the feedback, config
// training.wire_dtype). Decoders accept both; values are float32 after
// decoding.
const (
	DTypeF32  = "f32"
	DTypeBF16 = "bf16"
)

// MaxRank is the largest tensor rank the codec accepts.
const MaxRank = 8

// Tensor is an n-dimensional float32 array on the wire:
// {shape: [..], dtype: "f32", data: <bin, little-endian>}, row-major.
//
// Build one with NewTensor and read it with Values or Float32s; both check
// that DType is "f32", that the shape is sane (rank ≤ MaxRank, no negative
// dimension) and that Data holds exactly 4·∏Shape bytes of finite values.
// The zero Tensor has rank 0 and no data, so it is invalid (a rank-0 tensor
// holds one element).
type Tensor struct {
	Shape []int  `msgpack:"shape"`
	DType string `msgpack:"dtype"`
	Data  []byte `msgpack:"data"`
}

// NewTensor returns an f32 Tensor of the given shape holding a copy of data;
// shape is copied too, so the caller may reuse both afterwards. On
// little-endian hosts the copy is stored so that Values returns it without
// copying again.
//
// NewTensor does not reject NaN or ±Inf (the Append functions do). It panics
// if a dimension is negative, the rank exceeds MaxRank or len(data) is not
// the product of shape: those are programmer errors.
func NewTensor(shape []int, data []float32) Tensor {
	sh := ownShape("NewTensor", shape, len(data))
	vals := make([]float32, len(data))
	copy(vals, data)
	return Tensor{Shape: sh, DType: DTypeF32, Data: f32Bytes(vals)}
}

// NewTensorBF16 returns a bf16 Tensor of the given shape holding data
// rounded to bfloat16 (nearest, ties to even). A value too large for
// bfloat16 becomes ±Inf, which the Append functions reject. It panics like
// NewTensor.
func NewTensorBF16(shape []int, data []float32) Tensor {
	sh := ownShape("NewTensorBF16", shape, len(data))
	b := make([]byte, 2*len(data))
	for i, x := range data {
		binary.LittleEndian.PutUint16(b[2*i:], toBF16(x))
	}
	return Tensor{Shape: sh, DType: DTypeBF16, Data: b}
}

// ownShape returns a copy of shape (nil for rank 0), panicking unless it
// holds n values.
func ownShape(fn string, shape []int, n int) []int {
	m, ok := shapeLen(shape)
	if !ok || m != n {
		panic(fmt.Sprintf("wire: %s: shape %v does not hold %d values", fn, shape, n))
	}
	if len(shape) == 0 {
		return nil
	}
	return append(make([]int, 0, len(shape)), shape...)
}

// NewTensorOf is NewTensor for DTypeF32 (or "") and NewTensorBF16 for
// DTypeBF16; it panics on another dtype.
func NewTensorOf(dtype string, shape []int, data []float32) Tensor {
	switch dtype {
	case DTypeF32, "":
		return NewTensor(shape, data)
	case DTypeBF16:
		return NewTensorBF16(shape, data)
	}
	panic(fmt.Sprintf("wire: NewTensorOf: dtype %q", dtype))
}

// toBF16 rounds x to bfloat16, to nearest with ties to even; NaN stays
// NaN.
func toBF16(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7f800000 == 0x7f800000 && u&0x007fffff != 0 {
		return uint16(u>>16) | 0x40 // a quiet NaN
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// fromBF16 widens a bfloat16 to float32 (exactly).
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32s decodes t into dst and returns it: dst[:n] when cap(dst) ≥ n,
// where n = ∏t.Shape, else a new slice. The result never shares memory with
// t.Data. It returns an *Error (dst's contents then unspecified) when t is
// not a valid f32 tensor: wrong dtype (ErrMalformed), bad rank, dimension or
// data length (ErrShape), or a NaN or ±Inf element (ErrNonFinite, naming
// the first one).
func (t Tensor) Float32s(dst []float32) ([]float32, error) {
	n, err := checkLayout("tensor", t.Shape, t.DType, len(t.Data))
	if err != nil {
		return nil, err
	}
	if cap(dst) >= n {
		dst = dst[:n]
	} else {
		dst = make([]float32, n)
	}
	if t.DType == DTypeBF16 {
		for i := range dst {
			dst[i] = fromBF16(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	} else {
		decodeF32(dst, t.Data)
	}
	if i := firstNonFinite(dst); i >= 0 {
		return nil, nonFiniteErr("tensor", t.Shape, dst, i)
	}
	return dst, nil
}

// Values returns the elements of t, checked like Float32s, without copying
// when it can: on little-endian hosts, when t.Data is 4-byte aligned (always
// so for tensors from NewTensor and from this package's decoders), the
// result is t.Data itself seen as []float32, so it shares memory with
// t.Data and lives as long as it. Treat it as read-only; use Float32s for a
// private copy. Otherwise Values returns Float32s(nil).
//
// Values still scans for NaN and ±Inf (a fast, memory-bound pass), so a
// Tensor built by hand can never smuggle one past it.
func (t Tensor) Values() ([]float32, error) {
	n, err := checkLayout("tensor", t.Shape, t.DType, len(t.Data))
	if err != nil {
		return nil, err
	}
	if !nativeLittleEndian || n == 0 || t.DType != DTypeF32 || uintptr(unsafe.Pointer(unsafe.SliceData(t.Data)))%4 != 0 {
		return t.Float32s(nil)
	}
	v := unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(t.Data))), n)
	if i := firstNonFinite(v); i >= 0 {
		return nil, nonFiniteErr("tensor", t.Shape, v, i)
	}
	return v, nil
}

// shapeLen returns ∏shape, and false if the rank exceeds MaxRank, a
// dimension is negative or the byte length 4·∏shape overflows an int.
func shapeLen(shape []int) (int, bool) {
	if len(shape) > MaxRank {
		return 0, false
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > math.MaxInt/4/d {
			return 0, false
		}
		n *= d
	}
	return n, true
}

// checkLayout checks a tensor's dtype, shape and data length and returns
// its number of elements.
func checkLayout(field string, shape []int, dtype string, nbytes int) (int, error) {
	size := 4
	switch dtype {
	case DTypeF32:
	case DTypeBF16:
		size = 2
	default:
		return 0, errorf(CodeMalformed, field, "dtype %q, want %q or %q", dtype, DTypeF32, DTypeBF16)
	}
	if len(shape) > MaxRank {
		return 0, errorf(CodeShape, field, "rank %d exceeds %d", len(shape), MaxRank)
	}
	n, ok := shapeLen(shape)
	if !ok {
		return 0, errorf(CodeShape, field, "invalid shape %v", shape)
	}
	if nbytes != size*n {
		unit := ""
		if dtype != DTypeF32 {
			unit = dtype + " "
		}
		return 0, errorf(CodeShape, field, "shape %v needs %d bytes of %sdata, got %d", shape, size*n, unit, nbytes)
	}
	return n, nil
}

// f32Bytes returns the wire bytes of v. On little-endian hosts they are v's
// own memory; elsewhere a converted copy.
func f32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return []byte{}
	}
	if nativeLittleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decodeF32 fills dst with the little-endian float32s in src.
// len(src) must be 4·len(dst).
func decodeF32(dst []float32, src []byte) {
	if len(dst) == 0 {
		return
	}
	if nativeLittleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(dst))), 4*len(dst)), src)
		return
	}
	src = src[:4*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// firstNonFinite returns the index of the first NaN or ±Inf in v, or -1.
//
// A float32 is NaN or ±Inf exactly when its 8 exponent bits are all ones.
// With e = bits & 0x7f800000 ≤ 0x7f800000, e + 0x00800000 carries into bit
// 31 exactly in that case and never beyond it, so two float32s packed into
// one uint64 are tested with one AND, one ADD and one OR, and a block of 16
// with a single branch.
func firstNonFinite(v []float32) int {
	const (
		exp  = 0x7f800000
		exp2 = exp<<32 | exp
		one2 = 0x00800000<<32 | 0x00800000
		top2 = 0x80000000<<32 | 0x80000000
	)
	i := 0
	if len(v) >= 16 && uintptr(unsafe.Pointer(unsafe.SliceData(v)))%8 == 0 {
		w := unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(v))), len(v)/2)
		for ; len(w) >= 8; w = w[8:] {
			acc := (w[0]&exp2 + one2) | (w[1]&exp2 + one2) | (w[2]&exp2 + one2) | (w[3]&exp2 + one2) |
				(w[4]&exp2 + one2) | (w[5]&exp2 + one2) | (w[6]&exp2 + one2) | (w[7]&exp2 + one2)
			if acc&top2 != 0 {
				break
			}
			i += 16
		}
	}
	for ; i < len(v); i++ {
		if math.Float32bits(v[i])&exp == exp {
			return i
		}
	}
	return -1
}

// nonFiniteErr describes element i of v, a tensor of the given shape.
func nonFiniteErr(field string, shape []int, v []float32, i int) *Error {
	what := "NaN"
	switch x := float64(v[i]); {
	case math.IsInf(x, 1):
		what = "+Inf"
	case math.IsInf(x, -1):
		what = "-Inf"
	}
	idx := make([]int, len(shape))
	r := i
	for k := len(shape) - 1; k >= 0; k-- {
		idx[k] = r % shape[k]
		r /= shape[k]
	}
	return errorf(CodeNonFinite, field, "element %v is %s", idx, what)
}

// checkFloat returns an ErrNonFinite *Error if x is NaN or ±Inf.
func checkFloat(field string, x float64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return errorf(CodeNonFinite, field, "%v", x)
	}
	return nil
}
