package deploy

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/nn"
)

// PCG returns the random stream of one role: the topology's seed mixed
// with the role's name, so that every role is reproducible on its own.
func PCG(top *config.Topology, role string) *rand.PCG {
	h := fnv.New64a()
	h.Write([]byte(role))
	return rand.NewPCG(top.Seed, h.Sum64())
}

func adam(lr float64, tr config.Training) *nn.Adam {
	return nn.NewAdam(float32(lr), float32(tr.Beta1), float32(tr.Beta2), 1e-8)
}

// genOptimizer is the edges' optimizer for G_k.
func genOptimizer(tr config.Training) nn.Optimizer {
	if tr.OptimizerG == "sgd" {
		return nn.NewSGD(float32(tr.LRG), float32(tr.Momentum))
	}
	return adam(tr.LRG, tr)
}

// Generator builds G with initial weights drawn from rng.
func Generator(top *config.Topology, rng *rand.Rand) (*nn.Sequential, error) {
	return nn.Build(top.GeneratorSpec(), rng)
}

// Cloud builds the cloud's state machine with G initialised from the seed.
func Cloud(top *config.Topology) (*fed.Cloud, error) {
	pcg := PCG(top, "cloud")
	rng := rand.New(PCG(top, "cloud/init"))
	gen, err := Generator(top, rng)
	if err != nil {
		return nil, err
	}
	cfg := fed.CloudConfig{
		GlobalRounds: top.Training.GlobalRounds,
		RoundTimeout: top.Training.RoundTimeout.D(),
		Gen:          gen,
		RNG:          pcg,
		Layout:       top.GenLayout(),
		Robust:       top.Training.RobustConfig(),
	}
	for _, c := range top.Communities {
		cfg.Communities = append(cfg.Communities, c.ID)
	}
	if top.FedGAN() {
		// Fed GAN is plain FedAvg: no server optimizer (docs/DESIGN.md §2.12).
		if cfg.Disc, err = fedganDisc(top); err != nil {
			return nil, err
		}
		if err := cloudEMA(top, &cfg); err != nil {
			return nil, err
		}
		return fed.NewCloud(cfg)
	}
	switch tr := top.Training; tr.ServerOptimizer {
	case "adam":
		cfg.ServerOpt = adam(tr.ServerLR, tr)
	case "sgd":
		cfg.ServerOpt = nn.NewSGD(float32(tr.ServerLR), float32(tr.ServerMomentum))
	}
	cfg.ServerLRDecay = top.Training.ServerLRDecay // config allows it only with a server optimizer
	if err := cloudEMA(top, &cfg); err != nil {
		return nil, err
	}
	if top.Domains() > 0 {
		cls, err := nn.Build(top.ClassifierSpec(), rng)
		if err != nil {
			return nil, err
		}
		cfg.Batch, cfg.FirstLayers = top.Training.BatchSize, top.FirstLayers()
		cfg.Classifier, cfg.ClassifierOpt = cls, adam(top.Training.LRD, top.Training)
		cfg.ClassifierSteps = top.Training.ClassifierSteps
		cfg.Lambda1, cfg.Lambda2 = top.Training.Lambdas()
	}
	return fed.NewCloud(cfg)
}

// cloudEMA sets the moving average of G (cloud.ema) into cfg.
func cloudEMA(top *config.Topology, cfg *fed.CloudConfig) error {
	if top.Cloud.EMA > 0 {
		// NewCloud copies G's weights into it.
		ema, err := nn.Build(top.GeneratorSpec(), rand.New(PCG(top, "cloud/ema")))
		if err != nil {
			return err
		}
		cfg.EMAGen, cfg.EMA = ema, top.Cloud.EMA
	}
	return nil
}

// Edge builds community id's state machine.
func Edge(top *config.Topology, id string) (*fed.Edge, error) {
	c, err := top.Community(id)
	if err != nil {
		return nil, err
	}
	tr := top.Training
	rng := rand.New(PCG(top, "edge/"+id+"/init"))
	gen, err := Generator(top, rng)
	if err != nil {
		return nil, err
	}
	mode, err := fed.ParseMode(tr.Mode)
	if err != nil {
		return nil, err
	}
	wm, err := fed.ParseWeightMode(tr.Weights)
	if err != nil {
		return nil, err
	}
	sm, err := fed.ParseStalenessMode(tr.Staleness)
	if err != nil {
		return nil, err
	}
	cfg := fed.EdgeConfig{
		Community: id, Mode: mode, SyncPeriod: tr.SyncPeriod.D(), DeviceTimeout: tr.DeviceTimeout.D(),
		StartDevices: tr.StartDevices(len(c.Devices)), StartTimeout: tr.StartTimeout.D(),
		Weights: wm, Staleness: sm, StalenessUnit: tr.StalenessUnit.D(), MaxStaleness: tr.MaxStaleness,
		LocalIters: tr.LocalIters, Batch: tr.BatchSize, Layout: top.GenLayout(), DataDim: top.Model.DataDim,
		Gen: gen, Opt: genOptimizer(tr), RNG: PCG(top, "edge/"+id),
		LRDecay: tr.LRDecay, Rounds: tr.GlobalRounds, ModeSeeking: tr.ModeSeeking,
		Robust: tr.RobustConfig(), ClassInvariance: tr.ClassInvariance,
		Sample: top.SampleOf(c), Quorum: tr.Quorum, WireDType: tr.WireDType,
	}
	if tr.ClassInvariance > 0 {
		cfg.FirstLayers = top.FirstLayers()
	}
	for _, d := range c.Devices {
		cfg.Devices = append(cfg.Devices, d.ID)
	}
	if top.SourceCodes() > 0 {
		cfg.RowCodes, cfg.PerDevice = rowCodes(top, c)
		cfg.CodeScale = float32(top.Model.SourceCodeScale)
	}
	cfg.ClassSet = top.CommunityClasses(c) // nil without a class code
	if top.Domains() > 0 {
		cls, err := nn.Build(top.ClassifierSpec(), rng)
		if err != nil {
			return nil, err
		}
		cfg.Domain, cfg.Classifier, cfg.FirstLayers = *c.Domain, cls, top.FirstLayers()
	}
	return fed.NewEdge(cfg)
}

// Device builds device id's discriminator worker. With a class-conditional
// G (model.class_code) ds is the device's data, whose labels say which
// classes it judges (fed.DeviceConfig.Held); otherwise it may be nil.
func Device(top *config.Topology, id string, ds *data.Dataset) (*fed.Device, error) {
	_, c, _, err := top.Device(id)
	if err != nil {
		return nil, err
	}
	d, err := nn.Build(top.DiscriminatorSpec(), rand.New(PCG(top, "device/"+id+"/init")))
	if err != nil {
		return nil, err
	}
	obj, err := fed.ParseObjective(top.Training.Objective)
	if err != nil {
		return nil, err
	}
	cfg := fed.DeviceConfig{D: d, Opt: adam(top.Training.LRD, top.Training), Objective: obj, DataDim: top.Model.DataDim,
		Noise: rand.New(PCG(top, "device/"+id+"/noise")), SpectralNorm: top.Training.DSpectralNorm,
		Classes: top.Model.ClassCode}
	if k := top.Domains(); k > 0 {
		cfg.Domains, cfg.Domain = k, *c.Domain
	}
	if cfg.Classes > 0 {
		if cfg.ClassMode, err = fed.ParseClassMode(top.Model.DClass); err != nil {
			return nil, err
		}
		cfg.AuxWeight = top.Training.AuxWeight
		if ds == nil {
			return nil, errf("device %s: a class-conditional discriminator needs the device's data", id)
		}
		cfg.Held = make([]bool, cfg.Classes)
		for i := range ds.Len() {
			if y := ds.Label(i); y >= 0 && y < cfg.Classes {
				cfg.Held[y] = true
			}
		}
	}
	return fed.NewDevice(cfg)
}

// DeviceRNG is the stream a device samples its real rows with.
func DeviceRNG(top *config.Topology, id string) *rand.Rand {
	return rand.New(PCG(top, "device/"+id+"/data"))
}

// BatchRNG is the stream a device draws its real batches with.
func BatchRNG(top *config.Topology, id string) *rand.Rand {
	return rand.New(PCG(top, "device/"+id+"/batch"))
}

// Agent builds device id's protocol state machine on its local data ds
// (DeviceData, or data given instead): its discriminator worker, the
// stream it draws real batches with, and the instance-noise schedule. It
// checks ds first: model.data_dim columns, at least one row, and with a
// class code only its community's classes (CheckClasses).
func Agent(top *config.Topology, id string, ds *data.Dataset) (*fed.Agent, error) {
	_, c, _, err := top.Device(id)
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
	return fed.NewAgent(fed.AgentConfig{
		Community: c.ID, Device: id, Worker: w, Data: ds, Dim: ds.Dim, RNG: BatchRNG(top, id),
		InstanceNoise: top.Training.InstanceNoise, Rounds: top.Training.GlobalRounds, WireDType: top.Training.WireDType,
	})
}

// checkLocal checks device id's local data ds: model.data_dim columns, at
// least one row, and with a class code only its community's classes.
func checkLocal(top *config.Topology, id string, ds *data.Dataset) error {
	if ds.Dim != top.Model.DataDim {
		return fmt.Errorf("device %s: local data has %d columns, model.data_dim is %d", id, ds.Dim, top.Model.DataDim)
	}
	if ds.Len() == 0 {
		return fmt.Errorf("device %s: no local data", id)
	}
	return CheckClasses(top, id, ds)
}

func errf(format string, args ...any) error { return fmt.Errorf("setup: "+format, args...) }
