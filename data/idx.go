package data

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// IDXType is the element type code in byte 2 of an IDX magic number.
type IDXType byte

// The element types of the IDX format (LeCun et al., "THE MNIST DATABASE").
const (
	IDXUint8   IDXType = 0x08
	IDXInt8    IDXType = 0x09
	IDXInt16   IDXType = 0x0B
	IDXInt32   IDXType = 0x0C
	IDXFloat32 IDXType = 0x0D
	IDXFloat64 IDXType = 0x0E
)

// Size returns the size of one element in bytes, or 0 for an unknown type.
func (t IDXType) Size() int {
	switch t {
	case IDXUint8, IDXInt8:
		return 1
	case IDXInt16:
		return 2
	case IDXInt32, IDXFloat32:
		return 4
	case IDXFloat64:
		return 8
	}
	return 0
}

func (t IDXType) String() string {
	switch t {
	case IDXUint8:
		return "uint8"
	case IDXInt8:
		return "int8"
	case IDXInt16:
		return "int16"
	case IDXInt32:
		return "int32"
	case IDXFloat32:
		return "float32"
	case IDXFloat64:
		return "float64"
	}
	return fmt.Sprintf("IDXType(%#02x)", byte(t))
}

// DefaultMaxIDXBytes is the payload limit used where a caller gives none:
// 1 GiB, twenty times the MNIST training images.
const DefaultMaxIDXBytes = 1 << 30

// idxChunk is the first allocation when decoding a payload; the buffer then
// doubles as data actually arrives, so a header that claims a huge payload
// costs nothing until the bytes are there.
const idxChunk = 64 << 10

// IDXHeader is the decoded header of an IDX file.
type IDXHeader struct {
	Type IDXType
	Dims []int
}

// Elems returns the number of elements the header announces: the product
// of Dims.
func (h IDXHeader) Elems() int {
	n := 1
	for _, d := range h.Dims {
		n *= d
	}
	return n
}

// IDX is a decoded IDX file. Data holds the payload as stored: big-endian
// elements of Type, Elems() of them, row-major over Dims.
type IDX struct {
	IDXHeader
	Data []byte
}

// DecodeIDX decodes an IDX stream, plain or gzip-compressed (detected by
// the gzip magic 1f 8b). It checks the magic number, that the payload the
// dimensions announce is at most maxBytes (DefaultMaxIDXBytes if
// maxBytes <= 0), that the stream holds exactly that payload, and, for
// gzip, the checksum. Errors wrap the ErrIDX sentinels.
//
// Memory grows with the bytes actually read, never with what a header
// claims: decoding a 20-byte file allocates kilobytes whatever its
// dimensions say.
func DecodeIDX(r io.Reader, maxBytes int64) (*IDX, error) {
	x, err := newIDXReader(r, maxBytes)
	if err != nil {
		return nil, err
	}
	defer x.close()
	buf, err := x.readAll()
	if err != nil {
		return nil, err
	}
	if err := x.finish(); err != nil {
		return nil, err
	}
	return &IDX{IDXHeader: x.IDXHeader, Data: buf}, nil
}

// ReadIDX reads and decodes the named IDX file (see DecodeIDX). Errors are
// *FileError values naming path.
func ReadIDX(path string, maxBytes int64) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *fs.PathError already names the file
	}
	defer f.Close()
	idx, err := DecodeIDX(f, maxBytes)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	return idx, nil
}

// idxReader streams the payload of one IDX file.
type idxReader struct {
	IDXHeader
	payload int64 // payload size in bytes
	read    int64 // payload bytes consumed so far
	r       io.Reader
	zr      *gzip.Reader // nil for a plain file
}

func newIDXReader(r io.Reader, maxBytes int64) (*idxReader, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxIDXBytes
	}
	maxBytes = min(maxBytes, math.MaxInt)
	br := bufio.NewReader(r)
	x := &idxReader{r: br}
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("data: gzip header: %w", err)
		}
		x.zr = zr
		x.r = bufio.NewReader(zr)
	}
	var head [4]byte
	if n, err := io.ReadFull(x.r, head[:]); err != nil {
		x.close()
		return nil, fmt.Errorf("%w: file holds %d bytes, shorter than the 4-byte magic number: %w", ErrIDXShort, n, x.cause(err))
	}
	magic := binary.BigEndian.Uint32(head[:])
	x.Type = IDXType(head[2])
	ndims := int(head[3])
	if head[0] != 0 || head[1] != 0 || x.Type.Size() == 0 || ndims == 0 {
		x.close()
		return nil, fmt.Errorf("%w: got %#08x, want 0x0000TTNN with a known type TT and NN ≥ 1 dimensions", ErrIDXMagic, magic)
	}
	dims := make([]byte, 4*ndims)
	if n, err := io.ReadFull(x.r, dims); err != nil {
		x.close()
		return nil, fmt.Errorf("%w: header announces %d dimensions (%d bytes), file holds %d: %w", ErrIDXShort, ndims, 4*ndims, n, x.cause(err))
	}
	x.Dims = make([]int, ndims)
	limit := maxBytes / int64(x.Type.Size()) // elements
	nonzero, zero := int64(1), false
	for i := range x.Dims {
		d := int64(binary.BigEndian.Uint32(dims[4*i:]))
		if d == 0 {
			zero = true
		} else if nonzero > limit/d {
			x.close()
			return nil, fmt.Errorf("%w: dimensions %v of %s exceed the %d-byte limit", ErrIDXTooLarge, headerDims(dims), x.Type, maxBytes)
		} else {
			nonzero *= d
		}
		x.Dims[i] = int(d) // d ≤ limit ≤ MaxInt, or 0
	}
	if !zero {
		x.payload = nonzero * int64(x.Type.Size())
	}
	return x, nil
}

// headerDims decodes raw big-endian dimensions for an error message.
func headerDims(raw []byte) []uint32 {
	d := make([]uint32, len(raw)/4)
	for i := range d {
		d[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	return d
}

// cause maps the end of input to ErrUnexpectedEOF so that messages read
// the same for plain and gzip files; other errors (a bad gzip stream, an
// I/O error) pass through.
func (x *idxReader) cause(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// shortErr reports a payload that stopped after got bytes.
func (x *idxReader) shortErr(got int64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
		return fmt.Errorf("%w: dimensions %v of %s announce %d payload bytes, file holds %d", ErrIDXShort, x.Dims, x.Type, x.payload, got)
	}
	return fmt.Errorf("data: reading IDX payload: %w", err)
}

// readFull reads the next len(dst) payload bytes.
func (x *idxReader) readFull(dst []byte) error {
	n, err := io.ReadFull(x.r, dst)
	x.read += int64(n)
	if err != nil {
		return x.shortErr(x.read, err)
	}
	return nil
}

// skip discards the next n payload bytes.
func (x *idxReader) skip(n int64) error {
	m, err := io.CopyN(io.Discard, x.r, n)
	x.read += m
	if err != nil {
		return x.shortErr(x.read, err)
	}
	return nil
}

// finish consumes the rest of the payload and checks that nothing follows
// it (and, for gzip, the checksum, which is verified at end of stream).
func (x *idxReader) finish() error {
	if x.read < x.payload {
		if err := x.skip(x.payload - x.read); err != nil {
			return err
		}
	}
	var one [1]byte
	n, err := io.ReadFull(x.r, one[:])
	if n > 0 {
		return fmt.Errorf("%w: the %d payload bytes are followed by more data", ErrIDXTrailing, x.payload)
	}
	switch {
	case err == io.EOF:
		return nil
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: the compressed stream ends after the payload but before its end: %w", ErrIDXShort, err)
	}
	return fmt.Errorf("data: reading IDX file: %w", err)
}

func (x *idxReader) close() {
	if x.zr != nil {
		x.zr.Close()
	}
}
