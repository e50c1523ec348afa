package wire

import (
	"bytes"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/vmihailenco/msgpack/v5"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestRoundTrip: every valid case decodes to its message, and encoding the
// result gives the same bytes again.
func TestRoundTrip(t *testing.T) {
	for _, c := range wireCases() {
		if c.code != 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			p := c.payload(t)
			got, err := c.decode(p)
			if err != nil {
				t.Fatalf("decode: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, c.msg) {
				t.Fatalf("decode:\ngot  %+v\nwant %+v", got, c.msg)
			}
			q, err := appendAny([]byte("prefix"), got)
			if err != nil {
				t.Fatalf("re-encode: got error %v, want none", err)
			}
			if !bytes.Equal(q[len("prefix"):], p) || string(q[:len("prefix")]) != "prefix" {
				t.Fatalf("re-encode appended\n%x\nwant prefix then\n%x", q, p)
			}
		})
	}
}

// TestDecodeErrors: every invalid case fails with the right code and the
// exact message, as an *Error wrapping the code's sentinel.
func TestDecodeErrors(t *testing.T) {
	for _, c := range wireCases() {
		if c.code == 0 {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			m, err := c.decode(c.payload(t))
			if err == nil {
				t.Fatalf("got %+v and no error, want %v", m, c.code)
			}
			checkWireError(t, err)
			if got := CodeOf(err); got != c.code {
				t.Errorf("code: got %v, want %v (error %q)", got, c.code, err)
			}
			if !errors.Is(err, c.code.Sentinel()) {
				t.Errorf("errors.Is(%q, %v): got false, want true", err, c.code.Sentinel())
			}
			switch {
			case c.err != "" && err.Error() != c.err:
				t.Errorf("error text:\ngot  %q\nwant %q", err, c.err)
			case c.err == "" && !strings.HasPrefix(err.Error(), c.errPrefix):
				t.Errorf("error text:\ngot  %q\nwant prefix %q", err, c.errPrefix)
			}
		})
	}
}

// checkWireError fails unless err is an *Error with a known code whose Err
// wraps that code's sentinel.
func checkWireError(t testing.TB, err error) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("got error %T %q, want *wire.Error", err, err)
	}
	if e.Code.Sentinel() == nil {
		t.Fatalf("got code %d in %q, want a known code", e.Code, err)
	}
	if !errors.Is(e.Err, e.Code.Sentinel()) {
		t.Fatalf("%q: Err does not wrap %v", err, e.Code.Sentinel())
	}
	if !strings.HasPrefix(e.Error(), "wire: ") {
		t.Fatalf("%q: want the prefix \"wire: \"", err)
	}
}

// TestGolden compares the encodings of the golden cases with
// testdata/<name>.msgpack (.json for JSON messages); -update rewrites them.
// A change here is a change of the wire format.
func TestGolden(t *testing.T) {
	for _, c := range wireCases() {
		if !c.golden {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ext := ".msgpack"
			if c.topic.Kind == KindPresence {
				ext = ".json"
			}
			path := filepath.Join("testdata", c.name+ext)
			got := c.payload(t)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoding differs from %s:\ngot  %x\nwant %x", path, got, want)
			}
			m, err := c.decode(want)
			if err != nil {
				t.Fatalf("decoding %s: %v", path, err)
			}
			if !reflect.DeepEqual(m, c.msg) {
				t.Errorf("decoding %s:\ngot  %+v\nwant %+v", path, m, c.msg)
			}
		})
	}
}

// TestInterop checks the codec against msgpack/v5's reflection codec and
// the struct tags: the library decodes what we encode, and we decode what
// the library encodes, to the same message.
func TestInterop(t *testing.T) {
	for _, c := range wireCases() {
		if c.code != 0 || c.topic.Kind == KindPresence {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			ours := c.payload(t)
			lib := reflect.New(reflect.TypeOf(c.msg).Elem())
			if err := msgpack.Unmarshal(ours, lib.Interface()); err != nil {
				t.Fatalf("msgpack.Unmarshal of our encoding: %v", err)
			}
			if !reflect.DeepEqual(lib.Interface(), c.msg) {
				t.Errorf("msgpack.Unmarshal of our encoding:\ngot  %+v\nwant %+v", lib.Interface(), c.msg)
			}
			theirs, err := msgpack.Marshal(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			m, err := c.decode(theirs)
			if err != nil {
				t.Fatalf("decoding msgpack.Marshal's encoding: %v", err)
			}
			if !reflect.DeepEqual(m, c.msg) {
				t.Errorf("decoding msgpack.Marshal's encoding:\ngot  %+v\nwant %+v", m, c.msg)
			}
		})
	}
}

// TestDecodeIgnoresUnknownFields: a field this version does not know is
// skipped, whatever its type, so v1 senders may add optional fields.
func TestDecodeIgnoresUnknownFields(t *testing.T) {
	want := batchMsg()
	p := mustAppend(want)
	extra := mapOf("future", mapOf("a", []any{1, "two", 3.5, []byte{4}, nil, true}))
	// Add the extra entry: bump the fixmap length and append it.
	q := append([]byte{p[0] + 1}, p[1:]...)
	q = append(q, extra[1:]...)
	got, err := DecodeBatch(q, frSpec(), batchTopic)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestAppendRejects: the encoders refuse what the decoders would reject,
// as far as they can know without a Spec or a topic.
func TestAppendRejects(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name string
		msg  any
		err  string
	}{
		{"batch v2", func() any { m := batchMsg(); m.V = 2; return m }(),
			"wire: batch.v: unsupported protocol version: version 2, want 1"},
		{"batch bad community", func() any { m := batchMsg(); m.Community = "a b"; return m }(),
			`wire: batch.community: invalid id: "a b" contains ' ' (allowed: letters, digits, _ . -)`},
		{"batch fake NaN", func() any { m := batchMsg(); m.Fake = with(m.Fake, 11, nan); return m }(),
			"wire: batch.fake: non-finite value: element [3 2] is NaN"},
		{"batch shapes differ", func() any { m := batchMsg(); m.Gen = tensor(0, 3, 3); return m }(),
			"wire: batch.gen: shape mismatch: got [3 3], want [4 3] like batch.fake"},
		{"batch rank 1", func() any { m := batchMsg(); m.Fake = tensor(0, 12); return m }(),
			"wire: batch.fake: shape mismatch: rank 1, want 2 (B×d)"},
		{"batch zero tensors", &Batch{Community: "c1"},
			"wire: batch.fake: shape mismatch: rank 0, want 2 (B×d)"},
		{"feedback short data", func() any { m := feedbackMsg(); m.Grad.Data = m.Grad.Data[:40]; return m }(),
			"wire: feedback.grad: shape mismatch: shape [4 3] needs 48 bytes of data, got 40"},
		{"feedback loss Inf", func() any { m := feedbackMsg(); m.Loss = math.Inf(1); return m }(),
			"wire: feedback.loss: non-finite value: +Inf"},
		{"generator param dtype", func() any { m := generatorMsg(); m.Params[3].DType = "bf16"; return m }(),
			`wire: generator.params[3]: malformed message: dtype "bf16", want "f32"`},
		{"model classifier NaN", func() any { m := modelLRMsg(); m.Classifier[1] = with(m.Classifier[1], 1, nan); return m }(),
			"wire: model.classifier[1]: non-finite value: element [1] is NaN"},
		{"presence state", func() any { m := presenceMsg(); m.State = "Online"; return m }(),
			`wire: presence.state: value out of range: "Online", want "online" or "offline"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := appendAny(dst, tt.msg)
			if err == nil {
				t.Fatalf("got %x and no error, want %q", got, tt.err)
			}
			checkWireError(t, err)
			if err.Error() != tt.err {
				t.Errorf("error text:\ngot  %q\nwant %q", err, tt.err)
			}
			if string(got) != "keep" {
				t.Errorf("dst: got %q, want it unchanged (%q)", got, "keep")
			}
		})
	}
}

// TestAppendZeroVersion: a zero V is written as Version.
func TestAppendZeroVersion(t *testing.T) {
	m := feedbackMsg()
	m.V = 0
	p, err := AppendFeedback(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeFeedback(p, frSpec(), feedbackTopic)
	if err != nil {
		t.Fatal(err)
	}
	if got.V != Version {
		t.Errorf("V: got %d, want %d", got.V, Version)
	}
	if m.V != 0 {
		t.Errorf("AppendFeedback changed m.V to %d", m.V)
	}
}

// TestDecodeHostileAllocation: payloads of a few bytes that claim huge
// arrays, maps or bin data fail without allocating for the claim. (The
// same payloads make msgpack.Unmarshal allocate gigabytes; see reader.)
func TestDecodeHostileAllocation(t *testing.T) {
	cases := map[string][]byte{}
	for _, c := range wireCases() {
		if strings.Contains(c.name, "huge") {
			cases[c.name] = c.raw
		}
	}
	if len(cases) < 4 {
		t.Fatalf("found %d hostile cases, want ≥ 4", len(cases))
	}
	for name, p := range cases {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			if _, err := decodeAny(KindBatch, p, frSpec(), batchTopic); err == nil {
				t.Fatalf("%s: got no error", name)
			}
			if _, err := decodeAny(KindGenerator, p, frSpec(), generatorTopic); err == nil {
				t.Fatalf("%s: got no error", name)
			}
		}
		runtime.ReadMemStats(&after)
		if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
			t.Errorf("%s (%d bytes): 20 decodes allocated %d bytes, want < 1 MiB", name, len(p), got)
		}
	}
}

// TestDecodeTruncated: no strict prefix of a valid message decodes.
func TestDecodeTruncated(t *testing.T) {
	for _, c := range wireCases() {
		if c.code != 0 {
			continue
		}
		p := c.payload(t)
		for n := range len(p) {
			if m, err := c.decode(p[:n]); err == nil {
				t.Fatalf("%s: prefix of %d of %d bytes: got %+v, want an error", c.name, n, len(p), m)
			} else {
				checkWireError(t, err)
			}
		}
	}
}

// TestDecodedTensorsOwnData: a decoded message does not alias the payload,
// and Values returns the tensor's own memory.
func TestDecodedTensorsOwnData(t *testing.T) {
	p := mustAppend(batchMsg())
	m, err := DecodeBatch(p, frSpec(), batchTopic)
	if err != nil {
		t.Fatal(err)
	}
	clear(p)
	want := batchMsg()
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("after clearing the payload: got %+v, want %+v", m, want)
	}
	v, err := m.Gen.Values()
	if err != nil {
		t.Fatal(err)
	}
	if nativeLittleEndian && &v[0] != (*float32)(unsafe.Pointer(&m.Gen.Data[0])) {
		t.Errorf("Values copied the data of a decoded tensor; want a view")
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec *Spec
		err  string
	}{
		{"nil", nil, ""},
		{"zero", &Spec{}, ""},
		{"fr", frSpec(), ""},
		{"lr", lrSpec(), ""},
		{"negatives", &Spec{Batch: -1, DataDim: -2, Domains: -3, MaxPayload: -4, MaxRows: -5},
			"wire: invalid spec: Batch is -1, want ≥ 0\nwire: invalid spec: DataDim is -2, want ≥ 0\n" +
				"wire: invalid spec: Domains is -3, want ≥ 0\nwire: invalid spec: MaxPayload is -4, want ≥ 0\n" +
				"wire: invalid spec: MaxRows is -5, want ≥ 0"},
		{"batch over max rows", &Spec{Batch: 9, MaxRows: 8}, "wire: invalid spec: Batch 9 exceeds MaxRows 8"},
		{"bad shapes", &Spec{GenParams: [][]int{{3}, {}, {2, -1}}, ClsParams: [][]int{{1, 1, 1, 1, 1, 1, 1, 1, 1}}},
			"wire: invalid spec: GenParams[1] is [], want rank 1 to 8 with dimensions ≥ 1\n" +
				"wire: invalid spec: GenParams[2] is [2 -1], want rank 1 to 8 with dimensions ≥ 1\n" +
				"wire: invalid spec: ClsParams[0] is [1 1 1 1 1 1 1 1 1], want rank 1 to 8 with dimensions ≥ 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			got := ""
			if err != nil {
				got = err.Error()
				if !errors.Is(err, ErrSpec) {
					t.Errorf("errors.Is(err, ErrSpec): got false, want true")
				}
			}
			if got != tt.err {
				t.Errorf("got %q, want %q", got, tt.err)
			}
		})
	}
}

func TestPayloadLimit(t *testing.T) {
	tests := []struct {
		spec *Spec
		want int
	}{{nil, DefaultMaxPayload}, {&Spec{}, DefaultMaxPayload}, {&Spec{MaxPayload: 1000}, 1000}}
	for _, tt := range tests {
		if got := tt.spec.PayloadLimit(); got != tt.want {
			t.Errorf("%+v: got %d, want %d", tt.spec, got, tt.want)
		}
	}
}

func TestCodes(t *testing.T) {
	tests := []struct {
		code Code
		name string
		err  error
	}{
		{0, "ok", nil},
		{CodeMalformed, "malformed", ErrMalformed},
		{CodeVersion, "version", ErrVersion},
		{CodeTooLarge, "too_large", ErrTooLarge},
		{CodeShape, "shape", ErrShape},
		{CodeNonFinite, "non_finite", ErrNonFinite},
		{CodeRange, "range", ErrRange},
		{CodeIDMismatch, "id_mismatch", ErrIDMismatch},
		{CodeID, "id", ErrID},
		{CodeTopic, "topic", ErrTopic},
		{CodeSpec, "spec", ErrSpec},
		{200, "code_200", nil},
	}
	for _, tt := range tests {
		if got := tt.code.String(); got != tt.name {
			t.Errorf("Code(%d).String(): got %q, want %q", tt.code, got, tt.name)
		}
		if got := tt.code.Sentinel(); got != tt.err {
			t.Errorf("Code(%d).Sentinel(): got %v, want %v", tt.code, got, tt.err)
		}
		if tt.err != nil {
			if got := CodeOf(tt.err); got != tt.code {
				t.Errorf("CodeOf(%v): got %v, want %v", tt.err, got, tt.code)
			}
			if got := CodeOf(errorf(tt.code, "x", "y")); got != tt.code {
				t.Errorf("CodeOf(errorf(%v)): got %v, want %v", tt.code, got, tt.code)
			}
		}
	}
	// Plain wrapped sentinels, as Topics.Parse returns them.
	_, err := Topics{}.Parse("nope")
	if got := CodeOf(err); got != CodeTopic {
		t.Errorf("CodeOf(Parse error): got %v, want %v", got, CodeTopic)
	}
	_, err = Topics{}.Parse("fedgan/v1/c/a+b/batch") // wraps ErrTopic and ErrID
	if got := CodeOf(err); got != CodeTopic {
		t.Errorf("CodeOf(Parse error with a bad id): got %v, want %v", got, CodeTopic)
	}
	if got := CodeOf(ValidID("a b")); got != CodeID {
		t.Errorf("CodeOf(ValidID error): got %v, want %v", got, CodeID)
	}
	if got := CodeOf(errors.New("other")); got != 0 {
		t.Errorf("CodeOf(other error): got %v, want 0", got)
	}
	if got := CodeOf(nil); got != 0 {
		t.Errorf("CodeOf(nil): got %v, want 0", got)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{errorf(CodeShape, "feedback.grad", "got %v, want %v", []int{64, 3}, []int{64, 2}),
			"wire: feedback.grad: shape mismatch: got [64 3], want [64 2]"},
		{errorf(CodeTooLarge, "", "%d bytes", 10), "wire: payload too large: 10 bytes"},
		{&Error{Code: CodeRange, Field: "x"}, "wire: x: <nil>"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	got, err := EncodeJSON(map[string]any{"a": "<b>", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":"<b>","n":1}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	_, err = EncodeJSON(math.NaN())
	if CodeOf(err) != CodeMalformed {
		t.Errorf("EncodeJSON(NaN): got %v, want a malformed error", err)
	}
}
