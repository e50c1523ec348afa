package local

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/fedgan/fedgan/cloud"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/sim"
)

// Simulate runs top in the simulator as the cloud would: it evaluates
// every cloud.eval_every rounds (and after the final one) with opts,
// appends metrics.jsonl in dir, calls progress (if not nil) after every
// round, and writes the result generators into dir.
func Simulate(ctx context.Context, top *config.Topology, dir string, opts eval.EvalOptions, progress func(cloud.Progress)) (*sim.Result, error) {
	os.Remove(filepath.Join(dir, "metrics.jsonl"))
	ev, err := cloud.NewEvaluator(top, dir, opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var serr error
	s, err := sim.New(top, sim.Options{OnRound: func(sum fed.RoundSummary, g *nn.Sequential) {
		p := cloud.Progress{Round: sum.Round + 1, Rounds: top.Training.GlobalRounds, Summary: sum, Elapsed: time.Since(start)}
		if every := top.Cloud.EvalEvery; sum.Final || every > 0 && (sum.Round+1)%every == 0 {
			var err error
			if p.Eval, err = ev.Evaluate(g, sum.Round+1, sum.Final); err != nil && serr == nil {
				serr = err
			}
		}
		p.ETA = p.Elapsed / time.Duration(p.Round) * time.Duration(p.Rounds-p.Round)
		if err := ev.AppendMetrics(cloud.MetricsLine(sum, p.Elapsed, p.Eval)); err != nil && serr == nil {
			serr = err
		}
		if progress != nil {
			progress(p)
		}
	}})
	if err != nil {
		return nil, err
	}
	res, err := s.RunContext(ctx)
	if err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	return res, cloud.WriteGenerators(dir, res.Gen, res.Last)
}
