package fed

import "testing"

// TestNamesRoundTrip: every accepted name parses to a value whose String
// is that name again, and a value without a name says its type.
func TestNamesRoundTrip(t *testing.T) {
	for _, name := range modeNames {
		if m, err := ParseMode(name); err != nil || m.String() != name {
			t.Errorf("mode %q: %v, %v", name, m, err)
		}
	}
	for _, name := range weightNames {
		if m, err := ParseWeightMode(name); err != nil || m.String() != name {
			t.Errorf("weights %q: %v, %v", name, m, err)
		}
	}
	for _, name := range stalenessNames {
		if m, err := ParseStalenessMode(name); err != nil || m.String() != name {
			t.Errorf("staleness %q: %v, %v", name, m, err)
		}
	}
	for _, name := range objectiveNames {
		if o, err := ParseObjective(name); err != nil || o.String() != name {
			t.Errorf("objective %q: %v, %v", name, o, err)
		}
	}
	for _, name := range robustNames {
		if r, err := ParseRobust(name); err != nil || r.String() != name {
			t.Errorf("robust %q: %v, %v", name, r, err)
		}
	}
	for _, name := range classModes {
		if m, err := ParseClassMode(name); err != nil || m.String() != name {
			t.Errorf("class mode %q: %v, %v", name, m, err)
		}
	}
	if got := Mode(7).String(); got != "Mode(7)" {
		t.Errorf("Mode(7) = %q", got)
	}
	if got := StalenessMode(-1).String(); got != "StalenessMode(-1)" {
		t.Errorf("StalenessMode(-1) = %q", got)
	}
}
