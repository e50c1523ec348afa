package wire

import (
	"maps"
	"slices"
	"strconv"
)

// This file holds the checks shared by the encoders and the decoders. A
// check method takes the Spec and the topic, either of which may be nil:
// encoders pass nil for both (they know neither), decoders pass both.
// Non-finite tensor elements are checked separately, where the float32s
// are at hand (the decoders check them while copying out of the payload).

// checkVersion checks the v field. Encoders accept 0, which they write as
// Version.
func checkVersion(field string, v int, encoding bool) error {
	if v == Version || encoding && v == 0 {
		return nil
	}
	return errorf(CodeVersion, field, "version %d, want %d", v, Version)
}

// checkID checks that id is valid and, when topic is non-nil, that it equals
// the topic's.
func checkID(field, id string, topic *string) error {
	if err := ValidID(id); err != nil {
		return wrapErr(CodeID, field, err)
	}
	if topic != nil && id != *topic {
		return errorf(CodeIDMismatch, field, "%q, but the topic says %q", id, *topic)
	}
	return nil
}

// checkTopic checks that a decoder of kind got a topic of that kind.
func checkTopic(msg, kind string, topic *Topic) error {
	if topic.Kind != kind {
		return errorf(CodeTopic, msg, "decoding a %s message from a %q topic", kind, topic.Kind)
	}
	return nil
}

func checkNonNeg(field string, v int64) error {
	if v < 0 {
		return errorf(CodeRange, field, "%d is negative", v)
	}
	return nil
}

// checkRows checks a B×d tensor against the Spec: want [s.Batch, s.DataDim],
// or any 1 ≤ B ≤ s.MaxRows when s.Batch is 0. Without a Spec it only
// checks the rank.
func checkRows(field string, shape []int, s *Spec) error {
	if len(shape) != 2 {
		if s == nil {
			return errorf(CodeShape, field, "rank %d, want 2 (B×d)", len(shape))
		}
		if s.Batch > 0 {
			return errorf(CodeShape, field, "got %v, want [%d %d]", shape, s.Batch, s.DataDim)
		}
		return errorf(CodeShape, field, "got %v, want [B %d]", shape, s.DataDim)
	}
	if s == nil {
		return nil
	}
	switch {
	case s.Batch > 0 && (shape[0] != s.Batch || shape[1] != s.DataDim):
		return errorf(CodeShape, field, "got %v, want [%d %d]", shape, s.Batch, s.DataDim)
	case s.Batch == 0 && shape[1] != s.DataDim:
		return errorf(CodeShape, field, "got %v, want [B %d]", shape, s.DataDim)
	case s.Batch == 0 && shape[0] < 1:
		return errorf(CodeShape, field, "got %v, want B ≥ 1 rows", shape)
	case s.Batch == 0 && s.MaxRows > 0 && shape[0] > s.MaxRows:
		return errorf(CodeShape, field, "got %v, want at most %d rows", shape, s.MaxRows)
	}
	return nil
}

// checkParams checks a list of parameter tensors (f32 only) against want
// (nil: any shapes). It does not check the count; callers do that first.
func checkParams(field string, ts []Tensor, want [][]int) error {
	for i := range ts {
		f := indexField(field, i)
		if ts[i].DType == DTypeBF16 {
			// Parameters travel in full precision; bf16 is for the
			// per-iteration tensors (X_d, X_g, the feedback).
			return errorf(CodeMalformed, f, "dtype %q, want %q", ts[i].DType, DTypeF32)
		}
		if _, err := checkLayout(f, ts[i].Shape, ts[i].DType, len(ts[i].Data)); err != nil {
			return err
		}
		if want != nil && !slices.Equal(ts[i].Shape, want[i]) {
			return errorf(CodeShape, f, "got %v, want %v", ts[i].Shape, want[i])
		}
	}
	return nil
}

func checkCount(field string, n int, want [][]int) error {
	if want != nil && n != len(want) {
		return errorf(CodeShape, field, "%d tensors, want %d", n, len(want))
	}
	return nil
}

func (m *Batch) check(s *Spec, topic *Topic) error {
	var tc *string
	if topic != nil {
		tc = &topic.Community
	}
	if err := checkID("batch.community", m.Community, tc); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"batch.round", int64(m.Round)}, {"batch.iter", m.Iter}, {"batch.version", m.Version}} {
		if err := checkNonNeg(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkNonNeg("batch.domain", int64(m.Domain)); err != nil {
		return err
	}
	if s != nil {
		switch {
		case s.Domains == 0 && m.Domain != 0:
			return errorf(CodeRange, "batch.domain", "%d, want 0 (no domains configured)", m.Domain)
		case s.Domains > 0 && m.Domain >= s.Domains:
			return errorf(CodeRange, "batch.domain", "%d, want 0 to %d", m.Domain, s.Domains-1)
		}
	}
	for _, t := range []struct {
		name string
		t    *Tensor
	}{{"batch.fake", &m.Fake}, {"batch.gen", &m.Gen}} {
		if err := checkRows(t.name, t.t.Shape, s); err != nil {
			return err
		}
		if _, err := checkLayout(t.name, t.t.Shape, t.t.DType, len(t.t.Data)); err != nil {
			return err
		}
	}
	if !slices.Equal(m.Fake.Shape, m.Gen.Shape) {
		return errorf(CodeShape, "batch.gen", "got %v, want %v like batch.fake", m.Gen.Shape, m.Fake.Shape)
	}
	return m.checkLabels(s)
}

// checkLabels checks the class labels: none, or one per row of both
// tensors (with a Spec: present exactly when s.Classes > 0, each below it).
func (m *Batch) checkLabels(s *Spec) error {
	rows := 0
	if len(m.Fake.Shape) == 2 {
		rows = m.Fake.Shape[0]
	}
	for _, l := range []struct {
		name string
		v    []byte
	}{{"batch.fake_labels", m.FakeLabels}, {"batch.gen_labels", m.GenLabels}} {
		switch {
		case s != nil && s.Classes == 0 && len(l.v) > 0:
			return errorf(CodeShape, l.name, "%d labels, want none (the generator is not class-conditional)", len(l.v))
		case s != nil && s.Classes > 0 && len(l.v) != rows:
			return errorf(CodeShape, l.name, "%d labels, want one per row (%d)", len(l.v), rows)
		case s == nil && len(l.v) > 0 && len(l.v) != rows:
			return errorf(CodeShape, l.name, "%d labels, want one per row (%d)", len(l.v), rows)
		}
		if s != nil && s.Classes > 0 {
			for i, c := range l.v {
				if int(c) >= s.Classes {
					return errorf(CodeRange, l.name, "row %d has class %d, want 0 to %d", i, c, s.Classes-1)
				}
			}
		}
	}
	if (len(m.FakeLabels) == 0) != (len(m.GenLabels) == 0) {
		return errorf(CodeShape, "batch.gen_labels", "%d labels beside %d fake labels, want both or neither", len(m.GenLabels), len(m.FakeLabels))
	}
	return nil
}

func (m *Feedback) check(s *Spec, topic *Topic) error {
	var tc, td *string
	if topic != nil {
		tc, td = &topic.Community, &topic.Device
	}
	if err := checkID("feedback.community", m.Community, tc); err != nil {
		return err
	}
	if err := checkID("feedback.device", m.Device, td); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"feedback.round", int64(m.Round)}, {"feedback.iter", m.Iter}, {"feedback.version", m.Version},
		{"feedback.n_real", int64(m.NReal)},
		{"feedback.timings.wait_us", m.Timings.WaitUS}, {"feedback.timings.compute_us", m.Timings.ComputeUS},
	} {
		if err := checkNonNeg(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkFloat("feedback.loss", m.Loss); err != nil {
		return err
	}
	if err := checkFloat("feedback.d_loss", m.DLoss); err != nil {
		return err
	}
	if err := checkRows("feedback.grad", m.Grad.Shape, s); err != nil {
		return err
	}
	_, err := checkLayout("feedback.grad", m.Grad.Shape, m.Grad.DType, len(m.Grad.Data))
	return err
}

func (m *GeneratorUpdate) check(s *Spec, topic *Topic) error {
	var tc *string
	if topic != nil {
		tc = &topic.Community
	}
	if err := checkID("generator.community", m.Community, tc); err != nil {
		return err
	}
	if err := checkNonNeg("generator.round", int64(m.Round)); err != nil {
		return err
	}
	if err := checkNonNeg("generator.iters", int64(m.Iters)); err != nil {
		return err
	}
	if err := checkFloat("generator.loss", m.Loss); err != nil {
		return err
	}
	var want [][]int
	if s != nil {
		want = s.GenParams
	}
	if err := checkCount("generator.params", len(m.Params), want); err != nil {
		return err
	}
	if err := checkParams("generator.params", m.Params, want); err != nil {
		return err
	}
	if err := checkSamples("generator.samples", m.Samples, s != nil && s.DiscParams != nil); err != nil {
		return err
	}
	return checkDisc("generator.d_params", m.DParams, s)
}

// checkSamples checks a sample count: at most MaxSamples, and at least 1
// when required (a Fed GAN message), else 0 (absent) is allowed.
func checkSamples(field string, n int64, required bool) error {
	switch {
	case n < 0 || n > MaxSamples:
		return errorf(CodeRange, field, "%d, want 1 to %d", n, int64(MaxSamples))
	case required && n == 0:
		return errorf(CodeRange, field, "0, want 1 to %d", int64(MaxSamples))
	}
	return nil
}

// discWant is what d_params must be under s: any shapes without a Spec,
// none in FR (no DiscParams), exactly DiscParams in Fed GAN.
func discWant(s *Spec) [][]int {
	if s == nil {
		return nil
	}
	if s.DiscParams == nil {
		return [][]int{}
	}
	return s.DiscParams
}

// checkDisc checks a message's d_params against s (see discWant).
func checkDisc(field string, ts []Tensor, s *Spec) error {
	want := discWant(s)
	if err := checkCount(field, len(ts), want); err != nil {
		return err
	}
	return checkParams(field, ts, want)
}

// paramFields names the tensors of G (the first ng) and then of D of a
// message msg, for own.
func paramFields(msg string, ng int) func(int) string {
	return func(i int) string {
		if i < ng {
			return indexField(msg+".params", i)
		}
		return indexField(msg+".d_params", i-ng)
	}
}

func (m *GlobalModel) check(s *Spec) error {
	if err := checkNonNeg("model.round", int64(m.Round)); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"model.l_inv", m.LInv}, {"model.l_spe", m.LSpe}, {"model.lambda1", m.Lambda1}, {"model.lambda2", m.Lambda2}} {
		if err := checkFloat(f.name, f.v); err != nil {
			return err
		}
	}
	if len(m.Weights) > MaxWeights {
		return errorf(CodeRange, "model.weights", "%d entries, at most %d", len(m.Weights), MaxWeights)
	}
	for _, id := range slices.Sorted(maps.Keys(m.Weights)) { // first error by id, not at random
		if err := checkID("model.weights", id, nil); err != nil {
			return err
		}
		if err := checkFloat("model.weights."+id, m.Weights[id]); err != nil {
			return err
		}
	}
	var wantGen, wantCls [][]int
	if s != nil {
		wantGen = s.GenParams
		wantCls = s.ClsParams
		if wantCls == nil {
			wantCls = [][]int{} // FR: no classifier
		}
	}
	if err := checkCount("model.params", len(m.Params), wantGen); err != nil {
		return err
	}
	if err := checkParams("model.params", m.Params, wantGen); err != nil {
		return err
	}
	if err := checkDisc("model.d_params", m.DParams, s); err != nil {
		return err
	}
	if len(m.Classifier) == 0 {
		return nil // optional, see Spec.ClsParams
	}
	if err := checkCount("model.classifier", len(m.Classifier), wantCls); err != nil {
		return err
	}
	return checkParams("model.classifier", m.Classifier, wantCls)
}

func (m *Presence) check(topic *Topic) error {
	var tc, td *string
	if topic != nil {
		tc, td = &topic.Community, &topic.Device
	}
	if err := checkID("presence.community", m.Community, tc); err != nil {
		return err
	}
	if err := checkID("presence.device", m.Device, td); err != nil {
		return err
	}
	if m.State != StateOnline && m.State != StateOffline {
		return errorf(CodeRange, "presence.state", "%q, want %q or %q", m.State, StateOnline, StateOffline)
	}
	return checkNonNeg("presence.ts", m.UnixMilli)
}

// checkFinite checks the elements of an already laid-out tensor.
func checkFinite(field string, t *Tensor) error {
	_, err := t.Values()
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Field = field
		}
	}
	return err
}

func indexField(field string, i int) string {
	return field + "[" + strconv.Itoa(i) + "]"
}
