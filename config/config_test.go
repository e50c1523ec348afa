package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
)

func TestLoadShippedConfigs(t *testing.T) {
	for _, tt := range []struct {
		file                 string
		communities, devices int
		device, community    string
		index                int
		codes                int
	}{
		{"../configs/gaussian.yaml", 9, 5, "c3-d2", "c3", 1, 9},
		{"../configs/grid25.yaml", 5, 5, "r2-d4", "r2", 3, 25},
	} {
		t.Run(tt.file, func(t *testing.T) {
			top, err := Load(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(top.Communities); got != tt.communities {
				t.Errorf("communities: got %d, want %d", got, tt.communities)
			}
			for _, c := range top.Communities {
				if got := len(c.Devices); got != tt.devices {
					t.Errorf("%s devices: got %d, want %d", c.ID, got, tt.devices)
				}
			}
			d, c, j, err := top.Device(tt.device)
			if err != nil || c.ID != tt.community || j != tt.index || d.ID != tt.device {
				t.Errorf("Device(%s) = %v, %v, %d, %v", tt.device, d, c, j, err)
			}
			if got := top.SourceCodes(); got != tt.codes {
				t.Errorf("source codes: got %d, want %d", got, tt.codes)
			}
			if top.Limits.MaxPayload <= 2*4*64*2 {
				t.Errorf("max payload %d is below one batch", top.Limits.MaxPayload)
			}
		})
	}
}

// TestSourceCode checks the FR source code: G's input width, the code of
// each device, the draw probabilities and the default scale.
func TestSourceCode(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8], source_code: %s}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1, samples: 100}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: b, data: {kind: gaussian, means: [[1, 0]], std: 1, samples: 300}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		code   string
		in     int
		codes  []int // SourceCode of a/0, a/1, b/0
		shares []float64
	}{
		{"none", 4, []int{-1, -1, -1}, nil},
		// a holds 2 × 100 samples, b 300: shares 200/500 and 300/500.
		{"community", 6, []int{0, 0, 1}, []float64{0.4, 0.6}},
		{"device", 7, []int{0, 1, 2}, []float64{0.2, 0.2, 0.6}},
	} {
		top, err := FromBytes([]byte(strings.Replace(base, "%s", tt.code, 1)), "inline", "")
		if err != nil {
			t.Fatalf("%s: %v", tt.code, err)
		}
		if got := top.GenInDim(); got != tt.in {
			t.Errorf("%s: G input width %d, want %d", tt.code, got, tt.in)
		}
		if got := top.GeneratorSpec()[0].In; got != tt.in {
			t.Errorf("%s: G spec input %d, want %d", tt.code, got, tt.in)
		}
		got := []int{top.SourceCode("a", 0), top.SourceCode("a", 1), top.SourceCode("b", 0)}
		if !slices.Equal(got, tt.codes) {
			t.Errorf("%s: codes %v, want %v", tt.code, got, tt.codes)
		}
		if top.SourceCode("b", 1) != -1 || top.SourceCode("zz", 0) != -1 {
			t.Errorf("%s: an unknown device has a code", tt.code)
		}
		shares := top.SourceShares()
		if len(shares) != len(tt.shares) {
			t.Fatalf("%s: shares %v, want %v", tt.code, shares, tt.shares)
		}
		for i := range shares {
			if math.Abs(shares[i]-tt.shares[i]) > 1e-12 {
				t.Errorf("%s: shares %v, want %v", tt.code, shares, tt.shares)
			}
		}
		if top.Model.SourceCodeScale != 2 {
			t.Errorf("%s: default code scale %g, want 2 (the number of communities)", tt.code, top.Model.SourceCodeScale)
		}
	}
}

func TestTrainingKeysRejected(t *testing.T) {
	const base = `
scenario: %s
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8], source_code: %s, source_code_scale: %s}
training: {global_rounds: 1, local_iters: 1, lr_decay: %s, d_spectral_norm: %s}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		args []any
		want string // "" for valid
	}{
		{[]any{"fr", "device", "3", "0.5", "2"}, ""},
		{[]any{"lr", "community", "1", "0", "0"}, "model.source_code: \"community\" applies to the fr scenario only"},
		{[]any{"fr", "domain", "1", "0", "0"}, "model.source_code: \"domain\" is not one of"},
		{[]any{"fr", "device", "-1", "0", "0"}, "model.source_code_scale: must be a finite number > 0, got -1"},
		{[]any{"fr", "none", "1", "1", "0"}, "training.lr_decay: must be in [0, 1), got 1"},
		{[]any{"fr", "none", "1", "-0.1", "0"}, "training.lr_decay: must be in [0, 1), got -0.1"},
		{[]any{"fr", "none", "1", "0", "-3"}, "training.d_spectral_norm: must be a finite number >= 0, got -3"},
		{[]any{"fr", "none", "1", "0", ".inf"}, "training.d_spectral_norm: must be a finite number >= 0, got +Inf"},
	} {
		src := fmt.Sprintf(strings.ReplaceAll(base, "%s", "%v"), tt.args...)
		top, err := FromBytes([]byte(src), "inline", "")
		if tt.want == "" {
			if err != nil {
				t.Errorf("%v: got %v, want no error", tt.args, err)
			} else if top.Training.LRDecay != 0.5 || top.Training.DSpectralNorm != 2 || top.Model.SourceCodeScale != 3 {
				t.Errorf("%v: got lr_decay %g, d_spectral_norm %g, scale %g; want 0.5, 2, 3", tt.args, top.Training.LRDecay, top.Training.DSpectralNorm, top.Model.SourceCodeScale)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: got %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	top, err := FromBytes([]byte(`
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 2}
`), "inline", "/cfg")
	if err != nil {
		t.Fatal(err)
	}
	tr := top.Training
	checks := []struct {
		name      string
		got, want any
	}{
		{"batch", tr.BatchSize, 64},
		{"mode", tr.Mode, "sync"},
		{"weights", tr.Weights, "exact"},
		{"robust", tr.Robust, "clip"},
		{"robust weight cap", tr.RobustWeightCap, 1.5},
		{"robust clip", tr.RobustClip, 3.0},
		{"robust trim", tr.RobustTrim, 0.2},
		{"robust loss spread", tr.RobustLossSpread, 2.0},
		{"robust window", tr.RobustWindow, 20},
		{"robust suspect", tr.RobustSuspect, 0.5},
		{"robust quarantine", tr.RobustQuarantine, false},
		{"staleness", tr.Staleness, "time"},
		{"sync period", tr.SyncPeriod.D(), 5 * time.Second},
		{"device timeout", tr.DeviceTimeout.D(), 15 * time.Second},
		{"beta1", tr.Beta1, 0.5},
		{"root", top.Root, "fedgan/v1"},
		{"device id", top.Communities[0].Devices[1].ID, "a-d2"},
		{"bridge remote", top.Communities[0].Edge.Bridge.Remote, "tcp://127.0.0.1:1883"},
		{"path", top.Path("x/y"), "/cfg/x/y"},
		{"gen spec len", len(top.GeneratorSpec()), 3},
		{"disc out", top.DiscriminatorSpec()[2].Out, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

// TestAllProblemsReported checks that unknown keys and bad values are
// reported together, each naming its key or line.
func TestAllProblemsReported(t *testing.T) {
	_, err := Load("testdata/bad.yaml")
	var ce *Error
	if !errors.As(err, &ce) || !errors.Is(err, ErrConfig) {
		t.Fatalf("got %v, want *config.Error", err)
	}
	want := []string{
		"line 8: model.colour: unknown key; the keys of model are class_code, classifier,",
		"line 13: training.sync_period: \"soon\" is not a duration",
		"scenario: \"frr\"",
		"model.latent: must be > 0",
		"training.local_iters: must be > 0",
		"training.mode: \"sometimes\"",
		"communities[0].id",
		"means[0]: has 3 coordinates",
		"communities[c2].data.std",
		"communities[c2].edge: needs credentials",
		"duplicate device id",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not mention %q:\n%s", w, msg)
		}
	}
	if !strings.HasPrefix(msg, "testdata/bad.yaml:") {
		t.Errorf("error does not start with the file name: %s", msg)
	}
}

func TestEmptyAndUnknownIDs(t *testing.T) {
	if _, err := FromBytes([]byte("  \n"), "empty.yaml", ""); err == nil || !strings.Contains(err.Error(), "empty file") {
		t.Errorf("empty: got %v", err)
	}
	top, err := Load("../configs/gaussian.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := top.Device("nope"); err == nil || !strings.Contains(err.Error(), `no device "nope"`) {
		t.Errorf("unknown device: got %v", err)
	}
	if _, err := top.Community("zz"); err == nil || !strings.Contains(err.Error(), "have c1, c2") {
		t.Errorf("unknown community: got %v", err)
	}
}

func TestParsePasswordFile(t *testing.T) {
	hash := "$2a$04$abcdefghijklmnopqrstuu5Gv0ePo3Bu4xaHyxSdErbP1hOeq9k.W"
	// Lines of mosquitto_passwd (2.0: PBKDF2-SHA512; -H sha512: SHA-512).
	const mosquitto = "carol:$7$101$WeFBQzp1V2FlL8GE$LaWZz9Jfcirv2G0/4v9G3XTqQAHeIwtX0I4VLT/d/3RJHLLAH0i+uTECUaBN0pjEUhL9v4F2vtpZgLRV084BxQ==\n" +
		"bob:$6$aVVxx2+rXGARtzJ1$5S7xy0ddIXSYCwiwRiUpaBQ8FmPIc4p4s1Cj9dM+WYTE+1qJODDvNQn7TdBvqEnT+kEBqj9XCO3Cr26628UXPg==\n"
	tests := []struct {
		in      string
		wantErr string
		users   int
	}{
		{"# comment\n\na:" + hash + "\nb:" + hash + "\n", "", 2},
		{mosquitto + "a:" + hash + "\n", "", 3},
		{"a:plain\n", "pw:1: user \"a\": pwhash: not a bcrypt", 0},
		{"no colon\n", "pw:1: want \"user:hash\"", 0},
		{"a:$7$101$c2FsdA==$c2hvcnQ=\n", "the hash is not 64 bytes", 0},
		{"a:" + hash + "\na:" + hash + "\n", "listed twice", 0},
	}
	for _, tt := range tests {
		u, err := ParsePasswordFile([]byte(tt.in), "pw")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: got %v, want error with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(u) != tt.users {
			t.Errorf("%q: got %d users, %v; want %d", tt.in, len(u), err, tt.users)
		}
	}
}

func TestDMinibatchStd(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8, 6], d_minibatch_std: %d}
training: {global_rounds: 1, local_iters: 1, batch_size: %d}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		group, batch int
		want         string // "" for valid
	}{
		{0, 64, ""},
		{4, 64, ""},
		{4, 0, ""}, // the default batch of 64
		{1, 64, "model.d_minibatch_std: must be 0 (off) or a group of ≥ 2 rows, got 1"},
		{-2, 64, "model.d_minibatch_std: must be 0 (off) or a group of ≥ 2 rows, got -2"},
		{5, 64, "model.d_minibatch_std: group 5 does not divide training.batch_size 64"},
		{8, 0, ""},
		{3, 0, "group 3 does not divide training.batch_size 64"},
	} {
		top, err := FromBytes([]byte(fmt.Sprintf(base, tt.group, tt.batch)), "inline", "")
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("group %d, batch %d: got %v, want an error containing %q", tt.group, tt.batch, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("group %d, batch %d: %v", tt.group, tt.batch, err)
			continue
		}
		specs := top.DiscriminatorSpec()
		want := []nn.LayerSpec{{Kind: nn.KindDense, In: 2, Out: 8}, {Kind: nn.KindLeakyReLU, Alpha: 0.2}, {Kind: nn.KindDense, In: 8, Out: 6}, {Kind: nn.KindLeakyReLU, Alpha: 0.2}}
		if tt.group > 0 {
			want = append(want, nn.LayerSpec{Kind: nn.KindMinibatchStd, Group: tt.group}, nn.LayerSpec{Kind: nn.KindDense, In: 7, Out: 1})
		} else {
			want = append(want, nn.LayerSpec{Kind: nn.KindDense, In: 6, Out: 1})
		}
		if !slices.Equal(specs, want) {
			t.Errorf("group %d: D is %+v, want %+v", tt.group, specs, want)
		}
		if _, err := nn.Build(specs, nil); err != nil {
			t.Errorf("group %d: %v", tt.group, err)
		}
	}
}

func TestClassCode(t *testing.T) {
	const base = `
scenario: SCENARIO
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8], class_code: CODE, source_code: SOURCE}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0], [1, 1]], std: 1, samples: 100}, partition: {kind: PART}, edge: {allow_anonymous: true}, device_count: 2}
  - {id: b, data: {kind: gaussian, means: [[1, 0], [2, 0], [3, 0]], std: 1, samples: 300, label_offset: 2}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		scenario, code, source, part string
		want                         string // "" for valid
	}{
		{"fr", "5", "none", "iid", ""},
		{"fr", "6", "none", "iid", ""}, // class 5 is never drawn
		{"fr", "0", "none", "modes", ""},
		{"fr", "4", "none", "iid", "communities[b].data: classes 2 to 4 do not fit model.class_code 4"},
		{"fr", "-1", "none", "iid", "model.class_code: must be 0 (off) or a number of classes up to 256, got -1"},
		{"fr", "257", "none", "iid", "up to 256, got 257"},
		{"lr", "5", "none", "iid", ""}, // G(z, c_k, e_y): two domain columns, then five class columns
		{"lr", "4", "none", "iid", "communities[b].data: classes 2 to 4 do not fit model.class_code 4"},
		{"lr", "0", "none", "iid", ""},
		{"fr", "5", "community", "iid", "model.class_code: replaces model.source_code"},
		{"fr", "5", "none", "modes", ""}, // each device judges its own classes
	} {
		r := strings.NewReplacer("SCENARIO", tt.scenario, "CODE", tt.code, "SOURCE", tt.source, "PART", tt.part)
		top, err := FromBytes([]byte(r.Replace(base)), "inline", "")
		name := tt.scenario + "/" + tt.code + "/" + tt.source + "/" + tt.part
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want an error containing %q", name, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		code, k := top.Model.ClassCode, top.Domains()
		if got, want := top.GenInDim(), 4+k+code; got != want {
			t.Errorf("%s: G input width %d, want %d", name, got, want)
		}
		if got, want := top.GenLayout().ClassOff(), 4+k; got != want {
			t.Errorf("%s: class column 0 at %d, want %d (after z and the domain code)", name, got, want)
		}
		if got, want := top.DiscriminatorSpec()[0].In, 2+k+code; got != want {
			t.Errorf("%s: D input width %d, want %d", name, got, want)
		}
		if got := top.Spec().Classes; got != code {
			t.Errorf("%s: wire spec classes %d, want %d", name, got, code)
		}
		if code == 0 {
			if top.ClassShares() != nil || top.CommunityClasses(&top.Communities[0]) != nil {
				t.Errorf("%s: class shares or classes without a class code", name)
			}
			continue
		}
		if got := top.CommunityClasses(&top.Communities[1]); !slices.Equal(got, []int{2, 3, 4}) {
			t.Errorf("%s: classes of b %v, want [2 3 4]", name, got)
		}
		// a: 2 devices × 100 samples over 2 classes; b: 300 over 3.
		want := []float64{0.2, 0.2, 0.2, 0.2, 0.2, 0, 0}[:code]
		got := top.ClassShares()
		if len(got) != len(want) {
			t.Fatalf("%s: class shares %v, want %v", name, got, want)
		}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 1e-12 {
				t.Errorf("%s: class shares %v, want %v", name, got, want)
				break
			}
		}
	}
}

func TestClassCodeDataClasses(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 784, generator: [8], discriminator: [8], class_code: 20}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: DATA, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct{ data, want string }{
		{"{kind: mnist}", ""},
		{"{kind: fashion-mnist, label_offset: 10}", ""},
		{"{kind: fashion-mnist, label_offset: 11}", "classes 11 to 20 do not fit model.class_code 20"},
		{"{kind: idx, path: x}", "communities[a].data.classes: required with model.class_code for idx data"},
		{"{kind: idx, path: x, classes: 20}", ""},
		{"{kind: idx, path: x, classes: -3}", "data.classes: must be > 0, got -3"},
	} {
		_, err := FromBytes([]byte(strings.Replace(base, "DATA", tt.data, 1)), "inline", "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.data, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error containing %q", tt.data, err, tt.want)
		}
	}
}

func TestModeSeeking(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1, batch_size: BATCH, mode_seeking: MS}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct{ batch, ms, want string }{
		{"64", "1", ""},
		{"63", "0", ""},
		{"63", "1", "training.mode_seeking: pairs the rows of a batch: batch_size must be even, got 63"},
		{"64", "-0.5", "training.mode_seeking: must be a finite number >= 0, got -0.5"},
		{"64", ".nan", "training.mode_seeking: must be a finite number >= 0, got NaN"},
	} {
		top, err := FromBytes([]byte(strings.NewReplacer("BATCH", tt.batch, "MS", tt.ms).Replace(base)), "inline", "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s/%s: %v", tt.batch, tt.ms, err)
		case tt.want == "" && top.Training.ModeSeeking != parseFloat(t, tt.ms):
			t.Errorf("%s/%s: mode_seeking %g", tt.batch, tt.ms, top.Training.ModeSeeking)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s/%s: got %v, want an error containing %q", tt.batch, tt.ms, err, tt.want)
		}
	}
}

func TestDClass(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8], class_code: 3, d_class: MODE, d_minibatch_std: 2}
training: {global_rounds: 1, local_iters: 1, aux_weight: WEIGHT}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0], [1, 1], [2, 2]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		mode, weight string
		in, out      int
		want         string
	}{
		{"input", "0", 5, 1, ""},
		{"aux", "0.5", 2, 4, ""},
		{"both", "0", 5, 4, ""},
		{"proj", "0", 0, 0, `model.d_class: "proj" is not one of [input aux both]`},
		{"aux", "-1", 0, 0, "training.aux_weight: must be a finite number > 0, got -1"},
	} {
		top, err := FromBytes([]byte(strings.NewReplacer("MODE", tt.mode, "WEIGHT", tt.weight).Replace(base)), "inline", "")
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s: got %v, want an error containing %q", tt.mode, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.mode, err)
			continue
		}
		s := top.DiscriminatorSpec()
		if s[0].In != tt.in || s[len(s)-1].Out != tt.out || s[len(s)-1].In != 9 {
			t.Errorf("%s: D %d → … → %d (last layer from %d), want %d → … → %d from 9 (8 + the std column)", tt.mode, s[0].In, s[len(s)-1].Out, s[len(s)-1].In, tt.in, tt.out)
		}
		if _, err := nn.Build(s, nil); err != nil {
			t.Errorf("%s: %v", tt.mode, err)
		}
		if tt.weight == "0" && top.Training.AuxWeight != 1 {
			t.Errorf("%s: default aux weight %g, want 1", tt.mode, top.Training.AuxWeight)
		}
	}
}

func TestServerOptimizer(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1, server_optimizer: OPT, server_lr: LR, server_lr_decay: DECAY, server_momentum: MOM}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		opt, lr, decay, mom string
		wantLR              float64
		want                string
	}{
		{"adam", "0", "0.9", "0", 1e-3, ""},
		{"adam", "0.006", "0", "0", 0.006, ""},
		{"none", "0", "0", "0", 1e-3, ""},
		{"sgd", "0", "0", "0", 1, ""},
		{"sgd", "2", "0.5", "0.9", 2, ""},
		{"none", "0", "0.5", "0", 0, "training.server_lr_decay: applies to server_optimizer: adam or sgd only"},
		{"adam", "0", "1", "0", 0, "training.server_lr_decay: must be in [0, 1), got 1"},
		{"adam", "0", "0", "0.9", 0, "training.server_momentum: applies to server_optimizer: sgd only"},
		{"sgd", "0", "0", "1", 0, "training.server_momentum: must be in [0, 1), got 1"},
		{"sgd", "-1", "0", "0", 0, "training.server_lr: must be a finite number > 0, got -1"},
		{"sgd", ".inf", "0", "0", 0, "training.server_lr: must be a finite number > 0, got +Inf"},
		{"rmsprop", "0", "0", "0", 0, "training.server_optimizer"},
	} {
		name := tt.opt + "/" + tt.lr + "/" + tt.decay + "/" + tt.mom
		top, err := FromBytes([]byte(strings.NewReplacer("OPT", tt.opt, "LR", tt.lr, "DECAY", tt.decay, "MOM", tt.mom).Replace(base)), "inline", "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.want == "" && top.Training.ServerLR != tt.wantLR:
			t.Errorf("%s: server_lr %g, want %g", name, top.Training.ServerLR, tt.wantLR)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: got %v, want an error containing %q", name, err, tt.want)
		}
	}
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFedNamedKeys checks the keys that fed's Parse functions check: their
// defaults, and the problem a wrong name gives, which lists the names.
func TestFedNamedKeys(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1, KEY: VALUE}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		key, value string
		want       string // the problem; "" for none
	}{
		{"mode", "async", ""},
		{"mode", "Sync", `training.mode: "Sync" is not one of [sync async]`},
		{"staleness", "versions", ""},
		{"staleness", "rounds", `training.staleness: "rounds" is not one of [time versions]`},
		{"weights", "constant", ""},
		{"weights", "uniform", ""},
		{"weights", "softmax", `training.weights: "softmax" is not one of [exact constant uniform]`},
		{"objective", "nonsaturating", ""},
		{"objective", "wgan", `training.objective: "wgan" is not one of [minimax nonsaturating]`},
		{"robust", "none", ""},
		{"robust", "median", ""},
		{"robust", "krum", `training.robust: "krum" is not one of [none clip trimmed median]`},
		{"robust_clip", "0.5", `training.robust: fed: robust clip 0.5, want a finite value ≥ 1`},
		{"robust_weight_cap", "0.9", `training.robust: fed: robust weight cap 0.9, want a finite value ≥ 1`},
		{"robust_trim", "0.5", `training.robust: fed: robust trim 0.5, want a value in (0, 0.5)`},
		{"robust_loss_spread", "-1", `training.robust: fed: robust loss spread -1, want a finite value > 0`},
		{"robust_window", "-3", `training.robust: fed: robust window -3, want 1..65536`},
		{"robust_suspect", "2", `training.robust: fed: robust suspect fraction 2, want a value in (0, 1]`},
		{"robust_quarantine", "true", ""},
	} {
		src := strings.NewReplacer("KEY", tt.key, "VALUE", tt.value).Replace(base)
		_, err := FromBytes([]byte(src), "inline", "")
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), "\n  "+tt.want+"\n") && !strings.HasSuffix(err.Error(), "\n  "+tt.want)) {
			t.Errorf("%s: %s: got %v, want %q", tt.key, tt.value, err, tt.want)
		}
	}
	top, err := FromBytes([]byte(strings.NewReplacer("KEY", "momentum", "VALUE", "0").Replace(base)), "inline", "")
	if err != nil {
		t.Fatal(err)
	}
	tr := top.Training
	if tr.Mode != "sync" || tr.Staleness != "time" || tr.Weights != "exact" || tr.Objective != "minimax" || top.Model.DClass != "input" {
		t.Errorf("defaults: got mode %q, staleness %q, weights %q, objective %q, d_class %q; want sync, time, exact, minimax, input",
			tr.Mode, tr.Staleness, tr.Weights, tr.Objective, top.Model.DClass)
	}
}

// TestLambdas: the LR domain losses' weights default to 0.1, accept 0
// (the loss off: the ablation) up to 1, and nothing else.
func TestLambdas(t *testing.T) {
	const base = `
scenario: lr
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8], classifier: [8]}
training: {global_rounds: 1, local_iters: 1, batch_size: 8 LAMBDAS}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
  - {id: b, data: {kind: gaussian, means: [[1, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct {
		set    string
		l1, l2 float64
		want   string
	}{
		{"", 0.1, 0.1, ""},
		{", lambda1: 0, lambda2: 0", 0, 0, ""},
		{", lambda1: 1, lambda2: 0.5", 1, 0.5, ""},
		{", lambda2: 0", 0.1, 0, ""},
		{", lambda1: -0.1", 0, 0, "training.lambda1: must be in [0, 1] (0: off), got -0.1"},
		{", lambda2: 1.5", 0, 0, "training.lambda2: must be in [0, 1] (0: off), got 1.5"},
		{", lambda1: .nan", 0, 0, "training.lambda1: must be in [0, 1] (0: off), got NaN"},
	} {
		top, err := FromBytes([]byte(strings.Replace(base, "LAMBDAS", tt.set, 1)), "inline", "")
		if tt.want != "" {
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%q: got %v, want an error containing %q", tt.set, err, tt.want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.set, err)
			continue
		}
		if l1, l2 := top.Training.Lambdas(); l1 != tt.l1 || l2 != tt.l2 {
			t.Errorf("%q: lambdas %g, %g, want %g, %g", tt.set, l1, l2, tt.l1, tt.l2)
		}
	}
}

// TestDomainCode: with model.domain_code: skip_first the LR generator's
// first layer sees z alone and carries the domain code to the next one;
// with heads only G's last layer sees it; the key is for LR
// generators (skip_first with a hidden layer) only.
func TestDomainCode(t *testing.T) {
	const base = `
scenario: SCENARIO
model: {latent: 4, data_dim: 2, generator: GEN, discriminator: [8], classifier: [8], domain_code: CODE}
training: {global_rounds: 1, local_iters: 1, batch_size: 8}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
  - {id: b, data: {kind: gaussian, means: [[1, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	load := func(scenario, gen, code string) (*Topology, error) {
		return FromBytes([]byte(strings.NewReplacer("SCENARIO", scenario, "GEN", gen, "CODE", code).Replace(base)), "inline", "")
	}
	top, err := load("lr", "[16, 8]", "skip_first")
	if err != nil {
		t.Fatal(err)
	}
	want := []nn.LayerSpec{
		{Kind: nn.KindDenseCarry, In: 4, Out: 16, Carry: 2}, {Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindDense, In: 18, Out: 8}, {Kind: nn.KindLeakyReLU, Alpha: 0.2}, {Kind: nn.KindDense, In: 8, Out: 2},
	}
	if got := top.GeneratorSpec(); !slices.Equal(got, want) {
		t.Errorf("generator %+v, want %+v", got, want)
	}
	if sh := top.Spec().GenParams; len(sh) != 6 || !slices.Equal(sh[0], []int{4, 16}) || !slices.Equal(sh[2], []int{18, 8}) {
		t.Errorf("G's parameter shapes %v", sh)
	}
	if top.GenInDim() != 6 {
		t.Errorf("G takes %d inputs, want 6", top.GenInDim())
	}
	for _, tt := range []struct {
		code, gen string
		want      []nn.LayerSpec
		shapes    [][]int
	}{
		{"heads", "[16, 8]", []nn.LayerSpec{
			{Kind: nn.KindDenseCarry, In: 4, Out: 16, Carry: 2}, {Kind: nn.KindLeakyReLU, Alpha: 0.2},
			{Kind: nn.KindDenseCarry, In: 16, Out: 8, Carry: 2}, {Kind: nn.KindLeakyReLU, Alpha: 0.2},
			{Kind: nn.KindDenseHeads, In: 8, Out: 2, Carry: 2},
		}, [][]int{{4, 16}, {16}, {16, 8}, {8}, {18, 2}, {2}}},
	} {
		top, err := load("lr", tt.gen, tt.code)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.code, tt.gen, err)
		}
		if got := top.GeneratorSpec(); !slices.Equal(got, tt.want) {
			t.Errorf("%s %s: generator %+v, want %+v", tt.code, tt.gen, got, tt.want)
		}
		if sh := top.Spec().GenParams; !slices.EqualFunc(sh, tt.shapes, slices.Equal) {
			t.Errorf("%s %s: G's parameter shapes %v, want %v", tt.code, tt.gen, sh, tt.shapes)
		}
		if _, err := nn.Build(top.GeneratorSpec(), nil); err != nil {
			t.Errorf("%s %s: %v", tt.code, tt.gen, err)
		}
	}
	if top, err := load("lr", "[16]", "input"); err != nil || top.GeneratorSpec()[0].Kind != nn.KindDense {
		t.Errorf("input: %v, %+v", err, top.GeneratorSpec())
	}
	if top, err := load("lr", "[16]", "input, class_code: 1"); err != nil || top.GenInDim() != 7 {
		t.Errorf("input with a class code: %v", err)
	}
	for _, tt := range []struct{ scenario, gen, code, want string }{
		{"fr", "[16]", "skip_first", "model.domain_code: skip_first needs scenario: lr"},
		{"lr", "[]", "skip_first", "model.domain_code: skip_first needs scenario: lr and a hidden layer"},
		{"lr", "[16]", "middle", "model.domain_code"},
		{"fr", "[16]", "heads", "model.domain_code: heads needs scenario: lr"},
		{"lr", "[16]", "skip_first, class_code: 1", "model.domain_code: skip_first moves the domain code"},
		{"lr", "[16]", "heads, class_code: 1", "with model.class_code only input is built"},
	} {
		if _, err := load(tt.scenario, tt.gen, tt.code); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s %s: got %v, want an error containing %q", tt.scenario, tt.gen, tt.code, err, tt.want)
		}
	}
}

// TestClassInvarianceKey: RegGAN's regulariser needs a class code of two
// classes or more and a finite λ ≥ 0.
func TestClassInvarianceKey(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8], class_code: CODE}
training: {global_rounds: 1, local_iters: 1, batch_size: 8, class_invariance: CI}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0], [1, 1]], std: 1}, edge: {allow_anonymous: true}, device_count: 1}
`
	for _, tt := range []struct{ code, ci, want string }{
		{"2", "0.1", ""},
		{"0", "0", ""},
		{"0", "0.1", "training.class_invariance: pulls the class codes' first-layer outputs together: needs model.class_code ≥ 2, got 0"},
		{"2", "-1", "training.class_invariance: must be a finite number >= 0, got -1"},
		{"2", ".inf", "training.class_invariance: must be a finite number >= 0, got +Inf"},
	} {
		top, err := FromBytes([]byte(strings.NewReplacer("CODE", tt.code, "CI", tt.ci).Replace(base)), "inline", "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s/%s: %v", tt.code, tt.ci, err)
		case tt.want == "" && top.Training.ClassInvariance != parseFloat(t, tt.ci):
			t.Errorf("%s/%s: class_invariance %g", tt.code, tt.ci, top.Training.ClassInvariance)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s/%s: got %v, want an error containing %q", tt.code, tt.ci, err, tt.want)
		}
	}
}

// TestSamplingKeys: training.sample and sample_fraction set how many
// devices an edge asks (one of the two), quorum is for sync edges and at
// most what each community asks; the fraction is rounded up per
// community; Fed GAN asks every device.
func TestSamplingKeys(t *testing.T) {
	const base = `
model: {latent: 4, data_dim: 2, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1, batch_size: 8, mode: MODE, algorithm: ALG, SET}
cloud: {allow_anonymous: true}
communities:
  - {id: a, data: {kind: gaussian, means: [[0, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 10}
  - {id: b, data: {kind: gaussian, means: [[1, 0]], std: 1}, edge: {allow_anonymous: true}, device_count: 3}
`
	for _, tt := range []struct {
		mode, alg, set string
		a, b           int // SampleOf each community
		err            string
	}{
		{"sync", "fr", "sample: 0", 0, 0, ""},
		{"sync", "fr", "sample: 4, quorum: 3", 4, 4, ""},
		{"sync", "fr", "sample_fraction: 0.25", 3, 1, ""},
		{"sync", "fr", "sample_fraction: 1", 10, 3, ""},
		{"async", "fr", "sample: 2", 2, 2, ""},
		{"sync", "fr", "quorum: 3", 0, 0, ""},
		{"sync", "fr", "sample: -1", 0, 0, "training.sample: must be in 0..100000"},
		{"sync", "fr", "sample_fraction: 1.5", 0, 0, "training.sample_fraction: must be a share of the devices in [0, 1], got 1.5"},
		{"sync", "fr", "sample: 2, sample_fraction: 0.5", 0, 0, "set training.sample or training.sample_fraction, not both"},
		{"sync", "fr", "sample: 2, quorum: 3", 0, 0, "training.quorum: 3 is more than community a asks (2 of its 10 devices)"},
		{"sync", "fr", "sample_fraction: 0.5, quorum: 3", 0, 0, "training.quorum: 3 is more than community b asks (2 of its 3 devices)"},
		{"sync", "fr", "quorum: 4", 0, 0, "training.quorum: 4 is more than community b asks (3 of its 3 devices)"},
		{"async", "fr", "quorum: 1", 0, 0, "training.quorum: closes sync iterations: training.mode must be sync"},
		{"sync", "fedgan", "sample: 2", 0, 0, "training.sample: asks devices for feedback: training.algorithm fedgan trains on every device"},
	} {
		src := strings.NewReplacer("MODE", tt.mode, "ALG", tt.alg, "SET", tt.set).Replace(base)
		top, err := FromBytes([]byte(src), "inline", "")
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %v, want an error containing %q", tt.set, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.set, err)
			continue
		}
		if a, b := top.SampleOf(&top.Communities[0]), top.SampleOf(&top.Communities[1]); a != tt.a || b != tt.b {
			t.Errorf("%s: communities ask %d and %d, want %d and %d", tt.set, a, b, tt.a, tt.b)
		}
	}
}
