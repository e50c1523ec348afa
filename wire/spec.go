package wire

import (
	"errors"
	"fmt"
)

// DefaultMaxPayload is the payload limit used when Spec.MaxPayload is 0:
// 16 MiB, room for a generator of about four million parameters.
const DefaultMaxPayload = 16 << 20

// MaxClasses bounds Spec.Classes: a row's label travels as one byte.
const MaxClasses = 256

// Spec describes the configured model, which every decoder checks a message
// against. Services build it once from the topology file and share it
// read-only; a decoder never modifies it. A nil *Spec is the zero Spec.
//
// Each decoder uses the fields it needs and reports a zero field it needs
// as ErrSpec: DecodeBatch and DecodeFeedback need DataDim; DecodeGeneratorUpdate
// and DecodeGlobalModel need GenParams; DecodePresence needs nothing.
type Spec struct {
	// Batch is B, the number of rows of Batch.Fake, Batch.Gen and
	// Feedback.Grad. 0 accepts any B from 1 to MaxRows.
	Batch int
	// DataDim is d, the number of columns of those tensors. Required by
	// DecodeBatch and DecodeFeedback.
	DataDim int
	// GenParams lists the shapes of the generator's parameters in
	// nn.Params order. Required by DecodeGeneratorUpdate and
	// DecodeGlobalModel.
	GenParams [][]int
	// ClsParams lists the shapes of the LR domain classifier's
	// parameters (docs/DESIGN.md §2.6); nil in FR, where GlobalModel.Classifier
	// must be empty. In LR a GlobalModel may still omit the classifier
	// (for example before the cloud has trained one); if it sends one, it
	// must match.
	ClsParams [][]int
	// DiscParams lists the shapes of the discriminator's parameters in
	// nn.Params order when the algorithm is Fed GAN (docs/DESIGN.md
	// §2.12): then GeneratorUpdate and GlobalModel must carry d_params of
	// these shapes, and DecodeCommunityModel and DecodeLocalModel need it.
	// nil in FR, where d_params must be absent.
	DiscParams [][]int
	// Domains is the number of domain codes K in LR; 0 in FR, where
	// Batch.Domain must be 0.
	Domains int
	// Classes is the number of label classes of a class-conditional
	// generator (config model.class_code, at most MaxClasses); 0 when G is
	// not class-conditional, where Batch.FakeLabels and Batch.GenLabels
	// must be absent.
	Classes int
	// MaxPayload is the largest payload accepted, in bytes, checked
	// before parsing. 0 means DefaultMaxPayload.
	MaxPayload int
	// MaxRows bounds B when Batch is 0. 0 means no bound beyond
	// MaxPayload.
	MaxRows int
}

// Validate reports every problem with s at once, as an error wrapping
// ErrSpec. Decoders call it too, so a bad Spec fails every message the same
// way instead of panicking.
func (s *Spec) Validate() error {
	if s == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrSpec}, args...)...))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Batch", s.Batch}, {"DataDim", s.DataDim}, {"Domains", s.Domains}, {"Classes", s.Classes}, {"MaxPayload", s.MaxPayload}, {"MaxRows", s.MaxRows}} {
		if f.v < 0 {
			bad("%s is %d, want ≥ 0", f.name, f.v)
		}
	}
	if s.Classes > MaxClasses {
		bad("Classes is %d, want at most %d (labels travel as bytes)", s.Classes, MaxClasses)
	}
	if s.Batch > 0 && s.MaxRows > 0 && s.Batch > s.MaxRows {
		bad("Batch %d exceeds MaxRows %d", s.Batch, s.MaxRows)
	}
	for _, ps := range []struct {
		name   string
		shapes [][]int
	}{{"GenParams", s.GenParams}, {"ClsParams", s.ClsParams}, {"DiscParams", s.DiscParams}} {
		for i, sh := range ps.shapes {
			n, ok := shapeLen(sh)
			if !ok || n == 0 || len(sh) == 0 {
				bad("%s[%d] is %v, want rank 1 to %d with dimensions ≥ 1", ps.name, i, sh, MaxRank)
			}
		}
	}
	return errors.Join(errs...)
}

// PayloadLimit returns the largest payload the decoders accept under s:
// MaxPayload, or DefaultMaxPayload when it is 0 or s is nil. Senders
// compare their encoded size with it before publishing (a broker drops a
// client whose packet exceeds its own limit).
func (s *Spec) PayloadLimit() int {
	if s == nil || s.MaxPayload == 0 {
		return DefaultMaxPayload
	}
	return s.MaxPayload
}

// specFor validates s for a decoder of msg that needs the fields named by
// needData and needGen, and returns the payload limit.
func (s *Spec) specFor(msg string, needData, needGen bool) (int, error) {
	if s == nil {
		s = &Spec{}
	}
	if err := s.Validate(); err != nil {
		return 0, wrapErr(CodeSpec, msg, err)
	}
	if needData && s.DataDim == 0 {
		return 0, errorf(CodeSpec, msg, "DataDim is 0; decoding %s needs it", msg)
	}
	if needGen && len(s.GenParams) == 0 {
		return 0, errorf(CodeSpec, msg, "GenParams is empty; decoding %s needs it", msg)
	}
	return s.PayloadLimit(), nil
}
