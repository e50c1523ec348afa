package firmwaretools

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
		{"provision without topology", []string{"provision", "-o", "x"}, 2, "-c/--config TOPOLOGY"},
		{"provision with an empty id", []string{"provision", "-c", "testdata/lr.yaml", "-o", "x", "-id", ""}, 1, "device id missing"},
		{"bad credentials", []string{"provision", "-c", "testdata/lr.yaml", "-o", "x", "-credentials", "magic"}, 2, "magic"},
		{"bundle without output", []string{"bundle", "-p", "x"}, 2, "-o/--output DIR"},
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

// TestCLIHelp: help goes to stdout and is no error; a flag mistake is a
// usage error whose report ends with a hint naming the command's help.
func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"build", "--help"}, {"help", "provision"},
		{"bundle", "-h"}, {"flash", "-help"}, {"version", "--help"}, {"completion", "bash"}} {
		var out, errb bytes.Buffer
		if err := Main(context.Background(), args, &out, &errb); err != nil || out.Len() == 0 || errb.Len() > 0 {
			t.Errorf("%v: %v, %d bytes on stdout, stderr %q", args, err, out.Len(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	err := Main(context.Background(), []string{"build", "--nope"}, &out, &errb)
	var rep bytes.Buffer
	if code := Report(&rep, err); code != 2 || !strings.Contains(rep.String(), "unknown flag: --nope") ||
		!strings.HasSuffix(rep.String(), "Run 'fedgan-fw build --help' for usage.\n") {
		t.Errorf("build --nope: exit %d, report %q", code, rep.String())
	}
	out.Reset()
	if err := Main(context.Background(), []string{"--version"}, &out, &out); err != nil || strings.Count(out.String(), "\n") != 1 || !strings.HasPrefix(out.String(), "fedgan-fw ") {
		t.Errorf("--version: %v %q", err, out.String())
	}
}

// TestOldSpellings: the single-dash spellings of long flags still work.
func TestOldSpellings(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"build -arch amd64 -with-fedgan -o out -C .. -version v1", "build --arch amd64 --with-fedgan -o out -C .. --version v1"},
		{"provision -c t.yaml -o p -id a,b -bridges -credentials=cert", "provision -c t.yaml -o p --id a,b --bridges --credentials=cert"},
		{"flash -bundle b.tgz -host pi@h -key k -wait -1s -sudo", "flash --bundle b.tgz --host pi@h --key k --wait -1s --sudo"},
		{"bundle -p p -b bin -inventory i.yaml -- -arch", "bundle -p p -b bin --inventory i.yaml -- -arch"},
	} {
		root := &cobra.Command{Use: "fedgan-fw"}
		root.AddCommand(buildCommand(io.Discard, io.Discard), provisionCommand(io.Discard), bundleCommand(io.Discard), flashCommand(io.Discard, io.Discard))
		if got := strings.Join(oldSpellings(root, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}
