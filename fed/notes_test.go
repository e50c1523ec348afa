package fed_test

import (
	"slices"
	"testing"

	"github.com/fedgan/fedgan/fed"
)

func TestNoteShown(t *testing.T) {
	for _, c := range []struct {
		attrs, want []any
	}{
		{[]any{"round", 0}, []any{"round", 1}},
		{[]any{"round", 4, "error", "x"}, []any{"round", 5, "error", "x"}},
		{[]any{"received", 2, "round", 9}, []any{"received", 2, "round", 9}}, // index 9 of 9 rounds: the final model's
		{[]any{"rounds", 3}, []any{"rounds", 3}},
		{[]any{"round"}, []any{"round"}},
		{nil, []any{}},
	} {
		n := fed.Note{Msg: "m", Attrs: c.attrs}
		before := slices.Clone(c.attrs)
		if got := n.Shown(9); !slices.Equal(got, c.want) {
			t.Errorf("%v shown as %v, want %v", c.attrs, got, c.want)
		}
		if !slices.Equal(n.Attrs, before) {
			t.Errorf("Shown changed the note's attributes to %v", n.Attrs)
		}
	}
}
