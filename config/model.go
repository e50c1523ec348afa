package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/internal/pwhash"
	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// Domains is the number of domain codes: the number of communities in the
// LR scenario, 0 in FR.
func (t *Topology) Domains() int {
	if t.Scenario == "lr" {
		return len(t.Communities)
	}
	return 0
}

// GeneratorSpec is G's architecture: [z, c_k] (LR) or [z, e_s] (FR with a
// source code) → hidden (LeakyReLU) → d.
func (t *Topology) GeneratorSpec() []nn.LayerSpec {
	out := ""
	if t.Model.Output == "tanh" {
		out = "tanh"
	}
	s := mlp(append(append([]int{t.GenInDim()}, t.Model.Generator...), t.Model.DataDim), float32(t.Model.LeakySlope), out)
	if k := t.Domains(); k > 0 && t.Model.DomainCode == DomainCodeSkipFirst && len(s) > 2 {
		// [dense(m+K → h1), act, dense(h1 → …)] becomes
		// [dense_carry(m → h1, +K), act, dense(h1+K → …)]: the code skips
		// the first layer (validate requires a hidden layer).
		s[0] = nn.LayerSpec{Kind: nn.KindDenseCarry, In: s[0].In - k, Out: s[0].Out, Carry: k}
		s[2].In += k
	}
	if k := t.Domains(); k > 0 && t.Model.DomainCode == DomainCodeHeads {
		s = headsAtEnd(s, k)
	}
	return s
}

// headsAtEnd rewrites the dense stack s, whose input ends with a code of
// k columns, so that only its last layer sees the code: every other
// dense layer carries the code past itself (dense_carry), and the last
// one has a head per code (dense_heads).
func headsAtEnd(s []nn.LayerSpec, k int) []nn.LayerSpec {
	last := 0
	for i, l := range s {
		if l.Kind == nn.KindDense {
			last = i
		}
	}
	out := make([]nn.LayerSpec, 0, len(s)+1)
	for i, l := range s {
		if l.Kind != nn.KindDense {
			out = append(out, l)
			continue
		}
		in := l.In
		if i == 0 {
			in -= k
		}
		if i == last {
			out = append(out, nn.LayerSpec{Kind: nn.KindDenseHeads, In: in, Out: l.Out, Carry: k})
		} else {
			out = append(out, nn.LayerSpec{Kind: nn.KindDenseCarry, In: in, Out: l.Out, Carry: k})
		}
	}
	return out
}

// GenLayout is the layout of G's input rows: m latent columns, then K
// domain columns in the LR scenario, SourceCodes columns in FR with a
// source code and model.class_code columns with a class-conditional G.
func (t *Topology) GenLayout() fed.Layout {
	return fed.Layout{Latent: t.Model.Latent, Domains: t.Domains(), SourceCodes: t.SourceCodes(), Classes: t.Model.ClassCode}
}

// GenInDim is the width of G's input rows: GenLayout().Width().
func (t *Topology) GenInDim() int { return t.GenLayout().Width() }

// CommunityClasses are the labels community c's data holds, which its
// edge draws for a class-conditional G (model.class_code): label_offset
// up to label_offset + data.classes − 1 of the community's data and of
// every device's own, ascending and each once. Nil without a class code.
func (t *Topology) CommunityClasses(c *Community) []int {
	if t.Model.ClassCode == 0 {
		return nil
	}
	held := make([]bool, t.Model.ClassCode)
	for j := range c.Devices {
		d := c.DeviceData(j)
		for y := max(d.LabelOffset, 0); y < d.LabelOffset+d.Classes && y < len(held); y++ {
			held[y] = true
		}
	}
	var ys []int
	for y, h := range held {
		if h {
			ys = append(ys, y)
		}
	}
	return ys
}

// ClassShares are the probabilities with which the global generator
// draws each class of a class-conditional G: each community's share of
// the samples (as SourceShares weighs communities) spread evenly over its
// classes. The slice has model.class_code entries; nil without a class
// code.
func (t *Topology) ClassShares() []float64 {
	if t.Model.ClassCode == 0 {
		return nil
	}
	w := make([]float64, t.Model.ClassCode)
	for i, dw := range t.deviceShares() {
		var s float64
		for _, v := range dw {
			s += v
		}
		ys := t.CommunityClasses(&t.Communities[i])
		for _, y := range ys {
			w[y] += s / float64(len(ys))
		}
	}
	return w
}

// deviceShares is each device's share of all the samples (data.samples),
// indexed by community then device; every device weighs the same when
// some device has no sample count (image data, whose partition sizes are
// only known once loaded).
func (t *Topology) deviceShares() [][]float64 {
	counted := true
	for _, c := range t.Communities {
		for j := range c.Devices {
			counted = counted && c.DeviceData(j).Samples > 0
		}
	}
	w := make([][]float64, len(t.Communities))
	var sum float64
	for i, c := range t.Communities {
		w[i] = make([]float64, len(c.Devices))
		for j := range c.Devices {
			w[i][j] = 1
			if counted {
				w[i][j] = float64(c.DeviceData(j).Samples)
			}
			sum += w[i][j]
		}
	}
	for i := range w {
		for j := range w[i] {
			w[i][j] /= sum
		}
	}
	return w
}

// SourceCodes is the number of one-hot source-code columns of G's input
// (model.source_code): the number of communities, of devices, or 0.
func (t *Topology) SourceCodes() int {
	switch t.Model.SourceCode {
	case SourceCommunity:
		return len(t.Communities)
	case SourceDevice:
		n := 0
		for _, c := range t.Communities {
			n += len(c.Devices)
		}
		return n
	}
	return 0
}

// SourceCode is the code index of device j of community c: the
// community's position, or the device's position in the topology (its
// communities' devices in file order); -1 without a source code or for an
// unknown community or device.
func (t *Topology) SourceCode(community string, j int) int {
	off := 0
	for i, c := range t.Communities {
		if c.ID == community {
			if j < 0 || j >= len(c.Devices) {
				return -1
			}
			switch t.Model.SourceCode {
			case SourceCommunity:
				return i
			case SourceDevice:
				return off + j
			}
			return -1
		}
		off += len(c.Devices)
	}
	return -1
}

// SourceShares are the probabilities with which the global generator
// draws each source code: each source's share of the samples its devices
// hold (data.samples). When some device has no sample count (image data,
// whose partition sizes are only known once loaded) every device weighs
// the same. The slice has SourceCodes entries; nil without a source code.
func (t *Topology) SourceShares() []float64 {
	n := t.SourceCodes()
	if n == 0 {
		return nil
	}
	w := make([]float64, n)
	for i, dw := range t.deviceShares() {
		for j, v := range dw {
			w[t.SourceCode(t.Communities[i].ID, j)] += v
		}
	}
	return w
}

// DiscriminatorSpec is D's architecture: [x, c_k, e_y] → hidden (LeakyReLU)
// → 1 logit, and class_code class logits with model.d_class aux or both
// (e_y only with input or both).
func (t *Topology) DiscriminatorSpec() []nn.LayerSpec {
	in, out := t.Model.DataDim+t.Domains(), 1
	if c := t.Model.ClassCode; c > 0 {
		if t.Model.DClass != "aux" {
			in += c
		}
		if t.Model.DClass != "input" {
			out += c
		}
	}
	s := mlp(append(append([]int{in}, t.Model.Discriminator...), out), float32(t.Model.LeakySlope), "")
	if g := t.Model.DMinibatchStd; g > 0 && len(s) > 1 {
		// [… hidden, act] + minibatch std + Dense(h+1 → 1)
		last := s[len(s)-1]
		last.In++
		s = append(s[:len(s)-1], nn.LayerSpec{Kind: nn.KindMinibatchStd, Group: g}, last)
	}
	return s
}

// ClassifierSpec is the LR domain classifier: x → hidden → K logits; nil in FR.
func (t *Topology) ClassifierSpec() []nn.LayerSpec {
	if t.Domains() == 0 {
		return nil
	}
	return mlp(append(append([]int{t.Model.DataDim}, t.Model.Classifier...), t.Domains()), float32(t.Model.LeakySlope), "")
}

// FirstLayers is how many layers of G make up G¹ of Eq. 8: the first Dense
// layer and its activation.
func (t *Topology) FirstLayers() int { return 2 }

func mlp(sizes []int, alpha float32, out string) []nn.LayerSpec {
	var s []nn.LayerSpec
	for i := 0; i+1 < len(sizes); i++ {
		s = append(s, nn.LayerSpec{Kind: "dense", In: sizes[i], Out: sizes[i+1]})
		if i+2 < len(sizes) {
			s = append(s, nn.LayerSpec{Kind: "leaky_relu", Alpha: alpha})
		} else if out != "" {
			s = append(s, nn.LayerSpec{Kind: out})
		}
	}
	return s
}

// paramShapes lists the shapes of the parameters of a dense stack, in the
// order nn.Sequential.Params returns them (weight [in,out], bias [out]).
func paramShapes(specs []nn.LayerSpec) [][]int {
	var sh [][]int
	for _, s := range specs {
		switch s.Kind {
		case nn.KindDense, nn.KindDenseCarry:
			sh = append(sh, []int{s.In, s.Out}, []int{s.Out})
		case nn.KindDenseHeads:
			sh = append(sh, []int{s.Carry * (s.In + 1), s.Out}, []int{s.Out})
		}
	}
	return sh
}

// Spec is what wire decoders validate messages against.
func (t *Topology) Spec() *wire.Spec {
	return &wire.Spec{
		Batch:      t.Training.BatchSize,
		DataDim:    t.Model.DataDim,
		GenParams:  paramShapes(t.GeneratorSpec()),
		ClsParams:  paramShapes(t.ClassifierSpec()),
		Domains:    t.Domains(),
		Classes:    t.Model.ClassCode,
		MaxPayload: t.Limits.MaxPayload,
		DiscParams: t.discParams(),
	}
}

// discParams is D's parameter shapes when the models on the wire carry D
// (training.algorithm: fedgan), else nil.
func (t *Topology) discParams() [][]int {
	if !t.FedGAN() {
		return nil
	}
	return paramShapes(t.DiscriminatorSpec())
}

// Community returns the community with the given id.
func (t *Topology) Community(id string) (*Community, error) {
	for i := range t.Communities {
		if t.Communities[i].ID == id {
			return &t.Communities[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s: no community %q (have %s)", ErrConfig, t.Source, id, strings.Join(t.communityIDs(), ", "))
}

func (t *Topology) communityIDs() []string {
	var ids []string
	for _, c := range t.Communities {
		ids = append(ids, c.ID)
	}
	return ids
}

// Device returns the device with the given id, its community and its
// index within the community.
func (t *Topology) Device(id string) (*Device, *Community, int, error) {
	for i := range t.Communities {
		c := &t.Communities[i]
		for j := range c.Devices {
			if c.Devices[j].ID == id {
				return &c.Devices[j], c, j, nil
			}
		}
	}
	return nil, nil, 0, fmt.Errorf("%w: %s: no device %q in any community", ErrConfig, t.Source, id)
}

// DeviceData is the data source of device j of community c: its own
// override or the community's.
func (c *Community) DeviceData(j int) Data {
	if d := c.Devices[j].Data; d != nil {
		return *d
	}
	return c.Data
}

// Path resolves p against the topology's folder; absolute and empty paths
// are returned as is.
func (t *Topology) Path(p string) string {
	if p == "" || filepath.IsAbs(p) || t.Dir == "" {
		return p
	}
	return filepath.Join(t.Dir, p)
}

// ReadSecret reads a password file (first line, trimmed). An empty path
// gives an empty secret.
func (t *Topology) ReadSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(t.Path(path))
	if err != nil {
		return "", fmt.Errorf("%w: %s: reading secret: %w", ErrConfig, t.Source, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

// ParsePasswordFile parses "user:hash" lines (blank lines and lines
// starting with # are skipped): bcrypt hashes, as fedgan passwd and
// firmware-tools provision write, or Mosquitto's PBKDF2-SHA512 ($7$) and
// SHA-512 ($6$) ones, so that a mosquitto_passwd file works unchanged.
func ParsePasswordFile(b []byte, source string) (map[string]string, error) {
	users := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("%w: %s:%d: want \"user:hash\"", ErrConfig, source, i+1)
		}
		if err := pwhash.Check(hash); err != nil {
			return nil, fmt.Errorf("%w: %s:%d: user %q: %w", ErrConfig, source, i+1, user, err)
		}
		if _, dup := users[user]; dup {
			return nil, fmt.Errorf("%w: %s:%d: user %q listed twice", ErrConfig, source, i+1, user)
		}
		users[user] = hash
	}
	return users, nil
}

// Clone returns a deep-enough copy for overriding addresses in a local run.
func (t *Topology) Clone() *Topology {
	c := *t
	c.Communities = append([]Community(nil), t.Communities...)
	for i := range c.Communities {
		c.Communities[i].Devices = append([]Device(nil), t.Communities[i].Devices...)
	}
	return &c
}
