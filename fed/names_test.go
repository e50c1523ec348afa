package fed_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/fedgan/fedgan/fed"
)

// TestParseNames checks every Parse function on each name it accepts and
// on names it does not: the value, and the error's text and known names.
func TestParseNames(t *testing.T) {
	type parse = func(string) (fmt.Stringer, error)
	mode := func(s string) (fmt.Stringer, error) { return fed.ParseMode(s) }
	weights := func(s string) (fmt.Stringer, error) { return fed.ParseWeightMode(s) }
	staleness := func(s string) (fmt.Stringer, error) { return fed.ParseStalenessMode(s) }
	objective := func(s string) (fmt.Stringer, error) { return fed.ParseObjective(s) }
	class := func(s string) (fmt.Stringer, error) { return fed.ParseClassMode(s) }
	robust := func(s string) (fmt.Stringer, error) { return fed.ParseRobust(s) }
	for _, tc := range []struct {
		parse parse
		name  string
		want  fmt.Stringer // for a name accepted
		err   string       // for a name refused
		known []string
	}{
		{parse: mode, name: "sync", want: fed.Sync},
		{parse: mode, name: "async", want: fed.Async},
		{parse: mode, name: "Sync", err: `fed: unknown mode: mode "Sync" (want sync or async)`, known: []string{"sync", "async"}},
		{parse: weights, name: "exact", want: fed.WeightsExact},
		{parse: weights, name: "constant", want: fed.WeightsConstant},
		{parse: weights, name: "uniform", want: fed.WeightsUniform},
		{parse: weights, name: "", err: `fed: unknown mode: weights "", want "exact", "constant" or "uniform"`, known: []string{"exact", "constant", "uniform"}},
		{parse: staleness, name: "time", want: fed.StalenessTime},
		{parse: staleness, name: "versions", want: fed.StalenessVersions},
		{parse: staleness, name: "rounds", err: `fed: unknown mode: staleness "rounds", want "time" or "versions"`, known: []string{"time", "versions"}},
		{parse: objective, name: "minimax", want: fed.Minimax},
		{parse: objective, name: "nonsaturating", want: fed.NonSaturating},
		{parse: objective, name: "wgan", err: `fed: unknown mode: objective "wgan" (want minimax or nonsaturating)`, known: []string{"minimax", "nonsaturating"}},
		{parse: class, name: "input", want: fed.ClassInput},
		{parse: class, name: "aux", want: fed.ClassAux},
		{parse: class, name: "both", want: fed.ClassBoth},
		{parse: robust, name: "none", want: fed.RobustNone},
		{parse: robust, name: "clip", want: fed.RobustClip},
		{parse: robust, name: "trimmed", want: fed.RobustTrimmed},
		{parse: robust, name: "median", want: fed.RobustMedian},
		{parse: robust, name: "krum", err: `fed: unknown mode: robust "krum" (want none, clip, trimmed or median)`, known: []string{"none", "clip", "trimmed", "median"}},
		{parse: class, name: "proj", err: `fed: unknown mode: class mode "proj" (want input, aux or both)`, known: []string{"input", "aux", "both"}},
	} {
		got, err := tc.parse(tc.name)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("%q: got %v, %v, want %v, nil", tc.name, got, err, tc.want)
			}
			continue
		}
		var ne *fed.NameError
		if err == nil || err.Error() != tc.err || !errors.Is(err, fed.ErrMode) || !errors.As(err, &ne) {
			t.Errorf("%q: got error %v, want %s, a *NameError wrapping ErrMode", tc.name, err, tc.err)
			continue
		}
		if ne.Name != tc.name || !slices.Equal(ne.Known, tc.known) {
			t.Errorf("%q: got Name %q, Known %q, want %q, %q", tc.name, ne.Name, ne.Known, tc.name, tc.known)
		}
	}
}
