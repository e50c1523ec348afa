package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// This file holds the MessagePack codec of Batch, Feedback, GeneratorUpdate
// and GlobalModel. Encoders write field by field with msgpack/v5's Encoder
// in struct order, keys as in the struct tags, maps sorted by key, so the
// output is deterministic. Decoders read with the bounded reader of
// reader.go.

// appendWriter is the io.Writer (and io.ByteWriter) msgpack's Encoder
// writes into: it appends to a caller's buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

func (w *appendWriter) WriteByte(c byte) error {
	w.b = append(w.b, c)
	return nil
}

// encoder wraps a msgpack.Encoder and keeps its first error.
type encoder struct {
	e   *msgpack.Encoder
	w   appendWriter
	err error
}

func newEncoder(dst []byte, size int) *encoder {
	x := &encoder{e: msgpack.GetEncoder(), w: appendWriter{b: slices.Grow(dst, size)}}
	x.e.Reset(&x.w)
	return x
}

// finish returns the encoded bytes and puts the msgpack.Encoder back.
func (x *encoder) finish(dst []byte) ([]byte, error) {
	x.e.Reset(nil)
	msgpack.PutEncoder(x.e)
	if x.err != nil {
		return dst, &Error{Code: CodeMalformed, Err: fmt.Errorf("%w: %w", ErrMalformed, x.err)}
	}
	return x.w.b, nil
}

func (x *encoder) do(err error) {
	if x.err == nil {
		x.err = err
	}
}

func (x *encoder) mapLen(n int)    { x.do(x.e.EncodeMapLen(n)) }
func (x *encoder) key(k string)    { x.do(x.e.EncodeString(k)) }
func (x *encoder) str(k, v string) { x.key(k); x.do(x.e.EncodeString(v)) }
func (x *encoder) int(k string, v int64) {
	x.key(k)
	x.do(x.e.EncodeInt(v))
}
func (x *encoder) float(k string, v float64) {
	x.key(k)
	x.do(x.e.EncodeFloat64(v))
}
func (x *encoder) bin(k string, v []byte) {
	x.key(k)
	x.do(x.e.EncodeBytes(v))
}
func (x *encoder) bool(k string, v bool) {
	x.key(k)
	x.do(x.e.EncodeBool(v))
}

// tensor writes {shape, dtype, data} with data as bin.
func (x *encoder) tensor(t *Tensor) {
	x.mapLen(3)
	x.key("shape")
	x.do(x.e.EncodeArrayLen(len(t.Shape)))
	for _, d := range t.Shape {
		x.do(x.e.EncodeInt(int64(d)))
	}
	x.str("dtype", t.DType)
	x.key("data")
	x.do(x.e.EncodeBytes(t.Data))
}

func (x *encoder) tensors(k string, ts []Tensor) {
	x.key(k)
	x.do(x.e.EncodeArrayLen(len(ts)))
	for i := range ts {
		x.tensor(&ts[i])
	}
}

func tensorsSize(ts []Tensor) int {
	n := 0
	for i := range ts {
		n += len(ts[i].Data) + 16 + 9*len(ts[i].Shape)
	}
	return n
}

func version(v int) int64 {
	if v == 0 {
		return Version
	}
	return int64(v)
}

// AppendBatch appends the MessagePack encoding of m to dst and returns the
// extended buffer; pass a reused dst[:0] to avoid allocating. A zero m.V is
// written as Version.
//
// Like every Append function it first checks m the way the decoders do,
// less what needs a Spec or a topic: a known version, valid ids,
// non-negative counters, tensors whose data matches their shape, no NaN or
// ±Inf. On failure it returns dst unchanged and an *Error.
func AppendBatch(dst []byte, m *Batch) ([]byte, error) {
	if err := checkVersion("batch.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil, nil); err != nil {
		return dst, err
	}
	if err := checkFinite("batch.fake", &m.Fake); err != nil {
		return dst, err
	}
	if err := checkFinite("batch.gen", &m.Gen); err != nil {
		return dst, err
	}
	x := newEncoder(dst, 224+len(m.Community)+len(m.Fake.Data)+len(m.Gen.Data)+len(m.FakeLabels)+len(m.GenLabels))
	x.encodeBatch(m)
	return x.finish(dst)
}

func (x *encoder) encodeBatch(m *Batch) {
	if len(m.FakeLabels) > 0 {
		x.mapLen(11)
	} else {
		x.mapLen(9)
	}
	x.int("v", version(m.V))
	x.str("community", m.Community)
	x.int("round", int64(m.Round))
	x.int("iter", m.Iter)
	x.int("version", m.Version)
	x.int("domain", int64(m.Domain))
	x.key("fake")
	x.tensor(&m.Fake)
	x.key("gen")
	x.tensor(&m.Gen)
	x.int("sent", m.SentUnixNano)
	if len(m.FakeLabels) > 0 {
		x.bin("fake_labels", m.FakeLabels)
		x.bin("gen_labels", m.GenLabels)
	}
}

// AppendFeedback appends the MessagePack encoding of m to dst; see
// AppendBatch.
func AppendFeedback(dst []byte, m *Feedback) ([]byte, error) {
	if err := checkVersion("feedback.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil, nil); err != nil {
		return dst, err
	}
	if err := checkFinite("feedback.grad", &m.Grad); err != nil {
		return dst, err
	}
	x := newEncoder(dst, 256+len(m.Community)+len(m.Device)+len(m.Grad.Data))
	x.encodeFeedback(m)
	return x.finish(dst)
}

func (x *encoder) encodeFeedback(m *Feedback) {
	x.mapLen(11)
	x.int("v", version(m.V))
	x.str("community", m.Community)
	x.str("device", m.Device)
	x.int("round", int64(m.Round))
	x.int("iter", m.Iter)
	x.int("version", m.Version)
	x.float("loss", m.Loss)
	x.float("d_loss", m.DLoss)
	x.key("grad")
	x.tensor(&m.Grad)
	x.int("n_real", int64(m.NReal))
	x.key("timings")
	x.mapLen(2)
	x.int("wait_us", m.Timings.WaitUS)
	x.int("compute_us", m.Timings.ComputeUS)
}

// AppendGeneratorUpdate appends the MessagePack encoding of m to dst; see
// AppendBatch.
func AppendGeneratorUpdate(dst []byte, m *GeneratorUpdate) ([]byte, error) {
	if err := checkVersion("generator.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil, nil); err != nil {
		return dst, err
	}
	for i := range m.Params {
		if err := checkFinite(indexField("generator.params", i), &m.Params[i]); err != nil {
			return dst, err
		}
	}
	for i := range m.DParams {
		if err := checkFinite(indexField("generator.d_params", i), &m.DParams[i]); err != nil {
			return dst, err
		}
	}
	x := newEncoder(dst, 160+len(m.Community)+tensorsSize(m.Params)+tensorsSize(m.DParams))
	x.encodeGeneratorUpdate(m)
	return x.finish(dst)
}

// encodeGeneratorUpdate writes d_params and samples only when set, so an
// FR update is the bytes it always was.
func (x *encoder) encodeGeneratorUpdate(m *GeneratorUpdate) {
	n := 6
	if len(m.DParams) > 0 {
		n++
	}
	if m.Samples != 0 {
		n++
	}
	x.mapLen(n)
	x.int("v", version(m.V))
	x.str("community", m.Community)
	x.int("round", int64(m.Round))
	x.float("loss", m.Loss)
	x.int("iters", int64(m.Iters))
	x.tensors("params", m.Params)
	if len(m.DParams) > 0 {
		x.tensors("d_params", m.DParams)
	}
	if m.Samples != 0 {
		x.int("samples", m.Samples)
	}
}

// AppendGlobalModel appends the MessagePack encoding of m to dst; see
// AppendBatch. Weights are written sorted by community; an empty
// Classifier is left out.
func AppendGlobalModel(dst []byte, m *GlobalModel) ([]byte, error) {
	if err := checkVersion("model.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil); err != nil {
		return dst, err
	}
	for i := range m.Params {
		if err := checkFinite(indexField("model.params", i), &m.Params[i]); err != nil {
			return dst, err
		}
	}
	for i := range m.Classifier {
		if err := checkFinite(indexField("model.classifier", i), &m.Classifier[i]); err != nil {
			return dst, err
		}
	}
	for i := range m.DParams {
		if err := checkFinite(indexField("model.d_params", i), &m.DParams[i]); err != nil {
			return dst, err
		}
	}
	x := newEncoder(dst, 256+24*len(m.Weights)+tensorsSize(m.Params)+tensorsSize(m.Classifier)+tensorsSize(m.DParams))
	x.encodeGlobalModel(m)
	return x.finish(dst)
}

func (x *encoder) encodeGlobalModel(m *GlobalModel) {
	n := 9
	if len(m.Classifier) > 0 {
		n++
	}
	if len(m.DParams) > 0 {
		n++
	}
	x.mapLen(n)
	x.int("v", version(m.V))
	x.int("round", int64(m.Round))
	x.bool("final", m.Final)
	x.tensors("params", m.Params)
	x.key("weights")
	if len(m.Weights) == 0 {
		x.do(x.e.EncodeNil()) // as msgpack.Marshal writes a nil map
	} else {
		x.mapLen(len(m.Weights))
		for _, k := range slices.Sorted(maps.Keys(m.Weights)) {
			x.float(k, m.Weights[k])
		}
	}
	if len(m.Classifier) > 0 {
		x.tensors("classifier", m.Classifier)
	}
	x.float("l_inv", m.LInv)
	x.float("l_spe", m.LSpe)
	x.float("lambda1", m.Lambda1)
	x.float("lambda2", m.Lambda2)
	if len(m.DParams) > 0 {
		x.tensors("d_params", m.DParams)
	}
}

// DecodeBatch decodes and validates a Batch that arrived on topic (the
// result of Topics.Parse; its Kind must be KindBatch). See "Validation" in
// the package documentation for what is checked. The result does not
// retain p; its tensors own their data (Tensor.Values returns it without
// copying). Every error is an *Error.
func DecodeBatch(p []byte, s *Spec, topic Topic) (*Batch, error) {
	const msg = "batch"
	r, err := start(p, s, &topic, msg, KindBatch, true, false)
	if err != nil {
		return nil, err
	}
	m := new(Batch)
	err = r.message(msg, []string{"v", "community", "round", "iter", "version", "domain", "fake", "gen", "sent", "fake_labels", "gen_labels"}, func(i int) (err error) {
		switch i {
		case 0:
			m.V, err = r.version(msg)
		case 1:
			m.Community, err = r.str()
		case 2:
			m.Round, err = r.int()
		case 3:
			m.Iter, err = r.int64()
		case 4:
			m.Version, err = r.int64()
		case 5:
			m.Domain, err = r.int()
		case 6:
			m.Fake, err = r.tensor("batch.fake")
		case 7:
			m.Gen, err = r.tensor("batch.gen")
		case 8:
			m.SentUnixNano, err = r.int64()
		case 9:
			m.FakeLabels, err = r.labels()
		case 10:
			m.GenLabels, err = r.labels()
		}
		return err
	})
	if err == nil {
		err = checkVersion("batch.v", m.V, false)
	}
	if err == nil {
		err = m.check(s, &topic)
	}
	if err == nil {
		err = own(func(i int) string { return [...]string{"batch.fake", "batch.gen"}[i] }, &m.Fake, &m.Gen)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeFeedback decodes and validates a Feedback that arrived on topic
// (Kind KindFeedback); its community and device must be the topic's. See
// DecodeBatch.
func DecodeFeedback(p []byte, s *Spec, topic Topic) (*Feedback, error) {
	const msg = "feedback"
	r, err := start(p, s, &topic, msg, KindFeedback, true, false)
	if err != nil {
		return nil, err
	}
	m := new(Feedback)
	err = r.message(msg, []string{"v", "community", "device", "round", "iter", "version", "loss", "d_loss", "grad", "n_real", "timings"}, func(i int) (err error) {
		switch i {
		case 0:
			m.V, err = r.version(msg)
		case 1:
			m.Community, err = r.str()
		case 2:
			m.Device, err = r.str()
		case 3:
			m.Round, err = r.int()
		case 4:
			m.Iter, err = r.int64()
		case 5:
			m.Version, err = r.int64()
		case 6:
			m.Loss, err = r.float64()
		case 7:
			m.DLoss, err = r.float64()
		case 8:
			m.Grad, err = r.tensor("feedback.grad")
		case 9:
			m.NReal, err = r.int()
		case 10:
			err = r.fields("feedback.timings", []string{"wait_us", "compute_us"}, func(i int) (err error) {
				if i == 0 {
					m.Timings.WaitUS, err = r.int64()
				} else {
					m.Timings.ComputeUS, err = r.int64()
				}
				return err
			})
		}
		return err
	})
	if err == nil {
		err = checkVersion("feedback.v", m.V, false)
	}
	if err == nil {
		err = m.check(s, &topic)
	}
	if err == nil {
		err = own(name("feedback.grad"), &m.Grad)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeGeneratorUpdate decodes and validates a GeneratorUpdate that
// arrived on topic (Kind KindGenerator); its parameters must have the
// shapes of s.GenParams. See DecodeBatch.
func DecodeGeneratorUpdate(p []byte, s *Spec, topic Topic) (*GeneratorUpdate, error) {
	const msg = "generator"
	r, err := start(p, s, &topic, msg, KindGenerator, false, true)
	if err != nil {
		return nil, err
	}
	m := new(GeneratorUpdate)
	err = r.message(msg, []string{"v", "community", "round", "loss", "iters", "params", "d_params", "samples"}, func(i int) (err error) {
		switch i {
		case 0:
			m.V, err = r.version(msg)
		case 1:
			m.Community, err = r.str()
		case 2:
			m.Round, err = r.int()
		case 3:
			m.Loss, err = r.float64()
		case 4:
			m.Iters, err = r.int()
		case 5:
			m.Params, err = r.tensors("generator.params", s.GenParams)
		case 6:
			m.DParams, err = r.tensors("generator.d_params", discWant(s))
		case 7:
			m.Samples, err = r.int64()
		}
		return err
	})
	if err == nil {
		err = checkVersion("generator.v", m.V, false)
	}
	if err == nil {
		err = m.check(s, &topic)
	}
	if err == nil {
		err = own(paramFields("generator", len(m.Params)), append(ptrs(m.Params), ptrs(m.DParams)...)...)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeGlobalModel decodes and validates a GlobalModel that arrived on
// topic (Kind KindModel); its parameters must have the shapes of
// s.GenParams and its classifier, if any, those of s.ClsParams. See
// DecodeBatch.
func DecodeGlobalModel(p []byte, s *Spec, topic Topic) (*GlobalModel, error) {
	const msg = "model"
	r, err := start(p, s, &topic, msg, KindModel, false, true)
	if err != nil {
		return nil, err
	}
	m := new(GlobalModel)
	err = r.message(msg, []string{"v", "round", "final", "params", "weights", "classifier", "l_inv", "l_spe", "lambda1", "lambda2", "d_params"}, func(i int) (err error) {
		switch i {
		case 0:
			m.V, err = r.version(msg)
		case 1:
			m.Round, err = r.int()
		case 2:
			m.Final, err = r.bool()
		case 3:
			m.Params, err = r.tensors("model.params", s.GenParams)
		case 4:
			m.Weights, err = r.weights()
		case 5:
			want := s.ClsParams
			if want == nil {
				want = [][]int{}
			}
			m.Classifier, err = r.tensors("model.classifier", want)
			if len(m.Classifier) == 0 {
				m.Classifier = nil
			}
		case 6:
			m.LInv, err = r.float64()
		case 7:
			m.LSpe, err = r.float64()
		case 8:
			m.Lambda1, err = r.float64()
		case 9:
			m.Lambda2, err = r.float64()
		case 10:
			m.DParams, err = r.tensors("model.d_params", discWant(s))
		}
		return err
	})
	if err == nil {
		err = checkVersion("model.v", m.V, false)
	}
	if err == nil {
		err = m.check(s)
	}
	if err == nil {
		np, nc := len(m.Params), len(m.Classifier)
		err = own(func(i int) string {
			switch {
			case i < np:
				return indexField("model.params", i)
			case i < np+nc:
				return indexField("model.classifier", i-np)
			}
			return indexField("model.d_params", i-np-nc)
		}, append(append(ptrs(m.Params), ptrs(m.Classifier)...), ptrs(m.DParams)...)...)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// start checks the Spec, the payload size and the topic kind, in that
// order, and returns a reader over p.
func start(p []byte, s *Spec, topic *Topic, msg, kind string, needData, needGen bool) (*reader, error) {
	limit, err := s.specFor(msg, needData, needGen) // a nil s fails here
	if err != nil {
		return nil, err
	}
	if len(p) > limit {
		return nil, errorf(CodeTooLarge, msg, "%d bytes, limit %d", len(p), limit)
	}
	if err := checkTopic(msg, kind, topic); err != nil {
		return nil, err
	}
	return &reader{p: p}, nil
}

// message reads a whole payload: a map (not nil) of fields, then nothing.
func (r *reader) message(msg string, keys []string, f func(i int) error) error {
	if len(r.p) > 0 && r.p[0] == 0xc0 {
		return errorf(CodeMalformed, msg, "nil, want a map")
	}
	if err := r.fields(msg, keys, f); err != nil {
		return err
	}
	if r.left() > 0 {
		return errorf(CodeMalformed, msg, "%d trailing bytes after the message", r.left())
	}
	return nil
}

// fields reads a map whose known keys are keys, calling f with the index of
// each; it skips unknown keys and rejects duplicate known ones. Errors that
// are not yet an *Error become ErrMalformed ones at path.key.
func (r *reader) fields(path string, keys []string, f func(i int) error) error {
	n, err := r.mapLen()
	if err != nil {
		return wrapErr(CodeMalformed, path, err)
	}
	var seen uint64
	for range n {
		kb, err := r.strBytes()
		if err != nil {
			return wrapErr(CodeMalformed, path, err)
		}
		i := -1
		for j, k := range keys {
			if string(kb) == k {
				i = j
				break
			}
		}
		if i < 0 {
			if err := r.skip(1); err != nil {
				return wrapErr(CodeMalformed, path, err)
			}
			continue
		}
		field := path + "." + keys[i]
		if seen&(1<<i) != 0 {
			return errorf(CodeMalformed, field, "duplicate key")
		}
		seen |= 1 << i
		if err := f(i); err != nil {
			if _, ok := err.(*Error); ok {
				return err
			}
			return wrapErr(CodeMalformed, field, err)
		}
	}
	return nil
}

// version reads the v field and rejects unknown versions at once, before
// the rest of a message whose layout may differ is parsed.
func (r *reader) version(msg string) (int, error) {
	v, err := r.int()
	if err != nil {
		return 0, err
	}
	if v != Version {
		return 0, checkVersion(msg+".v", v, false)
	}
	return v, nil
}

// tensor reads {shape, dtype, data}. Data is left pointing into the
// payload; own copies it out.
func (r *reader) tensor(path string) (Tensor, error) {
	var t Tensor
	err := r.fields(path, []string{"shape", "dtype", "data"}, func(i int) (err error) {
		switch i {
		case 0:
			var n int
			if n, err = r.arrayLen(); err != nil {
				return err
			}
			if n > MaxRank {
				return errorf(CodeShape, path, "rank %d exceeds %d", n, MaxRank)
			}
			if n > 0 {
				t.Shape = make([]int, n)
			}
			for k := range t.Shape {
				if t.Shape[k], err = r.int(); err != nil {
					return err
				}
			}
		case 1:
			var b []byte
			if b, err = r.strBytes(); err != nil {
				return err
			}
			switch string(b) { // interned: no allocation per tensor
			case DTypeF32:
				t.DType = DTypeF32
			case DTypeBF16:
				t.DType = DTypeBF16
			default:
				return errorf(CodeMalformed, path+".dtype", "%q, want %q or %q", b, DTypeF32, DTypeBF16)
			}
		case 2:
			t.Data, err = r.bin()
		}
		return err
	})
	return t, err
}

// labels reads a bin of class labels as a copy (the result must not keep
// the payload alive).
func (r *reader) labels() ([]byte, error) {
	b, err := r.bin()
	if len(b) == 0 {
		return nil, err
	}
	return bytes.Clone(b), err
}

// tensors reads an array of tensors. With want non-nil the count must be
// len(want), checked before anything is allocated.
func (r *reader) tensors(path string, want [][]int) ([]Tensor, error) {
	n, err := r.arrayLen()
	if err != nil {
		return nil, err
	}
	if err := checkCount(path, n, want); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, nil
	}
	ts := make([]Tensor, n)
	for i := range ts {
		if ts[i], err = r.tensor(indexField(path, i)); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// MaxWeights is the most entries GlobalModel.Weights may have (one per
// community), so that a payload of short keys cannot make a decoder build
// a map many times its size.
const MaxWeights = 1024

// weights reads the community → weight map.
func (r *reader) weights() (map[string]float64, error) {
	n, err := r.mapLen()
	if err != nil || n == 0 {
		return nil, err
	}
	if n > MaxWeights {
		return nil, errorf(CodeRange, "model.weights", "%d entries, at most %d", n, MaxWeights)
	}
	w := make(map[string]float64, min(n, 64))
	for range n {
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		if _, dup := w[k]; dup {
			return nil, errorf(CodeMalformed, "model.weights", "duplicate key %q", k)
		}
		if w[k], err = r.float64(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// own replaces the Data of each tensor, which points into the payload,
// with a copy held in one []float32 shared by all of them (one allocation
// per message, and Tensor.Values needs no copy), checking every element
// for NaN and ±Inf on the way; a bf16 tensor gets a copy of its own,
// checked the same way widened to float32. The tensors' layouts have been checked;
// fields names them for errors.
func own(fields func(i int) string, ts ...*Tensor) error {
	n := 0
	for _, t := range ts {
		if t.DType != DTypeBF16 {
			n += len(t.Data) / 4
		}
	}
	block := make([]float32, n)
	for i, t := range ts {
		if t.DType == DTypeBF16 {
			// Kept as bf16 (a copy), checked widened to float32.
			vals := make([]float32, len(t.Data)/2)
			for j := range vals {
				vals[j] = fromBF16(binary.LittleEndian.Uint16(t.Data[2*j:]))
			}
			if j := firstNonFinite(vals); j >= 0 {
				return nonFiniteErr(fields(i), t.Shape, vals, j)
			}
			t.Data = append([]byte{}, t.Data...)
			continue
		}
		k := len(t.Data) / 4
		vals := block[:k:k]
		block = block[k:]
		decodeF32(vals, t.Data)
		if j := firstNonFinite(vals); j >= 0 {
			return nonFiniteErr(fields(i), t.Shape, vals, j)
		}
		switch {
		case k == 0:
			t.Data = []byte{}
		case nativeLittleEndian:
			t.Data = f32Bytes(vals)
		default:
			t.Data = append([]byte(nil), t.Data...)
		}
	}
	return nil
}

// name returns a fields function for own that always says field.
func name(field string) func(int) string { return func(int) string { return field } }

// ptrs returns pointers to the elements of ts.
func ptrs(ts []Tensor) []*Tensor {
	p := make([]*Tensor, len(ts))
	for i := range ts {
		p[i] = &ts[i]
	}
	return p
}
