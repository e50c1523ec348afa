package cliflags

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestOldSpellings(t *testing.T) {
	root := &cobra.Command{Use: "x"}
	root.PersistentFlags().Bool("debug", false, "")
	run := &cobra.Command{Use: "run", Run: func(*cobra.Command, []string) {}}
	run.Flags().StringP("config", "c", "", "")
	run.Flags().BoolP("verbose", "v", false, "")
	run.Flags().Int("rounds", 0, "")
	run.Flags().Bool("sim", false, "")
	run.Flags().StringSlice("set", nil, "")
	root.AddCommand(run)
	for _, tt := range []struct{ in, want string }{
		{"run -rounds 500 -sim -c x.yaml", "run --rounds 500 --sim -c x.yaml"},
		{"run -rounds=5 -debug", "run --rounds=5 --debug"},             // inherited flags too
		{"run --set -rounds=1 -c -sim", "run --set -rounds=1 -c -sim"}, // values stay values
		{"run -vc x.yaml -nope -5", "run -vc x.yaml -nope -5"},         // shorthands, unknown names, numbers: pflag's
		{"run -help", "run --help"},
		{"run -- -sim", "run -- -sim"},
		{"nosuch -sim", "nosuch -sim"},
	} {
		if got := strings.Join(OldSpellings(root, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
