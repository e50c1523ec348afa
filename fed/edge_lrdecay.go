// The learning-rate schedule of EdgeConfig.LRDecay and
// CloudConfig.ServerLRDecay.

package fed

import (
	"fmt"

	"github.com/fedgan/fedgan/nn"
)

// learningRate returns the learning rate of the optimizers LRDecay knows.
func learningRate(o nn.Optimizer) (float32, error) {
	switch o := o.(type) {
	case *nn.Adam:
		return o.LR, nil
	case *nn.SGD:
		return o.LR, nil
	}
	return 0, fmt.Errorf("fed: LRDecay cannot set the learning rate of a %T", o)
}

// setLR applies the LRDecay schedule for the current round.
func (e *Edge) setLR() {
	if e.cfg.LRDecay == 0 || e.round < 0 {
		return
	}
	setLearningRate(e.cfg.Opt, decayed(e.baseLR, e.cfg.LRDecay, e.round, e.cfg.Rounds))
}

// decayed is base·(1 − decay·round/rounds), round capped at rounds.
func decayed(base float32, decay float64, round, rounds int) float32 {
	return base * float32(1-decay*float64(min(round, rounds))/float64(rounds))
}

// setLearningRate sets the learning rate of the optimizers learningRate
// knows.
func setLearningRate(o nn.Optimizer, lr float32) {
	switch o := o.(type) {
	case *nn.Adam:
		o.LR = lr
	case *nn.SGD:
		o.LR = lr
	}
}
