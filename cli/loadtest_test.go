package cli

import (
	"slices"
	"testing"
)

// TestAgentEnv: the agent processes do not inherit the edge's GC
// settings, and keep everything else.
func TestAgentEnv(t *testing.T) {
	for _, tt := range []struct {
		name    string
		in, out []string
	}{
		{"none", []string{"HOME=/root", "PATH=/bin"}, []string{"HOME=/root", "PATH=/bin"}},
		{"both", []string{"GOGC=50", "HOME=/root", "GOMEMLIMIT=180MiB"}, []string{"HOME=/root"}},
		{"prefix only", []string{"GOGCX=1", "XGOGC=2", "GOMEMLIMIT=off"}, []string{"GOGCX=1", "XGOGC=2"}},
		{"empty", nil, nil},
	} {
		in := slices.Clone(tt.in)
		if got := agentEnv(in); !slices.Equal(got, tt.out) {
			t.Errorf("%s: agentEnv(%q) = %q, want %q", tt.name, tt.in, got, tt.out)
		}
		if !slices.Equal(in, tt.in) {
			t.Errorf("%s: agentEnv changed its argument to %q", tt.name, in)
		}
	}
}
