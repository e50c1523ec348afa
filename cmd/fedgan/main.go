package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedgan/fedgan/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fedgan:", err)
		os.Exit(cli.ExitCode(err))
	}
}

func run(ctx context.Context) error { return cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr) }
