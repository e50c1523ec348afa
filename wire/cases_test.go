package wire

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// This file is the one table of wire cases (like mochi's packets/tpackets.go)
// that the round-trip, validation, golden-file and fuzz tests all use.

// frSpec is the model of the feature-related cases: B = 4, d = 3 and a
// generator 2 → 5 → 3 (weights and biases).
func frSpec() *Spec {
	return &Spec{
		Batch:      4,
		DataDim:    3,
		GenParams:  [][]int{{2, 5}, {5}, {5, 3}, {3}},
		MaxPayload: 1 << 16,
	}
}

// lrSpec is the label-related model: two domains and a domain classifier
// 3 → 2. (The generator keeps frSpec's shapes; the wire does not care
// that a real LR generator also reads the domain code.)
func lrSpec() *Spec {
	s := frSpec()
	s.Domains = 2
	s.ClsParams = [][]int{{3, 2}, {2}}
	return s
}

// classSpec is frSpec with a class-conditional generator of 3 classes.
func classSpec() *Spec {
	s := frSpec()
	s.Classes = 3
	return s
}

// labeled is batchMsg with one class label per row.
func labeled(m *Batch) *Batch {
	m.FakeLabels, m.GenLabels = []byte{0, 2, 1, 0}, []byte{1, 1, 2, 0}
	return m
}

// anyRowsSpec accepts batches of any B from 1 to 8.
func anyRowsSpec() *Spec {
	s := frSpec()
	s.Batch = 0
	s.MaxRows = 8
	return s
}

// ramp returns n float32s start, start+step, ... (exact in binary32).
func ramp(n int, start, step float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = start + float32(i)*step
	}
	return v
}

func tensor(start float32, shape ...int) Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return NewTensor(shape, ramp(n, start, 0.25))
}

// with returns a copy of v's tensor with element i replaced by x.
func with(t Tensor, i int, x float32) Tensor {
	v, err := t.Float32s(nil)
	if err != nil {
		panic(err)
	}
	v[i] = x
	return NewTensor(t.Shape, v)
}

// raw is a Tensor built by hand, bypassing NewTensor's checks.
func raw(shape []int, dtype string, nbytes int) Tensor {
	return Tensor{Shape: shape, DType: dtype, Data: make([]byte, nbytes)}
}

func batchMsg() *Batch {
	return &Batch{
		V: Version, Community: "c1", Round: 2, Iter: 17, Version: 16, Domain: 0,
		Fake: tensor(-1, 4, 3), Gen: tensor(0.5, 4, 3), SentUnixNano: 1_700_000_000_123_456_789,
	}
}

func feedbackMsg() *Feedback {
	return &Feedback{
		V: Version, Community: "c1", Device: "d1", Round: 2, Iter: 17, Version: 16,
		Loss: -0.6931471805599453, DLoss: 1.375, Grad: tensor(-0.5, 4, 3), NReal: 4,
		Timings: Timings{WaitUS: 120, ComputeUS: 3400},
	}
}

func generatorMsg() *GeneratorUpdate {
	return &GeneratorUpdate{
		V: Version, Community: "c1", Round: 2, Loss: -0.75, Iters: 10,
		Params: []Tensor{tensor(0, 2, 5), tensor(1, 5), tensor(-2, 5, 3), tensor(0.25, 3)},
	}
}

func modelMsg() *GlobalModel {
	return &GlobalModel{
		V: Version, Round: 3,
		Params:  []Tensor{tensor(0, 2, 5), tensor(1, 5), tensor(-2, 5, 3), tensor(0.25, 3)},
		Weights: map[string]float64{"c1": 0.25, "c2": 0.75},
	}
}

func modelLRMsg() *GlobalModel {
	m := modelMsg()
	m.Final = true
	m.Classifier = []Tensor{tensor(0.5, 3, 2), tensor(0, 2)}
	m.LInv, m.LSpe, m.Lambda1, m.Lambda2 = 0.5, 1.25, 0.1, 0.01
	return m
}

func presenceMsg() *Presence {
	return &Presence{V: Version, State: StateOnline, Device: "d1", Community: "c1", Agent: "v1.2.3", UnixMilli: 1_700_000_000_123}
}

var (
	batchTopic     = Topic{Kind: KindBatch, Community: "c1"}
	feedbackTopic  = Topic{Kind: KindFeedback, Community: "c1", Device: "d1"}
	generatorTopic = Topic{Kind: KindGenerator, Community: "c1"}
	modelTopic     = Topic{Kind: KindModel}
	presenceTopic  = Topic{Kind: KindPresence, Community: "c1", Device: "d1"}
)

// wireCase is one payload and what decoding it must give.
type wireCase struct {
	name  string // unique; valid cases with golden set are stored as testdata/<name>.msgpack or .json
	topic Topic  // the topic it arrives on
	kind  string // the decoder to use, by topic kind; "" means topic.Kind
	spec  *Spec  // nil: frSpec()
	// The payload is raw if set, else msg encoded: valid cases with our
	// Append function, invalid ones with msgpack.Marshal (no checks) or,
	// for Presence, EncodeJSON.
	msg    any
	raw    []byte
	golden bool
	// code is 0 for a valid case; then decoding must give msg back.
	code Code
	// err is the exact error text; errPrefix, when err is empty, a prefix
	// (for messages that embed byte offsets or library text).
	err, errPrefix string
}

// wireCases returns the table; every call builds fresh messages.
func wireCases() []wireCase {
	// mod applies f to a fresh message from mk.
	modB := func(f func(*Batch)) *Batch { m := batchMsg(); f(m); return m }
	modF := func(f func(*Feedback)) *Feedback { m := feedbackMsg(); f(m); return m }
	modG := func(f func(*GeneratorUpdate)) *GeneratorUpdate { m := generatorMsg(); f(m); return m }
	modM := func(f func(*GlobalModel)) *GlobalModel { m := modelMsg(); f(m); return m }
	modL := func(f func(*GlobalModel)) *GlobalModel { m := modelLRMsg(); f(m); return m }
	modP := func(f func(*Presence)) *Presence { m := presenceMsg(); f(m); return m }
	tiny := frSpec()
	tiny.MaxPayload = 64
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))

	return []wireCase{
		// Valid messages.
		{name: "batch", topic: batchTopic, msg: batchMsg(), golden: true},
		{name: "batch_lr_domain1", topic: batchTopic, spec: lrSpec(), msg: modB(func(m *Batch) { m.Domain = 1 })},
		{name: "batch_any_rows", topic: batchTopic, spec: anyRowsSpec(), msg: modB(func(m *Batch) { m.Fake, m.Gen = tensor(0, 2, 3), tensor(1, 2, 3) })},
		{name: "batch_labeled", topic: batchTopic, spec: classSpec(), msg: labeled(batchMsg()), golden: true},
		{name: "feedback", topic: feedbackTopic, msg: feedbackMsg(), golden: true},
		{name: "feedback_zero", topic: feedbackTopic, msg: modF(func(m *Feedback) {
			m.Round, m.Iter, m.Version, m.Loss, m.DLoss, m.NReal, m.Timings = 0, 0, 0, 0, 0, 0, Timings{}
		})},
		{name: "generator", topic: generatorTopic, msg: generatorMsg(), golden: true},
		{name: "model_fr", topic: modelTopic, msg: modelMsg(), golden: true},
		{name: "model_lr", topic: modelTopic, spec: lrSpec(), msg: modelLRMsg(), golden: true},
		{name: "model_lr_no_classifier", topic: modelTopic, spec: lrSpec(), msg: modL(func(m *GlobalModel) { m.Classifier = nil })},
		{name: "model_no_weights", topic: modelTopic, msg: modM(func(m *GlobalModel) { m.Weights = nil })},
		{name: "presence_online", topic: presenceTopic, msg: presenceMsg(), golden: true},
		{name: "presence_offline", topic: presenceTopic, msg: modP(func(m *Presence) { m.State, m.Agent, m.UnixMilli = StateOffline, "", 0 })},

		// Size, spec and topic: checked before parsing.
		{name: "batch_too_large", topic: batchTopic, raw: make([]byte, 70000), code: CodeTooLarge,
			err: "wire: batch: payload too large: 70000 bytes, limit 65536"},
		{name: "batch_over_tiny_limit", topic: batchTopic, spec: tiny, msg: batchMsg(), code: CodeTooLarge,
			errPrefix: "wire: batch: payload too large: "},
		{name: "presence_too_large", topic: presenceTopic, spec: tiny, raw: bytes.Repeat([]byte(" "), 65), code: CodeTooLarge,
			err: "wire: presence: payload too large: 65 bytes, limit 64"},
		{name: "batch_spec_no_data_dim", topic: batchTopic, spec: &Spec{Batch: 4}, msg: batchMsg(), code: CodeSpec,
			err: "wire: batch: invalid spec: DataDim is 0; decoding batch needs it"},
		{name: "generator_nil_spec", topic: generatorTopic, spec: nilSpec, msg: generatorMsg(), code: CodeSpec,
			err: "wire: generator: invalid spec: GenParams is empty; decoding generator needs it"},
		{name: "feedback_bad_spec", topic: feedbackTopic, spec: &Spec{Batch: -1, DataDim: 3, GenParams: [][]int{{2, 0}}}, msg: feedbackMsg(), code: CodeSpec,
			err: "wire: feedback: invalid spec: Batch is -1, want ≥ 0\nwire: invalid spec: GenParams[0] is [2 0], want rank 1 to 8 with dimensions ≥ 1"},
		{name: "batch_on_feedback_topic", kind: KindBatch, topic: feedbackTopic, msg: batchMsg(), code: CodeTopic,
			err: `wire: batch: malformed topic: decoding a batch message from a "feedback" topic`},
		{name: "feedback_on_zero_topic", kind: KindFeedback, topic: Topic{}, msg: feedbackMsg(), code: CodeTopic,
			err: `wire: feedback: malformed topic: decoding a feedback message from a "" topic`},
		{name: "model_on_generator_topic", kind: KindModel, topic: generatorTopic, msg: modelMsg(), code: CodeTopic,
			err: `wire: model: malformed topic: decoding a model message from a "generator" topic`},
		{name: "presence_on_status_topic", kind: KindPresence, topic: Topic{Kind: KindStatus, Community: "c1"}, msg: presenceMsg(), code: CodeTopic,
			err: `wire: presence: malformed topic: decoding a presence message from a "status" topic`},

		// Malformed payloads.
		{name: "batch_empty", topic: batchTopic, raw: []byte{}, code: CodeMalformed,
			err: "wire: batch: malformed message: at byte 0: unexpected end of payload"},
		{name: "batch_nil", topic: batchTopic, raw: []byte{0xc0}, code: CodeMalformed,
			err: "wire: batch: malformed message: nil, want a map"},
		{name: "batch_array", topic: batchTopic, raw: []byte{0x91, 0x01}, code: CodeMalformed,
			err: "wire: batch: malformed message: at byte 0: array, want a map"},
		{name: "batch_trailing_byte", topic: batchTopic, raw: appendByte(mustAppend(batchMsg()), 0), code: CodeMalformed,
			err: "wire: batch: malformed message: 1 trailing bytes after the message"},
		{name: "batch_truncated", topic: batchTopic, raw: cut(mustAppend(batchMsg()), 1), code: CodeMalformed,
			errPrefix: "wire: batch.sent: malformed message: at byte "},
		{name: "batch_round_string", topic: batchTopic, raw: mapOf("v", 1, "round", "x"), code: CodeMalformed,
			err: "wire: batch.round: malformed message: at byte 10: string, want an integer"},
		{name: "batch_iter_overflow", topic: batchTopic, raw: mapOf("v", 1, "iter", uint64(math.MaxUint64)), code: CodeMalformed,
			err: "wire: batch.iter: malformed message: at byte 9: integer 18446744073709551615 overflows int64"},
		{name: "batch_duplicate_key", topic: batchTopic, raw: mapOf("v", 1, "iter", 1, "iter", 2), code: CodeMalformed,
			err: "wire: batch.iter: malformed message: duplicate key"},
		{name: "batch_dtype_f64", topic: batchTopic, msg: modB(func(m *Batch) { m.Fake.DType = "f64" }), code: CodeMalformed,
			err: `wire: batch.fake.dtype: malformed message: "f64", want "f32" or "bf16"`},
		{name: "batch_dtype_missing", topic: batchTopic, raw: mapOf("v", 1, "community", "c1", "fake", mapOf("shape", []int{4, 3})), code: CodeMalformed,
			err: `wire: batch.fake: malformed message: dtype "", want "f32" or "bf16"`},
		{name: "batch_data_as_floats", topic: batchTopic, raw: mapOf("v", 1, "fake", mapOf("shape", []int{1}, "dtype", "f32", "data", []float32{1})), code: CodeMalformed,
			err: "wire: batch.fake.data: malformed message: at byte 33: array, want bin"},
		{name: "batch_deep_unknown_field", topic: batchTopic, raw: mapOf("v", 1, "x", nested(20)), code: CodeMalformed,
			err: "wire: batch: malformed message: at byte 22: nested deeper than 16"},
		{name: "batch_huge_shape_claim", topic: batchTopic, raw: hostile("shape", 0xdd), code: CodeMalformed,
			err: "wire: batch.fake.shape: malformed message: at byte 29: array of length 4294967295, only 0 bytes left"},
		{name: "batch_huge_bin_claim", topic: batchTopic, raw: hostile("data", 0xc6), code: CodeMalformed,
			err: "wire: batch.fake.data: malformed message: at byte 28: bin of length 4294967295, only 0 bytes left"},
		{name: "batch_huge_map_claim", topic: batchTopic, raw: []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, code: CodeMalformed,
			err: "wire: batch: malformed message: at byte 0: map of length 4294967295, only 0 bytes left"},
		{name: "generator_huge_params_claim", topic: generatorTopic, raw: mapOfRaw("params", []byte{0xdd, 0x10, 0, 0, 0}), code: CodeMalformed,
			err: "wire: generator.params: malformed message: at byte 11: array of length 268435456, only 0 bytes left"},

		// Version.
		{name: "batch_v2", topic: batchTopic, msg: modB(func(m *Batch) { m.V = 2 }), code: CodeVersion,
			err: "wire: batch.v: unsupported protocol version: version 2, want 1"},
		{name: "batch_v_missing", topic: batchTopic, raw: mapOf("community", "c1"), code: CodeVersion,
			err: "wire: batch.v: unsupported protocol version: version 0, want 1"},
		{name: "batch_v2_other_layout", topic: batchTopic, raw: mapOf("v", 2, "fake", "a string in v2"), code: CodeVersion,
			err: "wire: batch.v: unsupported protocol version: version 2, want 1"},
		{name: "feedback_v0", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.V = 0 }), code: CodeVersion,
			err: "wire: feedback.v: unsupported protocol version: version 0, want 1"},
		{name: "generator_v2", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.V = 2 }), code: CodeVersion,
			err: "wire: generator.v: unsupported protocol version: version 2, want 1"},
		{name: "model_v2", topic: modelTopic, msg: modM(func(m *GlobalModel) { m.V = 2 }), code: CodeVersion,
			err: "wire: model.v: unsupported protocol version: version 2, want 1"},
		{name: "presence_v2", topic: presenceTopic, msg: modP(func(m *Presence) { m.V = 2 }), code: CodeVersion,
			err: "wire: presence.v: unsupported protocol version: version 2, want 1"},

		// Ids and topics.
		{name: "batch_other_community", topic: batchTopic, msg: modB(func(m *Batch) { m.Community = "c2" }), code: CodeIDMismatch,
			err: `wire: batch.community: id does not match topic: "c2", but the topic says "c1"`},
		{name: "batch_bad_community", topic: batchTopic, msg: modB(func(m *Batch) { m.Community = "c/1" }), code: CodeID,
			err: `wire: batch.community: invalid id: "c/1" contains '/' (allowed: letters, digits, _ . -)`},
		{name: "feedback_other_device", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Device = "d2" }), code: CodeIDMismatch,
			err: `wire: feedback.device: id does not match topic: "d2", but the topic says "d1"`},
		{name: "feedback_other_community", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Community = "c2" }), code: CodeIDMismatch,
			err: `wire: feedback.community: id does not match topic: "c2", but the topic says "c1"`},
		{name: "feedback_empty_device", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Device = "" }), code: CodeID,
			err: `wire: feedback.device: invalid id: "" must be 1 to 64 characters`},
		{name: "generator_other_community", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.Community = "c2" }), code: CodeIDMismatch,
			err: `wire: generator.community: id does not match topic: "c2", but the topic says "c1"`},
		{name: "model_bad_weight_id", topic: modelTopic, msg: modM(func(m *GlobalModel) { m.Weights = map[string]float64{"c#": 1} }), code: CodeID,
			err: `wire: model.weights: invalid id: "c#" contains '#' (allowed: letters, digits, _ . -)`},
		{name: "presence_other_device", topic: presenceTopic, msg: modP(func(m *Presence) { m.Device = "d2" }), code: CodeIDMismatch,
			err: `wire: presence.device: id does not match topic: "d2", but the topic says "d1"`},
		{name: "presence_other_community", topic: presenceTopic, msg: modP(func(m *Presence) { m.Community = "c2" }), code: CodeIDMismatch,
			err: `wire: presence.community: id does not match topic: "c2", but the topic says "c1"`},

		// Ranges.
		{name: "batch_negative_round", topic: batchTopic, msg: modB(func(m *Batch) { m.Round = -1 }), code: CodeRange,
			err: "wire: batch.round: value out of range: -1 is negative"},
		{name: "batch_negative_iter", topic: batchTopic, msg: modB(func(m *Batch) { m.Iter = -3 }), code: CodeRange,
			err: "wire: batch.iter: value out of range: -3 is negative"},
		{name: "batch_negative_version", topic: batchTopic, msg: modB(func(m *Batch) { m.Version = -1 }), code: CodeRange,
			err: "wire: batch.version: value out of range: -1 is negative"},
		{name: "batch_domain_in_fr", topic: batchTopic, msg: modB(func(m *Batch) { m.Domain = 1 }), code: CodeRange,
			err: "wire: batch.domain: value out of range: 1, want 0 (no domains configured)"},
		{name: "batch_domain_too_big", topic: batchTopic, spec: lrSpec(), msg: modB(func(m *Batch) { m.Domain = 2 }), code: CodeRange,
			err: "wire: batch.domain: value out of range: 2, want 0 to 1"},
		{name: "batch_domain_negative", topic: batchTopic, spec: lrSpec(), msg: modB(func(m *Batch) { m.Domain = -1 }), code: CodeRange,
			err: "wire: batch.domain: value out of range: -1 is negative"},
		{name: "batch_labels_unconditional", topic: batchTopic, msg: labeled(batchMsg()), code: CodeShape,
			err: "wire: batch.fake_labels: shape mismatch: 4 labels, want none (the generator is not class-conditional)"},
		{name: "batch_labels_missing", topic: batchTopic, spec: classSpec(), msg: batchMsg(), code: CodeShape,
			err: "wire: batch.fake_labels: shape mismatch: 0 labels, want one per row (4)"},
		{name: "batch_labels_short", topic: batchTopic, spec: classSpec(), msg: modB(func(m *Batch) { labeled(m).GenLabels = []byte{1, 2} }), code: CodeShape,
			err: "wire: batch.gen_labels: shape mismatch: 2 labels, want one per row (4)"},
		{name: "batch_label_too_big", topic: batchTopic, spec: classSpec(), msg: modB(func(m *Batch) { labeled(m).FakeLabels[3] = 3 }), code: CodeRange,
			err: "wire: batch.fake_labels: value out of range: row 3 has class 3, want 0 to 2"},
		{name: "feedback_negative_n_real", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.NReal = -4 }), code: CodeRange,
			err: "wire: feedback.n_real: value out of range: -4 is negative"},
		{name: "feedback_negative_wait", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Timings.WaitUS = -5 }), code: CodeRange,
			err: "wire: feedback.timings.wait_us: value out of range: -5 is negative"},
		{name: "generator_negative_iters", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.Iters = -1 }), code: CodeRange,
			err: "wire: generator.iters: value out of range: -1 is negative"},
		{name: "model_too_many_weights", topic: modelTopic, msg: modM(func(m *GlobalModel) {
			m.Weights = map[string]float64{}
			for i := range MaxWeights + 1 {
				m.Weights[fmt.Sprint("c", i)] = 0
			}
		}), code: CodeRange, err: "wire: model.weights: value out of range: 1025 entries, at most 1024"},
		{name: "model_negative_round", topic: modelTopic, msg: modM(func(m *GlobalModel) { m.Round = -2 }), code: CodeRange,
			err: "wire: model.round: value out of range: -2 is negative"},
		{name: "presence_away", topic: presenceTopic, msg: modP(func(m *Presence) { m.State = "away" }), code: CodeRange,
			err: `wire: presence.state: value out of range: "away", want "online" or "offline"`},
		{name: "presence_negative_ts", topic: presenceTopic, msg: modP(func(m *Presence) { m.UnixMilli = -1 }), code: CodeRange,
			err: "wire: presence.ts: value out of range: -1 is negative"},

		// Shapes.
		{name: "batch_fake_columns", topic: batchTopic, msg: modB(func(m *Batch) { m.Fake, m.Gen = tensor(0, 4, 2), tensor(0, 4, 2) }), code: CodeShape,
			err: "wire: batch.fake: shape mismatch: got [4 2], want [4 3]"},
		{name: "batch_gen_rows", topic: batchTopic, msg: modB(func(m *Batch) { m.Gen = tensor(0, 3, 3) }), code: CodeShape,
			err: "wire: batch.gen: shape mismatch: got [3 3], want [4 3]"},
		{name: "batch_gen_rank1", topic: batchTopic, msg: modB(func(m *Batch) { m.Gen = tensor(0, 12) }), code: CodeShape,
			err: "wire: batch.gen: shape mismatch: got [12], want [4 3]"},
		{name: "batch_any_rows_differ", topic: batchTopic, spec: anyRowsSpec(), msg: modB(func(m *Batch) { m.Fake, m.Gen = tensor(0, 2, 3), tensor(0, 3, 3) }), code: CodeShape,
			err: "wire: batch.gen: shape mismatch: got [3 3], want [2 3] like batch.fake"},
		{name: "batch_any_rows_too_many", topic: batchTopic, spec: anyRowsSpec(), msg: modB(func(m *Batch) { m.Fake, m.Gen = tensor(0, 9, 3), tensor(0, 9, 3) }), code: CodeShape,
			err: "wire: batch.fake: shape mismatch: got [9 3], want at most 8 rows"},
		{name: "batch_any_rows_zero", topic: batchTopic, spec: anyRowsSpec(), msg: modB(func(m *Batch) { m.Fake, m.Gen = tensor(0, 0, 3), tensor(0, 0, 3) }), code: CodeShape,
			err: "wire: batch.fake: shape mismatch: got [0 3], want B ≥ 1 rows"},
		{name: "batch_short_data", topic: batchTopic, msg: modB(func(m *Batch) { m.Fake = raw([]int{4, 3}, DTypeF32, 44) }), code: CodeShape,
			err: "wire: batch.fake: shape mismatch: shape [4 3] needs 48 bytes of data, got 44"},
		{name: "batch_rank9", topic: batchTopic, msg: modB(func(m *Batch) { m.Fake = raw([]int{1, 1, 1, 1, 1, 1, 1, 1, 1}, DTypeF32, 4) }), code: CodeShape,
			err: "wire: batch.fake: shape mismatch: rank 9 exceeds 8"},
		{name: "feedback_grad_columns", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Grad = tensor(0, 4, 2) }), code: CodeShape,
			err: "wire: feedback.grad: shape mismatch: got [4 2], want [4 3]"},
		{name: "feedback_grad_negative_dim", topic: feedbackTopic, spec: anyRowsSpec(), msg: modF(func(m *Feedback) { m.Grad = raw([]int{-4, 3}, DTypeF32, 48) }), code: CodeShape,
			err: "wire: feedback.grad: shape mismatch: got [-4 3], want B ≥ 1 rows"},
		{name: "generator_three_params", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.Params = m.Params[:3] }), code: CodeShape,
			err: "wire: generator.params: shape mismatch: 3 tensors, want 4"},
		{name: "generator_transposed", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.Params[2] = tensor(0, 3, 5) }), code: CodeShape,
			err: "wire: generator.params[2]: shape mismatch: got [3 5], want [5 3]"},
		{name: "model_no_params", topic: modelTopic, msg: modM(func(m *GlobalModel) { m.Params = nil }), code: CodeShape,
			err: "wire: model.params: shape mismatch: 0 tensors, want 4"},
		{name: "model_fr_with_classifier", topic: modelTopic, msg: modelLRMsg(), code: CodeShape,
			err: "wire: model.classifier: shape mismatch: 2 tensors, want 0"},
		{name: "model_lr_classifier_shape", topic: modelTopic, spec: lrSpec(), msg: modL(func(m *GlobalModel) { m.Classifier[1] = tensor(0, 3) }), code: CodeShape,
			err: "wire: model.classifier[1]: shape mismatch: got [3], want [2]"},

		// Non-finite values.
		{name: "batch_fake_inf", topic: batchTopic, msg: modB(func(m *Batch) { m.Fake = with(m.Fake, 0, inf) }), code: CodeNonFinite,
			err: "wire: batch.fake: non-finite value: element [0 0] is +Inf"},
		{name: "batch_gen_nan", topic: batchTopic, msg: modB(func(m *Batch) { m.Gen = with(m.Gen, 5, nan) }), code: CodeNonFinite,
			err: "wire: batch.gen: non-finite value: element [1 2] is NaN"},
		{name: "feedback_grad_neg_inf", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Grad = with(m.Grad, 9, -inf) }), code: CodeNonFinite,
			err: "wire: feedback.grad: non-finite value: element [3 0] is -Inf"},
		{name: "feedback_loss_nan", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.Loss = math.NaN() }), code: CodeNonFinite,
			err: "wire: feedback.loss: non-finite value: NaN"},
		{name: "feedback_d_loss_inf", topic: feedbackTopic, msg: modF(func(m *Feedback) { m.DLoss = math.Inf(-1) }), code: CodeNonFinite,
			err: "wire: feedback.d_loss: non-finite value: -Inf"},
		{name: "generator_loss_inf", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.Loss = math.Inf(1) }), code: CodeNonFinite,
			err: "wire: generator.loss: non-finite value: +Inf"},
		{name: "generator_param_nan", topic: generatorTopic, msg: modG(func(m *GeneratorUpdate) { m.Params[1] = with(m.Params[1], 4, nan) }), code: CodeNonFinite,
			err: "wire: generator.params[1]: non-finite value: element [4] is NaN"},
		{name: "model_weight_nan", topic: modelTopic, msg: modM(func(m *GlobalModel) { m.Weights["c2"] = math.NaN() }), code: CodeNonFinite,
			err: "wire: model.weights.c2: non-finite value: NaN"},
		{name: "model_l_inv_inf", topic: modelTopic, spec: lrSpec(), msg: modL(func(m *GlobalModel) { m.LInv = math.Inf(1) }), code: CodeNonFinite,
			err: "wire: model.l_inv: non-finite value: +Inf"},
		{name: "model_lambda2_nan", topic: modelTopic, spec: lrSpec(), msg: modL(func(m *GlobalModel) { m.Lambda2 = math.NaN() }), code: CodeNonFinite,
			err: "wire: model.lambda2: non-finite value: NaN"},
		{name: "model_classifier_nan", topic: modelTopic, spec: lrSpec(), msg: modL(func(m *GlobalModel) { m.Classifier[0] = with(m.Classifier[0], 5, nan) }), code: CodeNonFinite,
			err: "wire: model.classifier[0]: non-finite value: element [2 1] is NaN"},

		// JSON.
		{name: "presence_not_json", topic: presenceTopic, raw: []byte(`{"v":1,`), code: CodeMalformed,
			err: "wire: presence: malformed message: unexpected end of JSON input"},
		{name: "presence_v_string", topic: presenceTopic, raw: []byte(`{"v":"1"}`), code: CodeMalformed,
			errPrefix: "wire: presence: malformed message: json: cannot unmarshal string into Go struct field Presence.v of type int"},
		{name: "presence_null", topic: presenceTopic, raw: []byte(`null`), code: CodeVersion,
			err: "wire: presence.v: unsupported protocol version: version 0, want 1"},
	}
}

// nilSpec marks a case decoded with a nil *Spec.
var nilSpec = &Spec{MaxPayload: -12345}

func (c *wireCase) specOrDefault() *Spec {
	switch c.spec {
	case nil:
		return frSpec()
	case nilSpec:
		return nil
	}
	return c.spec
}

// payload returns the bytes of c.
func (c *wireCase) payload(tb testing.TB) []byte {
	tb.Helper()
	if c.raw != nil {
		return c.raw
	}
	var p []byte
	var err error
	switch m := c.msg.(type) {
	case *Presence:
		p, err = EncodeJSON(m)
	default:
		if c.code == 0 {
			p, err = appendAny(nil, m)
		} else {
			p, err = msgpack.Marshal(m)
		}
	}
	if err != nil {
		tb.Fatalf("%s: encoding: %v", c.name, err)
	}
	return p
}

// appendAny calls the Append function of m's type.
func appendAny(dst []byte, m any) ([]byte, error) {
	switch m := m.(type) {
	case *Batch:
		return AppendBatch(dst, m)
	case *Feedback:
		return AppendFeedback(dst, m)
	case *GeneratorUpdate:
		return AppendGeneratorUpdate(dst, m)
	case *GlobalModel:
		return AppendGlobalModel(dst, m)
	case *Presence:
		return AppendPresence(dst, m)
	case *CommunityModel:
		return AppendCommunityModel(dst, m)
	case *LocalModel:
		return AppendLocalModel(dst, m)
	}
	panic("appendAny: unknown message type")
}

// decoderKind returns the kind of decoder c uses.
func (c *wireCase) decoderKind() string {
	if c.kind != "" {
		return c.kind
	}
	return c.topic.Kind
}

// decode decodes c's payload p with c's decoder and spec.
func (c *wireCase) decode(p []byte) (any, error) {
	return decodeAny(c.decoderKind(), p, c.specOrDefault(), c.topic)
}

// decodeAny calls the decoder of kind. It returns a nil interface, not a
// typed nil pointer, on error.
func decodeAny(kind string, p []byte, s *Spec, topic Topic) (any, error) {
	var m any
	var err error
	switch kind {
	case KindBatch:
		m, err = DecodeBatch(p, s, topic)
	case KindFeedback:
		m, err = DecodeFeedback(p, s, topic)
	case KindGenerator:
		m, err = DecodeGeneratorUpdate(p, s, topic)
	case KindModel:
		m, err = DecodeGlobalModel(p, s, topic)
	case KindPresence:
		m, err = DecodePresence(p, s, topic)
	case KindCommunityModel:
		m, err = DecodeCommunityModel(p, s, topic)
	case KindLocal:
		m, err = DecodeLocalModel(p, s, topic)
	default:
		panic("decodeAny: kind " + kind)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

func mustAppend(m any) []byte {
	p, err := appendAny(nil, m)
	if err != nil {
		panic(err)
	}
	return p
}

func appendByte(p []byte, b byte) []byte { return append(p[:len(p):len(p)], b) }

func cut(p []byte, n int) []byte { return p[:len(p)-n] }

// mapOf encodes key/value pairs as one msgpack map, in order, with
// msgpack/v5 (duplicates allowed). A []byte value made by mapOf is nested
// as it is; use mapOf for nested maps so that their order is fixed too.
func mapOf(kv ...any) msgpack.RawMessage {
	var buf bytes.Buffer
	e := msgpack.NewEncoder(&buf)
	must(e.EncodeMapLen(len(kv) / 2))
	for i := 0; i < len(kv); i += 2 {
		must(e.EncodeString(kv[i].(string)))
		must(e.Encode(kv[i+1]))
	}
	return buf.Bytes()
}

// mapOfRaw is {"v": 1, key: <raw bytes>}.
func mapOfRaw(key string, val []byte) []byte {
	p := mapOf("v", 1, key, nil)
	return append(p[:len(p)-1], val...)
}

// nested is n arrays nested in each other: [[[...]]].
func nested(n int) []any {
	v := []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

// hostile is a batch of 33 or 34 bytes whose fake tensor's shape (code 0xdd, array32)
// or data (code 0xc6, bin32) claims 2^32-1 elements and ends there.
func hostile(key string, code byte) []byte {
	p := mapOf("v", 1, "community", "c1", "fake", mapOf(key, nil))
	return append(p[:len(p)-1], code, 0xff, 0xff, 0xff, 0xff)
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
