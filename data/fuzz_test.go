package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime"
	"slices"
	"testing"
)

// encodeIDX writes an IDX file, the inverse of DecodeIDX.
func encodeIDX(idx *IDX) []byte {
	b := []byte{0, 0, byte(idx.Type), byte(len(idx.Dims))}
	for _, d := range idx.Dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, idx.Data...)
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// FuzzIDX feeds arbitrary bytes to the IDX decoder, which reads files a
// user supplies. It must never panic, must allocate in proportion to the
// bytes it is given (not to the dimensions a header claims), and what it
// accepts must re-encode to an equivalent file.
func FuzzIDX(f *testing.F) {
	// Every fixture, good and bad.
	files, _ := os.ReadDir(fixture(""))
	for _, e := range files {
		if b, err := os.ReadFile(fixture(e.Name())); err == nil {
			f.Add(b)
		}
	}
	// A header claiming a 1 GiB payload (the default limit) with 3 bytes of it.
	f.Add([]byte{0, 0, 8, 1, 0x40, 0, 0, 0, 1, 2, 3})
	// The same, gzip-compressed.
	f.Add(gzipBytes([]byte{0, 0, 8, 1, 0x40, 0, 0, 0, 1, 2, 3}))
	// 255 dimensions of 1 and one float64.
	big := []byte{0, 0, 0x0E, 255}
	for range 255 {
		big = append(big, 0, 0, 0, 1)
	}
	f.Add(append(big, 1, 2, 3, 4, 5, 6, 7, 8))
	// A zero dimension next to huge ones: an empty payload.
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})

	f.Fuzz(func(t *testing.T, b []byte) {
		// The decompressed size bounds what the decoder may hold.
		size := int64(len(b))
		if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
			if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
				n, _ := io.Copy(io.Discard, io.LimitReader(zr, 64<<20))
				size = max(size, n)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		idx, err := DecodeIDX(bytes.NewReader(b), 0)
		runtime.ReadMemStats(&after)
		if alloc := int64(after.TotalAlloc - before.TotalAlloc); alloc > 1<<20+4*size {
			t.Fatalf("decoding %d bytes (%d decompressed) allocated %d bytes", len(b), size, alloc)
		}
		if err != nil {
			if idx != nil {
				t.Fatalf("got a result and the error %v", err)
			}
			for _, s := range []error{ErrIDXMagic, ErrIDXShort, ErrIDXTrailing, ErrIDXTooLarge} {
				if errors.Is(err, s) {
					return
				}
			}
			// Otherwise a gzip stream error; it must say so.
			if !bytes.Contains([]byte(err.Error()), []byte("gzip")) && !bytes.Contains([]byte(err.Error()), []byte("flate")) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if want := idx.Elems() * idx.Type.Size(); len(idx.Data) != want {
			t.Fatalf("dims %v of %v: got %d payload bytes, want %d", idx.Dims, idx.Type, len(idx.Data), want)
		}
		again, err := DecodeIDX(bytes.NewReader(encodeIDX(idx)), 0)
		if err != nil {
			t.Fatalf("re-decoding an accepted file: %v", err)
		}
		if again.Type != idx.Type || !slices.Equal(again.Dims, idx.Dims) || !bytes.Equal(again.Data, idx.Data) {
			t.Fatal("round trip changed the file")
		}
	})
}
