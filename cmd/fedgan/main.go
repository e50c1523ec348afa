package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedgan/fedgan/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		stop()
		os.Exit(cli.Report(os.Stderr, err))
	}
}

func run(ctx context.Context) error { return cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr) }
