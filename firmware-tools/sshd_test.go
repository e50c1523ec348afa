package firmwaretools

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const sshdPath = "/usr/sbin/sshd"

// sshServer is a real OpenSSH sshd on a loopback port, run by the test as
// the current user, with its own host key and one authorized user key.
type sshServer struct {
	Addr       string // 127.0.0.1:port
	User       string
	Dir        string
	HostKey    ssh.PublicKey
	UserKey    string // private key file, authorized
	KnownHosts string // known_hosts file with the host key
	log        *lockedBuffer
}

// writeKey writes a new ed25519 private key in OpenSSH format (0600) and
// returns its public key.
func writeKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// startSSHD starts sshd -D -f CONFIG, or skips the test if Debian's
// openssh-server is not installed.
func startSSHD(t testing.TB) *sshServer {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Skipf("%s not installed (Debian package openssh-server): no flash test against a real sshd", sshdPath)
	}
	for _, tool := range []string{"sha256sum", "tar", "mktemp"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: the board side of flash needs it", tool)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd started as root needs its privilege separation folder,
		// which Debian's service unit creates (containers lack it).
		if _, err := os.Stat("/run/sshd"); os.IsNotExist(err) {
			if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
				t.Skipf("cannot create /run/sshd for sshd: %v", err)
			}
			t.Log("created /run/sshd (sshd's privilege separation folder)")
		}
	}
	dir := t.TempDir()
	s := &sshServer{User: u.Username, Dir: dir, UserKey: filepath.Join(dir, "id_user"), KnownHosts: filepath.Join(dir, "known_hosts"), log: &lockedBuffer{}}
	s.HostKey = writeKey(t, filepath.Join(dir, "host_key"))
	userPub := writeKey(t, s.UserKey)
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(userPub), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := fmt.Sprintf(`ListenAddress %s
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
`, s.Addr, filepath.Join(dir, "host_key"), filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"))
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
	if err := os.WriteFile(s.KnownHosts, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	deadline := time.Now().Add(waitFor)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case err := <-done:
			t.Fatalf("sshd exited: %v\n%s", err, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not listening on %s: %v\n%s", s.Addr, err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
