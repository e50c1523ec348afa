package firmwaretools

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/buildinfo"
)

const usage = `fedgan-fw: build, provision, bundle and flash fedgan device agents

Usage:
  fedgan-fw build     [-o bin/firmware] [-arch all|armv6,armv7,arm64,amd64] [-with-fedgan]
  fedgan-fw provision -c TOPOLOGY -o DIR [-id DEVICE,...] [-credentials auto|password|cert|both|none] [-bridges]
  fedgan-fw bundle    -p PROVISIONED -b BUILD -o DIR (-arch ARCH | -inventory FILE) [-id DEVICE,...]
  fedgan-fw flash     -bundle FILE -host USER@HOST[:PORT] [-key FILE] [-known-hosts FILE] [-prefix DIR]
  fedgan-fw version

Run "fedgan-fw COMMAND -h" for a command's flags.
`

// ExitCode maps an error of Main to a process exit status: 2 for usage
// mistakes, 1 otherwise, 0 for nil.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrUsage) || errors.Is(err, flag.ErrHelp):
		return 2
	}
	return 1
}

// Main runs the fedgan-fw command line: args without the program name.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "build":
		return cmdBuild(ctx, rest, stdout, stderr)
	case "provision":
		return cmdProvision(rest, stdout, stderr)
	case "bundle":
		return cmdBundle(rest, stdout, stderr)
	case "flash":
		return cmdFlash(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "fedgan-fw", buildinfo.String())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
}

// list is a repeatable, comma-separated flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }

func (l *list) Set(s string) error {
	for _, x := range strings.Split(s, ",") {
		*l = append(*l, strings.TrimSpace(x))
	}
	return nil
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("fedgan-fw "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	return nil
}

func cmdBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("build", stderr)
	out := fs.String("o", "bin/firmware", "output folder: <arch>/fedgan-agent and SHA256SUMS")
	arches := fs.String("arch", "all", "architectures, comma-separated: "+strings.Join(ArchNames(), ", "))
	full := fs.Bool("with-fedgan", false, "also build the full fedgan binary (edge and cloud roles)")
	dir := fs.String("C", ".", "root of the fedgan module")
	version := fs.String("version", "", "version to stamp (default: git describe --tags --always --dirty)")
	commit := fs.String("commit", "", "commit to stamp (default: git rev-parse --short HEAD)")
	goCmd := fs.String("go", "go", "the go command")
	verbose := fs.Bool("v", false, "show the go tool's output")
	if err := parse(fs, args); err != nil {
		return err
	}
	as, err := ParseArches(*arches)
	if err != nil {
		return err
	}
	if *version == "" {
		*version = git(ctx, *dir, "dev", "describe", "--tags", "--always", "--dirty")
	}
	if *commit == "" {
		*commit = git(ctx, *dir, "unknown", "rev-parse", "--short", "HEAD")
	}
	opts := BuildOptions{Dir: *dir, Out: *out, Arches: as, Commands: []string{Agent}, Version: *version, Commit: *commit, Go: *goCmd}
	if *full {
		opts.Commands = append(opts.Commands, Full)
	}
	if *verbose {
		opts.Log = stderr
	}
	arts, err := Build(ctx, opts)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCH\tBINARY\tBYTES\tSHA256")
	for _, a := range arts {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", a.Arch.Name, filepath.Join(*out, a.Path), a.Size, a.SHA256)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "version %s (%s); sums in %s\n", *version, *commit, filepath.Join(*out, SumsFile))
	return nil
}

// git runs a git query in dir, returning def if it fails.
func git(ctx context.Context, dir, def string, args ...string) string {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if s := strings.TrimSpace(string(out)); err == nil && s != "" && !strings.ContainsAny(s, " \t\n") {
		return s
	}
	return def
}

func cmdProvision(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("provision", stderr)
	var o ProvisionOptions
	var ids list
	fs.StringVar(&o.Topology, "c", "", "the deployment's topology file")
	fs.StringVar(&o.Out, "o", "", "output folder: devices/<id>/ (and ca/ for a new CA)")
	fs.Var(&ids, "id", "device(s) to provision, comma-separated or repeated (default: all)")
	creds := fs.String("credentials", "auto", "auto, password, cert, both or none")
	fs.StringVar(&o.CACert, "ca", "", "project CA certificate (default: OUT/ca/ca.pem, created if missing)")
	fs.StringVar(&o.CAKey, "ca-key", "", "project CA private key (default: OUT/ca/ca.key)")
	fs.StringVar(&o.EdgeCA, "edge-ca", "", "CA bundle that verifies the edges' server certificates (default: the project CA)")
	fs.StringVar(&o.EdgeURL, "url", "", "edge URL written into the slices (default: the community's edge.advertise)")
	fs.StringVar(&o.DataDir, "data-dir", "", "rewrite the slices' data paths into this folder of the boards (e.g. "+DefaultDataDir+"; default: keep the topology's)")
	fs.BoolVar(&o.Bridges, "bridges", false, "also provision the edges' bridge users on the cloud broker")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Topology == "" || o.Out == "" {
		return fmt.Errorf("%w: provision needs -c TOPOLOGY and -o DIR", ErrUsage)
	}
	var err error
	if o.Credentials, err = ParseCredentials(*creds); err != nil {
		return err
	}
	o.IDs = ids
	if slicesContainEmpty(ids) {
		return &DeviceError{}
	}
	res, err := Provision(o)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tCOMMUNITY\tPASSWORD\tCERT\tEDGE\tFOLDER")
	for _, d := range res.Devices {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\t%s\n", d.Device, d.Community, d.Password, d.Cert, d.URL, d.Dir)
	}
	tw.Flush()
	if res.CA != "" {
		what := "used"
		if res.CACreated {
			what = "created"
		}
		fmt.Fprintf(stdout, "CA %s: %s\n", what, res.CA)
	}
	for _, f := range res.Changed {
		fmt.Fprintf(stdout, "wrote %s\n", f)
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	return nil
}

func slicesContainEmpty(l []string) bool {
	for _, s := range l {
		if s == "" {
			return true
		}
	}
	return false
}

func cmdBundle(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bundle", stderr)
	var o BundleOptions
	var ids list
	fs.StringVar(&o.Provisioned, "p", "", "provision's output folder")
	fs.StringVar(&o.Bin, "b", "bin/firmware", "build's output folder")
	fs.StringVar(&o.Out, "o", "", "output folder for fedgan-<id>-<arch>.tar.gz")
	fs.Var(&ids, "id", "device(s) to bundle, comma-separated or repeated (default: all provisioned)")
	fs.StringVar(&o.Arch, "arch", "", "architecture of the devices the inventory does not list: "+strings.Join(ArchNames(), ", "))
	inv := fs.String("inventory", "", "YAML file mapping device ids to architectures (\"c1-d1: armv7\")")
	fs.StringVar(&o.ConfigDir, "config-dir", DefaultConfigDir, "configuration folder on the board")
	fs.StringVar(&o.BinDir, "bin-dir", DefaultBinDir, "binary folder on the board")
	fs.StringVar(&o.User, "user", DefaultUser, "unprivileged user the service runs as")
	fs.StringVar(&o.MemoryLimit, "memory-limit", DefaultMemoryLimit, "GOMEMLIMIT of the service")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Provisioned == "" || o.Out == "" {
		return fmt.Errorf("%w: bundle needs -p PROVISIONED and -o DIR", ErrUsage)
	}
	if slicesContainEmpty(ids) {
		return &DeviceError{}
	}
	o.IDs = ids
	if *inv != "" {
		m, err := ReadInventory(*inv)
		if err != nil {
			return err
		}
		o.Inventory = m
	}
	bs, err := Bundle(o)
	if err != nil {
		return err
	}
	for _, b := range bs {
		fmt.Fprintf(stdout, "%s\t%s %s %s\n", b.Path, b.Info.Device, b.Info.Arch, b.Info.Version)
	}
	return nil
}

func cmdFlash(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("flash", stderr)
	var o FlashOptions
	var keys, known list
	fs.StringVar(&o.Bundle, "bundle", "", "the device's bundle (tar.gz)")
	fs.StringVar(&o.Host, "host", "", "the board: [user@]host[:port]")
	fs.StringVar(&o.User, "user", "", "SSH user when -host names none (default: $USER)")
	fs.Var(&keys, "key", "SSH private key file(s) (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fs.Var(&known, "known-hosts", "known_hosts file(s) (default: ~/.ssh/known_hosts)")
	fs.BoolVar(&o.InsecureIgnoreHostKey, "insecure-ignore-host-key", false, "accept any host key (never do this outside a lab)")
	fs.StringVar(&o.Prefix, "prefix", "", "install under this folder on the board (staging, tests)")
	fs.BoolVar(&o.Sudo, "sudo", false, "run install.sh and the service command with sudo -n")
	fs.StringVar(&o.ServiceCmd, "service-cmd", DefaultServiceCmd, "shell command that enables and starts the agent; it sees FEDGAN_PREFIX, FEDGAN_DEVICE, FEDGAN_AGENT, FEDGAN_CONFIG, FEDGAN_URL; a background agent must redirect its output")
	fs.BoolVar(&o.SkipArchCheck, "skip-arch-check", false, "install even if uname -m does not fit the bundle")
	fs.DurationVar(&o.Wait, "wait", 2*time.Minute, "how long to wait for the device to report online (negative: do not wait)")
	fs.StringVar(&o.Watch.URL, "edge-url", "", "edge broker to watch the presence on (default: the bundle's edge address)")
	fs.StringVar(&o.Watch.Username, "monitor-user", "", "monitor account on the edge broker (default: anonymous)")
	monPW := fs.String("monitor-password-file", "", "file holding the monitor account's password")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.Bundle == "" || o.Host == "" {
		return fmt.Errorf("%w: flash needs -bundle FILE and -host [user@]host[:port]", ErrUsage)
	}
	if *monPW != "" {
		pw, err := (&config.Topology{}).ReadSecret(*monPW)
		if err != nil {
			return err
		}
		o.Watch.Password = pw
	}
	if o.User == "" {
		o.User = os.Getenv("USER")
	}
	home, _ := os.UserHomeDir()
	o.KeyFiles = keys
	if len(keys) == 0 {
		if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
			if conn, err := net.Dial("unix", sock); err == nil {
				defer conn.Close()
				if s, err := agent.NewClient(conn).Signers(); err == nil {
					o.Signers = s
				}
			}
		}
		// Default keys that do not load (passphrase-protected ones, which
		// the agent may hold) are skipped, as ssh does.
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if b, err := os.ReadFile(filepath.Join(home, ".ssh", n)); err == nil {
				if s, err := ssh.ParsePrivateKey(b); err == nil {
					o.Signers = append(o.Signers, s)
				}
			}
		}
	}
	o.KnownHosts = known
	if len(known) == 0 && !o.InsecureIgnoreHostKey {
		o.KnownHosts = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	o.Log = stderr
	res, err := Flash(ctx, o)
	if err != nil {
		return err
	}
	state := "installed (not waited for)"
	if res.Presence != nil {
		state = "online"
	}
	fmt.Fprintf(stdout, "%s on %s (%s, %s): %s\n", res.Device, res.Host, res.Machine, res.Arch, state)
	return nil
}
