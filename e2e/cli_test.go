package e2e

import (
	"bytes"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestCLIConventions runs the built binaries: help on stdout with exit
// status 0, a usage mistake on stderr (the error and a one-line hint)
// with exit status 2, the version once, an unreachable broker exit
// status 1.
func TestCLIConventions(t *testing.T) {
	fedgan, agent := binaries(t)
	for _, tt := range []struct {
		bin    string
		args   []string
		code   int
		stdout string   // in stdout
		stderr []string // the lines of stderr
	}{
		{fedgan, []string{"--help"}, 0, "Available Commands:", nil},
		{fedgan, []string{"help", "run"}, 0, "--resume", nil},
		{fedgan, []string{"watch", "--help"}, 0, "-h, --host", nil},
		{fedgan, []string{"--version"}, 0, "fedgan ", nil},
		{fedgan, []string{"run", "--nope"}, 2, "", []string{"fedgan: usage: unknown flag: --nope", "Run 'fedgan run --help' for usage."}},
		{fedgan, []string{"frobnicate"}, 2, "", []string{`fedgan: usage: unknown command "frobnicate" for "fedgan"`, "Run 'fedgan --help' for usage."}},
		{fedgan, []string{"watch", "-p", strconv.Itoa(freePort(t)), "-C", "1"}, 1, "", nil},
		{agent, []string{"--help"}, 0, "--config", nil},
		{agent, []string{"-c", "x.yaml"}, 2, "", []string{"fedgan-agent: usage: -c/--config CONFIG and --id DEVICE are required", "Run 'fedgan-agent --help' for usage."}},
		{agent, []string{"--version"}, 0, "fedgan-agent ", nil},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(tt.bin, tt.args...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			code := 0
			if ee, ok := errors.AsType[*exec.ExitError](err); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), tt.stdout) || tt.stdout == "" && out.Len() > 0 {
				t.Errorf("stdout %q, want %q", out.String(), tt.stdout)
			}
			if tt.code == 0 && errb.Len() > 0 {
				t.Errorf("stderr %q, want nothing", errb.String())
			}
			if tt.stderr != nil && strings.TrimSpace(errb.String()) != strings.Join(tt.stderr, "\n") {
				t.Errorf("stderr %q, want %q", errb.String(), strings.Join(tt.stderr, "\n"))
			}
			if strings.Contains(tt.stdout, "fedgan") && strings.HasSuffix(tt.args[0], "version") && strings.Count(out.String(), "\n") != 1 {
				t.Errorf("version printed %q, want one line", out.String())
			}
		})
	}
}
