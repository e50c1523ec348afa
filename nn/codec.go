package nn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// ErrFormat is wrapped by every error about malformed serialised input
// (a network from Load or optimizer state from UnmarshalBinary).
var ErrFormat = errors.New("nn: malformed encoding")

// FormatError reports malformed serialised input: what was wrong and at
// which byte offset. It wraps ErrFormat and, for truncated input,
// io.ErrUnexpectedEOF.
type FormatError struct {
	What   string // "network" or the optimizer's name
	Offset int    // byte offset where decoding failed
	Reason string
	Err    error // io.ErrUnexpectedEOF for truncated input, else nil
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("nn: decoding %s at byte %d: %s", e.What, e.Offset, e.Reason)
}

// Unwrap returns ErrFormat and, when set, the underlying cause.
func (e *FormatError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrFormat, e.Err}
	}
	return []error{ErrFormat}
}

// encoder appends little-endian values to a byte slice.
type encoder struct{ b []byte }

func (e *encoder) bytes(p []byte) { e.b = append(e.b, p...) }
func (e *encoder) u8(v uint8)     { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16)   { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) f32(v float32)  { e.u32(math.Float32bits(v)) }
func (e *encoder) str(s string)   { e.u8(uint8(len(s))); e.b = append(e.b, s...) }
func (e *encoder) floats(v []float32) {
	for _, x := range v {
		e.u32(math.Float32bits(x))
	}
}

// finish appends the CRC-32 (IEEE) of everything written so far.
func (e *encoder) finish() []byte {
	e.u32(crc32.ChecksumIEEE(e.b))
	return e.b
}

// decoder reads little-endian values from a byte slice. The first failure
// is sticky: later reads return zero values and err keeps the first error.
type decoder struct {
	what string
	b    []byte
	off  int
	err  error
}

// newDecoder checks the magic, version and trailing CRC of b.
func newDecoder(what string, b []byte, magic string, version uint16) *decoder {
	d := &decoder{what: what, b: b}
	if len(b) < len(magic)+2+4 {
		d.fail(io.ErrUnexpectedEOF, "input is %d bytes, too short for a header", len(b))
		return d
	}
	if string(b[:len(magic)]) != magic {
		d.fail(nil, "bad magic %q, want %q", b[:len(magic)], magic)
		return d
	}
	d.off = len(magic)
	if v := d.u16(); v != version {
		d.off -= 2
		d.fail(nil, "unsupported version %d, want %d", v, version)
		return d
	}
	body := len(b) - 4
	if got, want := crc32.ChecksumIEEE(b[:body]), binary.LittleEndian.Uint32(b[body:]); got != want {
		// Leave the offset at the checksum: the content was damaged or cut short.
		d.off = body
		d.fail(nil, "checksum mismatch (truncated or corrupted input): computed %08x, stored %08x", got, want)
		return d
	}
	d.b = b[:body]
	return d
}

func (d *decoder) fail(cause error, format string, args ...any) {
	if d.err == nil {
		d.err = &FormatError{What: d.what, Offset: d.off, Reason: fmt.Sprintf(format, args...), Err: cause}
	}
}

// take returns the next n bytes, or nil after recording a truncation.
func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail(io.ErrUnexpectedEOF, "need %d bytes, %d left", n, len(d.b)-d.off)
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if p := d.take(2); p != nil {
		return binary.LittleEndian.Uint16(p)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return binary.LittleEndian.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return binary.LittleEndian.Uint64(p)
	}
	return 0
}

func (d *decoder) f32() float32 { return math.Float32frombits(d.u32()) }

func (d *decoder) str() string {
	n := int(d.u8())
	return string(d.take(n))
}

// floats fills dst from the input.
func (d *decoder) floats(dst []float32) {
	p := d.take(4 * len(dst))
	if p == nil {
		return
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
}

// remaining reports how many bytes are left.
func (d *decoder) remaining() int { return len(d.b) - d.off }

// end records an error if input is left over.
func (d *decoder) end() {
	if d.err == nil && d.off != len(d.b) {
		d.fail(nil, "%d unexpected trailing bytes", len(d.b)-d.off)
	}
}

// shape encoding shared by networks and optimizer state: rank (u8) then
// dims (u32 each).
func (e *encoder) shape(s []int) {
	e.u8(uint8(len(s)))
	for _, v := range s {
		e.u32(uint32(v))
	}
}

// shape reads a shape and returns it with its element count, recording an
// error if the shape is implausible or its data cannot fit in the rest of
// the input (so that a corrupt size never causes a huge allocation).
func (d *decoder) shape() ([]int, int) {
	r := int(d.u8())
	if d.err != nil {
		return nil, 0
	}
	if r > 8 {
		d.fail(nil, "tensor rank %d > 8", r)
		return nil, 0
	}
	s := make([]int, r)
	n := 1
	for i := range s {
		v := int(d.u32())
		if d.err != nil {
			return nil, 0
		}
		if v > maxDim {
			d.fail(nil, "dimension %d > %d", v, maxDim)
			return nil, 0
		}
		s[i] = v
		n *= v
		if n > maxParams {
			d.fail(nil, "tensor of more than %d elements", maxParams)
			return nil, 0
		}
	}
	if 4*n > d.remaining() {
		d.fail(io.ErrUnexpectedEOF, "tensor %v needs %d bytes, %d left", s, 4*n, d.remaining())
		return nil, 0
	}
	return s, n
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
