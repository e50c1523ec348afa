package cliflags

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// OldSpellings rewrites the single-dash spellings of long flags
// (-rounds 500, -eval-every=5, -sim) into pflag's (--rounds 500,
// --eval-every=5, --sim) before cobra parses args, so that documented
// commands and users' scripts keep working. An argument -NAME or -NAME=V
// is rewritten only when NAME is a long flag of the command args run (its
// own or inherited, or "help"); anything else is left to pflag as it is:
// a shorthand (-c), a cluster of shorthands (-vn5), a value of the
// previous flag (--set -x), and everything after "--".
func OldSpellings(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		return args
	}
	return rewrite(args, func(name string) (*pflag.Flag, bool) {
		if f := cmd.Flags().Lookup(name); f != nil {
			return f, true
		}
		if f := cmd.InheritedFlags().Lookup(name); f != nil {
			return f, true
		}
		return nil, name == "help"
	}, func(short string) *pflag.Flag { return cmd.Flags().ShorthandLookup(short) })
}

// rewrite is OldSpellings over a command's flag lookups: long reports the
// flag of a long name (nil for help), short the flag of a shorthand.
func rewrite(args []string, long func(string) (*pflag.Flag, bool), short func(string) *pflag.Flag) []string {
	out := make([]string, 0, len(args))
	takesValue := func(f *pflag.Flag) bool { return f != nil && f.NoOptDefVal == "" }
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		switch {
		case a == "--":
			return append(out, args[i+1:]...)
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			if f, _ := long(name); !hasValue && takesValue(f) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		case len(a) == 2 && a[0] == '-':
			if f := short(a[1:]); takesValue(f) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		case len(a) > 2 && a[0] == '-':
			name, _, hasValue := strings.Cut(a[1:], "=")
			f, ok := long(name)
			if !ok {
				break // shorthands, a negative number: pflag's
			}
			out[len(out)-1] = "-" + a
			if !hasValue && takesValue(f) && i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
		}
	}
	return out
}
