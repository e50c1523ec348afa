package agentcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/device"
	"github.com/fedgan/fedgan/internal/buildinfo"
)

// ErrUsage marks a command-line mistake (exit status 2).
var ErrUsage = errors.New("usage")

// usage is the agent's help; name replaces %[1]s. The agent keeps Go's
// flag package (no cobra in the board binary): every flag is registered
// under its long name and its short alias, and Go's flag accepts -name
// and --name alike.
const usage = `Usage: %[1]s -c CONFIG --id DEVICE [flags]

Runs one device agent: its local data and discriminator, answering every
batch of its edge with an error feedback.

Flags:
  -c, --config FILE     topology file (YAML; on a board, its slice)
      --id DEVICE       this device's id in the topology
      --url URL         edge broker URL (default: the community's edge.advertise)
      --log-level L     log level: debug, info, warn or error (default info)
  -v, --verbose         log at info level (--log-level info)
      --debug           log at debug level (--log-level debug)
      --log-json        log as JSON lines
      --version         print the version and exit
  -h, --help            print this help and exit
`

// ParseLevel parses a log level: debug, info, warn (warning) or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

// levelFlag is --log-level.
type levelFlag slog.Level

func (l *levelFlag) String() string { return strings.ToLower(slog.Level(*l).String()) }
func (l *levelFlag) Set(s string) error {
	lv, err := ParseLevel(s)
	*l = levelFlag(lv)
	return err
}

// Main runs a device agent: name -c CONFIG --id DEVICE [--url URL]. Help
// (-h, --help) goes to stdout and returns nil; a flag mistake returns an
// ErrUsage error, printing nothing (Report prints it).
func Main(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error is returned; help is printed below
	var (
		cfgPath, id, url               string
		version, verbose, debug, jsons bool
		level                          = levelFlag(slog.LevelInfo)
	)
	for _, n := range []string{"c", "config"} {
		fs.StringVar(&cfgPath, n, "", "topology file (YAML)")
	}
	fs.StringVar(&id, "id", "", "this device's id in the topology")
	fs.StringVar(&url, "url", "", "edge broker URL (default: the community's edge.advertise)")
	fs.BoolVar(&version, "version", false, "print the version and exit")
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&verbose, n, false, "log at info level")
	}
	fs.BoolVar(&debug, "debug", false, "log at debug level")
	fs.BoolVar(&jsons, "log-json", false, "log as JSON lines")
	fs.Var(&level, "log-level", "log level: debug, info, warn or error")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		_, err = fmt.Fprintf(stdout, usage, name)
		return err
	} else if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if version {
		fmt.Fprintln(stdout, "fedgan-agent", buildinfo.String())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	if cfgPath == "" || id == "" {
		return fmt.Errorf("%w: -c/--config CONFIG and --id DEVICE are required", ErrUsage)
	}
	top, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	lv := slog.Level(level)
	if verbose {
		lv = min(lv, slog.LevelInfo)
	}
	if debug {
		lv = slog.LevelDebug
	}
	ho := &slog.HandlerOptions{Level: lv}
	var log *slog.Logger
	if jsons {
		log = slog.New(slog.NewJSONHandler(stderr, ho))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, ho))
	}
	a, err := device.New(top, id, device.Options{URL: url, Logger: log})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}

// Report prints err for people on w as "NAME: ERR", followed for a usage
// mistake by a one-line hint ("Run 'NAME --help' for usage."), and
// returns the exit status: 0 for nil, 2 for a usage mistake, 1 otherwise.
func Report(w io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(w, "%s: %v\n", name, err)
	if errors.Is(err, ErrUsage) {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", name)
		return 2
	}
	return 1
}
