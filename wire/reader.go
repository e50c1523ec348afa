package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// maxDepth bounds the nesting of values the reader skips (unknown fields).
// Our own messages nest three deep.
const maxDepth = 16

// reader is a bounded MessagePack reader over one payload.
//
// Why not msgpack.Unmarshal: in msgpack/v5 v5.4.1 decodeSliceValue sizes a
// slice from the length prefix before reading any element (its alloc-limit
// test, "flags&disableAllocLimitFlag != 1", is always true), so a 14-byte
// GeneratorUpdate claiming 2^24 params allocates 2 GiB; Decoder.Skip recurses
// without a depth limit. This reader checks every length prefix against the
// bytes left before allocating anything, limits nesting, returns sub-slices
// of the payload for bin data (the caller copies exactly once), and never
// panics: every failure is an error wrapping ErrMalformed that gives the
// byte offset.
type reader struct {
	p   []byte
	off int
}

func (r *reader) left() int { return len(r.p) - r.off }

// errf returns an ErrMalformed error at the current offset.
func (r *reader) errf(format string, args ...any) error {
	return r.errAt(r.off, format, args...)
}

// errAt returns an ErrMalformed error at byte offset pos, the start of the
// offending value.
func (r *reader) errAt(pos int, format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: "+format, append([]any{ErrMalformed, pos}, args...)...)
}

func (r *reader) code() (byte, error) {
	if r.off >= len(r.p) {
		return 0, r.errf("unexpected end of payload")
	}
	c := r.p[r.off]
	r.off++
	return c, nil
}

// next returns the next n bytes, a sub-slice of the payload.
func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, r.errf("need %d bytes, %d left", n, r.left())
	}
	b := r.p[r.off : r.off+n : r.off+n]
	r.off += n
	return b, nil
}

// uintN reads a big-endian unsigned integer of size 1, 2, 4 or 8 bytes.
func (r *reader) uintN(size int) (uint64, error) {
	b, err := r.next(size)
	if err != nil {
		return 0, err
	}
	switch size {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	}
	return binary.BigEndian.Uint64(b), nil
}

// length reads a 1-, 2- or 4-byte length prefix and checks that at least
// n·minSize bytes follow, so that no caller allocates for data that is not
// there.
func (r *reader) length(size, minSize int, what string) (int, error) {
	start := r.off - 1 // the type code
	u, err := r.uintN(size)
	if err != nil {
		return 0, err
	}
	if u > uint64(r.left()/minSize) {
		return 0, r.errAt(start, "%s of length %d, only %d bytes left", what, u, r.left())
	}
	return int(u), nil
}

// isNil consumes a nil if one is next.
func (r *reader) isNil() bool {
	if r.off < len(r.p) && r.p[r.off] == msgpcode.Nil {
		r.off++
		return true
	}
	return false
}

// mapLen reads a map header; nil reads as an empty map.
func (r *reader) mapLen() (int, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c == msgpcode.Nil:
		return 0, nil
	case msgpcode.IsFixedMap(c):
		n := int(c & msgpcode.FixedMapMask)
		if n > r.left()/2 {
			return 0, r.errAt(r.off-1, "map of length %d, only %d bytes left", n, r.left())
		}
		return n, nil
	case c == msgpcode.Map16:
		return r.length(2, 2, "map")
	case c == msgpcode.Map32:
		return r.length(4, 2, "map")
	}
	r.off--
	return 0, r.errf("%s, want a map", codeName(c))
}

// arrayLen reads an array header; nil reads as an empty array.
func (r *reader) arrayLen() (int, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	switch {
	case c == msgpcode.Nil:
		return 0, nil
	case msgpcode.IsFixedArray(c):
		n := int(c & msgpcode.FixedArrayMask)
		if n > r.left() {
			return 0, r.errAt(r.off-1, "array of length %d, only %d bytes left", n, r.left())
		}
		return n, nil
	case c == msgpcode.Array16:
		return r.length(2, 1, "array")
	case c == msgpcode.Array32:
		return r.length(4, 1, "array")
	}
	r.off--
	return 0, r.errf("%s, want an array", codeName(c))
}

// strBytes reads a string and returns its bytes, a sub-slice of the
// payload; nil reads as "".
func (r *reader) strBytes() ([]byte, error) {
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c == msgpcode.Nil:
		return nil, nil
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case c == msgpcode.Str8:
		n, err = r.length(1, 1, "string")
	case c == msgpcode.Str16:
		n, err = r.length(2, 1, "string")
	case c == msgpcode.Str32:
		n, err = r.length(4, 1, "string")
	default:
		r.off--
		return nil, r.errf("%s, want a string", codeName(c))
	}
	if err != nil {
		return nil, err
	}
	return r.next(n)
}

func (r *reader) str() (string, error) {
	b, err := r.strBytes()
	return string(b), err
}

// bin reads binary data and returns it as a sub-slice of the payload; nil
// reads as empty.
func (r *reader) bin() ([]byte, error) {
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch c {
	case msgpcode.Nil:
		return nil, nil
	case msgpcode.Bin8:
		n, err = r.length(1, 1, "bin")
	case msgpcode.Bin16:
		n, err = r.length(2, 1, "bin")
	case msgpcode.Bin32:
		n, err = r.length(4, 1, "bin")
	default:
		r.off--
		return nil, r.errf("%s, want bin", codeName(c))
	}
	if err != nil {
		return nil, err
	}
	return r.next(n)
}

// int64 reads any MessagePack integer that fits an int64.
func (r *reader) int64() (int64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	if msgpcode.IsFixedNum(c) {
		return int64(int8(c)), nil
	}
	switch c {
	case msgpcode.Uint8, msgpcode.Uint16, msgpcode.Uint32, msgpcode.Uint64:
		u, err := r.uintN(1 << (c - msgpcode.Uint8))
		if err != nil {
			return 0, err
		}
		if u > math.MaxInt64 {
			return 0, r.errAt(r.off-9, "integer %d overflows int64", u)
		}
		return int64(u), nil
	case msgpcode.Int8, msgpcode.Int16, msgpcode.Int32, msgpcode.Int64:
		size := 1 << (c - msgpcode.Int8)
		u, err := r.uintN(size)
		if err != nil {
			return 0, err
		}
		shift := 64 - 8*size
		return int64(u<<shift) >> shift, nil // sign-extend
	}
	r.off--
	return 0, r.errf("%s, want an integer", codeName(c))
}

// int reads an integer that fits an int on this host (32 bits on arm).
func (r *reader) int() (int, error) {
	start := r.off
	v, err := r.int64()
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt || v < math.MinInt {
		return 0, r.errAt(start, "integer %d overflows int", v)
	}
	return int(v), nil
}

// float64 reads a float32, a float64 or an integer.
func (r *reader) float64() (float64, error) {
	if r.off >= len(r.p) {
		return 0, r.errf("unexpected end of payload")
	}
	switch c := r.p[r.off]; {
	case c == msgpcode.Float:
		r.off++
		u, err := r.uintN(4)
		return float64(math.Float32frombits(uint32(u))), err
	case c == msgpcode.Double:
		r.off++
		u, err := r.uintN(8)
		return math.Float64frombits(u), err
	case msgpcode.IsFixedNum(c), c >= msgpcode.Uint8 && c <= msgpcode.Int64:
		v, err := r.int64()
		return float64(v), err
	default:
		return 0, r.errf("%s, want a float", codeName(c))
	}
}

func (r *reader) bool() (bool, error) {
	c, err := r.code()
	if err != nil {
		return false, err
	}
	switch c {
	case msgpcode.True:
		return true, nil
	case msgpcode.False, msgpcode.Nil:
		return false, nil
	}
	r.off--
	return false, r.errf("%s, want a bool", codeName(c))
}

// skip skips one value of any type, nested at most maxDepth deep.
func (r *reader) skip(depth int) error {
	if depth > maxDepth {
		return r.errf("nested deeper than %d", maxDepth)
	}
	c, err := r.code()
	if err != nil {
		return err
	}
	var n, elems int // bytes to skip, then values to skip
	switch {
	case msgpcode.IsFixedNum(c), c == msgpcode.Nil, c == msgpcode.True, c == msgpcode.False:
	case msgpcode.IsFixedString(c):
		n = int(c & msgpcode.FixedStrMask)
	case msgpcode.IsFixedArray(c):
		elems = int(c & msgpcode.FixedArrayMask)
	case msgpcode.IsFixedMap(c):
		elems = 2 * int(c&msgpcode.FixedMapMask)
	default:
		switch c {
		case msgpcode.Uint8, msgpcode.Int8:
			n = 1
		case msgpcode.Uint16, msgpcode.Int16, msgpcode.FixExt1:
			n = 2
		case msgpcode.FixExt2:
			n = 3
		case msgpcode.Uint32, msgpcode.Int32, msgpcode.Float:
			n = 4
		case msgpcode.FixExt4:
			n = 5
		case msgpcode.Uint64, msgpcode.Int64, msgpcode.Double:
			n = 8
		case msgpcode.FixExt8:
			n = 9
		case msgpcode.FixExt16:
			n = 17
		case msgpcode.Str8, msgpcode.Bin8:
			n, err = r.length(1, 1, "string")
		case msgpcode.Str16, msgpcode.Bin16:
			n, err = r.length(2, 1, "string")
		case msgpcode.Str32, msgpcode.Bin32:
			n, err = r.length(4, 1, "string")
		case msgpcode.Ext8:
			n, err = r.length(1, 1, "ext")
			n++ // type byte
		case msgpcode.Ext16:
			n, err = r.length(2, 1, "ext")
			n++
		case msgpcode.Ext32:
			n, err = r.length(4, 1, "ext")
			n++
		case msgpcode.Array16:
			elems, err = r.length(2, 1, "array")
		case msgpcode.Array32:
			elems, err = r.length(4, 1, "array")
		case msgpcode.Map16:
			elems, err = r.length(2, 2, "map")
			elems *= 2
		case msgpcode.Map32:
			elems, err = r.length(4, 2, "map")
			elems *= 2
		default:
			r.off--
			return r.errf("invalid code 0x%02x", c)
		}
	}
	if err != nil {
		return err
	}
	if _, err := r.next(n); err != nil {
		return err
	}
	for range elems {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}

// codeName describes a MessagePack type code for error messages.
func codeName(c byte) string {
	switch {
	case msgpcode.IsFixedNum(c) || c >= msgpcode.Uint8 && c <= msgpcode.Int64:
		return "integer"
	case msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32:
		return "map"
	case msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32:
		return "array"
	case msgpcode.IsString(c):
		return "string"
	case msgpcode.IsBin(c):
		return "bin"
	case c == msgpcode.Nil:
		return "nil"
	case c == msgpcode.True || c == msgpcode.False:
		return "bool"
	case c == msgpcode.Float || c == msgpcode.Double:
		return "float"
	case c >= msgpcode.FixExt1 && c <= msgpcode.FixExt16 || c >= msgpcode.Ext8 && c <= msgpcode.Ext32:
		return "ext"
	}
	return fmt.Sprintf("invalid code 0x%02x", c)
}
