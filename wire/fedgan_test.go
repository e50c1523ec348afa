package wire

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// The Fed GAN messages (docs/DESIGN.md §2.12): CommunityModel, LocalModel,
// and the d_params and samples of GeneratorUpdate and GlobalModel.

// fedganSpec is frSpec with a discriminator 3 → 4 → 1.
func fedganSpec() *Spec {
	s := frSpec()
	s.DiscParams = [][]int{{3, 4}, {4}, {4, 1}, {1}}
	return s
}

func genTensors() []Tensor {
	return []Tensor{tensor(0, 2, 5), tensor(1, 5), tensor(-2, 5, 3), tensor(0.25, 3)}
}

func discTensors() []Tensor {
	return []Tensor{tensor(-1, 3, 4), tensor(0.5, 4), tensor(2, 4, 1), tensor(-0.25, 1)}
}

func communityModelMsg() *CommunityModel {
	return &CommunityModel{V: Version, Community: "c1", Round: 4, Params: genTensors(), DParams: discTensors()}
}

func localModelMsg() *LocalModel {
	return &LocalModel{V: Version, Community: "c1", Device: "d1", Round: 4, Samples: 1200, Steps: 10,
		Loss: -0.7, DLoss: 1.25, Params: genTensors(), DParams: discTensors(), Timings: Timings{WaitUS: 5, ComputeUS: 900}}
}

var (
	communityModelTopic = Topic{Kind: KindCommunityModel, Community: "c1"}
	localTopic          = Topic{Kind: KindLocal, Community: "c1", Device: "d1"}
)

func TestFedGANTopics(t *testing.T) {
	var tp Topics
	for _, c := range []struct {
		name string
		want Topic
	}{
		{tp.CommunityModel("c1"), communityModelTopic},
		{tp.Local("c1", "d1"), localTopic},
	} {
		got, err := tp.Parse(c.name)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
	if !Match(tp.LocalFilter("c1"), tp.Local("c1", "d9")) || Match(tp.LocalFilter("c1"), tp.Local("c2", "d1")) {
		t.Error("LocalFilter matches the wrong topics")
	}
	for _, bad := range []string{"fedgan/v1/c/c1/local", "fedgan/v1/c/c1/community_model/d1", "fedgan/v1/c/c+/local/d1"} {
		if _, err := tp.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// TestFedGANRoundTrip encodes and decodes every Fed GAN message under the
// Fed GAN spec, and an FR update under the FR spec, which is unchanged.
func TestFedGANRoundTrip(t *testing.T) {
	gu := generatorMsg()
	gu.DParams, gu.Samples = discTensors(), 6000
	gm := modelMsg()
	gm.DParams = discTensors()
	for _, c := range []struct {
		kind  string
		topic Topic
		msg   any
	}{
		{KindCommunityModel, communityModelTopic, communityModelMsg()},
		{KindLocal, localTopic, localModelMsg()},
		{KindGenerator, generatorTopic, gu},
		{KindModel, modelTopic, gm},
	} {
		p, err := appendAny(nil, c.msg)
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		m, err := decodeAny(c.kind, p, fedganSpec(), c.topic)
		if err != nil {
			t.Fatalf("%s: %v", c.kind, err)
		}
		if !reflect.DeepEqual(m, c.msg) {
			t.Errorf("%s: round trip gave %+v, want %+v", c.kind, m, c.msg)
		}
	}
	// An FR update has the bytes it had before d_params existed.
	p := mustAppend(generatorMsg())
	if bytes.Contains(p, []byte("d_params")) || bytes.Contains(p, []byte("samples")) {
		t.Error("an FR update carries the Fed GAN fields")
	}
}

func TestFedGANInvalid(t *testing.T) {
	nan := float32(math.NaN())
	lm := func(f func(*LocalModel)) *LocalModel { m := localModelMsg(); f(m); return m }
	cm := func(f func(*CommunityModel)) *CommunityModel { m := communityModelMsg(); f(m); return m }
	gu := func(f func(*GeneratorUpdate)) *GeneratorUpdate {
		m := generatorMsg()
		m.DParams, m.Samples = discTensors(), 10
		f(m)
		return m
	}
	frSpecNoDisc := frSpec()
	for _, c := range []struct {
		name  string
		kind  string
		topic Topic
		spec  *Spec
		msg   any
		code  Code
		field string
	}{
		{"local_no_disc_spec", KindLocal, localTopic, frSpecNoDisc, localModelMsg(), CodeSpec, "local"},
		{"local_samples_zero", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.Samples = 0 }), CodeRange, "local.samples"},
		{"local_samples_absurd", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.Samples = MaxSamples + 1 }), CodeRange, "local.samples"},
		{"local_samples_negative", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.Samples = -1 }), CodeRange, "local.samples"},
		{"local_device_mismatch", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.Device = "d2" }), CodeIDMismatch, "local.device"},
		{"local_nan_d", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.DParams[2] = with(m.DParams[2], 1, nan) }), CodeNonFinite, "local.d_params[2]"},
		{"local_nan_g", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.Params[0] = with(m.Params[0], 0, nan) }), CodeNonFinite, "local.params[0]"},
		{"local_d_shape", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.DParams[0] = tensor(0, 4, 3) }), CodeShape, "local.d_params[0]"},
		{"local_d_missing", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.DParams = m.DParams[:3] }), CodeShape, "local.d_params"},
		{"local_loss_nan", KindLocal, localTopic, nil, lm(func(m *LocalModel) { m.Loss = math.NaN() }), CodeNonFinite, "local.loss"},
		{"local_wrong_topic", KindLocal, feedbackTopic, nil, localModelMsg(), CodeTopic, "local"},
		{"community_model_other", KindCommunityModel, communityModelTopic, nil, cm(func(m *CommunityModel) { m.Community = "c2" }), CodeIDMismatch, "community_model.community"},
		{"community_model_no_d", KindCommunityModel, communityModelTopic, nil, cm(func(m *CommunityModel) { m.DParams = nil }), CodeShape, "community_model.d_params"},
		{"community_model_round", KindCommunityModel, communityModelTopic, nil, cm(func(m *CommunityModel) { m.Round = -1 }), CodeRange, "community_model.round"},
		{"generator_d_in_fr", KindGenerator, generatorTopic, frSpecNoDisc, gu(func(*GeneratorUpdate) {}), CodeShape, "generator.d_params"},
		{"generator_no_d_in_fedgan", KindGenerator, generatorTopic, nil, gu(func(m *GeneratorUpdate) { m.DParams = nil }), CodeShape, "generator.d_params"},
		{"generator_no_samples", KindGenerator, generatorTopic, nil, gu(func(m *GeneratorUpdate) { m.Samples = 0 }), CodeRange, "generator.samples"},
		{"generator_absurd_samples", KindGenerator, generatorTopic, nil, gu(func(m *GeneratorUpdate) { m.Samples = MaxSamples + 1 }), CodeRange, "generator.samples"},
		{"model_no_d_in_fedgan", KindModel, modelTopic, nil, modelMsg(), CodeShape, "model.d_params"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := msgpackMarshal(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			s := c.spec
			if s == nil {
				s = fedganSpec()
			}
			_, err = decodeAny(c.kind, p, s, c.topic)
			if err == nil {
				t.Fatal("decoded, want an error")
			}
			checkWireError(t, err)
			e := err.(*Error)
			if e.Code != c.code || !strings.HasPrefix(e.Field, c.field) {
				t.Fatalf("got %v (code %v, field %q), want code %v at %q", err, e.Code, e.Field, c.code, c.field)
			}
			// What needs no Spec or topic, the encoder refuses too.
			if c.code == CodeNonFinite || strings.Contains(c.name, "absurd") || strings.Contains(c.name, "negative") {
				if _, err := appendAny(nil, c.msg); CodeOf(err) != c.code {
					t.Errorf("the encoder gave %v, want code %v", err, c.code)
				}
			}
		})
	}
}

// msgpackMarshal encodes m without the encoders' checks, as an attacker
// would.
func msgpackMarshal(m any) ([]byte, error) { return msgpack.Marshal(m) }

func FuzzDecodeCommunityModel(f *testing.F) {
	f.Add(mustAppend(communityModelMsg()))
	f.Add(mustAppend(func() *CommunityModel { m := communityModelMsg(); m.Final = true; return m }()))
	f.Add([]byte(mapOf("v", 1, "d_params", []any{})))
	f.Add([]byte(mapOf("v", 1, "params", []any{nil, nil, nil, nil}, "d_params", []any{nil})))
	f.Fuzz(func(t *testing.T, p []byte) {
		fuzzDecodeSpec(t, KindCommunityModel, communityModelTopic, p, fedganSpec())
	})
}

func FuzzDecodeLocalModel(f *testing.F) {
	f.Add(mustAppend(localModelMsg()))
	f.Add([]byte(mapOf("v", 1, "samples", -1)))
	f.Add([]byte(mapOf("v", 1, "samples", uint64(math.MaxUint64))))
	f.Add([]byte(mapOf("v", 1, "timings", mapOf("wait_us", 1, "wait_us", 2))))
	f.Fuzz(func(t *testing.T, p []byte) {
		fuzzDecodeSpec(t, KindLocal, localTopic, p, fedganSpec())
	})
}

// FuzzDecodeGeneratorUpdateFedGAN fuzzes the update decoder under a Fed
// GAN spec (d_params and samples required).
func FuzzDecodeGeneratorUpdateFedGAN(f *testing.F) {
	m := generatorMsg()
	m.DParams, m.Samples = discTensors(), 42
	f.Add(mustAppend(m))
	f.Add(mustAppend(generatorMsg()))
	f.Fuzz(func(t *testing.T, p []byte) {
		fuzzDecodeSpec(t, KindGenerator, generatorTopic, p, fedganSpec())
	})
}

// FuzzDecodeGlobalModelFedGAN fuzzes the global model decoder under a Fed
// GAN spec.
func FuzzDecodeGlobalModelFedGAN(f *testing.F) {
	m := modelMsg()
	m.DParams = discTensors()
	f.Add(mustAppend(m))
	f.Add(mustAppend(modelMsg()))
	f.Fuzz(func(t *testing.T, p []byte) {
		fuzzDecodeSpec(t, KindModel, modelTopic, p, fedganSpec())
	})
}
