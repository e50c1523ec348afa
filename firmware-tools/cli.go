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

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/buildinfo"
	"github.com/fedgan/fedgan/internal/cliflags"
)

const rootLong = `fedgan-fw: build, provision, bundle and flash fedgan device agents

  fedgan-fw build     [-o bin/firmware] [--arch all|armv6,armv7,arm64,amd64] [--with-fedgan]
  fedgan-fw provision -c TOPOLOGY -o DIR [--id DEVICE,...] [--credentials auto|password|cert|both|none] [--bridges]
  fedgan-fw bundle    -p PROVISIONED -b BUILD -o DIR (--arch ARCH | --inventory FILE) [--id DEVICE,...]
  fedgan-fw flash     --bundle FILE --host USER@HOST[:PORT] [-i KEY] [--known-hosts FILE] [--prefix DIR]

Every flag has a --long name; the single-dash spellings of long flags
(-arch, -bundle, -host) are accepted too.`

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

// usageError is a command-line mistake of one command: it is ErrUsage,
// and Report follows it with a hint naming the command's help.
type usageError struct {
	err  error
	path string // "fedgan-fw build"
}

func (e *usageError) Error() string   { return e.err.Error() }
func (e *usageError) Unwrap() []error { return []error{ErrUsage, e.err} }

// Report prints err for people on w as "fedgan-fw: ERR", followed for a
// usage mistake by a one-line hint ("Run 'fedgan-fw build --help' for
// usage."), and returns the exit status (ExitCode).
func Report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(w, "fedgan-fw:", err)
	if ue, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", ue.path)
	} else if errors.Is(err, ErrUsage) {
		fmt.Fprintln(w, "Run 'fedgan-fw --help' for usage.")
	}
	return ExitCode(err)
}

// Main runs the fedgan-fw command line: args without the program name.
// Help goes to stdout; Main prints nothing on an error, which it returns
// (Report prints it).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	ran := false // a command's RunE was reached: flags and arguments were fine
	root := &cobra.Command{
		Use:     "fedgan-fw",
		Short:   "build, provision, bundle and flash fedgan device agents",
		Long:    rootLong,
		Version: buildinfo.String(),
		RunE: func(cmd *cobra.Command, args []string) error {
			return fmt.Errorf("%w: no command", ErrUsage)
		},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.Flags().Bool("version", false, "print the version and exit")
	root.SetVersionTemplate("fedgan-fw {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w: %w", ErrUsage, err), cmd.CommandPath()}
	})
	for _, c := range []*cobra.Command{
		buildCommand(stdout, stderr), provisionCommand(stdout), bundleCommand(stdout), flashCommand(stdout, stderr),
		{
			Use:   "version",
			Short: "print the version",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				_, err := fmt.Fprintln(stdout, "fedgan-fw", buildinfo.String())
				return err
			},
		},
	} {
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			ran = true
			return run(cmd, args)
		}
		root.AddCommand(c)
	}
	root.SetArgs(oldSpellings(root, args))
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*usageError](err); ok {
		return err
	}
	path := "fedgan-fw"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	switch {
	case !ran:
		return &usageError{fmt.Errorf("%w: %w", ErrUsage, err), path}
	case errors.Is(err, ErrUsage):
		return &usageError{err, path}
	}
	return err
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %s", strings.Join(args, " "))
	}
	return nil
}

// oldSpellings reads the single-dash spellings of long flags (-arch
// amd64, -bundle=F, -bridges) as pflag's (cliflags.OldSpellings).
func oldSpellings(root *cobra.Command, args []string) []string {
	return cliflags.OldSpellings(root, args)
}

// list is a repeatable, comma-separated flag.
type list []string

func (l *list) String() string { return strings.Join(*l, ",") }
func (l *list) Type() string   { return "list" }

func (l *list) Set(s string) error {
	for _, x := range strings.Split(s, ",") {
		*l = append(*l, strings.TrimSpace(x))
	}
	return nil
}

func buildCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		out, arches, dir, version, commit, goCmd string
		full, verbose                            bool
	)
	cmd := &cobra.Command{
		Use:   "build [-o DIR] [--arch LIST] [--with-fedgan]",
		Short: "cross-compile the agent for every board architecture, with SHA256SUMS",
		Args:  noArgs,
	}
	fs := cmd.Flags()
	fs.StringVarP(&out, "output", "o", "bin/firmware", "output folder: <arch>/fedgan-agent and SHA256SUMS")
	fs.StringVar(&arches, "arch", "all", "architectures, comma-separated: "+strings.Join(ArchNames(), ", "))
	fs.BoolVar(&full, "with-fedgan", false, "also build the full fedgan binary (edge and cloud roles)")
	fs.StringVarP(&dir, "dir", "C", ".", "root of the fedgan module")
	fs.StringVar(&version, "version", "", "version to stamp (default: git describe --tags --always --dirty)")
	fs.StringVar(&commit, "commit", "", "commit to stamp (default: git rev-parse --short HEAD)")
	fs.StringVar(&goCmd, "go", "go", "the go command")
	fs.BoolVarP(&verbose, "verbose", "v", false, "show the go tool's output")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		as, err := ParseArches(arches)
		if err != nil {
			return err
		}
		if version == "" {
			version = git(ctx, dir, "dev", "describe", "--tags", "--always", "--dirty")
		}
		if commit == "" {
			commit = git(ctx, dir, "unknown", "rev-parse", "--short", "HEAD")
		}
		opts := BuildOptions{Dir: dir, Out: out, Arches: as, Commands: []string{Agent}, Version: version, Commit: commit, Go: goCmd}
		if full {
			opts.Commands = append(opts.Commands, Full)
		}
		if verbose {
			opts.Log = stderr
		}
		arts, err := Build(ctx, opts)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ARCH\tBINARY\tBYTES\tSHA256")
		for _, a := range arts {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", a.Arch.Name, filepath.Join(out, a.Path), a.Size, a.SHA256)
		}
		tw.Flush()
		fmt.Fprintf(stdout, "version %s (%s); sums in %s\n", version, commit, filepath.Join(out, SumsFile))
		return nil
	}
	return cmd
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

func provisionCommand(stdout io.Writer) *cobra.Command {
	var o ProvisionOptions
	var ids list
	var creds string
	cmd := &cobra.Command{
		Use:   "provision -c TOPOLOGY -o DIR [--id DEVICE,...]",
		Short: "give each device its identity: password, certificate, its slice of the topology",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return provision(o, ids, creds, stdout)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Topology, "config", "c", "", "the deployment's topology file")
	fs.StringVarP(&o.Out, "output", "o", "", "output folder: devices/<id>/ (and ca/ for a new CA)")
	fs.Var(&ids, "id", "device(s) to provision, comma-separated or repeated (default: all)")
	fs.StringVar(&creds, "credentials", "auto", "auto, password, cert, both or none")
	fs.StringVar(&o.CACert, "ca", "", "project CA certificate (default: OUT/ca/ca.pem, created if missing)")
	fs.StringVar(&o.CAKey, "ca-key", "", "project CA private key (default: OUT/ca/ca.key)")
	fs.StringVar(&o.EdgeCA, "edge-ca", "", "CA bundle that verifies the edges' server certificates (default: the project CA)")
	fs.StringVar(&o.EdgeURL, "url", "", "edge URL written into the slices (default: the community's edge.advertise)")
	fs.StringVar(&o.DataDir, "data-dir", "", "rewrite the slices' data paths into this folder of the boards (e.g. "+DefaultDataDir+"; default: keep the topology's)")
	fs.BoolVar(&o.Bridges, "bridges", false, "also provision the edges' bridge users on the cloud broker")
	return cmd
}

func provision(o ProvisionOptions, ids list, creds string, stdout io.Writer) error {
	if o.Topology == "" || o.Out == "" {
		return fmt.Errorf("%w: provision needs -c/--config TOPOLOGY and -o/--output DIR", ErrUsage)
	}
	var err error
	if o.Credentials, err = ParseCredentials(creds); err != nil {
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

func bundleCommand(stdout io.Writer) *cobra.Command {
	var o BundleOptions
	var ids list
	var inv string
	cmd := &cobra.Command{
		Use:   "bundle -p PROVISIONED -b BUILD -o DIR (--arch ARCH | --inventory FILE)",
		Short: "one tar.gz per device: agent, slice, credentials, systemd unit, install.sh",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bundle(o, ids, inv, stdout)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Provisioned, "provisioned", "p", "", "provision's output folder")
	fs.StringVarP(&o.Bin, "bin", "b", "bin/firmware", "build's output folder")
	fs.StringVarP(&o.Out, "output", "o", "", "output folder for fedgan-<id>-<arch>.tar.gz")
	fs.Var(&ids, "id", "device(s) to bundle, comma-separated or repeated (default: all provisioned)")
	fs.StringVar(&o.Arch, "arch", "", "architecture of the devices the inventory does not list: "+strings.Join(ArchNames(), ", "))
	fs.StringVar(&inv, "inventory", "", "YAML file mapping device ids to architectures (\"c1-d1: armv7\")")
	fs.StringVar(&o.ConfigDir, "config-dir", DefaultConfigDir, "configuration folder on the board")
	fs.StringVar(&o.BinDir, "bin-dir", DefaultBinDir, "binary folder on the board")
	fs.StringVar(&o.User, "user", DefaultUser, "unprivileged user the service runs as")
	fs.StringVar(&o.MemoryLimit, "memory-limit", DefaultMemoryLimit, "GOMEMLIMIT of the service")
	return cmd
}

func bundle(o BundleOptions, ids list, inv string, stdout io.Writer) error {
	if o.Provisioned == "" || o.Out == "" {
		return fmt.Errorf("%w: bundle needs -p/--provisioned PROVISIONED and -o/--output DIR", ErrUsage)
	}
	if slicesContainEmpty(ids) {
		return &DeviceError{}
	}
	o.IDs = ids
	if inv != "" {
		m, err := ReadInventory(inv)
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

func flashCommand(stdout, stderr io.Writer) *cobra.Command {
	var o FlashOptions
	var keys, known list
	var monPW string
	cmd := &cobra.Command{
		Use:   "flash --bundle FILE --host [USER@]HOST[:PORT]",
		Short: "install a bundle on a board over SSH and wait until its agent is online",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return flash(cmd.Context(), o, keys, known, monPW, stdout, stderr)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Bundle, "bundle", "", "the device's bundle (tar.gz)")
	fs.StringVar(&o.Host, "host", "", "the board: [user@]host[:port]")
	fs.StringVar(&o.User, "user", "", "SSH user when --host names none (default: $USER)")
	fs.VarP(&keys, "key", "i", "SSH private key file(s) (default: ssh-agent, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fs.Var(&known, "known-hosts", "known_hosts file(s) (default: ~/.ssh/known_hosts)")
	fs.BoolVar(&o.InsecureIgnoreHostKey, "insecure-ignore-host-key", false, "accept any host key (never do this outside a lab)")
	fs.StringVar(&o.Prefix, "prefix", "", "install under this folder on the board (staging, tests)")
	fs.BoolVar(&o.Sudo, "sudo", false, "run install.sh and the service command with sudo -n")
	fs.StringVar(&o.ServiceCmd, "service-cmd", DefaultServiceCmd, "shell command that enables and starts the agent; it sees FEDGAN_PREFIX, FEDGAN_DEVICE, FEDGAN_AGENT, FEDGAN_CONFIG, FEDGAN_URL; a background agent must redirect its output")
	fs.BoolVar(&o.SkipArchCheck, "skip-arch-check", false, "install even if uname -m does not fit the bundle")
	fs.DurationVar(&o.Wait, "wait", 2*time.Minute, "how long to wait for the device to report online (negative: do not wait)")
	fs.StringVar(&o.Watch.URL, "edge-url", "", "edge broker to watch the presence on (default: the bundle's edge address)")
	fs.StringVar(&o.Watch.Username, "monitor-user", "", "monitor account on the edge broker (default: anonymous)")
	fs.StringVar(&monPW, "monitor-password-file", "", "file holding the monitor account's password")
	return cmd
}

func flash(ctx context.Context, o FlashOptions, keys, known list, monPW string, stdout, stderr io.Writer) error {
	if o.Bundle == "" || o.Host == "" {
		return fmt.Errorf("%w: flash needs --bundle FILE and --host [user@]host[:port]", ErrUsage)
	}
	if monPW != "" {
		pw, err := (&config.Topology{}).ReadSecret(monPW)
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
