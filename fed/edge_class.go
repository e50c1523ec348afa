// Class codes of a class-conditional G (EdgeConfig.Layout.Classes): FR's
// G(z, e_y), and in the LR scenario G(z, c_k, e_y), whose domains share
// the labels (docs/DESIGN.md §2.6).

package fed

import (
	"errors"
	"fmt"

	"github.com/fedgan/fedgan/wire"
)

// checkClasses validates the class-code fields of cfg.
func checkClasses(cfg *EdgeConfig) error {
	switch {
	case cfg.Layout.Classes == 0 && len(cfg.ClassSet) == 0:
		return nil
	case cfg.Layout.Classes < 0 || cfg.Layout.Classes > wire.MaxClasses:
		return fmt.Errorf("fed: Classes = %d, want 0 to %d", cfg.Layout.Classes, wire.MaxClasses)
	case cfg.Layout.Classes == 0:
		return errors.New("fed: ClassSet needs Classes > 0")
	case len(cfg.ClassSet) == 0:
		return errors.New("fed: Classes > 0 needs the classes of the community's data (ClassSet)")
	}
	for i, c := range cfg.ClassSet {
		if c < 0 || c >= cfg.Layout.Classes {
			return fmt.Errorf("fed: ClassSet[%d] = %d, want a class in [0, %d)", i, c, cfg.Layout.Classes)
		}
	}
	return nil
}

// pairClasses gives row i + B/2 of z the class of row i (ModeSeeking).
func (e *Edge) pairClasses(z []float32, labels []byte) {
	l := e.cfg.Layout
	if l.Classes == 0 {
		return
	}
	cols, off, h := l.Width(), l.ClassOff(), e.cfg.Batch/2
	for i := range h {
		row := z[(h+i)*cols : (h+i+1)*cols]
		clear(row[off : off+l.Classes])
		row[off+int(labels[i])] = 1
		labels[h+i] = labels[i]
	}
}
