package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fedgan/fedgan/cli/agentcli"
	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/edge"
	"github.com/fedgan/fedgan/local"
)

func cloudCommand(stderr io.Writer) *cobra.Command {
	var c common
	cmd := &cobra.Command{
		Use:   "cloud -c CONFIG",
		Short: "the cloud tier: embedded broker (or cloud.url), Eq. 1, results, checkpoints",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			top, err := load(&c, false)
			if err != nil {
				return err
			}
			s, err := cloud.New(top, cloud.Options{Logger: c.logger(stderr)})
			if err != nil {
				return err
			}
			return s.Run(cmd.Context())
		},
	}
	c.register(cmd.Flags(), false)
	return cmd
}

func edgeCommand(stderr io.Writer) *cobra.Command {
	var c common
	cmd := &cobra.Command{
		Use:   "edge -c CONFIG --id COMMUNITY",
		Short: "one community's edge: embedded broker, bridge to the cloud, G_k",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			top, err := load(&c, true)
			if err != nil {
				return err
			}
			s, err := edge.New(top, c.id, edge.Options{Logger: c.logger(stderr)})
			if err != nil {
				return err
			}
			return s.Run(cmd.Context())
		},
	}
	c.register(cmd.Flags(), true)
	return cmd
}

// agentCommand is `fedgan agent`: agentcli parses its flags with Go's
// flag package, as the fedgan-agent binary does, and prints its help.
func agentCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:                "agent -c CONFIG --id DEVICE [--url URL]",
		Short:              "one device agent (the small fedgan-agent binary for boards)",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return agentcli.Main(cmd.Context(), "fedgan agent", args, stdout, stderr)
		},
	}
	cmd.SetHelpFunc(func(cmd *cobra.Command, args []string) {
		_ = agentcli.Main(cmd.Context(), "fedgan agent", []string{"--help"}, stdout, stderr)
	})
	return cmd
}

// runCommand is `fedgan run`: the whole hierarchy in this process
// (local.Run): the cloud with its embedded broker, one embedded broker
// and edge service per community and every device agent, each as its own
// MQTT client on loopback. Brokers listen on free ports; the topology's
// addresses are not used. It prints the progress and, at the end, what
// the run measured.
func runCommand(stdout, stderr io.Writer) *cobra.Command {
	var c common
	var out string
	var resume bool
	cmd := &cobra.Command{
		Use:   "run -c CONFIG [-o DIR] [--resume]",
		Short: "the whole hierarchy on this machine, over MQTT on loopback",
		Long: `Runs the cloud, every edge and every device agent of the topology in this
process, each talking only MQTT on loopback (brokers on free ports), and prints
one progress line per round. Ctrl-C stops the hierarchy from the devices up,
keeps the checkpoints, prints the command that goes on from them and exits
with status 130.

It logs at info like every command: the services' starts and stops, their
connections and warnings. The lines it reports itself (each closed round,
each device's presence, where the brokers listen) and the embedded agents'
info lines are at debug (--debug).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			top, err := load(&c, false)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			fmt.Fprintln(stdout, local.Header(top))
			// local.Run never calls OnStart and OnRound at the same time.
			res, err := local.Run(ctx, top, local.Options{Output: out, Resume: resume, Logger: c.logger(stderr),
				OnStart: func(s local.Started) { fmt.Fprintln(stdout, s) },
				OnRound: func(p cloud.Progress) { fmt.Fprintln(stdout, local.ProgressLine(p)) },
			})
			if err != nil && ctx.Err() != nil {
				// Ctrl-C: the checkpoints stay, and the run goes on from them.
				again := "fedgan run -c " + c.config
				if out != "" {
					again += " -o " + out
				}
				fmt.Fprintf(stderr, "fedgan run: stopped before the final round; the checkpoints are kept. To go on from them:\n  %s --resume\n", again)
				return ErrInterrupted
			}
			if err != nil {
				return err
			}
			fmt.Fprint(stdout, res.Summary())
			return nil
		},
	}
	fs := cmd.Flags()
	c.register(fs, false)
	fs.StringVarP(&out, "output", "o", "", "results folder (default: cloud.output of the topology)")
	fs.BoolVar(&resume, "resume", false, "resume from the checkpoints of a previous run instead of starting afresh")
	return cmd
}
