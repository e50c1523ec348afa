package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fedgan/fedgan/cli/agentcli"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/buildinfo"
	"github.com/fedgan/fedgan/internal/cliflags"
)

// ErrUsage marks a command-line mistake (exit status 2).
var ErrUsage = errors.New("usage")

// ErrInterrupted marks a command stopped by SIGINT or SIGTERM before it
// finished (exit status 130, as a shell reports a Ctrl-C).
var ErrInterrupted = errors.New("interrupted")

// ExitCode maps an error to the process exit status.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrInterrupted):
		return 130
	case errors.Is(err, ErrUsage) || errors.Is(err, agentcli.ErrUsage) || errors.Is(err, flag.ErrHelp):
		return 2
	}
	return 1
}

// usageError is a command-line mistake of one command: it is ErrUsage,
// and Report follows its message with a hint naming the command's help.
type usageError struct {
	err  error
	path string // "fedgan run"
}

func (e *usageError) Error() string   { return e.err.Error() }
func (e *usageError) Unwrap() []error { return []error{ErrUsage, e.err} }

// Report prints err for people on w, as "fedgan: ERR", followed for a
// usage mistake by a one-line hint ("Run 'fedgan run --help' for
// usage."), and returns the process exit status (ExitCode).
func Report(w io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(w, "fedgan:", err)
	if ue, ok := errors.AsType[*usageError](err); ok {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", ue.path)
	}
	return ExitCode(err)
}

const rootLong = `fedgan: federated generative model for IoT over MQTT

  fedgan run   -c CONFIG            the whole hierarchy on this machine (real MQTT on loopback)
  fedgan cloud -c CONFIG            the cloud tier (embedded broker unless cloud.url is set)
  fedgan edge  -c CONFIG --id ID    one community's edge (embedded broker + bridge)
  fedgan agent -c CONFIG --id ID    one device agent (also the small fedgan-agent binary)
  fedgan watch -h HOST -p PORT      print every message, decoded, like mosquitto_sub -v
  fedgan sim   -c CONFIG            the same algorithm in-process on a virtual clock

Every flag has a --long name; the Go-style single-dash spellings of long
flags (-rounds 500, -eval-every=5, -sim) are accepted too.
Logs go to stderr, at info by default in every command; --log-level
debug|info|warn|error sets it, -v is --log-level info and --debug is
--log-level debug. Commands that print their own progress on stdout (run,
experiment, loadtest) log their embedded services' routine lines (each
round, each device's presence) and their embedded agents' info lines at
debug.`

// Main runs one fedgan command: args without the program name. Help goes
// to stdout; Main prints nothing on an error, which it returns (Report
// prints it).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var ran bool         // a command's RunE was reached: flags and arguments were fine
	var cmdArgs []string // the command's arguments, without its name
	root := newRoot(stdout, stderr, &ran, &cmdArgs)
	args, cmdArgs = oldSpellings(root, args)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*usageError](err); ok {
		return err
	}
	path := "fedgan"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	switch {
	case !ran:
		// cobra's own mistakes: an unknown command, stray arguments.
		return &usageError{fmt.Errorf("%w: %w", ErrUsage, err), path}
	case errors.Is(err, ErrUsage) || errors.Is(err, agentcli.ErrUsage):
		return &usageError{err, path}
	}
	return err
}

// newRoot makes the fedgan command tree; every command's RunE sets *ran,
// and experiment reads its arguments as given from *cmdArgs.
func newRoot(stdout, stderr io.Writer, ran *bool, cmdArgs *[]string) *cobra.Command {
	root := &cobra.Command{
		Use:           "fedgan",
		Short:         "federated generative model for IoT over MQTT",
		Long:          rootLong,
		Version:       buildinfo.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// --version only: -v is --verbose everywhere else.
	root.Flags().Bool("version", false, "print the version and exit")
	root.SetVersionTemplate("fedgan {{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%w: %w", ErrUsage, err), cmd.CommandPath()}
	})
	for _, c := range []*cobra.Command{
		runCommand(stdout, stderr), cloudCommand(stderr), edgeCommand(stderr), agentCommand(stdout, stderr),
		watchCommand(stdout), simCommand(stdout), evalCommand(stdout, stderr), sampleCommand(stdout),
		experimentCommand(cmdArgs, stdout, stderr), loadtestCommand(stdout, stderr), passwdCommand(os.Stdin, stdout),
		{
			Use:   "version",
			Short: "print the version",
			Args:  noArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				_, err := fmt.Fprintln(stdout, "fedgan", buildinfo.String())
				return err
			},
		},
	} {
		run := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			*ran = true
			return run(cmd, args)
		}
		root.AddCommand(c)
	}
	// fedgan alone is a usage mistake, as before.
	root.RunE = func(cmd *cobra.Command, args []string) error {
		*ran = true
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	return root
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %s", strings.Join(args, " "))
	}
	return nil
}

// oldSpellings is cliflags.OldSpellings (-rounds 500 read as
// --rounds 500); it also returns args as given without the command's
// name (what the experiments record as the command that makes them).
func oldSpellings(root *cobra.Command, args []string) (all, cmdArgs []string) {
	_, cmdArgs, _ = root.Find(args)
	return cliflags.OldSpellings(root, args), cmdArgs
}

// common holds the flags every role has.
type common struct {
	config  string
	id      string
	verbose bool
	debug   bool
	json    bool
	level   logLevel
}

// register adds -c/--config (and --id with withID) and the log flags.
func (c *common) register(fs *pflag.FlagSet, withID bool) {
	fs.StringVarP(&c.config, "config", "c", "", "topology file (YAML)")
	if withID {
		fs.StringVar(&c.id, "id", "", "which community or device of the topology this process is")
	}
	c.registerLogs(fs)
}

// registerLogs adds -v/--verbose, --debug, --log-level and --log-json;
// every command logs at info by default.
func (c *common) registerLogs(fs *pflag.FlagSet) {
	c.level = logLevel(slog.LevelInfo)
	fs.Var(&c.level, "log-level", "log level: debug, info, warn or error")
	fs.BoolVarP(&c.verbose, "verbose", "v", false, "log at info level (--log-level info)")
	fs.BoolVar(&c.debug, "debug", false, "log at debug level (--log-level debug)")
	fs.BoolVar(&c.json, "log-json", false, "log as JSON lines")
}

// logger logs at the most verbose of --log-level, -v and --debug.
func (c *common) logger(stderr io.Writer) *slog.Logger {
	level := slog.Level(c.level)
	if c.verbose {
		level = min(level, slog.LevelInfo)
	}
	if c.debug {
		level = slog.LevelDebug
	}
	opts := &slog.HandlerOptions{Level: level}
	if c.json {
		return slog.New(slog.NewJSONHandler(stderr, opts))
	}
	return slog.New(slog.NewTextHandler(stderr, opts))
}

// logLevel is --log-level.
type logLevel slog.Level

func (l *logLevel) String() string { return strings.ToLower(slog.Level(*l).String()) }
func (l *logLevel) Type() string   { return "level" }

func (l *logLevel) Set(s string) error {
	lv, err := agentcli.ParseLevel(s)
	if err != nil {
		return err
	}
	*l = logLevel(lv)
	return nil
}

// load checks the flags common to the roles and reads the topology.
func load(c *common, needID bool) (*config.Topology, error) {
	if c.config == "" {
		return nil, fmt.Errorf("%w: -c/--config CONFIG is required", ErrUsage)
	}
	if needID && c.id == "" {
		return nil, fmt.Errorf("%w: --id is required", ErrUsage)
	}
	return config.Load(c.config)
}
