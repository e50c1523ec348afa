package firmwaretools

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCLIUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "no command"},
		{"unknown command", []string{"erase"}, 2, `unknown command "erase"`},
		{"provision without topology", []string{"provision", "-o", "x"}, 2, "-c TOPOLOGY"},
		{"provision with an empty id", []string{"provision", "-c", "testdata/lr.yaml", "-o", "x", "-id", ""}, 1, "device id missing"},
		{"bad credentials", []string{"provision", "-c", "testdata/lr.yaml", "-o", "x", "-credentials", "magic"}, 2, "magic"},
		{"bundle without output", []string{"bundle", "-p", "x"}, 2, "-o DIR"},
		{"build with an unknown arch", []string{"build", "-arch", "arm64,s390x"}, 1, `"s390x"`},
		{"flash without host", []string{"flash", "-bundle", "b.tar.gz"}, 2, "-host"},
		{"stray argument", []string{"bundle", "-p", "x", "-o", "y", "extra"}, 2, "unexpected arguments extra"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tc.args, &out, &errb)
			if got := ExitCode(err); got != tc.code {
				t.Errorf("exit code %d (%v), want %d", got, err, tc.code)
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("got %v, want an error containing %q", err, tc.msg)
			}
		})
	}
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "fedgan-fw ") {
		t.Errorf("version: %v %q", err, out.String())
	}
}

// TestCLI goes the whole way with the command line: build, provision,
// bundle with an inventory, and flash over a real sshd.
func TestCLI(t *testing.T) {
	sshd := startSSHD(t)
	buildAgents(t, "amd64") // warms the build cache for the CLI's build
	f := newFixture(t, false)
	main := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := Main(context.Background(), args, &out, &errb); err != nil {
			t.Fatalf("fedgan-fw %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
		}
		return out.String()
	}
	bin := filepath.Join(f.Dir, "bin")
	out := main("build", "-C", "..", "-o", bin, "-arch", "amd64", "-version", testVersion, "-commit", testCommit)
	if !strings.Contains(out, "amd64") || !strings.Contains(out, testVersion) {
		t.Errorf("build printed:\n%s", out)
	}
	prov := filepath.Join(f.Dir, "provisioned")
	out = main("provision", "-c", f.Path(), "-o", prov, "-bridges")
	if !strings.Contains(out, "edge-c1.passwd") || !strings.Contains(out, "bridge-c1.secret") {
		t.Errorf("provision printed:\n%s", out)
	}
	inv := filepath.Join(f.Dir, "boards.yaml")
	os.WriteFile(inv, []byte("d2: x86_64\n"), 0o644)
	bundles := filepath.Join(f.Dir, "bundles")
	out = main("bundle", "-p", prov, "-b", bin, "-o", bundles, "-inventory", inv, "-id", "d2")
	bundle := filepath.Join(bundles, "fedgan-d2-amd64.tar.gz")
	if !strings.Contains(out, bundle) {
		t.Errorf("bundle printed:\n%s", out)
	}

	startStack(t, f)
	prefix := filepath.Join(t.TempDir(), "board")
	t.Cleanup(func() { killBoardAgent(t, prefix) })
	pwFile := filepath.Join(f.Dir, "monitor.secret")
	os.WriteFile(pwFile, []byte(monitorPassword+"\n"), 0o600)
	out = main("flash", "-bundle", bundle, "-host", sshd.User+"@"+sshd.Addr, "-key", sshd.UserKey, "-known-hosts", sshd.KnownHosts,
		"-prefix", prefix, "-service-cmd", backgroundCmd, "-monitor-user", "watcher", "-monitor-password-file", pwFile)
	if !strings.Contains(out, "d2 on "+sshd.Addr) || !strings.Contains(out, ": online") {
		t.Errorf("flash printed %q, want d2 online", out)
	}

	// The refused key through the command line: exit status 1, the reason.
	other := filepath.Join(t.TempDir(), "id_other")
	writeKey(t, other)
	var errb bytes.Buffer
	err := Main(context.Background(), []string{"flash", "-bundle", bundle, "-host", sshd.User + "@" + sshd.Addr, "-key", other, "-known-hosts", sshd.KnownHosts, "-prefix", prefix}, &errb, &errb)
	if !errors.Is(err, ErrAuth) || ExitCode(err) != 1 {
		t.Errorf("flash with a refused key: %v (exit %d), want ErrAuth, exit 1", err, ExitCode(err))
	}
}
