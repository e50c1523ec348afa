package cli

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedgan/fedgan/broker"
	"github.com/fedgan/fedgan/internal/buildinfo"
	"github.com/fedgan/fedgan/wire"
)

// commands are every fedgan command.
var commands = []string{"run", "cloud", "edge", "agent", "watch", "sim", "eval", "sample", "experiment", "loadtest", "version", "completion"}

// TestHelp: help, however asked for, goes to stdout and is no error
// (exit status 0); nothing goes to stderr.
func TestHelp(t *testing.T) {
	tests := [][]string{{"--help"}, {"-h"}, {"help"}}
	for _, c := range commands {
		tests = append(tests, []string{c, "--help"}, []string{"help", c})
		if c != "watch" { // watch's -h is the host, as mosquitto_sub's
			tests = append(tests, []string{c, "-h"})
		}
	}
	tests = append(tests, []string{"experiment", "-help"}, []string{"agent", "-help"})
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), args, &out, &errb)
			if err != nil || ExitCode(err) != 0 {
				t.Fatalf("got %v (exit %d), want no error; stderr:\n%s", err, ExitCode(err), errb.String())
			}
			if !strings.Contains(out.String(), "Usage") {
				t.Errorf("stdout has no Usage:\n%s", out.String())
			}
			if errb.Len() > 0 {
				t.Errorf("stderr is not empty:\n%s", errb.String())
			}
		})
	}
}

// TestUsageMistakes: a mistake is a usage error (exit status 2), printed
// by Report on stderr with one hint line naming the command's help, and
// nothing on stdout.
func TestUsageMistakes(t *testing.T) {
	for _, tt := range []struct {
		args       []string
		want, hint string
	}{
		{[]string{"run", "--nope"}, "unknown flag: --nope", "fedgan run --help"},
		{[]string{"run", "-nope"}, "unknown shorthand flag: 'n' in -nope", "fedgan run --help"},
		{[]string{"run", "-c", "x.yaml", "extra"}, "unexpected arguments extra", "fedgan run --help"},
		{[]string{"cloud", "-c", "x.yaml", "--log-level", "loud"}, `log level "loud"`, "fedgan cloud --help"},
		{[]string{"experiment", "--rounds", "many"}, `invalid argument "many"`, "fedgan experiment --help"},
		{[]string{"experiment", "--fig3", "--table2"}, "give one", "fedgan experiment --help"},
		{[]string{"watch", "--bogus"}, "unknown flag: --bogus", "fedgan watch --help"},
		{[]string{"watch", "-p", "70000"}, "not a port", "fedgan watch --help"},
		{[]string{"eval", "nonsense"}, "unknown eval mode", "fedgan eval --help"},
		{[]string{"agent", "--nope"}, "flag provided but not defined", "fedgan agent --help"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`, "fedgan --help"},
		{nil, "no command", "fedgan --help"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := Main(context.Background(), tt.args, &out, &errb)
			if !errors.Is(err, ErrUsage) {
				t.Fatalf("got %v, want a usage error", err)
			}
			var rep bytes.Buffer
			if code := Report(&rep, err); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			lines := strings.Split(strings.TrimSpace(rep.String()), "\n")
			if !strings.HasPrefix(lines[0], "fedgan: ") || !strings.Contains(rep.String(), tt.want) {
				t.Errorf("Report printed %q, want fedgan: … %q", rep.String(), tt.want)
			}
			if last := lines[len(lines)-1]; last != "Run '"+tt.hint+"' for usage." {
				t.Errorf("hint %q, want Run '%s' for usage.", last, tt.hint)
			}
			if out.Len() > 0 || errb.Len() > 0 {
				t.Errorf("Main printed stdout %q stderr %q, want nothing (Report prints)", out.String(), errb.String())
			}
		})
	}
	// Not usage mistakes: exit status 1 and no hint; 130 for a signal.
	var rep bytes.Buffer
	if code := Report(&rep, os.ErrNotExist); code != 1 || strings.Contains(rep.String(), "--help") {
		t.Errorf("Report(ErrNotExist) = %d, %q", code, rep.String())
	}
	if code := Report(&rep, ErrInterrupted); code != 130 {
		t.Errorf("Report(ErrInterrupted) = %d, want 130", code)
	}
}

// TestOldSpellings: the Go flag package's single-dash spellings of long
// flags are rewritten into pflag's, and nothing else is.
func TestOldSpellings(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"experiment -rounds 500 -eval-every=5 -sim -o out", "experiment --rounds 500 --eval-every=5 --sim -o out"},
		{"experiment -fig3 -configs ../configs -n 300 -seeds 1,2 -reuse", "experiment --fig3 --configs ../configs -n 300 --seeds 1,2 --reuse"},
		{"experiment -set training.robust=none -table2", "experiment --set training.robust=none --table2"},
		// A value that looks like a flag stays a value.
		{"experiment --set -rounds=1 -o -sim", "experiment --set -rounds=1 -o -sim"},
		{"run -c x.yaml -o out -resume -debug -log-json -v", "run -c x.yaml -o out --resume --debug --log-json -v"},
		{"edge -c x.yaml -id a -log-level=debug", "edge -c x.yaml --id a --log-level=debug"},
		{"eval train -c x.yaml -train -json -grid g.png", "eval train -c x.yaml --train --json --grid g.png"},
		{"watch -b tcp://h:1 -t a/# -u m -n 3", "watch -b tcp://h:1 -t a/# -u m -n 3"},
		{"watch -host h -port 1884 -url tcp://h:1", "watch --host h --port 1884 --url tcp://h:1"},
		{"loadtest -agents 10 -sample 2", "loadtest --agents 10 --sample 2"},
		// Not long flags: shorthand clusters and unknown names are left
		// for pflag to take or refuse.
		{"run -vc x.yaml -nope", "run -vc x.yaml -nope"},
		{"experiment -help", "experiment --help"},
		// The agent parses its own flags (Go's flag takes -id as is).
		{"agent -c x.yaml -id d1", "agent -c x.yaml -id d1"},
		{"experiment -- -sim", "experiment -- -sim"},
	} {
		var ran bool
		var cmdArgs []string
		var out bytes.Buffer
		got, _ := oldSpellings(newRoot(&out, &out, &ran, &cmdArgs), strings.Fields(tt.in))
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s\n got %s\nwant %s", tt.in, strings.Join(got, " "), tt.want)
		}
	}
}

// TestVersion: --version and version print "fedgan VERSION" once.
func TestVersion(t *testing.T) {
	want := "fedgan " + buildinfo.String() + "\n"
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		var out, errb bytes.Buffer
		if err := Main(context.Background(), args, &out, &errb); err != nil || out.String() != want || errb.Len() > 0 {
			t.Errorf("%v: %v, stdout %q, stderr %q; want %q", args, err, out.String(), errb.String(), want)
		}
	}
}

// TestCompletion: cobra's completion scripts for every shell.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		var out, errb bytes.Buffer
		if err := Main(context.Background(), []string{"completion", shell}, &out, &errb); err != nil || out.Len() < 1000 || !strings.Contains(out.String(), "fedgan") {
			t.Errorf("completion %s: %v, %d bytes on stdout, stderr %q", shell, err, out.Len(), errb.String())
		}
	}
	// Cobra's completion of the commands themselves.
	var out bytes.Buffer
	if err := Main(context.Background(), []string{"__complete", "ex"}, &out, &out); err != nil || !strings.Contains(out.String(), "experiment") {
		t.Errorf("__complete ex: %v\n%s", err, out.String())
	}
}

// TestLogLevel: one rule for every command: --log-level, or info; -v
// and --debug lower it to info and debug.
func TestLogLevel(t *testing.T) {
	for _, tt := range []struct {
		args  []string
		level slog.Level
	}{
		{nil, slog.LevelInfo},
		{[]string{"-v"}, slog.LevelInfo},
		{[]string{"--debug"}, slog.LevelDebug},
		{[]string{"--log-level", "error"}, slog.LevelError},
		{[]string{"--log-level=warn"}, slog.LevelWarn},
		{[]string{"--log-level=warn", "-v"}, slog.LevelInfo},
		{[]string{"--log-level", "error", "--debug"}, slog.LevelDebug},
	} {
		var c common
		cmd := cloudCommand(&bytes.Buffer{})
		cmd.ResetFlags()
		c.register(cmd.Flags(), false)
		if err := cmd.Flags().Parse(tt.args); err != nil {
			t.Fatal(err)
		}
		log := c.logger(&bytes.Buffer{})
		if !log.Enabled(context.Background(), tt.level) || tt.level > slog.LevelDebug && log.Enabled(context.Background(), tt.level-1) {
			t.Errorf("%v: the logger's level is not %v", tt.args, tt.level)
		}
	}
	// Every command defaults to info, and its help says so.
	for _, cmd := range []string{"cloud", "edge", "run", "sim", "experiment", "loadtest", "eval", "agent"} {
		var out bytes.Buffer
		if err := Main(context.Background(), []string{cmd, "--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "(default info)") {
			t.Errorf("%s --help: %v, lacks (default info):\n%s", cmd, err, out.String())
		}
	}
}

// TestWatchFlags: fedgan watch with mosquitto_sub's flags on a real
// broker that only lets the monitor user in.
func TestWatchFlags(t *testing.T) {
	const pw = "s3cret-Pw"
	hash, err := broker.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	tp := wire.Topics{}
	b, err := broker.New(broker.Config{Addr: "127.0.0.1:0", Users: []broker.User{
		{Name: "monitor", PasswordHash: hash, Rules: broker.MonitorRules(tp), ClientIDPrefix: "fedgan-"},
	}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = b.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-b.Ready()
	for _, c := range []string{"a", "b"} {
		if err := b.Publish(tp.Status(c), []byte(`{"community":"`+c+`"}`), true, 1); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := strings.Cut(b.Addr(), ":")
	pwFile := filepath.Join(t.TempDir(), "monitor.pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want []string // communities whose status is printed
	}{
		{"-h -p -u -P -t", []string{"-h", host, "-p", port, "-u", "monitor", "-P", pw, "-t", tp.Status("a"), "-C", "1"}, []string{"a"}},
		{"long names", []string{"--host", host, "--port", port, "--username", "monitor", "--pw", pw, "--topic", tp.Status("b"), "--count", "1"}, []string{"b"}},
		{"repeated -t", []string{"-p", port, "-u", "monitor", "--password-file", pwFile, "-t", tp.Status("a"), "-t", tp.Status("b"), "-C", "2"}, []string{"a", "b"}},
		{"-L with credentials and topic", []string{"-L", "mqtt://monitor:" + pw + "@" + b.Addr() + "/fedgan/v1/c/+/status", "-C", "2"}, []string{"a", "b"}},
		{"-L with #", []string{"-L", "tcp://" + b.Addr() + "/fedgan/v1/c/#", "-u", "monitor", "-P", pw, "-C", "2"}, []string{"a", "b"}},
		{"old -b and -n", []string{"-b", "tcp://" + b.Addr(), "-u", "monitor", "--password-file", pwFile, "-t", tp.Status("b"), "-n", "1"}, []string{"b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := Main(ctx, append([]string{"watch"}, tt.args...), &out, &errb); err != nil || ctx.Err() != nil {
				t.Fatalf("watch: %v (%v)\nstderr: %s", err, ctx.Err(), errb.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var got []string
			for _, l := range lines {
				for _, c := range []string{"a", "b"} {
					if strings.HasPrefix(l, tp.Status(c)+" (retained) ") {
						got = append(got, c)
					}
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) || len(lines) != len(tt.want) {
				t.Errorf("printed\n%s\nwant the status of %v, one line each", out.String(), tt.want)
			}
		})
	}

	// Refused or unreachable: exit status 1 at once, and no error repeats
	// the password.
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"wrong password", []string{"-p", port, "-u", "monitor", "-P", pw + "x"}, "credentials"},
		{"wrong password in -L", []string{"-L", "tcp://monitor:" + pw + "x@" + b.Addr()}, "credentials"},
		{"no password", []string{"-p", port, "-u", "monitor"}, "credentials"},
		{"unreachable", []string{"-p", freeClosedPort(t), "-u", "monitor", "-P", pw}, "nothing listens"},
		{"missing password file", []string{"-p", port, "--password-file", pwFile + ".missing"}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			start := time.Now()
			err := Main(context.Background(), append([]string{"watch"}, tt.args...), &out, &errb)
			if err == nil || ExitCode(err) != 1 || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v (exit %d), want exit 1 with %q", err, ExitCode(err), tt.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("took %v to give up", d)
			}
			var rep bytes.Buffer
			Report(&rep, err)
			if s := rep.String() + errb.String() + out.String(); strings.Contains(s, pw) {
				t.Errorf("the password is in the output: %s", s)
			}
		})
	}
	// Usage mistakes name no password either.
	for _, args := range [][]string{
		{"-P", pw, "--password-file", pwFile},
		{"-L", "tcp://monitor:" + pw + "@" + b.Addr(), "-p", port},
		{"-L", "gopher://monitor:" + pw + "@" + b.Addr()},
		{"-L", "monitor:" + pw + "@" + b.Addr()},
	} {
		err := Main(context.Background(), append([]string{"watch"}, args...), &bytes.Buffer{}, &bytes.Buffer{})
		if !errors.Is(err, ErrUsage) || strings.Contains(err.Error(), pw) {
			t.Errorf("watch %v: %v, want a usage error without the password", args, err)
		}
	}
}

// freeClosedPort is a loopback port nothing listens on.
func freeClosedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}
