package fed

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The names of the enumerated settings, indexed by value: the Parse
// functions accept these and no others, and the String methods return
// them (classModes names the ClassModes).
// The configuration checks its keys with the Parse functions, so these
// lists are the only ones.
var (
	modeNames      = [...]string{"sync", "async"}
	weightNames    = [...]string{"exact", "constant", "uniform"}
	stalenessNames = [...]string{"time", "versions"}
	objectiveNames = [...]string{"minimax", "nonsaturating"}
	algorithmNames = [...]string{"fr", "fedgan"}
)

// nameOf is the name of value v of an enumerated setting, or "Type(v)"
// for a value without one: what the String methods return.
func nameOf(names []string, v int, typ string) string {
	if v >= 0 && v < len(names) {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, v)
}

// NameError is the error of ParseMode, ParseWeightMode,
// ParseStalenessMode, ParseObjective, ParseClassMode and ParseRobust for a name they do
// not accept. It unwraps to ErrMode.
type NameError struct {
	Name  string   // the name given
	Known []string // the names accepted, in the order of their values
	text  string   // what Error says after ErrMode's text
}

func (e *NameError) Error() string { return ErrMode.Error() + ": " + e.text }

func (e *NameError) Unwrap() error { return ErrMode }

// parseName returns the index of name in known, or 0 and a *NameError
// whose text is format applied to the name and to the known names as
// "a, b or c" (each quoted when quote is set).
func parseName(name string, known []string, format string, quote bool) (int, error) {
	if i := slices.Index(known, name); i >= 0 {
		return i, nil
	}
	alts := slices.Clone(known)
	if quote {
		for i, a := range alts {
			alts[i] = strconv.Quote(a)
		}
	}
	list := alts[len(alts)-1]
	if len(alts) > 1 {
		list = strings.Join(alts[:len(alts)-1], ", ") + " or " + list
	}
	return 0, &NameError{Name: name, Known: slices.Clone(known), text: fmt.Sprintf(format, name, list)}
}
