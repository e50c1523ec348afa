package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	firmwaretools "github.com/fedgan/fedgan/firmware-tools"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		stop()
		os.Exit(firmwaretools.Report(os.Stderr, err))
	}
}

func run(ctx context.Context) error {
	return firmwaretools.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
