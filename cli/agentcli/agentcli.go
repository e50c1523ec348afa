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

// Main runs a device agent: name -c CONFIG --id DEVICE [--url URL].
func Main(ctx context.Context, name string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("c", "", "topology file (YAML)")
	id := fs.String("id", "", "this device's id in the topology")
	url := fs.String("url", "", "edge broker URL (default: the community's edge.advertise)")
	version := fs.Bool("version", false, "print the version and exit")
	verbose := fs.Bool("v", false, "log at info level (default: warnings)")
	debug := fs.Bool("debug", false, "log at debug level")
	asJSON := fs.Bool("log-json", false, "log as JSON lines")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if *version {
		fmt.Fprintln(stdout, "fedgan-agent", buildinfo.String())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %s", ErrUsage, strings.Join(fs.Args(), " "))
	}
	if *cfgPath == "" || *id == "" {
		return fmt.Errorf("%w: -c CONFIG and --id DEVICE are required", ErrUsage)
	}
	top, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	if *debug {
		level = slog.LevelDebug
	}
	ho := &slog.HandlerOptions{Level: level}
	var log *slog.Logger
	if *asJSON {
		log = slog.New(slog.NewJSONHandler(stderr, ho))
	} else {
		log = slog.New(slog.NewTextHandler(stderr, ho))
	}
	a, err := device.New(top, *id, device.Options{URL: *url, Logger: log})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
