package deploy

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// The roles of the Fed GAN baseline (training.algorithm: fedgan;
// docs/DESIGN.md §2.12).

// AvgEdge builds community id's Fed GAN state machine. A round waits for
// its live devices as long as an FR sync round at most does,
// local_iters × sync_period, and a device answers once a round, so it is
// timed out after local_iters × device_timeout.
func AvgEdge(top *config.Topology, id string) (*fed.AvgEdge, error) {
	c, err := top.Community(id)
	if err != nil {
		return nil, err
	}
	tr := top.Training
	s := top.Spec()
	n := time.Duration(tr.LocalIters)
	cfg := fed.AvgEdgeConfig{
		Community: id, RoundWait: n * tr.SyncPeriod.D(), DeviceTimeout: n * tr.DeviceTimeout.D(),
		StartDevices: tr.StartDevices(len(c.Devices)), StartTimeout: tr.StartTimeout.D(),
		LocalIters: tr.LocalIters, GenShapes: s.GenParams, DiscShapes: s.DiscParams, Robust: tr.RobustConfig(),
	}
	for _, d := range c.Devices {
		cfg.Devices = append(cfg.Devices, d.ID)
	}
	return fed.NewAvgEdge(cfg)
}

// LocalGAN builds Fed GAN device id's whole GAN on its local data ds
// (checked as Agent checks it): D_j is FR's device D (Device), G_j is
// built and stepped like an FR edge's G_k, drawing the classes the
// device's data holds (or its community's without them) and its own source
// code. Both start from the round's model, so their initial weights do
// not matter.
func LocalGAN(top *config.Topology, id string, ds *data.Dataset) (*fed.LocalGAN, error) {
	_, c, j, err := top.Device(id)
	if err != nil {
		return nil, err
	}
	if err := checkLocal(top, id, ds); err != nil {
		return nil, err
	}
	w, err := Device(top, id, ds)
	if err != nil {
		return nil, err
	}
	gen, err := Generator(top, rand.New(PCG(top, "device/"+id+"/gen-init")))
	if err != nil {
		return nil, err
	}
	tr := top.Training
	g := fed.EdgeConfig{
		Layout: top.GenLayout(), LocalIters: tr.LocalIters, Batch: tr.BatchSize, DataDim: top.Model.DataDim,
		Gen: gen, Opt: genOptimizer(tr), RNG: PCG(top, "device/"+id+"/z"),
		LRDecay: tr.LRDecay, Rounds: tr.GlobalRounds, ModeSeeking: tr.ModeSeeking,
	}
	if top.Domains() > 0 {
		g.Domain = *c.Domain // G(z, c_k): the conditional GAN of the device's domain
	}
	if top.SourceCodes() > 0 {
		codes, perDevice := rowCodes(top, c)
		if perDevice {
			codes = codes[j : j+1]
		}
		g.RowCodes, g.CodeScale = codes, float32(top.Model.SourceCodeScale)
	}
	if g.ClassSet = heldClasses(top.CommunityClasses(c), ds); top.Model.ClassCode > 0 && len(g.ClassSet) == 0 {
		return nil, fmt.Errorf("device %s: its data holds none of its community's classes", id)
	}
	return fed.NewLocalGAN(fed.LocalGANConfig{G: g, D: fed.AgentConfig{
		Community: c.ID, Device: id, Worker: w, Data: ds, Dim: ds.Dim, RNG: BatchRNG(top, id),
		InstanceNoise: tr.InstanceNoise, Rounds: tr.GlobalRounds,
	}})
}

// heldClasses is the classes of community that ds holds.
func heldClasses(community []int, ds *data.Dataset) []int {
	if len(community) == 0 {
		return nil
	}
	held := map[int]bool{}
	for i := range ds.Len() {
		held[ds.Label(i)] = true
	}
	var ys []int
	for _, y := range community {
		if held[y] {
			ys = append(ys, y)
		}
	}
	return ys
}

// fedganDisc is the Fed GAN cloud's global D, initialised from the seed.
func fedganDisc(top *config.Topology) (*nn.Sequential, error) {
	return nn.Build(top.DiscriminatorSpec(), rand.New(PCG(top, "cloud/init-d")))
}
