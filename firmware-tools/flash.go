package firmwaretools

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/wire"
)

// DefaultServiceCmd enables and (re)starts the agent's systemd unit.
const DefaultServiceCmd = "systemctl daemon-reload && systemctl enable fedgan-agent.service && systemctl restart fedgan-agent.service"

// FlashOptions configure Flash.
type FlashOptions struct {
	// Bundle is the tar.gz written by Bundle. Required.
	Bundle string
	// Host is the board: [user@]host[:port] (port 22 by default).
	// Required.
	Host string
	// User logs in when Host names none. Required then.
	User string
	// KeyFiles are private keys (OpenSSH or PEM, unencrypted) to offer;
	// Signers are more (an ssh-agent's). At least one is required.
	KeyFiles []string
	Signers  []ssh.Signer
	// KnownHosts are known_hosts files the board's host key must be in.
	// Required unless InsecureIgnoreHostKey.
	KnownHosts []string
	// InsecureIgnoreHostKey accepts any host key. Never the default.
	InsecureIgnoreHostKey bool
	// Prefix installs under this folder of the board (install.sh
	// --prefix): a staging or test install.
	Prefix string
	// Sudo runs install.sh and the service command with sudo -n.
	Sudo bool
	// ServiceCmd enables and starts the agent; default DefaultServiceCmd.
	// It runs in sh on the board with FEDGAN_PREFIX, FEDGAN_DEVICE,
	// FEDGAN_AGENT (the installed binary), FEDGAN_CONFIG (the installed
	// topology slice) and FEDGAN_URL (the edge) exported.
	ServiceCmd string
	// SkipArchCheck installs even when `uname -m` does not fit the
	// bundle's architecture (e.g. qemu-user on the board).
	SkipArchCheck bool
	// Wait bounds the wait for the device's online presence; default 2
	// minutes; negative skips the wait.
	Wait time.Duration
	// Watch is where the presence is read; the zero value uses the
	// edge address, root, community and device of the bundle's slice,
	// anonymously unless Username is set.
	Watch WatchOptions
	// DialTimeout bounds the TCP connect and SSH handshake; default 15s.
	DialTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
}

// FlashResult says what happened on the board.
type FlashResult struct {
	Device, Host, Arch string
	// Machine is the board's `uname -m`.
	Machine string
	// Presence is the online message that ended the wait (nil if not waited).
	Presence *wire.Presence
}

// Flash pushes a bundle to a board over SSH, checks its SHA-256 there,
// runs its install.sh, runs the service command and waits until the
// device's retained presence topic says online. The bundle is verified
// before anything is sent (ErrChecksum). The board's host key must be in
// KnownHosts (ErrHostKey); an unreachable port is ErrUnreachable and a
// refused key ErrAuth, each in a *HostError; a failing command is a
// *RemoteError; a device that does not come online a *PresenceError.
func Flash(ctx context.Context, opts FlashOptions) (*FlashResult, error) {
	logf := progress(opts.Log)
	if opts.Bundle == "" || opts.Host == "" {
		return nil, fmt.Errorf("%w: flash needs a bundle and a host", ErrUsage)
	}
	b, err := OpenBundle(opts.Bundle)
	if err != nil {
		return nil, err
	}
	arch, _ := ParseArch(b.Info.Arch)
	res := &FlashResult{Device: b.Info.Device, Arch: arch.Name}
	watch, cleanup, err := watchDefaults(b, opts.Watch)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	opts.defaults()

	cl, addr, err := dial(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	res.Host = addr
	logf("connected to %s", addr)
	r := remote{c: cl, host: addr}

	// Every session costs the board a login shell: four in all.
	var dir string
	if res.Machine, dir, err = r.tempDir(); err != nil {
		return nil, err
	}
	cleaned := false
	defer func() {
		if !cleaned {
			r.run("clean up", "rm -rf "+shQuote(dir), nil) //nolint:errcheck // best effort
		}
	}()
	if err := checkArch(arch, res.Machine, opts.SkipArchCheck, logf); err != nil {
		return nil, err
	}
	if err := r.upload(b.Raw, dir); err != nil {
		return nil, err
	}
	logf("uploaded %s (%d bytes, sha256 verified)", filepath.Base(opts.Bundle), len(b.Raw))
	out, err := r.run("install.sh", installCmd(b, opts, dir), nil)
	if err != nil {
		return nil, err
	}
	logf("%s", strings.TrimSpace(out))

	var w *PresenceWatch
	if opts.Wait > 0 {
		if w, err = startWatch(ctx, opts.Wait, watch); err != nil {
			return nil, err
		}
		defer w.Close()
	}
	out, err = r.run("service command", serviceCmd(b, opts, watch.URL, dir), nil)
	cleaned = true
	if err != nil {
		return nil, err
	}
	if s := strings.TrimSpace(out); s != "" {
		logf("%s", s)
	}
	logf("service command done")
	if w == nil {
		return res, nil
	}
	logf("waiting up to %s for %s to report online on %s", opts.Wait, b.Info.Device, watch.URL)
	p, err := w.WaitOnline(ctx, opts.Wait)
	if err != nil {
		return nil, err
	}
	res.Presence = p
	logf("%s is online (agent %s)", p.Device, p.Agent)
	return res, nil
}

// defaults fills the wait and the service command.
func (o *FlashOptions) defaults() {
	if o.Wait == 0 {
		o.Wait = 2 * time.Minute
	}
	if o.ServiceCmd == "" {
		o.ServiceCmd = DefaultServiceCmd
	}
}

// checkArch refuses a bundle built for arch on a board whose `uname -m`
// is machine, unless skip (then it says so in the log).
func checkArch(arch Arch, machine string, skip bool, logf func(string, ...any)) error {
	if !arch.RunsOn(machine) {
		if !skip {
			return &ArchError{Arch: arch.Name, Board: machine}
		}
		logf("board is %s, bundle %s: installing anyway (arch check skipped)", machine, arch.Name)
	}
	return nil
}

// progress returns Flash's logger: lines to log (none if nil), each
// stamped with the time since the call.
func progress(log io.Writer) func(format string, args ...any) {
	t0 := time.Now()
	return func(format string, args ...any) {
		if log != nil {
			fmt.Fprintf(log, "[%s] "+format+"\n", append([]any{time.Since(t0).Round(10 * time.Millisecond)}, args...)...)
		}
	}
}

// tempDir asks the board for its machine (`uname -m`) and a new private
// folder to unpack the bundle in.
func (r remote) tempDir() (machine, dir string, err error) {
	info, err := r.run("uname -m; mktemp -d", "uname -m && umask 077 && mktemp -d \"${TMPDIR:-/tmp}/fedgan-flash.XXXXXX\"", nil)
	if err != nil {
		return "", "", err
	}
	lines := strings.Fields(info)
	if len(lines) < 2 {
		return "", "", &RemoteError{Host: r.host, Cmd: "uname -m; mktemp -d", Output: "unexpected output " + strconv.Quote(info)}
	}
	dir = lines[len(lines)-1]
	machine = lines[len(lines)-2]
	if !strings.HasPrefix(dir, "/") || strings.Contains(dir, "'") {
		return "", "", &RemoteError{Host: r.host, Cmd: "mktemp -d", Output: "unexpected folder " + strconv.Quote(dir)}
	}
	return machine, dir, nil
}

// upload writes the bundle raw into dir on the board as bundle.tar.gz and
// checks its SHA-256 there.
func (r remote) upload(raw []byte, dir string) error {
	tgz := dir + "/bundle.tar.gz"
	sumOut, err := r.run("upload the bundle", "cat > "+shQuote(tgz)+" && sha256sum "+shQuote(tgz), bytes.NewReader(raw))
	if err != nil {
		return err
	}
	if got, _, _ := strings.Cut(strings.TrimSpace(sumOut), " "); got != SHA256(raw) {
		return &ChecksumError{File: r.host + ":" + tgz, Want: SHA256(raw), Got: got}
	}
	return nil
}

// sudo prefixes the commands that install when opts.Sudo.
func sudo(opts FlashOptions) string {
	if opts.Sudo {
		return "sudo -n "
	}
	return ""
}

// installCmd unpacks the uploaded bundle in dir and runs its install.sh.
func installCmd(b *OpenedBundle, opts FlashOptions, dir string) string {
	install := "cd " + shQuote(dir) + " && tar -xzf bundle.tar.gz && " + sudo(opts) + "sh " + shQuote(b.Top()+"/"+InstallFile)
	if opts.Prefix != "" {
		install += " --prefix " + shQuote(opts.Prefix)
	}
	return install
}

// serviceCmd runs opts.ServiceCmd with the FEDGAN_ variables exported
// (url is the edge's), then removes dir whatever its status.
func serviceCmd(b *OpenedBundle, opts FlashOptions, url, dir string) string {
	env := map[string]string{
		"FEDGAN_PREFIX": opts.Prefix,
		"FEDGAN_DEVICE": b.Info.Device,
		"FEDGAN_AGENT":  opts.Prefix + b.Info.BinDir + "/fedgan-agent",
		"FEDGAN_CONFIG": opts.Prefix + b.Info.ConfigDir + "/" + DeviceConfig,
		"FEDGAN_URL":    url,
	}
	var cmd strings.Builder
	for _, k := range sortedKeys(env) {
		fmt.Fprintf(&cmd, "%s=%s; export %s; ", k, shQuote(env[k]), k)
	}
	cmd.WriteString(opts.ServiceCmd)
	return sudo(opts) + "sh -c " + shQuote(cmd.String()) + "; rc=$?; rm -rf " + shQuote(dir) + "; exit $rc"
}

// startWatch subscribes to the device's presence before the service
// starts, so that its online message is not missed; wait bounds the
// connection.
func startWatch(ctx context.Context, wait time.Duration, watch WatchOptions) (*PresenceWatch, error) {
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	return WatchPresence(wctx, watch)
}

// watchDefaults fills the presence watch from the bundle's slice. The
// cleanup removes the temporary CA file it may write.
func watchDefaults(b *OpenedBundle, w WatchOptions) (_ WatchOptions, cleanup func(), err error) {
	cleanup = func() {}
	top, err := config.FromBytes(b.Files[ConfigPrefix+DeviceConfig], b.Path+": "+ConfigPrefix+DeviceConfig, "")
	if err != nil {
		return w, cleanup, fmt.Errorf("%w: %w", ErrBundle, err)
	}
	_, comm, _, err := top.Device(b.Info.Device)
	if err != nil {
		return w, cleanup, &DeviceError{ID: b.Info.Device, Where: b.Path}
	}
	if w.URL == "" {
		w.URL = comm.Edge.Advertise
	}
	if w.Root == "" {
		w.Root = top.Root
	}
	if w.Community == "" {
		w.Community = comm.ID
	}
	if w.Device == "" {
		w.Device = b.Info.Device
	}
	if w.Version == "" {
		w.Version = b.Info.Version
	}
	if w.CAFile == "" && isTLSURL(w.URL) {
		if ca, ok := b.Files[ConfigPrefix+DeviceCA]; ok {
			// mqttc reads the CA from a file.
			f, err := os.CreateTemp("", "fedgan-fw-ca-*.pem")
			if err != nil {
				return w, cleanup, err
			}
			cleanup = func() { os.Remove(f.Name()) }
			_, err = f.Write(ca)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				cleanup()
				return w, func() {}, err
			}
			w.CAFile = f.Name()
		}
	}
	return w, cleanup, nil
}

// dial connects and logs in, sorting failures into ErrUnreachable,
// ErrHostKey and ErrAuth.
func dial(ctx context.Context, opts FlashOptions) (*ssh.Client, string, error) {
	user, hostport := opts.User, opts.Host
	if u, h, ok := strings.Cut(opts.Host, "@"); ok {
		user, hostport = u, h
	}
	if user == "" {
		return nil, "", fmt.Errorf("%w: flash: no SSH user (give user@host or --user)", ErrUsage)
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		hostport = net.JoinHostPort(strings.Trim(hostport, "[]"), "22")
	}
	signers, err := loadSigners(opts)
	if err != nil {
		return nil, "", err
	}
	timeout := opts.DialTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signers...)}, Timeout: timeout}
	var hostKeyErr error
	switch {
	case opts.InsecureIgnoreHostKey:
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey()
	case len(opts.KnownHosts) == 0:
		return nil, "", fmt.Errorf("%w: flash: no known_hosts file (host keys are always verified unless --insecure-ignore-host-key)", ErrUsage)
	default:
		kh, err := knownhosts.New(opts.KnownHosts...)
		if err != nil {
			return nil, "", fmt.Errorf("firmwaretools: known_hosts: %w", err)
		}
		cfg.HostKeyAlgorithms = knownAlgorithms(kh, hostport)
		cfg.HostKeyCallback = func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if err := kh(hostname, remote, key); err != nil {
				hostKeyErr = hostKeyError(err, hostname, key)
				return hostKeyErr
			}
			return nil
		}
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, "", &HostError{Host: hostport, Kind: ErrUnreachable, Err: err}
	}
	conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, hostport, cfg)
	if err != nil {
		conn.Close()
		switch {
		case hostKeyErr != nil:
			return nil, "", &HostError{Host: hostport, Kind: ErrHostKey, Err: hostKeyErr}
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, "", &HostError{Host: hostport, Kind: ErrAuth, Err: fmt.Errorf("user %s: %w", user, err)}
		}
		return nil, "", &HostError{Host: hostport, Kind: ErrUnreachable, Err: err}
	}
	conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), hostport, nil
}

// loadSigners returns the keys to offer: opts.Signers, then those of
// opts.KeyFiles. There must be one.
func loadSigners(opts FlashOptions) ([]ssh.Signer, error) {
	signers := append([]ssh.Signer(nil), opts.Signers...)
	for _, f := range opts.KeyFiles {
		kb, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("firmwaretools: SSH key: %w", err)
		}
		s, err := ssh.ParsePrivateKey(kb)
		var pe *ssh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("firmwaretools: SSH key %s is passphrase-protected: load it into ssh-agent", f)
		}
		if err != nil {
			return nil, fmt.Errorf("firmwaretools: SSH key %s: %w", f, err)
		}
		signers = append(signers, s)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("%w: flash: no SSH key (give --key or run ssh-agent)", ErrUsage)
	}
	return signers, nil
}

// hostKeyError explains a knownhosts refusal.
func hostKeyError(err error, host string, key ssh.PublicKey) error {
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) {
		line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key)
		if len(ke.Want) == 0 {
			return fmt.Errorf("host key %s %s is not in known_hosts; if it is the board's, add: %s", key.Type(), ssh.FingerprintSHA256(key), line)
		}
		return fmt.Errorf("host key %s %s differs from the one known_hosts lists (%s:%d): the board was reinstalled, or someone is in between", key.Type(), ssh.FingerprintSHA256(key), ke.Want[0].Filename, ke.Want[0].Line)
	}
	return err
}

// knownAlgorithms asks known_hosts which key types it holds for the host,
// so that the server is asked for one of those (otherwise a board with
// several host keys may offer a type known_hosts lacks and look changed).
func knownAlgorithms(kh ssh.HostKeyCallback, hostport string) []string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if err := kh(hostport, &net.TCPAddr{IP: net.IPv4zero}, probe); !errors.As(err, &ke) {
		return nil
	}
	var algs []string
	seen := map[string]bool{}
	for _, k := range ke.Want {
		types := []string{k.Key.Type()}
		if k.Key.Type() == ssh.KeyAlgoRSA {
			types = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, t := range types {
			if !seen[t] {
				seen[t] = true
				algs = append(algs, t)
			}
		}
	}
	return algs
}

// remote runs commands on the board.
type remote struct {
	c    *ssh.Client
	host string
}

// maxOutput bounds the output kept from a remote command.
const maxOutput = 64 << 10

// run runs cmd in a new session with stdin, returning its combined output.
func (r remote) run(what, cmd string, stdin io.Reader) (string, error) {
	s, err := r.c.NewSession()
	if err != nil {
		return "", &HostError{Host: r.host, Kind: ErrUnreachable, Err: err}
	}
	defer s.Close()
	var out tailBuffer
	s.Stdout, s.Stderr, s.Stdin = &out, &out, stdin
	err = s.Run(cmd)
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return out.String(), nil
	case errors.As(err, &ee):
		return out.String(), &RemoteError{Host: r.host, Cmd: what, Status: ee.ExitStatus(), Output: out.String()}
	}
	return out.String(), &RemoteError{Host: r.host, Cmd: what, Status: -1, Output: out.String() + "\n" + err.Error()}
}

// tailBuffer keeps the last maxOutput bytes written to it; stdout and
// stderr write from two goroutines.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > maxOutput {
		t.b = append(t.b[:0], t.b[len(t.b)-maxOutput:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// shQuote quotes s for a POSIX shell.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
