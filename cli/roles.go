package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/edge"
	"github.com/fedgan/fedgan/local"
)

func runCloud(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan cloud", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, false)
	top, err := parse(fs, args, &c, false)
	if err != nil {
		return err
	}
	s, err := cloud.New(top, cloud.Options{Logger: c.logger(stderr, false)})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

func runEdge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan edge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, true)
	top, err := parse(fs, args, &c, true)
	if err != nil {
		return err
	}
	s, err := edge.New(top, c.id, edge.Options{Logger: c.logger(stderr, false)})
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// runAll starts the whole hierarchy in this process (local.Run): the
// cloud with its embedded broker, one embedded broker and edge service
// per community and every device agent, each as its own MQTT client on
// loopback. Brokers listen on free ports; the topology's addresses are
// not used. It prints the progress and, at the end, what the run
// measured.
func runAll(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("fedgan run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.register(fs, false)
	out := fs.String("o", "", "results folder (default: cloud.output of the topology)")
	resume := fs.Bool("resume", false, "resume from the checkpoints of a previous run instead of starting afresh")
	top, err := parse(fs, args, &c, false)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, local.Header(top))
	// local.Run never calls OnStart and OnRound at the same time.
	res, err := local.Run(ctx, top, local.Options{Output: *out, Resume: *resume, Logger: c.logger(stderr, true),
		OnStart: func(s local.Started) { fmt.Fprintln(stdout, s) },
		OnRound: func(p cloud.Progress) { fmt.Fprintln(stdout, local.ProgressLine(p)) },
	})
	if err != nil && ctx.Err() != nil {
		// Ctrl-C: the checkpoints stay, and the run goes on from them.
		again := "fedgan run -c " + c.config
		if *out != "" {
			again += " -o " + *out
		}
		fmt.Fprintf(stderr, "fedgan run: stopped before the final round; the checkpoints are kept. To go on from them:\n  %s --resume\n", again)
		return ErrInterrupted
	}
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, res.Summary())
	return nil
}
