package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/loadtest"
)

// loadtestCommand is `fedgan loadtest`: one edge with its embedded broker
// in this process and --agents device agents (real MQTT clients on
// loopback) in --procs child processes, which re-execute this binary with
// --agent-proc. It prints the report as JSON.
func loadtestCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		o                                 loadtest.Options
		c                                 common
		cpuProfile, memProfile, topo, url string
		baseline, child                   bool
		from, to                          int
	)
	cmd := &cobra.Command{
		Use:   "loadtest [--agents N] [--sample K] [--baseline]",
		Short: "one edge under N device agents: rate, latency, CPU, memory, bytes per iteration (JSON)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if child {
				return agentProc(ctx, topo, url, from, to)
			}
			o.Logger = c.logger(stderr)
			o.Spawn = spawnAgents
			stop, err := profile(&o, cpuProfile, memProfile, stderr)
			if err != nil {
				return err
			}
			defer stop()
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if !baseline {
				rep, err := loadtest.Run(ctx, o)
				if err != nil {
					return err
				}
				return enc.Encode(rep)
			}
			return runBaseline(ctx, o, enc)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&o.Agents, "agents", 100, "device agents connected to the edge")
	fs.IntVar(&o.Sample, "sample", 0, "devices asked per iteration (training.sample; 0: every one)")
	fs.IntVar(&o.Quorum, "quorum", 0, "answers that close an iteration (training.quorum; 0: every asked device)")
	fs.IntVar(&o.Iterations, "iterations", 50, "sync iterations to time")
	fs.StringVar(&o.Model, "model", "gaussian", "gaussian (tiny G and D) or mnist (the reference MLPs, 64×784 batches)")
	fs.IntVar(&o.Batch, "batch", 64, "batch size B")
	fs.StringVar(&o.WireDType, "wire-dtype", "f32", "training.wire_dtype: f32 or bf16 (half the bytes of X_d, X_g and the feedback)")
	fs.IntVar(&o.Procs, "procs", 4, "child processes running the agents (0: in this process, which then counts their CPU and memory)")
	fs.DurationVar(&o.Idle, "idle", 0, "also measure the edge's CPU this long with every agent connected, before training")
	fs.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write the edge process's CPU profile (pprof) to this file")
	fs.StringVar(&memProfile, "memprofile", "", "write the edge process's heap profile (pprof) to this file once every agent is connected")
	fs.BoolVar(&baseline, "baseline", false, "first run the same test with only the --sample agents connected, and report both and the ratio of their rates")
	c.registerLogs(fs)
	fs.BoolVar(&child, "agent-proc", false, "internal: run agents --from to --to of --topology against --url until stdin closes")
	fs.StringVar(&topo, "topology", "", "internal: the topology file (--agent-proc)")
	fs.StringVar(&url, "url", "", "internal: the edge broker's URL (--agent-proc)")
	fs.IntVar(&from, "from", 0, "internal: first agent (--agent-proc)")
	fs.IntVar(&to, "to", 0, "internal: one past the last agent (--agent-proc)")
	for _, n := range []string{"agent-proc", "topology", "url", "from", "to"} {
		_ = fs.MarkHidden(n)
	}
	return cmd
}

// runBaseline runs o with only its sampled agents connected, then o, and
// prints both with the ratio of their rates.
func runBaseline(ctx context.Context, o loadtest.Options, enc *json.Encoder) error {
	if o.Sample == 0 {
		return fmt.Errorf("%w: --baseline compares with --sample agents connected: set --sample", ErrUsage)
	}
	b := o
	b.Agents, b.Procs = o.Sample, min(o.Procs, o.Sample)
	base, err := loadtest.Run(ctx, b)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	rep, err := loadtest.Run(ctx, o)
	if err != nil {
		return err
	}
	return enc.Encode(struct {
		Baseline *loadtest.Report `json:"baseline"`
		Test     *loadtest.Report `json:"test"`
		// RateRatio is the test's iterations per second over the baseline's.
		RateRatio float64 `json:"rate_ratio"`
	}{base, rep, rep.ItersPerSecond / base.ItersPerSecond})
}

// profile starts the CPU profile (cpu) and arranges the heap profile
// (mem) once every agent is connected; stop ends the CPU profile.
func profile(o *loadtest.Options, cpu, mem string, stderr io.Writer) (stop func(), err error) {
	if mem != "" {
		o.OnConnected = func() {
			f, err := os.Create(mem)
			if err != nil {
				fmt.Fprintln(stderr, "fedgan loadtest:", err)
				return
			}
			defer f.Close()
			runtime.GC()
			if err := pprof.WriteHeapProfile(f); err != nil {
				fmt.Fprintln(stderr, "fedgan loadtest:", err)
			}
		}
	}
	if cpu == "" {
		return func() {}, nil
	}
	f, err := os.Create(cpu)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// agentProc runs agents [from, to) until stdin closes (the parent went
// away or stopped the test) or ctx ends.
func agentProc(ctx context.Context, path, url string, from, to int) error {
	top, err := config.Load(path)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	err = loadtest.RunAgents(ctx, top, url, from, to)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// agentChild is an agent process started by spawnAgents.
type agentChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
}

// spawnAgents re-executes this binary as `fedgan loadtest --agent-proc`.
func spawnAgents(ctx context.Context, topology, url string, from, to int) (loadtest.Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "loadtest", "--agent-proc", "--topology", topology, "--url", url,
		"--from", strconv.Itoa(from), "--to", strconv.Itoa(to))
	cmd.Stderr = os.Stderr
	cmd.Env = agentEnv(os.Environ())
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("loadtest: starting agents %d–%d: %w", from, to, err)
	}
	c := &agentChild{cmd: cmd, stdin: in, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	return c, nil
}

// agentEnv is env without GOGC and GOMEMLIMIT: they are meant for the
// edge (this process), and a memory limit sized for the edge would make
// a child holding hundreds of agents collect without end.
func agentEnv(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "GOGC=") || strings.HasPrefix(kv, "GOMEMLIMIT=")
	})
}

// Stop closes the child's stdin, waits up to 10 s (then kills it) and
// returns its CPU time.
func (c *agentChild) Stop() (time.Duration, error) {
	c.stdin.Close()
	var err error
	select {
	case err = <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		err = <-c.done
		if err != nil {
			err = fmt.Errorf("agent process %d did not stop within 10s: %w", c.cmd.Process.Pid, err)
		}
	}
	var cpu time.Duration
	if st := c.cmd.ProcessState; st != nil {
		cpu = st.UserTime() + st.SystemTime()
	}
	return cpu, err
}
