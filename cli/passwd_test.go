package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/pwhash"
)

// TestPasswd: fedgan passwd prints a line the brokers read, and adds or
// changes a user in a password file without touching the other lines.
func TestPasswd(t *testing.T) {
	run := func(stdin string, args ...string) (string, error) {
		var out, errb bytes.Buffer
		cmd := passwdCommand(strings.NewReader(stdin), &out)
		cmd.SetArgs(args[1:])
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SilenceUsage, cmd.SilenceErrors = true, true
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	out, err := run("s3cret\n", "passwd", "--cost", "4", "monitor")
	if err != nil {
		t.Fatal(err)
	}
	user, hash, _ := strings.Cut(strings.TrimSpace(out), ":")
	if user != "monitor" || !pwhash.Verify(hash, []byte("s3cret")) || pwhash.Verify(hash, []byte("s3cret\n")) {
		t.Errorf("printed %q: want monitor:<hash of s3cret>", out)
	}

	file := filepath.Join(t.TempDir(), "edge.passwd")
	const mosq = "carol:$7$101$WeFBQzp1V2FlL8GE$LaWZz9Jfcirv2G0/4v9G3XTqQAHeIwtX0I4VLT/d/3RJHLLAH0i+uTECUaBN0pjEUhL9v4F2vtpZgLRV084BxQ=="
	if err := os.WriteFile(file, []byte("# devices of c1\n"+mosq+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if out, err := run("pw-d1", "passwd", "-f", file, "--cost", "4", "c1-d1"); err != nil || out != "added c1-d1 in "+file+"\n" {
		t.Fatalf("add: %q, %v", out, err)
	}
	if out, err := run("pw-d1-new\n", "passwd", "-f", file, "--cost", "4", "c1-d1"); err != nil || !strings.HasPrefix(out, "changed c1-d1") {
		t.Fatalf("change: %q, %v", out, err)
	}
	b, _ := os.ReadFile(file)
	users, err := config.ParsePasswordFile(b, file)
	if err != nil || len(users) != 2 || users["carol"] != mosq[len("carol:"):] || !pwhash.Verify(users["c1-d1"], []byte("pw-d1-new")) {
		t.Errorf("file after add and change:\n%s(%v)", b, err)
	}
	if !strings.HasPrefix(string(b), "# devices of c1\n") {
		t.Errorf("the comment was lost:\n%s", b)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's 0640 kept", st.Mode().Perm())
	}

	for _, tc := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"passwd", "x"}, "empty password"},
		{"pw", []string{"passwd"}, "want one USER"},
		{"pw", []string{"passwd", "a:b"}, "without ':'"},
		{strings.Repeat("x", 73), []string{"passwd", "x"}, "at most 72 bytes"},
	} {
		if _, err := run(tc.stdin, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) || ExitCode(err) != 2 {
			t.Errorf("%v: %v (exit %d), want a usage error with %q", tc.args, err, ExitCode(err), tc.want)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.passwd")
	_ = os.WriteFile(bad, []byte("a:plain\n"), 0o600)
	if _, err := run("pw", "passwd", "-f", bad, "--cost", "4", "b"); err == nil || !strings.Contains(err.Error(), "not changed") {
		t.Errorf("a broken file: %v, want it left as it is", err)
	}
}
