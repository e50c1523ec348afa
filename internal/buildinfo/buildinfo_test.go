package buildinfo

import "testing"

func TestString(t *testing.T) {
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	for _, tt := range []struct{ v, c, want string }{
		{"dev", "unknown", "dev (unknown)"},
		{"v1.2.0", "8243fb1", "v1.2.0 (8243fb1)"},
		{"8243fb1", "8243fb1", "8243fb1"},
		{"v1.2.0-3-g8243fb1-dirty", "8243fb1", "v1.2.0-3-g8243fb1-dirty"},
	} {
		Version, Commit = tt.v, tt.c
		if got := String(); got != tt.want {
			t.Errorf("String() with %q, %q = %q, want %q", tt.v, tt.c, got, tt.want)
		}
	}
}
