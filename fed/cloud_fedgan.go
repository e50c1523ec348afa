// The cloud of Fed GAN (CloudConfig.Disc; docs/DESIGN.md §2.12).

package fed

import (
	"fmt"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// checkFedGAN checks an update's D and sample count: present, of D's
// size, in range, for a Fed GAN cloud; absent for an FR one.
func (c *Cloud) checkFedGAN(u *Update) error {
	if c.cfg.Disc == nil {
		if len(u.DParams) > 0 {
			return fmt.Errorf("%w: update from %s carries a discriminator; this cloud runs FR", nn.ErrShape, u.Community)
		}
		return nil
	}
	if len(c.dflat) == 0 {
		c.dflat = nn.Flatten(nil, c.cfg.Disc.Params())
	}
	if len(u.DParams) != len(c.dflat) {
		return fmt.Errorf("%w: update from %s has %d discriminator parameters, want %d", nn.ErrShape, u.Community, len(u.DParams), len(c.dflat))
	}
	if u.Samples < 1 || u.Samples > wire.MaxSamples {
		return fmt.Errorf("fed: update from %s has %d samples, want 1 to %d", u.Community, u.Samples, int64(wire.MaxSamples))
	}
	return nil
}

// fedAvg sets G and D to the FedAvg of the round's updates ids, weighted
// by their sample counts (capped with a robust rule; updates whose loss
// was rejected are left out), and returns the weights.
func (c *Cloud) fedAvg(ids []string) ([]float64, error) {
	var use []string
	for _, id := range ids {
		if c.rob.Rule == RobustNone || !c.rejected[id] {
			use = append(use, id)
		}
	}
	if len(use) == 0 {
		return nil, errAllRejected
	}
	samples := make([]int64, len(use))
	gs, ds := make([][]float32, len(use)), make([][]float32, len(use))
	for i, id := range use {
		u := c.got[id]
		samples[i], gs[i], ds[i] = u.Samples, u.Params, u.DParams
	}
	g, d := make([]float32, len(c.flat)), make([]float32, len(c.dflat))
	w, capped, err := fedAvgModels(g, d, samples, gs, ds, c.rob)
	if err != nil {
		return nil, err
	}
	addCount(&c.stats.Bounded, "weight_capped", int64(capped))
	if err := nn.Unflatten(c.cfg.Gen.Params(), g); err != nil {
		return nil, err
	}
	if err := nn.Unflatten(c.cfg.Disc.Params(), d); err != nil {
		return nil, err
	}
	c.flat, c.dflat = g, d
	// The weights of the summary, by community: the left-out ones get 0.
	all := make([]float64, len(ids))
	for i, id := range ids {
		for j, u := range use {
			if u == id {
				all[i] = w[j]
			}
		}
	}
	return all, nil
}

// restoreAlgorithm checks that a snapshot was written by a cloud of this
// cloud's algorithm, and loads Fed GAN's D.
func (c *Cloud) restoreAlgorithm(s *cloudSnapshot) error {
	want := ""
	if c.cfg.Disc != nil {
		want = FedGAN.String()
	}
	if s.Algorithm != want {
		got := s.Algorithm
		if got == "" {
			got = FR.String()
		}
		return fmt.Errorf("%w: written by a cloud of algorithm %q, this one runs %q: remove it or run with that algorithm", ErrSnapshot, got, map[bool]string{true: FedGAN.String(), false: FR.String()}[want != ""])
	}
	if c.cfg.Disc == nil {
		return nil
	}
	if s.Disc == nil {
		return fmt.Errorf("%w: no discriminator", ErrSnapshot)
	}
	if err := loadFlat(c.cfg.Disc, *s.Disc); err != nil {
		return err
	}
	c.dflat = nn.Flatten(nil, c.cfg.Disc.Params())
	return nil
}
