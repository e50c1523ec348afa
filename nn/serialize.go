package nn

import (
	"fmt"
	"io"
	"math"
)

// Network file layout (all integers little-endian):
//
//	magic    "FGNN"
//	version  u16 = 1
//	layers   u32, then per layer: kind (u8 length + bytes), in u32
//	         (the group size for minibatch_std), out u32, alpha f32
//	params   u32, then per param: rank u8, dims u32…, values f32…
//	crc      u32, CRC-32 (IEEE) of every preceding byte
const (
	netMagic   = "FGNN"
	netVersion = 1
	maxLayers  = 1 << 12
)

// Save writes the architecture and parameters of s to w in the format
// described in the package documentation. It returns w's error, if any.
func Save(w io.Writer, s *Sequential) error {
	b, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("nn: saving network: %w", err)
	}
	return nil
}

// MarshalBinary encodes s as Save does.
func (s *Sequential) MarshalBinary() ([]byte, error) {
	specs := s.Specs()
	if err := validateSpecs(specs); err != nil {
		return nil, err
	}
	params := s.Params()
	n := 0
	for _, p := range params {
		n += len(p.Value)
	}
	e := &encoder{b: make([]byte, 0, 64+32*len(specs)+16*len(params)+4*n)}
	e.bytes([]byte(netMagic))
	e.u16(netVersion)
	e.u32(uint32(len(specs)))
	for _, sp := range specs {
		e.str(sp.Kind)
		in, alpha := sp.In, sp.Alpha
		switch sp.Kind {
		case KindMinibatchStd:
			in = sp.Group // in the in slot
		case KindDenseCarry, KindDenseHeads:
			alpha = float32(sp.Carry) // in the alpha slot: exact below 2^24 (maxDim)
		}
		e.u32(uint32(in))
		e.u32(uint32(sp.Out))
		e.f32(alpha)
	}
	e.u32(uint32(len(params)))
	for _, p := range params {
		e.shape(p.Shape)
		e.floats(p.Value)
	}
	return e.finish(), nil
}

// Load reads a network written by Save, reading r to its end. It checks
// the header, the checksum, every layer description and every parameter
// shape, and returns a *FormatError (wrapping ErrFormat) for malformed,
// truncated or corrupted input, or an error wrapping ErrSpec for an
// invalid architecture. It never panics on bad input. Parameter values are
// restored bit for bit, including any NaN or Inf that was saved.
func Load(r io.Reader) (*Sequential, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("nn: loading network: %w", err)
	}
	s := new(Sequential)
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return s, nil
}

// UnmarshalBinary replaces s's layers with the network encoded in b, as
// Load does. On error s is left unchanged.
func (s *Sequential) UnmarshalBinary(b []byte) error {
	d := newDecoder("network", b, netMagic, netVersion)
	nl := int(d.u32())
	if d.err == nil && nl > maxLayers {
		d.fail(nil, "%d layers > %d", nl, maxLayers)
	}
	if d.err == nil && nl*13 > d.remaining() {
		d.fail(io.ErrUnexpectedEOF, "%d layers cannot fit in %d bytes", nl, d.remaining())
	}
	if d.err != nil {
		return d.err
	}
	specs := make([]LayerSpec, nl)
	for i := range specs {
		specs[i] = LayerSpec{Kind: d.str(), In: int(d.u32()), Out: int(d.u32()), Alpha: d.f32()}
		switch sp := &specs[i]; sp.Kind {
		case KindMinibatchStd:
			sp.Group, sp.In = sp.In, 0
		case KindDenseCarry, KindDenseHeads:
			if c := sp.Alpha; c != float32(int32(c)) || c < 0 || c > maxDim {
				d.fail(nil, "layer %d: %s carries %v columns", i, sp.Kind, c)
			} else {
				sp.Carry, sp.Alpha = int(c), 0
			}
		}
	}
	if d.err != nil {
		return d.err
	}
	if err := validateSpecs(specs); err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	total := 0
	for _, sp := range specs {
		total += paramCount(sp)
	}
	if 4*total > d.remaining() {
		// Check before allocating: a corrupt header must not cost gigabytes.
		d.fail(io.ErrUnexpectedEOF, "%d parameters cannot fit in %d bytes", total, d.remaining())
		return d.err
	}
	net, err := Build(specs, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	for i, sp := range net.Specs() {
		if got := specs[i]; got.Kind != sp.Kind || got.In != sp.In || got.Out != sp.Out || got.Group != sp.Group || math.Float32bits(got.Alpha) != math.Float32bits(sp.Alpha) {
			return &FormatError{What: "network", Offset: 0, Reason: fmt.Sprintf("layer %d: non-canonical spec %+v (want %+v)", i, got, sp)}
		}
	}
	params := net.Params()
	if np := int(d.u32()); d.err == nil && np != len(params) {
		d.fail(nil, "%d parameter tensors, architecture has %d", np, len(params))
	}
	for i, p := range params {
		shape, _ := d.shape()
		if d.err != nil {
			return d.err
		}
		if !equalShape(shape, p.Shape) {
			d.fail(nil, "parameter %d (%s of layer spec) has shape %v, architecture wants %v", i, p.Name, shape, p.Shape)
			return d.err
		}
		d.floats(p.Value)
	}
	d.end()
	if d.err != nil {
		return d.err
	}
	s.Layers = net.Layers
	s.params, s.paramsOf = nil, nil
	return nil
}
