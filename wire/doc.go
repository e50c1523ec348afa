// Package wire owns the MQTT topic tree, the message types and their codec
// (docs/DESIGN.md §4). No other package formats a topic string or touches a
// payload's bytes: services build messages, call an Append function and
// publish; they receive a payload, call Topics.Parse and a Decode function,
// and get either a message that has been fully validated against the
// configured model or an *Error that says what is wrong and why.
//
// The package knows nothing of MQTT clients, goroutines, clocks or logs,
// and imports no other package of this module.
//
// # Topic tree
//
// Topics hang under a configurable root, Topics.Root (default DefaultRoot,
// "fedgan/v1"):
//
//	{root}/c/{community}/batch              edge → devices     msgpack Batch            QoS 1
//	{root}/c/{community}/feedback/{device}  device → edge      msgpack Feedback         QoS 1
//	{root}/c/{community}/presence/{device}  device (and will)  JSON Presence, retained  QoS 1
//	{root}/c/{community}/generator          edge → cloud       msgpack GeneratorUpdate  QoS 1
//	{root}/global/model                     cloud → edges      msgpack GlobalModel, retained  QoS 1
//	{root}/c/{community}/status             edge               JSON, retained           QoS 0
//	{root}/global/status                    cloud              JSON, retained           QoS 0
//	{root}/global/preview                   cloud              PNG, retained            QoS 0
//
// The methods of Topics build these names (Topics.Batch, Topics.Feedback,
// ...) and the filters services subscribe with (Topics.FeedbackFilter,
// Topics.GeneratorFilter, Topics.All, ...). Topics.Parse turns a name back
// into a Topic {Kind, Community, Device}; it accepts exactly the names the
// builders produce from valid ids, and wraps ErrTopic otherwise.
//
// Community and device ids are 1 to 64 characters from [A-Za-z0-9_.-]
// (ValidID, errors wrap ErrID), which keeps them safe as topic levels, file
// names and MQTT client ids: no '/', '+', '#' or '$'.
//
// Match reports whether an MQTT filter matches a topic name, following
// MQTT 3.1.1 §4.7: '+' matches one level, a final '#' the rest including
// the parent ("a/#" matches "a"), and names starting with '$' are not
// matched by a leading wildcard. Brokers and ACL hooks use it.
//
// # Messages
//
// Every message carries v, the protocol version (Version). The msgpack keys
// are those of the struct tags.
//
//   - Batch: an edge's generated samples for one local iteration: X_d
//     (Fake) for the discriminator step and X_g (Gen) for the feedback,
//     both B×d, with the round, iteration, generator version and, in the
//     label-related scenario, the community's domain index (docs/DESIGN.md §2.6);
//     with a class-conditional generator (Spec.Classes > 0) also the class
//     of every row of each (FakeLabels, GenLabels: bin, one byte per row).
//   - Feedback: a device's answer: the loss L_kj of Eq. 3, its
//     discriminator loss, the error feedback F_kj = ∂L/∂X_g (Grad, B×d),
//     and timings.
//   - GeneratorUpdate: an edge's generator parameters after I_lo local
//     iterations, with its loss L_{D*}(G_k) (docs/DESIGN.md §2.5).
//   - GlobalModel: the cloud's aggregate G (Eq. 1) with the weights it used
//     and, in LR, the domain classifier C, L_inv, L_spe, λ1 and λ2
//     (docs/DESIGN.md §2.6). Published retained.
//   - Presence: JSON {"v", "state", "device", "community", "agent", "ts"};
//     state is StateOnline or StateOffline (the MQTT will).
//
// Status topics carry JSON that the services define; EncodeJSON encodes it
// the way every JSON topic is written here (compact, no HTML escaping).
// The preview topic carries a small PNG (the latest samples or scatter
// plot) for dashboards; CheckPreview bounds it (MaxPreview bytes,
// MaxPreviewSide pixels) before the cloud publishes it.
//
// # Tensors
//
// A Tensor travels as a msgpack map {shape: [..], dtype: "f32", data: bin}:
// row-major IEEE-754 binary32 values, little-endian, as raw bytes. Never as
// a msgpack array of floats: msgpack/v5 decodes those by reflection, one
// value at a time, and each costs 5 bytes instead of 4. On a Batch of two
// 64×784 tensors, the float-array form is 25% larger (501,855 against
// 401,546 bytes) and one to two orders of magnitude slower to encode and
// to decode (run BenchmarkFloatArray beside BenchmarkAppendBatch and
// BenchmarkDecodeBatch).
//
// NewTensor builds a Tensor from float32s (copying them). Tensor.Float32s
// decodes into a caller's buffer; Tensor.Values returns the values without
// copying where it can. Both check the dtype, the rank (at most MaxRank),
// that the data holds exactly 4·∏shape bytes, and that no element is NaN or
// ±Inf. On little-endian hosts (amd64, arm, arm64, ...) decoding is a
// memory copy followed by a scan that tests two float32s per 64-bit word
// for an all-ones exponent; other hosts convert element by element with
// encoding/binary.
//
// # Codec
//
// The encoders append to a caller's buffer, so that a service can reuse one
// buffer for every publish:
//
//	buf, err = wire.AppendBatch(buf[:0], m)
//
// AppendBatch, AppendFeedback, AppendGeneratorUpdate, AppendGlobalModel and
// AppendPresence first check the message as far as they can without a Spec
// or a topic (known version, valid ids, non-negative counters, consistent
// tensors, no NaN or ±Inf), so that a sender learns of a bad message at
// once instead of having it dropped by every receiver. A zero V is written
// as Version. The msgpack output is deterministic (struct order, map keys
// sorted), written with msgpack/v5's Encoder; testdata/ holds golden
// copies.
//
// The decoders, DecodeBatch, DecodeFeedback, DecodeGeneratorUpdate,
// DecodeGlobalModel and DecodePresence, take the payload, the Spec of the
// configured model and the parsed topic the payload arrived on. They read
// msgpack with a reader of their own rather than msgpack.Unmarshal, whose
// slice decoding (v5.4.1) allocates whatever a length prefix claims: 14
// bytes claiming 2^24 parameter tensors make it allocate 2 GiB. This
// reader checks every length against the bytes that remain before
// allocating, bounds nesting, and copies tensor data exactly once, out of
// the payload into a []float32. Unknown keys are skipped, so a version-1 sender may add
// optional fields; duplicate keys and trailing bytes are errors.
//
// # Validation
//
// A decoder returns a message only if all of this holds, checked in this
// order:
//
//  1. the Spec is usable (Spec.Validate) and has what the decoder needs
//     (ErrSpec);
//  2. the payload is at most Spec.MaxPayload bytes, checked before
//     parsing (ErrTooLarge);
//  3. the topic is of the decoder's kind (ErrTopic);
//  4. the payload is one well-formed message (ErrMalformed) whose v is
//     Version, checked as soon as v is read (ErrVersion);
//  5. its ids are valid (ErrID) and equal the topic's: a Batch's and
//     GeneratorUpdate's community, a Feedback's and Presence's community
//     and device (ErrIDMismatch);
//  6. rounds, iterations, versions, counts, timings and timestamps are
//     non-negative, a Batch's domain is in [0, Spec.Domains) (0 when
//     Domains is 0), a presence state is known and a GlobalModel has at
//     most MaxWeights weights, and a Batch's class labels are below
//     Spec.Classes (ErrRange);
//  7. tensors match the Spec: Batch.Fake and Batch.Gen are
//     [Spec.Batch, Spec.DataDim] (any B ≤ Spec.MaxRows when Spec.Batch is
//  0. and equal, Feedback.Grad likewise, parameters have exactly the
//     shapes of Spec.GenParams and a classifier, if present, those of
//     Spec.ClsParams, and a Batch has one class label per row of Fake and
//     of Gen when Spec.Classes > 0 and none when it is 0 (ErrShape);
//  8. no float is NaN or ±Inf: tensor elements, losses, weights,
//     L_inv, L_spe, λ1, λ2 (ErrNonFinite).
//
// A decoder never panics on its input, allocates at most a small multiple
// of the payload size, and runs in time linear in it.
//
// # Errors
//
// Every error from an encoder or decoder is an *Error: Code, a stable
// number per kind for counting rejected messages by reason (Code.String
// gives a metric label such as "shape"); Field, the path of the offending
// part ("feedback.grad", "generator.params[2]", "model.weights.c1"); and
// Err, which wraps the kind's sentinel with the details. errors.Is works
// with the sentinels and CodeOf extracts the Code from any error. Messages
// say exactly what is wrong:
//
//	wire: feedback.grad: shape mismatch: got [64 3], want [64 2]
//	wire: batch.gen: non-finite value: element [12 40] is NaN
//	wire: feedback.device: id does not match topic: "d2", but the topic says "d9"
//	wire: batch.fake.data: malformed message: at byte 33: bin of length 4294967295, only 0 bytes left
//
// # Ownership
//
// A decoded message does not retain the payload: the caller may reuse p at
// once. Its tensors' data live in one []float32 allocated per message;
// Tensor.Values returns that memory itself on little-endian hosts (treat it
// as read-only, and copy with Tensor.Float32s what must outlive the
// message or be modified). The Append functions read m and never keep it;
// NewTensor copies its arguments. A Spec is only read.
//
// # Usage
//
// An edge publishes a batch; a device checks and decodes it:
//
//	topics := wire.Topics{Root: cfg.Root}
//	spec := topology.Spec() // *wire.Spec, built once
//
//	// Edge.
//	buf, err := wire.AppendBatch(buf[:0], &wire.Batch{
//		V: wire.Version, Community: "c1", Round: r, Iter: it, Version: ver,
//		Fake: wire.NewTensor([]int{b, d}, xd), Gen: wire.NewTensor([]int{b, d}, xg),
//	})
//	if err != nil {
//		return err // a NaN in G_k's output, say
//	}
//	client.Publish(topics.Batch("c1"), 1, false, buf)
//
//	// Device, for each message received.
//	topic, err := topics.Parse(msg.Topic())
//	if err != nil {
//		return err
//	}
//	batch, err := wire.DecodeBatch(msg.Payload(), spec, topic)
//	if err != nil {
//		rejected.With(wire.CodeOf(err).String()).Inc()
//		return nil // dropped, logged once per sender per minute
//	}
//	xg, _ := batch.Gen.Values() // validated: no error, no copy
package wire
