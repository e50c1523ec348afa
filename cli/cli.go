package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/fedgan/fedgan/cli/agentcli"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/internal/buildinfo"
)

// ErrUsage marks a command-line mistake (exit status 2).
var ErrUsage = errors.New("usage")

// ErrInterrupted marks a command stopped by SIGINT or SIGTERM before it
// finished (exit status 130, as a shell reports a Ctrl-C).
var ErrInterrupted = errors.New("interrupted")

// ExitCode maps an error to the process exit status.
func ExitCode(err error) int {
	switch {
	case errors.Is(err, ErrInterrupted):
		return 130
	case errors.Is(err, ErrUsage) || errors.Is(err, agentcli.ErrUsage) || errors.Is(err, flag.ErrHelp):
		return 2
	}
	return 1
}

const usage = `fedgan: federated generative model for IoT over MQTT

Usage:
  fedgan run   -c CONFIG            the whole hierarchy on this machine (real MQTT on loopback)
  fedgan cloud -c CONFIG            the cloud tier (embedded broker unless cloud.url is set)
  fedgan edge  -c CONFIG --id ID    one community's edge (embedded broker + bridge)
  fedgan agent -c CONFIG --id ID    one device agent (also the small fedgan-agent binary)
  fedgan watch -b URL [-t FILTER]   print every message, decoded, like mosquitto_sub -v
  fedgan sim   -c CONFIG            the same algorithm in-process on a virtual clock
  fedgan eval  ...                  evaluation classifier, IS, FID, coverage (fedgan eval -h)
  fedgan sample -m MODEL            sample grid of a saved generator
  fedgan experiment ...             the paper's Table 1 runs
  fedgan loadtest --agents N        one edge under N device agents: rates, latency, CPU, memory, bytes (JSON)
  fedgan version

Common flags: -v (info logs), -debug, -log-json.
`

// Main runs one fedgan command.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return runAll(ctx, rest, stdout, stderr)
	case "cloud":
		return runCloud(ctx, rest, stdout, stderr)
	case "edge":
		return runEdge(ctx, rest, stdout, stderr)
	case "agent":
		return agentcli.Main(ctx, "fedgan agent", rest, stdout, stderr)
	case "watch":
		return runWatch(ctx, rest, stdout, stderr)
	case "sim":
		return runSim(ctx, rest, stdout, stderr)
	case "eval":
		return runEval(ctx, rest, stdout, stderr)
	case "sample":
		return runSample(ctx, rest, stdout, stderr)
	case "experiment":
		return runExperiment(ctx, rest, stdout, stderr)
	case "loadtest":
		return runLoadtest(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "fedgan", buildinfo.String())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
}

// common holds the flags every role has.
type common struct {
	config  string
	id      string
	verbose bool
	debug   bool
	json    bool
}

func (c *common) register(fs *flag.FlagSet, withID bool) {
	fs.StringVar(&c.config, "c", "", "topology file (YAML)")
	if withID {
		fs.StringVar(&c.id, "id", "", "which community or device of the topology this process is")
	}
	fs.BoolVar(&c.verbose, "v", false, "log at info level")
	fs.BoolVar(&c.debug, "debug", false, "log at debug level")
	fs.BoolVar(&c.json, "log-json", false, "log as JSON lines")
}

func (c *common) logger(stderr io.Writer, quiet bool) *slog.Logger {
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	if c.verbose {
		level = slog.LevelInfo
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

func parse(fs *flag.FlagSet, args []string, c *common, needID bool) (*config.Topology, error) {
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	if c.config == "" {
		return nil, fmt.Errorf("%w: -c CONFIG is required", ErrUsage)
	}
	if needID && c.id == "" {
		return nil, fmt.Errorf("%w: --id is required", ErrUsage)
	}
	return config.Load(c.config)
}
