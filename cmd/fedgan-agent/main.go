package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedgan/fedgan/cli/agentcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		stop()
		os.Exit(agentcli.Report(os.Stderr, "fedgan-agent", err))
	}
}

func run(ctx context.Context) error {
	return agentcli.Main(ctx, "fedgan-agent", os.Args[1:], os.Stdout, os.Stderr)
}
