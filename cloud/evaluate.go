package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/eval"
	"github.com/fedgan/fedgan/internal/atomicfile"
	"github.com/fedgan/fedgan/internal/setup"
	"github.com/fedgan/fedgan/nn"
)

// Evaluator scores the global generator during training and writes the
// results folder: metrics.jsonl and pictures.
type Evaluator struct {
	top     *config.Topology
	out     string
	mixture *data.Mixture // nil unless every community holds Gaussian data
	rng     *rand.Rand
	z       []float32
}

// NewEvaluator prepares the evaluation of top, writing into out.
func NewEvaluator(top *config.Topology, out string) (*Evaluator, error) {
	e := &Evaluator{top: top, out: out, mixture: setup.GlobalMixture(top), rng: rand.New(setup.PCG(top, "cloud/eval"))}
	return e, nil
}

// Sample draws n rows from gen (domain code k in the LR scenario).
func Sample(top *config.Topology, gen *nn.Sequential, n, domain int, rng *rand.Rand, z []float32) ([]float32, []float32) {
	m, k := top.Model.Latent, top.Domains()
	cols := m + k
	if cap(z) < n*cols {
		z = make([]float32, n*cols)
	}
	z = z[:n*cols]
	for i := 0; i < n; i++ {
		row := z[i*cols : (i+1)*cols]
		for j := 0; j < m; j++ {
			row[j] = float32(rng.NormFloat64())
		}
		if k > 0 {
			clear(row[m:])
			row[m+domain] = 1
		}
	}
	out := gen.Forward(nn.Mat{Rows: n, Cols: cols, Data: z})
	return append([]float32(nil), out.Data[:n*out.Cols]...), z
}

// Evaluate scores gen after round (1-based count of finished rounds).
func (e *Evaluator) Evaluate(gen *nn.Sequential, round int, final bool) (map[string]any, error) {
	n := e.top.Cloud.EvalSamples
	if n <= 0 {
		return nil, nil
	}
	if e.mixture == nil {
		return nil, nil
	}
	var x []float32
	x, e.z = Sample(e.top, gen, n, 0, e.rng, e.z)
	rep, err := eval.ScoreMixture(e.mixture, x)
	if err != nil {
		return nil, err
	}
	res := map[string]any{
		"samples": rep.Samples, "modes": rep.Modes, "modes_covered": rep.Covered,
		"high_quality": rep.HighQuality, "reverse_kl": finiteOrNil(rep.ReverseKL),
	}
	if e.top.Model.DataDim >= 2 {
		var buf bytes.Buffer
		if err := eval.Scatter(&buf, e.mixture, x, e.top.Model.DataDim, 512); err != nil {
			return res, err
		}
		name := fmt.Sprintf("scatter_r%04d.png", round)
		if err := atomicfile.Write(filepath.Join(e.out, name), buf.Bytes(), 0o644); err != nil {
			return res, err
		}
		if err := atomicfile.Write(filepath.Join(e.out, "scatter.png"), buf.Bytes(), 0o644); err != nil {
			return res, err
		}
		res["picture"] = name
	}
	return res, nil
}

func finiteOrNil(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return v
}

// AppendMetrics appends one JSON line to metrics.jsonl (fsynced).
func (e *Evaluator) AppendMetrics(line map[string]any) error {
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(e.out, 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(e.out, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
