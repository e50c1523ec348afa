package wire

import (
	"math/rand/v2"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The codec's benchmarks: a Batch of two 64×784 tensors (MNIST-sized
// generator output), as an edge sends it every local iteration. B/s is
// payload bytes per second (b.SetBytes). Run with
//
//	go test -run '^$' -bench . -benchmem ./wire/

const benchRows, benchCols = 64, 784

func benchValues(seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, benchRows*benchCols)
	for i := range v {
		v[i] = float32(rng.Float64()*2 - 1) // tanh output range
	}
	return v
}

func benchBatch() *Batch {
	shape := []int{benchRows, benchCols}
	return &Batch{
		V: Version, Community: "c1", Round: 3, Iter: 12345, Version: 12344,
		Fake: NewTensor(shape, benchValues(1)), Gen: NewTensor(shape, benchValues(2)),
		SentUnixNano: 1_700_000_000_000_000_000,
	}
}

func benchSpec() *Spec { return &Spec{Batch: benchRows, DataDim: benchCols} }

func BenchmarkAppendBatch(b *testing.B) {
	m := benchBatch()
	dst, err := AppendBatch(nil, m)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(dst)))
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = AppendBatch(dst[:0], m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(dst)), "payload-B")
}

func BenchmarkDecodeBatch(b *testing.B) {
	p, err := AppendBatch(nil, benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	s := benchSpec()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(p, s, batchTopic); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBatchValues is what a device does with a batch: decode
// it and take both tensors' float32s.
func BenchmarkDecodeBatchValues(b *testing.B) {
	p, err := AppendBatch(nil, benchBatch())
	if err != nil {
		b.Fatal(err)
	}
	s := benchSpec()
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := DecodeBatch(p, s, batchTopic)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := m.Fake.Values(); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Gen.Values(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat32s(b *testing.B) {
	t := NewTensor([]int{benchRows, benchCols}, benchValues(1))
	dst := make([]float32, benchRows*benchCols)
	b.SetBytes(int64(len(t.Data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := t.Float32s(dst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNonFiniteScan(b *testing.B) {
	v := benchValues(1)
	b.SetBytes(int64(4 * len(v)))
	for b.Loop() {
		if firstNonFinite(v) >= 0 {
			b.Fatal("found a non-finite value")
		}
	}
}

// floatArrayBatch is Batch with its tensors as msgpack arrays of float32,
// the encoding docs/DESIGN.md §4.4 rules out; it is here to measure why.
type floatArrayBatch struct {
	V         int       `msgpack:"v"`
	Community string    `msgpack:"community"`
	Round     int       `msgpack:"round"`
	Iter      int64     `msgpack:"iter"`
	Version   int64     `msgpack:"version"`
	Shape     []int     `msgpack:"shape"`
	Fake      []float32 `msgpack:"fake"`
	Gen       []float32 `msgpack:"gen"`
	Sent      int64     `msgpack:"sent"`
}

func benchFloatArrayBatch() *floatArrayBatch {
	return &floatArrayBatch{
		V: Version, Community: "c1", Round: 3, Iter: 12345, Version: 12344, Shape: []int{benchRows, benchCols},
		Fake: benchValues(1), Gen: benchValues(2), Sent: 1_700_000_000_000_000_000,
	}
}

// BenchmarkFloatArray encodes and decodes the same data as float arrays
// with msgpack/v5's reflection codec. Compare B/s, ns/op and payload-B
// with BenchmarkAppendBatch and BenchmarkDecodeBatch.
func BenchmarkFloatArray(b *testing.B) {
	m := benchFloatArrayBatch()
	p, err := msgpack.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := msgpack.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(p)), "payload-B")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			var got floatArrayBatch
			if err := msgpack.Unmarshal(p, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLibraryBin encodes and decodes the bin form with msgpack/v5's
// reflection codec (no validation), for reference.
func BenchmarkLibraryBin(b *testing.B) {
	m := benchBatch()
	p, err := msgpack.Marshal(m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := msgpack.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		b.ReportAllocs()
		for b.Loop() {
			var got Batch
			if err := msgpack.Unmarshal(p, &got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
