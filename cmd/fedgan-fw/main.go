package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	firmwaretools "github.com/fedgan/fedgan/firmware-tools"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "fedgan-fw:", err)
		os.Exit(firmwaretools.ExitCode(err))
	}
}

func run(ctx context.Context) error {
	return firmwaretools.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
}
