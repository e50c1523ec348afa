package firmwaretools

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fedgan/fedgan/wire"
)

// backgroundCmd is the service command of the tests, where there is no
// systemd: the installed agent under nohup, its pid in the prefix.
const backgroundCmd = `nohup "$FEDGAN_AGENT" -c "$FEDGAN_CONFIG" --id "$FEDGAN_DEVICE" -v >>"$FEDGAN_PREFIX/agent.log" 2>&1 </dev/null & echo $! >"$FEDGAN_PREFIX/agent.pid"`

// killBoardAgent stops the agent a flash started in prefix, by the pid
// its service command recorded.
func killBoardAgent(t testing.TB, prefix string) {
	b, err := os.ReadFile(filepath.Join(prefix, "agent.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		p.Signal(syscall.SIGTERM)
		for i := 0; i < 100 && p.Signal(syscall.Signal(0)) == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
		p.Kill()
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(prefix, "agent.log"))
		t.Logf("board agent log:\n%s", log)
	}
}

// flashFixture is a provisioned deployment with a running edge and cloud,
// an sshd "board" and amd64 and arm64 bundles of d1.
type flashFixture struct {
	f            *fixture
	sshd         *sshServer
	amd64, arm64 string
	tap          *tap
	base         FlashOptions
}

func newFlashFixture(t *testing.T) *flashFixture {
	t.Helper()
	sshd := startSSHD(t)
	bin := buildAgents(t, "amd64", "arm64")
	f := newFixture(t, false)
	prov, _ := provisionFixture(t, f, CredAuto)
	out := filepath.Join(f.Dir, "bundles")
	bs, err := Bundle(BundleOptions{Provisioned: prov, Bin: bin, Out: out, Arch: "amd64", IDs: []string{"d1"}})
	if err != nil {
		t.Fatal(err)
	}
	ba, err := Bundle(BundleOptions{Provisioned: prov, Bin: bin, Out: out, Arch: "arm64", IDs: []string{"d1"}})
	if err != nil {
		t.Fatal(err)
	}
	startStack(t, f)
	ff := &flashFixture{f: f, sshd: sshd, amd64: bs[0].Path, arm64: ba[0].Path, tap: newTap(t, f)}
	ff.base = FlashOptions{
		Host: sshd.User + "@" + sshd.Addr, KeyFiles: []string{sshd.UserKey}, KnownHosts: []string{sshd.KnownHosts},
		ServiceCmd: backgroundCmd, Wait: waitFor,
		Watch: WatchOptions{Username: "watcher", Password: monitorPassword},
	}
	return ff
}

// TestFlash flashes d1's amd64 bundle into a throwaway prefix through a
// real sshd on loopback: the files land with the bundle's checksums and
// safe modes, the service command starts the agent, and the device
// reports online to the real edge. A second flash whose new agent does
// not start fails with the old agent's offline presence as the reason.
func TestFlash(t *testing.T) {
	ff := newFlashFixture(t)
	prefix := filepath.Join(t.TempDir(), "board")
	t.Cleanup(func() { killBoardAgent(t, prefix) })
	opts := ff.base
	opts.Bundle, opts.Prefix = ff.amd64, prefix
	var log lockedBuffer
	opts.Log = &log
	res, err := Flash(context.Background(), opts)
	if err != nil {
		t.Fatalf("flash: %v\n%s", err, log.String())
	}
	t.Logf("flash log:\n%s", log.String())
	if res.Presence == nil || res.Presence.State != wire.StateOnline || res.Presence.Agent != testVersion {
		t.Errorf("presence %+v, want online from agent %s", res.Presence, testVersion)
	}
	if res.Machine != "x86_64" && res.Machine != "amd64" {
		t.Logf("board reports %s", res.Machine)
	}
	ob, err := OpenBundle(ff.amd64)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		installed, bundled string
		mode               os.FileMode
	}{
		{"usr/local/bin/fedgan-agent", AgentFile, 0o755},
		{"etc/fedgan/topology.yaml", "etc/" + DeviceConfig, 0o644},
		{"etc/fedgan/password", "etc/" + DevicePassword, 0o600},
		{"etc/systemd/system/fedgan-agent.service", UnitFile, 0o644},
		{"etc/fedgan", "", 0o750},
	} {
		p := filepath.Join(prefix, tc.installed)
		if got := mode(t, p); got != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.installed, got, tc.mode)
		}
		if tc.bundled != "" {
			if got, _ := FileSHA256(p); got != SHA256(ob.Files[tc.bundled]) {
				t.Errorf("%s: sha256 %s, want the bundle's %s", tc.installed, got, SHA256(ob.Files[tc.bundled]))
			}
		}
	}
	// The agent trains: its feedback reaches the edge.
	ff.tap.wait(t, "feedback from the flashed agent", func() bool { return ff.tap.feedback["d1"] >= 3 })

	// Re-flash with a service command that stops the running agent and
	// fails to start the new one: the reason is the offline presence.
	opts.ServiceCmd = `kill "$(cat "$FEDGAN_PREFIX/agent.pid")"; "$FEDGAN_AGENT" -c /nonexistent.yaml --id "$FEDGAN_DEVICE" >>"$FEDGAN_PREFIX/agent.log" 2>&1 || true`
	opts.Wait = 5 * time.Second
	opts.Log = nil
	_, err = Flash(context.Background(), opts)
	var pe *PresenceError
	if !errors.Is(err, ErrOffline) || !errors.As(err, &pe) || pe.Last != wire.StateOffline {
		t.Errorf("new agent does not start: got %v, want a *PresenceError wrapping ErrOffline", err)
	}
}

func TestFlashErrors(t *testing.T) {
	ff := newFlashFixture(t)
	dir := t.TempDir()
	otherKey := filepath.Join(dir, "id_other")
	writeKey(t, otherKey)
	strangerKH := filepath.Join(dir, "known_hosts_stranger")
	os.WriteFile(strangerKH, nil, 0o600)
	changedKH := filepath.Join(dir, "known_hosts_changed")
	other := writeKey(t, filepath.Join(dir, "other_host_key"))
	os.WriteFile(changedKH, []byte(knownhosts.Line([]string{knownhosts.Normalize(ff.sshd.Addr)}, other)+"\n"), 0o600)
	tampered := rewriteBundle(t, ff.amd64, func(n string, d []byte) []byte {
		if n == "etc/"+DevicePassword {
			return []byte("guessed\n")
		}
		return d
	}, nil)
	closed := "127.0.0.1:" + strconv.Itoa(freePort(t))

	for _, tc := range []struct {
		name string
		edit func(o *FlashOptions)
		want error
		msg  string
	}{
		{"unknown host key", func(o *FlashOptions) { o.KnownHosts = []string{strangerKH} }, ErrHostKey, "is not in known_hosts"},
		{"changed host key", func(o *FlashOptions) { o.KnownHosts = []string{changedKH} }, ErrHostKey, "differs from the one known_hosts lists"},
		{"refused key", func(o *FlashOptions) { o.KeyFiles = []string{otherKey} }, ErrAuth, "unable to authenticate"},
		{"unreachable host", func(o *FlashOptions) { o.Host = ff.sshd.User + "@" + closed }, ErrUnreachable, "connection refused"},
		{"checksum mismatch", func(o *FlashOptions) { o.Bundle = tampered }, ErrChecksum, "etc/password"},
		{"wrong architecture", func(o *FlashOptions) { o.Bundle = ff.arm64 }, ErrArch, "bundle is for arm64"},
		{"no known_hosts", func(o *FlashOptions) { o.KnownHosts = nil }, ErrUsage, "host keys are always verified"},
		{"service never starts", func(o *FlashOptions) { o.ServiceCmd = "true"; o.Wait = 2 * time.Second }, ErrTimeout, "no presence message since the service started"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ff.base
			o.Bundle, o.Prefix = ff.amd64, filepath.Join(t.TempDir(), "board")
			tc.edit(&o)
			_, err := Flash(context.Background(), o)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.msg)
			}
			if tc.want != ErrTimeout {
				if _, err := os.Stat(o.Prefix); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("a failed flash installed into %s", o.Prefix)
				}
			}
		})
	}
}
