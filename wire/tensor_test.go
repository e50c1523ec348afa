package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/quick"
)

// le returns the little-endian bytes of v, written out by hand.
func le(v ...uint32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, u := range v {
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

func TestFloat32s(t *testing.T) {
	tests := []struct {
		name string
		t    Tensor
		want []float32
		err  string
	}{
		{"2x2", Tensor{Shape: []int{2, 2}, DType: "f32", Data: le(0x3f800000, 0xc0000000, 0x00000000, 0x3e800000)},
			[]float32{1, -2, 0, 0.25}, ""},
		{"scalar", Tensor{DType: "f32", Data: le(0x40490fdb)}, []float32{math.Pi}, ""},
		{"empty", Tensor{Shape: []int{0, 5}, DType: "f32", Data: []byte{}}, []float32{}, ""},
		{"subnormal and -0", Tensor{Shape: []int{2}, DType: "f32", Data: le(0x00000001, 0x80000000)},
			[]float32{math.SmallestNonzeroFloat32, float32(math.Copysign(0, -1))}, ""},
		{"max finite", Tensor{Shape: []int{2}, DType: "f32", Data: le(0x7f7fffff, 0xff7fffff)},
			[]float32{math.MaxFloat32, -math.MaxFloat32}, ""},
		{"NaN", Tensor{Shape: []int{3}, DType: "f32", Data: le(0, 0x7fc00000, 0)}, nil,
			"wire: tensor: non-finite value: element [1] is NaN"},
		{"signalling NaN", Tensor{Shape: []int{1, 1}, DType: "f32", Data: le(0xff800001)}, nil,
			"wire: tensor: non-finite value: element [0 0] is NaN"},
		{"+Inf", Tensor{Shape: []int{2, 1}, DType: "f32", Data: le(0, 0x7f800000)}, nil,
			"wire: tensor: non-finite value: element [1 0] is +Inf"},
		{"-Inf", Tensor{Shape: []int{1}, DType: "f32", Data: le(0xff800000)}, nil,
			"wire: tensor: non-finite value: element [0] is -Inf"},
		{"dtype", Tensor{Shape: []int{1}, DType: "f16", Data: le(0)}, nil,
			`wire: tensor: malformed message: dtype "f16", want "f32" or "bf16"`},
		{"zero tensor", Tensor{}, nil, `wire: tensor: malformed message: dtype "", want "f32" or "bf16"`},
		{"short", Tensor{Shape: []int{2, 2}, DType: "f32", Data: le(0, 0, 0)}, nil,
			"wire: tensor: shape mismatch: shape [2 2] needs 16 bytes of data, got 12"},
		{"odd bytes", Tensor{Shape: []int{1}, DType: "f32", Data: []byte{0, 0, 0, 0, 0}}, nil,
			"wire: tensor: shape mismatch: shape [1] needs 4 bytes of data, got 5"},
		{"negative", Tensor{Shape: []int{-1, -4}, DType: "f32", Data: le(0, 0, 0, 0)}, nil,
			"wire: tensor: shape mismatch: invalid shape [-1 -4]"},
		{"overflow", Tensor{Shape: []int{math.MaxInt / 2, 3}, DType: "f32"}, nil,
			fmt.Sprintf("wire: tensor: shape mismatch: invalid shape [%d 3]", math.MaxInt/2)},
		{"rank 9", Tensor{Shape: make([]int, 9), DType: "f32"}, nil,
			"wire: tensor: shape mismatch: rank 9 exceeds 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []struct {
				name string
				fn   func() ([]float32, error)
			}{{"Float32s", func() ([]float32, error) { return tt.t.Float32s(nil) }}, {"Values", tt.t.Values}} {
				got, err := f.fn()
				if tt.err != "" {
					if err == nil || err.Error() != tt.err {
						t.Errorf("%s: got %v, %v; want error %q", f.name, got, err, tt.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: got error %v, want %v", f.name, err, tt.want)
				}
				if !slices.EqualFunc(got, tt.want, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
					t.Errorf("%s: got %v, want %v", f.name, got, tt.want)
				}
			}
		})
	}
}

func TestFloat32sReusesDst(t *testing.T) {
	tn := NewTensor([]int{3}, []float32{1, 2, 3})
	buf := make([]float32, 1, 8)
	got, err := tn.Float32s(buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || &got[0] != &buf[0] {
		t.Errorf("got len %d at %p, want len 3 in dst's array at %p", len(got), &got[0], &buf[0])
	}
	small := make([]float32, 0, 2)
	got, err = tn.Float32s(small)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []float32{1, 2, 3}) {
		t.Errorf("got %v, want [1 2 3]", got)
	}
	// The result is a copy: writing to it leaves the tensor alone.
	got[0] = 100
	if v, _ := tn.Values(); v[0] != 1 {
		t.Errorf("Float32s result aliases the tensor: Values()[0] is %v after the write, want 1", v[0])
	}
}

func TestNewTensor(t *testing.T) {
	shape := []int{2, 2}
	data := []float32{1, -2, 0, 0.25}
	tn := NewTensor(shape, data)
	shape[0], data[0] = 7, 7 // NewTensor copied both
	if want := le(0x3f800000, 0xc0000000, 0x00000000, 0x3e800000); string(tn.Data) != string(want) {
		t.Errorf("Data: got %x, want %x", tn.Data, want)
	}
	if !slices.Equal(tn.Shape, []int{2, 2}) || tn.DType != "f32" {
		t.Errorf("got shape %v dtype %q, want [2 2] f32", tn.Shape, tn.DType)
	}
	v, err := tn.Values()
	if err != nil || !slices.Equal(v, []float32{1, -2, 0, 0.25}) {
		t.Errorf("Values: got %v, %v; want [1 -2 0 0.25]", v, err)
	}
	for _, bad := range []struct {
		shape []int
		n     int
	}{{[]int{2, 2}, 3}, {[]int{-1}, 0}, {make([]int, 9), 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTensor(%v, %d values): got no panic, want one", bad.shape, bad.n)
				}
			}()
			NewTensor(bad.shape, make([]float32, bad.n))
		}()
	}
}

// TestValuesMisaligned: a tensor whose Data starts off a 4-byte boundary
// (built by hand inside a larger buffer) is copied, not misread.
func TestValuesMisaligned(t *testing.T) {
	buf := append([]byte{0xaa}, le(0x3f800000, 0x40000000)...)
	tn := Tensor{Shape: []int{2}, DType: "f32", Data: buf[1:]}
	got, err := tn.Values()
	if err != nil || !slices.Equal(got, []float32{1, 2}) {
		t.Errorf("got %v, %v; want [1 2]", got, err)
	}
}

// naiveNonFinite is the reference for firstNonFinite.
func naiveNonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}

// TestFirstNonFiniteQuick checks the 64-bit-lane scan against the naive
// one on random bit patterns (a quarter of them with exponent all ones),
// at every offset so that both the unrolled and the tail loop are hit.
func TestFirstNonFiniteQuick(t *testing.T) {
	f := func(bits []uint32, poison []uint16, off uint8) bool {
		v := make([]float32, len(bits))
		for i, b := range bits {
			v[i] = math.Float32frombits(b)
		}
		for _, p := range poison { // make some elements NaN or ±Inf
			if len(v) > 0 {
				i := int(p) % len(v)
				v[i] = math.Float32frombits(math.Float32bits(v[i]) | 0x7f800000)
			}
		}
		o := int(off) % (len(v) + 1)
		return firstNonFinite(v[o:]) == naiveNonFinite(v[o:])
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 2000}); err != nil {
		t.Error(err)
	}
	// Every position of a long finite run, one bad element at a time.
	v := ramp(100, -50, 1)
	for i := range v {
		for _, bad := range []uint32{0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001} {
			old := v[i]
			v[i] = math.Float32frombits(bad)
			if got := firstNonFinite(v); got != i {
				t.Fatalf("bad %08x at %d: got %d, want %d", bad, i, got, i)
			}
			v[i] = old
		}
	}
	if got := firstNonFinite(v); got != -1 {
		t.Errorf("finite ramp: got %d, want -1", got)
	}
}

// TestDecodeF32Portable checks the little-endian fast path against the
// portable encoding/binary path that big-endian hosts use.
func TestDecodeF32Portable(t *testing.T) {
	src := le(0x3f800000, 0xc0490fdb, 0x00000001, 0x7f7fffff, 0x80000000)
	got := make([]float32, 5)
	decodeF32(got, src)
	for i := range got {
		if want := binary.LittleEndian.Uint32(src[4*i:]); math.Float32bits(got[i]) != want {
			t.Errorf("element %d: got %08x, want %08x", i, math.Float32bits(got[i]), want)
		}
	}
	if b := f32Bytes(got); string(b) != string(src) {
		t.Errorf("f32Bytes: got %x, want %x", b, src)
	}
}
