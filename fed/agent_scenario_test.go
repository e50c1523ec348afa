package fed

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// testRows is LocalData: fixed rows of 2 values, row i of class i.
type testRows struct{ x []float32 }

func (r testRows) Len() int { return len(r.x) / 2 }

func (r testRows) Sample(dst []float32, n int, rng *rand.Rand) {
	for i := range n {
		j := rng.IntN(r.Len())
		copy(dst[i*2:(i+1)*2], r.x[j*2:(j+1)*2])
	}
}

func (r testRows) SampleLabeled(dst []float32, labels []int, n int, rng *rand.Rand) {
	for i := range n {
		j := rng.IntN(r.Len())
		copy(dst[i*2:(i+1)*2], r.x[j*2:(j+1)*2])
		labels[i] = j
	}
}

// tinyAgent is an agent of device "a" in community "c" whose D is
// 2 → 4 → 1 with a fixed seed, stepped by Adam with learning rate lr,
// on the rows (0, 0), (1, 1), (2, 2).
func tinyAgent(t *testing.T, lr float32, noise float64, rounds int) *Agent {
	d, err := nn.Build([]nn.LayerSpec{{Kind: "dense", In: 2, Out: 4}, {Kind: "leaky_relu", Alpha: 0.2}, {Kind: "dense", In: 4, Out: 1}}, rand.New(rand.NewPCG(4, 4)))
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewDevice(DeviceConfig{D: d, Opt: nn.NewAdam(lr, 0.5, 0.999, 1e-8), DataDim: 2, Noise: rand.New(rand.NewPCG(5, 5))})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAgent(AgentConfig{Community: "c", Device: "a", Worker: w, Data: testRows{[]float32{0, 0, 1, 1, 2, 2}}, Dim: 2,
		RNG: rand.New(rand.NewPCG(6, 6)), InstanceNoise: noise, Rounds: rounds})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func renderAgent(r AgentReady) string {
	fb := r.Feedback
	if fb == nil {
		return "(nothing)"
	}
	return fmt.Sprintf("feedback %s/%s round=%d iter=%d version=%d n_real=%d grad=%v wait=%dus loss=%.4f d_loss=%.4f",
		fb.Community, fb.Device, fb.Round, fb.Iter, fb.Version, fb.NReal, fb.Grad.Shape, fb.Timings.WaitUS, fb.Loss, fb.DLoss)
}

// TestAgentScenarios drives the device's protocol with scripted events:
//
//	agent [lr=R] [noise=σ rounds=N]   (lr default 1e-3)
//	batch t=D round=N iter=N [version=N] [rows=N] [value=V]   (every value V; default 0.5)
//	step t=D      (works on the newest batch: "worked", "nothing" or the error)
//	ready         (prints and acknowledges the feedback to publish)
//	stats
func TestAgentScenarios(t *testing.T) {
	var a *Agent
	runScripts(t, "testdata/agent*.txt", func(t *testing.T, s step) string {
		switch s.cmd {
		case "agent":
			lr, noise, rounds := float32(1e-3), 0.0, 0
			if v, ok := s.args["lr"]; ok {
				lr = float32(atof(t, v))
			}
			if v, ok := s.args["noise"]; ok {
				noise, rounds = atof(t, v), atoi(t, s.args["rounds"])
			}
			a = tinyAgent(t, lr, noise, rounds)
		case "batch":
			rows, v := 2, float32(0.5)
			if x, ok := s.args["rows"]; ok {
				rows = atoi(t, x)
			}
			if x, ok := s.args["value"]; ok {
				v = float32(atof(t, x))
			}
			x := make([]float32, rows*2)
			for i := range x {
				x[i] = v
			}
			b := &wire.Batch{V: wire.Version, Community: "c", Round: atoi(t, s.args["round"]), Iter: int64(atoi(t, s.args["iter"])),
				Fake: wire.NewTensor([]int{rows, 2}, x), Gen: wire.NewTensor([]int{rows, 2}, x)}
			if x, ok := s.args["version"]; ok {
				b.Version = int64(atoi(t, x))
			}
			a.Batch(dur(t, s.args["t"]), b)
		case "step":
			ok, err := a.Step(dur(t, s.args["t"]))
			switch {
			case err != nil:
				return "error: " + err.Error()
			case ok:
				return "worked"
			}
			return "nothing"
		case "ready":
			r := a.Ready()
			a.Advance()
			return renderAgent(r)
		case "stats":
			st := a.Stats()
			return fmt.Sprintf("answered=%d skipped=%d repeated=%d diverged=%d", st.Answered, st.Skipped, st.Repeated, st.Diverged)
		default:
			t.Fatalf("unknown command %q", s.cmd)
		}
		return "ok"
	})
}

// TestAgentNoise checks that a step uses the instance noise of its
// batch's round: two agents with the same seeds give the same feedback
// when their noise is the same, and different feedback otherwise.
func TestAgentNoise(t *testing.T) {
	grad := func(noise float64, round int) string {
		a := tinyAgent(t, 1e-3, noise, 10)
		x := wire.NewTensor([]int{2, 2}, []float32{0.5, 0.5, 0.5, 0.5})
		if err := a.Work(dur(t, "0s"), &wire.Batch{Round: round, Fake: x, Gen: x}, dur(t, "0s")); err != nil {
			t.Fatal(err)
		}
		g, _ := a.Ready().Feedback.Grad.Values()
		return strings.Trim(fmt.Sprint(g), "[]")
	}
	none := grad(0, 0)
	if grad(1, 10) != none || grad(1, 12) != none {
		t.Error("noise from round Rounds on")
	}
	if grad(1, 0) == none || grad(1, 5) == grad(1, 0) {
		t.Error("the noise does not follow the round")
	}
}
