// Source codes of a source-conditional G (EdgeConfig.Layout.SourceCodes).

package fed

import (
	"errors"
	"fmt"
)

// checkSourceCodes validates the source-code fields of cfg.
func checkSourceCodes(cfg *EdgeConfig) error {
	n := cfg.Layout.SourceCodes
	if n == 0 {
		if len(cfg.RowCodes) > 0 || cfg.PerDevice {
			return errors.New("fed: RowCodes and PerDevice need SourceCodes > 0")
		}
		return nil
	}
	switch {
	case n < 0:
		return fmt.Errorf("fed: SourceCodes = %d, want ≥ 0", n)
	case cfg.Layout.Domains > 0:
		return errors.New("fed: source codes are for FR; an LR edge is conditioned on its domain code")
	case !(cfg.CodeScale > 0) || !finite32(cfg.CodeScale):
		return fmt.Errorf("fed: CodeScale = %g, want a finite value > 0", cfg.CodeScale)
	case len(cfg.RowCodes) == 0:
		return errors.New("fed: SourceCodes > 0 needs RowCodes")
	case cfg.PerDevice && len(cfg.RowCodes) != len(cfg.Devices):
		return fmt.Errorf("fed: PerDevice needs one row code per device: %d codes, %d devices", len(cfg.RowCodes), len(cfg.Devices))
	}
	for i, c := range cfg.RowCodes {
		if c < 0 || c >= n {
			return fmt.Errorf("fed: RowCodes[%d] = %d, want a code in [0, %d)", i, c, n)
		}
	}
	return nil
}

// own returns device dev's feedback restricted to its own rows when rows
// belong to devices (PerDevice), in scratch slot i; grad itself otherwise.
func (e *Edge) own(i int, dev string, grad []float32) []float32 {
	if !e.cfg.PerDevice {
		return grad
	}
	for len(e.owned) <= i {
		e.owned = append(e.owned, nil)
	}
	e.owned[i] = grow(e.owned[i], len(grad))
	OwnRows(e.owned[i], grad, e.cfg.DataDim, e.pos[dev], len(e.cfg.Devices))
	return e.owned[i]
}

// OwnRows copies into dst the rows i of src (row-major, d columns) with
// i mod n = pos, and zeroes the others: the part of a device's feedback
// that falls on the rows drawn for its own source code when the rows of a
// batch belong to n devices in turn (EdgeConfig.PerDevice). It panics if
// len(dst) != len(src), d ≤ 0 or pos is not in [0, n).
func OwnRows(dst, src []float32, d, pos, n int) {
	if len(dst) != len(src) || d <= 0 || pos < 0 || pos >= n {
		panic(fmt.Sprintf("fed: OwnRows: len(dst) %d, len(src) %d, d %d, pos %d of %d", len(dst), len(src), d, pos, n))
	}
	for i := 0; i*d < len(src); i++ {
		row := dst[i*d : (i+1)*d]
		if i%n == pos {
			copy(row, src[i*d:(i+1)*d])
		} else {
			clear(row)
		}
	}
}
