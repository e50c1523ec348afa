package wire

import (
	"bytes"
	"encoding/binary"
	"math"
	"reflect"
	"slices"
	"testing"
)

// The decoders' fuzz tests. Each one seeds the corpus with every case of
// the shared table for its decoder (valid, invalid and hostile payloads,
// see cases_test.go) plus a few hand-made payloads, and asserts for every
// input that
//
//   - the decoder returns a message or an *Error with a known code, never
//     panics (the fuzzer reports panics);
//   - a decoded message encodes, decodes again to an equal message, and
//     encodes to the same bytes (decode → encode → decode round trip);
//   - no strict prefix of that encoding decodes: a payload cut anywhere
//     (a truncated publish, a message fed in pieces) is rejected.
//
// Run one with: go test -run '^$' -fuzz '^FuzzDecodeBatch$' -fuzztime 30s ./wire/

// fuzzSpec accepts every valid case of the table: any B up to 16, two
// domains, an optional classifier.
func fuzzSpec() *Spec {
	s := lrSpec()
	s.Batch = 0
	s.MaxRows = 16
	return s
}

// addTableSeeds adds the payload of every table case decoded by kind.
func addTableSeeds(f *testing.F, kind string) {
	n := 0
	for _, c := range wireCases() {
		if c.decoderKind() == kind && c.topic.Kind == kind {
			f.Add(c.payload(f))
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no table cases for %s", kind)
	}
}

// fuzzDecode is the property every decoder's fuzz test checks.
func fuzzDecode(t *testing.T, kind string, topic Topic, p []byte) {
	fuzzDecodeSpec(t, kind, topic, p, fuzzSpec())
}

// fuzzDecodeSpec is fuzzDecode under the Spec s.
func fuzzDecodeSpec(t *testing.T, kind string, topic Topic, p []byte, s *Spec) {
	m, err := decodeAny(kind, p, s, topic)
	if err != nil {
		checkWireError(t, err)
		return
	}
	q, err := appendAny(nil, m)
	if err != nil {
		t.Fatalf("decoded %+v but cannot encode it: %v", m, err)
	}
	m2, err := decodeAny(kind, q, s, topic)
	if err != nil {
		t.Fatalf("cannot decode the re-encoding of %+v: %v\n%x", m, err, q)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed the message:\nfirst  %+v\nsecond %+v", m, m2)
	}
	q2, err := appendAny(nil, m2)
	if err != nil || !bytes.Equal(q, q2) {
		t.Fatalf("encoding is not stable: %v\n%x\n%x", err, q, q2)
	}
	for _, n := range cutPoints(len(q)) {
		if m3, err := decodeAny(kind, q[:n], s, topic); err == nil {
			t.Fatalf("prefix of %d of %d bytes decoded to %+v, want an error", n, len(q), m3)
		}
	}
}

// cutPoints returns the lengths of the prefixes to try: all of them for a
// short payload, else the first and last 64 and about 64 in between.
func cutPoints(n int) []int {
	if n <= 256 {
		ps := make([]int, n)
		for i := range ps {
			ps[i] = i
		}
		return ps
	}
	var ps []int
	for i := range 64 {
		ps = append(ps, i, n-1-i)
	}
	for i := 64; i < n-64; i += n / 64 {
		ps = append(ps, i)
	}
	return ps
}

func FuzzDecodeBatch(f *testing.F) {
	addTableSeeds(f, KindBatch)
	f.Add([]byte{0x80})                                                      // empty map: no version
	f.Add([]byte{0x81, 0xa1, 'v', 0x01})                                     // {v: 1} and nothing else
	f.Add(bytes.Repeat([]byte{0x91}, 1000))                                  // 1000 nested arrays
	f.Add([]byte(mapOf("v", 1, "fake", mapOf("data", []byte{1, 2, 3}))))     // bin not a multiple of 4
	f.Add([]byte(mapOf("v", int8(1), "round", int16(3), "iter", uint32(5)))) // other integer widths
	f.Add([]byte(mapOf("v", 1.0)))                                           // a float for an int
	bb := batchMsg()
	bb.Fake, bb.Gen = NewTensorBF16([]int{4, 3}, make([]float32, 12)), NewTensorBF16([]int{4, 3}, make([]float32, 12))
	if p, err := AppendBatch(nil, bb); err == nil {
		f.Add(p) // bf16 tensors
	}
	f.Fuzz(func(t *testing.T, p []byte) { fuzzDecode(t, KindBatch, batchTopic, p) })
}

func FuzzDecodeFeedback(f *testing.F) {
	addTableSeeds(f, KindFeedback)
	f.Add([]byte(mapOf("v", 1, "loss", float32(-0.5))))  // a float32 for a float64
	f.Add([]byte(mapOf("v", 1, "loss", 3)))              // an integer for a float
	f.Add([]byte(mapOf("v", 1, "timings", []int{1, 2}))) // timings as an array
	f.Add([]byte(mapOf("v", 1, "grad", nil)))            // nil tensor
	fb := feedbackMsg()
	fb.Grad = NewTensorBF16([]int{4, 3}, make([]float32, 12))
	if p, err := AppendFeedback(nil, fb); err == nil {
		f.Add(p) // a bf16 gradient
	}
	f.Fuzz(func(t *testing.T, p []byte) { fuzzDecode(t, KindFeedback, feedbackTopic, p) })
}

func FuzzDecodeGeneratorUpdate(f *testing.F) {
	addTableSeeds(f, KindGenerator)
	f.Add([]byte(mapOf("v", 1, "params", []any{})))                     // no parameters
	f.Add([]byte(mapOf("v", 1, "params", []any{nil, nil, nil, nil})))   // four nil tensors
	f.Add([]byte(mapOf("v", 1, "params", mapOf("shape", []int{2, 5})))) // a map for the array
	f.Fuzz(func(t *testing.T, p []byte) { fuzzDecode(t, KindGenerator, generatorTopic, p) })
}

func FuzzDecodeGlobalModel(f *testing.F) {
	addTableSeeds(f, KindModel)
	f.Add([]byte(mapOf("v", 1, "weights", mapOf("c1", 0.5, "c1", 0.5))))      // duplicate weight
	f.Add([]byte(mapOf("v", 1, "weights", mapOf(string([]byte{0xff}), 0.5)))) // non-UTF-8 community
	f.Add([]byte(mapOf("v", 1, "final", 1)))                                  // an integer for a bool
	f.Fuzz(func(t *testing.T, p []byte) { fuzzDecode(t, KindModel, modelTopic, p) })
}

func FuzzDecodePresence(f *testing.F) {
	addTableSeeds(f, KindPresence)
	f.Add([]byte(`{"v":1,"state":"online","device":"d1","community":"c1","x":[1,{}]}`)) // unknown field
	f.Add([]byte(`{"V":1,"STATE":"offline","Device":"d1","community":"c1"}`))           // keys in other cases
	f.Add([]byte(`{"v":1,"state":"online","device":"d1","community":"c1"} {}`))         // two values
	f.Add([]byte(`{"v":1e0}`))                                                          // a float version
	f.Fuzz(func(t *testing.T, p []byte) { fuzzDecode(t, KindPresence, presenceTopic, p) })
}

// refFloat32s is the reference for Tensor.Float32s: element by element
// with encoding/binary and math.IsNaN/IsInf.
func refFloat32s(shape []int, dtype string, data []byte) ([]float32, Code) {
	if dtype != DTypeF32 {
		return nil, CodeMalformed
	}
	if len(shape) > MaxRank {
		return nil, CodeShape
	}
	n := 1.0
	for _, d := range shape {
		if d < 0 {
			return nil, CodeShape
		}
		n *= float64(d)
	}
	if n*4 != float64(len(data)) {
		return nil, CodeShape
	}
	v := make([]float32, len(data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		if f := float64(v[i]); math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, CodeNonFinite
		}
	}
	return v, 0
}

// FuzzFloat32s checks Float32s and Values against the reference, on data
// at every alignment, and NewTensor(shape, values) → the same bytes.
func FuzzFloat32s(f *testing.F) {
	// dims are bytes minus one: {3, 4} is a 2×3 tensor.
	f.Add([]byte{3, 4}, "f32", le(0x3f800000, 0, 0xbf800000, 0x3e800000, 0x40000000, 0), uint8(0))  // 2×3, aligned
	f.Add([]byte{3}, "f32", le(0, 0x7fc00000), uint8(1))                                            // [2] with a NaN, misaligned by 1
	f.Add([]byte{}, "f32", le(0xff800000), uint8(2))                                                // a scalar -Inf
	f.Add([]byte{0}, "f32", le(0), uint8(0))                                                        // a negative dimension
	f.Add([]byte{2, 2, 2, 2, 2, 2, 2, 2, 2}, "f32", le(0), uint8(0))                                // rank 9
	f.Add([]byte{5}, "f64", le(0, 0, 0, 0), uint8(3))                                               // wrong dtype
	f.Add([]byte{17}, "f32", bytes.Repeat(le(0x3f800000), 15), uint8(0))                            // 16 elements, 60 bytes: short
	f.Add([]byte{33}, "f32", append(bytes.Repeat(le(0x3f800000), 31), le(0x7f800000)...), uint8(0)) // +Inf last of 32 (unrolled loop)
	f.Fuzz(func(t *testing.T, dims []byte, dtype string, data []byte, off uint8) {
		if len(dims) > MaxRank+1 {
			dims = dims[:MaxRank+1]
		}
		shape := make([]int, len(dims))
		for i, b := range dims {
			shape[i] = int(b) - 1 // -1 … 254
		}
		k := int(off % 4)
		buf := append(make([]byte, k, k+len(data)), data...)
		tn := Tensor{Shape: shape, DType: dtype, Data: buf[k:]}
		want, code := refFloat32s(shape, dtype, data)

		dst := make([]float32, 3, 8)
		got, err := tn.Float32s(dst)
		if CodeOf(err) != code {
			t.Fatalf("Float32s(%v %q %d bytes): got error %v, want code %v", shape, dtype, len(data), err, code)
		}
		if err != nil {
			checkWireError(t, err)
			return
		}
		same := func(a, b []float32) bool {
			return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
		}
		if !same(got, want) {
			t.Fatalf("Float32s: got %v, want %v", got, want)
		}
		if len(want) <= cap(dst) && len(want) > 0 && &got[0] != &dst[:1][0] {
			t.Fatalf("Float32s did not reuse dst of cap %d for %d values", cap(dst), len(want))
		}
		vals, err := tn.Values()
		if err != nil || !same(vals, want) {
			t.Fatalf("Values: got %v, %v; want %v", vals, err, want)
		}
		if back := NewTensor(shape, got); !bytes.Equal(back.Data, data) || !slices.Equal(back.Shape, tn.Shape) && len(shape) > 0 {
			t.Fatalf("NewTensor(%v, values): got %x, want %x", shape, back.Data, data)
		}
	})
}
