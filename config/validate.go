package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgan/fedgan/fed"
	"github.com/fedgan/fedgan/wire"
)

// Known values of the enumerated keys that config alone reads. The keys
// that name a fed mode (training.mode, .staleness, .weights, .objective
// and model.d_class) are checked by fed's Parse functions, which hold
// those names.
var (
	scenarios   = []string{"fr", "lr"}
	outputs     = []string{"linear", "tanh"}
	dataKinds   = []string{"gaussian", "mnist", "fashion-mnist", "inverted-mnist", "grey-mnist", "idx", "csv"}
	partKinds   = []string{"iid", "shards", "dirichlet", "modes"}
	sourceCodes = []string{SourceNone, SourceCommunity, SourceDevice}
	domainCodes = []string{DomainCodeInput, DomainCodeSkipFirst, DomainCodeHeads}
)

// Values of model.domain_code.
const (
	DomainCodeInput     = "input"
	DomainCodeSkipFirst = "skip_first"
	DomainCodeHeads     = "heads"
)

// Values of model.source_code.
const (
	SourceNone      = "none"
	SourceCommunity = "community"
	SourceDevice    = "device"
)

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// problems collects what validate finds, each "key: what is wrong".
type problems []string

func (p *problems) bad(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

// enum fills an empty *v with def and checks that it is one of allowed.
func (p *problems) enum(key string, v *string, def string, allowed []string) {
	if *v == "" {
		*v = def
	}
	if !oneOf(*v, allowed) {
		p.bad(key, "%q is not one of %v", *v, allowed)
	}
}

// fedName fills an empty *v with def and checks it with parse, one of
// fed's Parse functions; a refused name is reported with the names parse
// accepts, as enum does.
func fedName[T any](p *problems, key string, v *string, def string, parse func(string) (T, error)) {
	if *v == "" {
		*v = def
	}
	if _, err := parse(*v); err != nil {
		var ne *fed.NameError
		if errors.As(err, &ne) {
			p.bad(key, "%q is not one of %v", *v, ne.Known)
		} else {
			p.bad(key, "%v", err)
		}
	}
}

// validate fills defaults and returns every problem found, section by
// section in the order of the file.
func (t *Topology) validate() []string {
	var p problems
	t.validateRoot(&p)
	t.validateModel(&p)
	t.validateTraining(&p)
	t.validateLimits(&p)
	t.validateCloud(&p)
	t.validateCommunities(&p)
	t.validateSampling(&p)
	t.validatePayload(&p)
	return p
}

// validateRoot checks the top-level keys.
func (t *Topology) validateRoot(p *problems) {
	if t.Name == "" {
		t.Name = "fedgan"
	}
	if t.Root == "" {
		t.Root = wire.DefaultRoot
	}
	p.enum("scenario", &t.Scenario, "fr", scenarios)
}

// validateModel checks the model section (after the scenario, and with
// the number of communities known).
func (t *Topology) validateModel(p *problems) {
	m := &t.Model
	if m.Latent <= 0 {
		p.bad("model.latent", "must be > 0, got %d", m.Latent)
	}
	if m.DataDim <= 0 {
		p.bad("model.data_dim", "must be > 0, got %d", m.DataDim)
	}
	if len(m.Generator) == 0 {
		p.bad("model.generator", "list at least one hidden width")
	}
	if len(m.Discriminator) == 0 {
		p.bad("model.discriminator", "list at least one hidden width")
	}
	for i, w := range append(append(append([]int{}, m.Generator...), m.Discriminator...), m.Classifier...) {
		if w <= 0 || w > 1<<16 {
			p.bad("model", "hidden width #%d is %d; want 1..65536", i+1, w)
		}
	}
	if m.LeakySlope == 0 {
		m.LeakySlope = 0.2
	}
	if m.LeakySlope < 0 || m.LeakySlope >= 1 {
		p.bad("model.leaky_slope", "must be in [0, 1), got %g", m.LeakySlope)
	}
	p.enum("model.output", &m.Output, "linear", outputs)
	p.enum("model.source_code", &m.SourceCode, SourceNone, sourceCodes)
	if t.Scenario == "lr" && m.SourceCode != SourceNone {
		p.bad("model.source_code", "%q applies to the fr scenario only (lr conditions G on the domain code)", m.SourceCode)
	}
	if m.SourceCodeScale == 0 {
		m.SourceCodeScale = float64(max(len(t.Communities), 1))
	}
	if !(m.SourceCodeScale > 0) || math.IsInf(m.SourceCodeScale, 0) {
		p.bad("model.source_code_scale", "must be a finite number > 0, got %g", m.SourceCodeScale)
	}
	if m.DMinibatchStd == 1 || m.DMinibatchStd < 0 {
		p.bad("model.d_minibatch_std", "must be 0 (off) or a group of ≥ 2 rows, got %d", m.DMinibatchStd)
	}
	if m.ClassCode < 0 || m.ClassCode > wire.MaxClasses {
		p.bad("model.class_code", "must be 0 (off) or a number of classes up to %d, got %d", wire.MaxClasses, m.ClassCode)
	}
	fedName(p, "model.d_class", &m.DClass, "input", fed.ParseClassMode)
	if m.ClassCode > 0 && m.SourceCode != SourceNone {
		p.bad("model.class_code", "replaces model.source_code (a class belongs to one community); set source_code: none")
	}
	if t.Scenario == "lr" && len(m.Classifier) == 0 {
		m.Classifier = []int{64}
	}
	p.enum("model.domain_code", &m.DomainCode, DomainCodeInput, domainCodes)
	if m.DomainCode == DomainCodeSkipFirst && (t.Scenario != "lr" || len(m.Generator) == 0) {
		p.bad("model.domain_code", "skip_first needs scenario: lr and a hidden layer in model.generator")
	}
	if m.DomainCode == DomainCodeHeads && t.Scenario != "lr" {
		p.bad("model.domain_code", "heads needs scenario: lr")
	}
	if m.DomainCode != DomainCodeInput && m.ClassCode > 0 {
		p.bad("model.domain_code", "%s moves the domain code, the last columns of G's input without a class code; with model.class_code only input is built", m.DomainCode)
	}
}

// validateTraining checks the training section, after the model's.
func (t *Topology) validateTraining(p *problems) {
	tr := &t.Training
	if tr.GlobalRounds <= 0 {
		p.bad("training.global_rounds", "must be > 0, got %d", tr.GlobalRounds)
	}
	if tr.LocalIters <= 0 {
		p.bad("training.local_iters", "must be > 0, got %d", tr.LocalIters)
	}
	if tr.BatchSize == 0 {
		tr.BatchSize = 64
	}
	if tr.BatchSize < 1 || tr.BatchSize > 4096 {
		p.bad("training.batch_size", "must be in 1..4096, got %d", tr.BatchSize)
	}
	if g := t.Model.DMinibatchStd; g >= 2 && tr.BatchSize%g != 0 {
		p.bad("model.d_minibatch_std", "group %d does not divide training.batch_size %d: a group would mix real and generated rows", g, tr.BatchSize)
	}
	tr.validateAggregation(p)
	t.validateAlgorithm(p)
	tr.validateLosses(p)
	tr.validateServerOptimizer(p)
	tr.validateOptimizers(p)
	tr.validateTimeouts(p)
	if t.Scenario == "lr" {
		tr.validateDomainLosses(p)
	}
	if c := tr.ClassInvariance; !(c >= 0) || math.IsInf(c, 0) {
		p.bad("training.class_invariance", "must be a finite number >= 0, got %g", c)
	} else if c > 0 && t.Model.ClassCode < 2 {
		p.bad("training.class_invariance", "pulls the class codes' first-layer outputs together: needs model.class_code ≥ 2, got %d", t.Model.ClassCode)
	}
}

// validateAlgorithm checks training.algorithm: Fed GAN runs in the FR
// scenario, synchronously (docs/DESIGN.md §2.12).
func (t *Topology) validateAlgorithm(p *problems) {
	tr := &t.Training
	fedName(p, "training.algorithm", &tr.Algorithm, fed.FR.String(), fed.ParseAlgorithm)
	if tr.Algorithm != fed.FedGAN.String() {
		return
	}
	if tr.Mode != "sync" {
		p.bad("training.algorithm", "fedgan averages each round's models synchronously: training.mode must be sync, got %q", tr.Mode)
	}
}

// validateSampling checks training.sample, sample_fraction and quorum
// against the mode, the algorithm and every community's devices.
func (t *Topology) validateSampling(p *problems) {
	tr := &t.Training
	switch f := tr.SampleFraction; {
	case tr.Sample < 0 || tr.Sample > 100000:
		p.bad("training.sample", "must be in 0..100000 devices per iteration, got %d", tr.Sample)
	case !(f >= 0 && f <= 1):
		p.bad("training.sample_fraction", "must be a share of the devices in [0, 1], got %g", f)
	case tr.Sample > 0 && f > 0:
		p.bad("training.sample_fraction", "set training.sample or training.sample_fraction, not both")
	case tr.Quorum < 0:
		p.bad("training.quorum", "must be >= 0 answers, got %d", tr.Quorum)
	case tr.Quorum > 0 && tr.Mode != "sync":
		p.bad("training.quorum", "closes sync iterations: training.mode must be sync, got %q", tr.Mode)
	case (tr.Sample > 0 || f > 0 || tr.Quorum > 0) && t.FedGAN():
		p.bad("training.sample", "asks devices for feedback: training.algorithm fedgan trains on every device")
	default:
		if tr.Quorum == 0 {
			return
		}
		for _, c := range t.Communities {
			asks := t.SampleOf(&c)
			if asks == 0 || asks > len(c.Devices) {
				asks = len(c.Devices)
			}
			if tr.Quorum > asks {
				p.bad("training.quorum", "%d is more than community %s asks (%d of its %d devices)", tr.Quorum, c.ID, asks, len(c.Devices))
				return
			}
		}
	}
}

// SampleOf is how many devices community c's edge asks per iteration
// (training.sample or sample_fraction of its devices, rounded up); 0:
// every device.
func (t *Topology) SampleOf(c *Community) int {
	if f := t.Training.SampleFraction; f > 0 {
		return max(1, int(math.Ceil(f*float64(len(c.Devices))-1e-9)))
	}
	return t.Training.Sample
}

// FedGAN reports whether the topology runs the Fed GAN baseline
// (training.algorithm: fedgan).
func (t *Topology) FedGAN() bool { return t.Training.Algorithm == fed.FedGAN.String() }

// validateAggregation checks how an edge aggregates its devices' feedback:
// the mode, and the staleness of the asynchronous one.
func (tr *Training) validateAggregation(p *problems) {
	fedName(p, "training.mode", &tr.Mode, "sync", fed.ParseMode)
	if tr.SyncPeriod == 0 {
		tr.SyncPeriod = Duration(5 * time.Second)
	}
	fedName(p, "training.staleness", &tr.Staleness, "time", fed.ParseStalenessMode)
	if tr.StalenessUnit == 0 {
		tr.StalenessUnit = Duration(time.Second)
	}
	if tr.MaxStaleness == 0 {
		tr.MaxStaleness = 8
	}
	if tr.MaxStaleness < 1 || tr.MaxStaleness > 1024 {
		p.bad("training.max_staleness", "must be in 1..1024, got %d", tr.MaxStaleness)
	}
	fedName(p, "training.weights", &tr.Weights, "exact", fed.ParseWeightMode)
	p.enum("training.wire_dtype", &tr.WireDType, wire.DTypeF32, []string{wire.DTypeF32, wire.DTypeBF16})
	tr.validateRobust(p)
}

// validateRobust checks the robust aggregation rule and its numbers, and
// writes their defaults back.
func (tr *Training) validateRobust(p *problems) {
	fedName(p, "training.robust", &tr.Robust, fed.RobustClip.String(), fed.ParseRobust)
	if _, err := fed.ParseRobust(tr.Robust); err != nil {
		return
	}
	c, err := tr.RobustConfig().WithDefaults()
	if err != nil {
		p.bad("training.robust", "%v", err)
		return
	}
	tr.RobustWeightCap, tr.RobustClip, tr.RobustTrim, tr.RobustLossSpread = c.WeightCap, c.Clip, c.Trim, c.LossSpread
	tr.RobustWindow, tr.RobustSuspect = c.Window, c.Suspect
}

// validateLosses checks the objective and the terms added to the losses.
func (tr *Training) validateLosses(p *problems) {
	fedName(p, "training.objective", &tr.Objective, "minimax", fed.ParseObjective)
	if tr.AuxWeight == 0 {
		tr.AuxWeight = 1
	}
	if !(tr.AuxWeight > 0) || math.IsInf(tr.AuxWeight, 0) {
		p.bad("training.aux_weight", "must be a finite number > 0, got %g", tr.AuxWeight)
	}
	if !(tr.ModeSeeking >= 0) || math.IsInf(tr.ModeSeeking, 0) {
		p.bad("training.mode_seeking", "must be a finite number >= 0, got %g", tr.ModeSeeking)
	} else if tr.ModeSeeking > 0 && tr.BatchSize%2 != 0 {
		p.bad("training.mode_seeking", "pairs the rows of a batch: batch_size must be even, got %d", tr.BatchSize)
	}

	if tr.InstanceNoise < 0 || math.IsNaN(tr.InstanceNoise) {
		p.bad("training.instance_noise", "must be >= 0, got %g", tr.InstanceNoise)
	}
	if !(tr.DSpectralNorm >= 0) || math.IsInf(tr.DSpectralNorm, 0) {
		p.bad("training.d_spectral_norm", "must be a finite number >= 0, got %g", tr.DSpectralNorm)
	}
	if !(tr.LRDecay >= 0 && tr.LRDecay < 1) {
		p.bad("training.lr_decay", "must be in [0, 1), got %g", tr.LRDecay)
	}
}

// validateServerOptimizer checks the cloud's optimizer of the global
// model and its settings.
func (tr *Training) validateServerOptimizer(p *problems) {
	p.enum("training.server_optimizer", &tr.ServerOptimizer, "none", []string{"none", "adam", "sgd"})
	if !(tr.ServerLRDecay >= 0 && tr.ServerLRDecay < 1) {
		p.bad("training.server_lr_decay", "must be in [0, 1), got %g", tr.ServerLRDecay)
	} else if tr.ServerLRDecay > 0 && tr.ServerOptimizer == "none" {
		p.bad("training.server_lr_decay", "applies to server_optimizer: adam or sgd only")
	}
	if !(tr.ServerMomentum >= 0 && tr.ServerMomentum < 1) {
		p.bad("training.server_momentum", "must be in [0, 1), got %g", tr.ServerMomentum)
	} else if tr.ServerMomentum > 0 && tr.ServerOptimizer != "sgd" {
		p.bad("training.server_momentum", "applies to server_optimizer: sgd only")
	}
	if tr.ServerLR == 0 {
		tr.ServerLR = 1e-3
		if tr.ServerOptimizer == "sgd" {
			tr.ServerLR = 1 // exactly Eq. 1
		}
	}
	if !(tr.ServerLR > 0) || math.IsInf(tr.ServerLR, 0) {
		p.bad("training.server_lr", "must be a finite number > 0, got %g", tr.ServerLR)
	}
}

// validateOptimizers checks the optimizers of G and D: kind, rates and
// moments.
func (tr *Training) validateOptimizers(p *problems) {
	p.enum("training.optimizer_g", &tr.OptimizerG, "adam", []string{"adam", "sgd"})
	if tr.Momentum < 0 || tr.Momentum >= 1 {
		p.bad("training.momentum", "must be in [0, 1), got %g", tr.Momentum)
	}
	for _, f := range []struct {
		key string
		v   *float64
		def float64
	}{{"training.lr_g", &tr.LRG, 2e-4}, {"training.lr_d", &tr.LRD, 2e-4}, {"training.beta1", &tr.Beta1, 0.5}, {"training.beta2", &tr.Beta2, 0.999}} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if math.IsNaN(*f.v) || *f.v < 0 || *f.v >= 1 && f.key != "training.lr_g" && f.key != "training.lr_d" {
			p.bad(f.key, "must be in [0, 1), got %g", *f.v)
		}
	}
}

// validateTimeouts fills the timeouts and checks every duration of the
// section.
func (tr *Training) validateTimeouts(p *problems) {
	if tr.RoundTimeout == 0 {
		tr.RoundTimeout = Duration(120 * time.Second)
	}
	if tr.DeviceTimeout == 0 {
		tr.DeviceTimeout = 3 * tr.SyncPeriod
	}
	if tr.StartTimeout == 0 {
		tr.StartTimeout = Duration(60 * time.Second)
	}
	if q := tr.StartQuorum; q != nil && (math.IsNaN(*q) || *q < 0 || *q > 1) {
		p.bad("training.start_quorum", "must be a share of the devices in [0, 1], got %g", *q)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"training.sync_period", tr.SyncPeriod}, {"training.staleness_unit", tr.StalenessUnit}, {"training.round_timeout", tr.RoundTimeout}, {"training.device_timeout", tr.DeviceTimeout}, {"training.start_timeout", tr.StartTimeout}} {
		if d.v <= 0 {
			p.bad(d.key, "must be > 0, got %s", d.v.D())
		}
	}
}

// StartDevices is how many of n devices a community's edge waits for
// before its first iteration (training.start_quorum, default all).
func (tr *Training) StartDevices(n int) int {
	q := 1.0
	if tr.StartQuorum != nil {
		q = *tr.StartQuorum
	}
	return int(math.Ceil(q*float64(n) - 1e-9))
}

// DefaultLambda is training.lambda1's and lambda2's default.
const DefaultLambda = 0.1

// Lambdas are training.lambda1 and lambda2, DefaultLambda where unset.
func (tr *Training) Lambdas() (l1, l2 float64) {
	l1, l2 = DefaultLambda, DefaultLambda
	if tr.Lambda1 != nil {
		l1 = *tr.Lambda1
	}
	if tr.Lambda2 != nil {
		l2 = *tr.Lambda2
	}
	return l1, l2
}

// validateDomainLosses checks the settings of the lr scenario's domain
// losses and classifier.
func (tr *Training) validateDomainLosses(p *problems) {
	for _, l := range []struct {
		key string
		v   **float64
	}{{"training.lambda1", &tr.Lambda1}, {"training.lambda2", &tr.Lambda2}} {
		if *l.v == nil {
			*l.v = new(float64)
			**l.v = DefaultLambda
		}
		if v := **l.v; !(v >= 0 && v <= 1) {
			p.bad(l.key, "must be in [0, 1] (0: off), got %g", v)
		}
	}
	if tr.ClassifierSteps == 0 {
		tr.ClassifierSteps = 50
	}
}

// validateLimits checks the limits that do not depend on the model;
// validatePayload does max_payload, last.
func (t *Topology) validateLimits(p *problems) {
	if t.Limits.MaxPendingWrites == 0 {
		t.Limits.MaxPendingWrites = 64
	}
	if t.Limits.MaxPendingWrites < 1 {
		p.bad("limits.max_pending_writes", "must be > 0, got %d", t.Limits.MaxPendingWrites)
	}
	t.Limits.validateGate(p)
	if t.Limits.ReceiveMaximum > 65535 {
		p.bad("limits.receive_maximum", "must be at most 65535, got %d", t.Limits.ReceiveMaximum)
	}
}

// validateGate checks the limits of the brokers' gate; zero values are
// left for the broker's defaults.
func (l *Limits) validateGate(p *problems) {
	for _, c := range []struct {
		key string
		v   int
	}{
		{"limits.max_clients", l.MaxClients}, {"limits.max_pending_connections", l.MaxPendingConnections},
		{"limits.max_connections_per_address", l.MaxConnectionsPerAddress}, {"limits.publish_burst", l.PublishBurst},
		{"limits.auth_free_failures", l.AuthFreeFailures}, {"limits.auth_concurrency", l.AuthConcurrency},
		{"limits.receive_maximum", l.ReceiveMaximum},
	} {
		if c.v < 0 {
			p.bad(c.key, "must be >= 0 (0: the default), got %d", c.v)
		}
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"limits.connect_timeout", l.ConnectTimeout}, {"limits.auth_backoff", l.AuthBackoff},
		{"limits.auth_backoff_max", l.AuthBackoffMax}, {"limits.auth_cache", l.AuthCache},
	} {
		if d.v < 0 {
			p.bad(d.key, "must be >= 0 (0: the default), got %s", d.v.D())
		}
	}
	backoff := l.AuthBackoff
	if backoff == 0 {
		backoff = Duration(time.Second) // broker.DefaultAuthBackoff
	}
	if l.AuthBackoffMax > 0 && l.AuthBackoffMax < backoff {
		p.bad("limits.auth_backoff_max", "must be >= auth_backoff (%s), got %s", backoff.D(), l.AuthBackoffMax.D())
	}
	if math.IsNaN(l.PublishRate) || math.IsInf(l.PublishRate, 0) {
		p.bad("limits.publish_rate", "must be a number (negative: no limit), got %g", l.PublishRate)
	}
}

// validateListeners fills and checks what a broker section (cloud or an
// edge; key names it) says about its listeners: the loopback default,
// loopback HTTP for an address without a host, TLS only, the monitor.
func validateListeners(p *problems, key string, listen, http *string, t *TLS, tlsOnly bool, mon *Monitor) {
	if *listen == "" {
		*listen = "127.0.0.1:1883"
	}
	if strings.HasPrefix(*http, ":") {
		*http = "127.0.0.1" + *http
	}
	if tlsOnly && (t == nil || t.Listen == "") {
		p.bad(key+".tls_only", "needs a TLS listener (tls.listen, cert, key)")
	}
	if mon != nil && mon.Username != "" {
		if mon.ClientIDPrefix == "" {
			mon.ClientIDPrefix = "fedgan-"
		}
		if err := wire.ValidID(strings.TrimSuffix(mon.ClientIDPrefix, "-")); err != nil {
			p.bad(key+".monitor.client_id_prefix", "%v", err)
		}
	}
}

// validatePayload checks limits.max_payload, and when every other key is
// valid fills it from the model (defaultMaxPayload).
func (t *Topology) validatePayload(p *problems) {
	if len(*p) == 0 && t.Limits.MaxPayload == 0 {
		t.Limits.MaxPayload = t.defaultMaxPayload()
	}
	if t.Limits.MaxPayload < 0 {
		p.bad("limits.max_payload", "must be > 0 bytes, got %d", t.Limits.MaxPayload)
	}
}

// validateCloud checks the cloud section and fills its addresses and
// paths.
func (t *Topology) validateCloud(p *problems) {
	c := &t.Cloud
	if c.ID == "" {
		c.ID = "cloud"
	}
	if err := wire.ValidID(c.ID); err != nil {
		p.bad("cloud.id", "%v", err)
	}
	if c.URL == "" {
		validateListeners(p, "cloud", &c.Listen, &c.HTTP, c.TLS, c.TLSOnly, c.Monitor)
	}
	if c.Advertise == "" {
		switch {
		case c.URL != "":
			c.Advertise = c.URL
		case c.TLSOnly && c.TLS != nil:
			c.Advertise = "ssl://" + loopbackIfAny(c.TLS.Listen)
		default:
			c.Advertise = "tcp://" + loopbackIfAny(c.Listen)
		}
	}
	if c.Username == "" {
		c.Username = c.ID
	}
	if c.Output == "" {
		c.Output = filepath.Join("results", t.Name)
	}
	if c.State == "" {
		c.State = filepath.Join(c.Output, "state")
	}
	if c.EvalEvery == 0 {
		c.EvalEvery = 5
	}
	if c.EvalSamples == 0 {
		c.EvalSamples = 2000
	}
	if !(c.EMA >= 0 && c.EMA < 1) {
		p.bad("cloud.ema", "must be in [0, 1), got %g", c.EMA)
	}
	if c.EvalEvery < 0 || c.EvalSamples < 0 {
		p.bad("cloud", "eval_every and eval_samples must be >= 0")
	}
	if !c.AllowAnonymous && c.URL == "" && c.Credentials == "" {
		p.bad("cloud", "the embedded broker needs credentials (a password file) or allow_anonymous: true")
	}
}

// validateCommunities checks every community, its edge and its devices,
// after the cloud (whose address a bridge defaults to). Community and
// device ids must be unique across the file.
func (t *Topology) validateCommunities(p *problems) {
	if len(t.Communities) == 0 {
		p.bad("communities", "list at least one community")
	}
	seenC := map[string]bool{}
	seenD := map[string]string{} // device id -> its community's
	for i := range t.Communities {
		cm := &t.Communities[i]
		key := fmt.Sprintf("communities[%d]", i)
		if err := wire.ValidID(cm.ID); err != nil {
			p.bad(key+".id", "%v", err)
		} else {
			key = fmt.Sprintf("communities[%s]", cm.ID)
		}
		if seenC[cm.ID] {
			p.bad(key+".id", "duplicate community id %q", cm.ID)
		}
		seenC[cm.ID] = true
		t.validateCommunity(p, key, i)
		cm.Edge.validate(p, key, cm.ID, t.Cloud.Advertise)
		t.validateDevices(p, key, cm, seenD)
		if t.Model.ClassCode > 0 {
			*p = append(*p, t.validateClasses(key, cm)...)
		}
		if m := cm.Edge.Monitor; m != nil && m.ClientIDPrefix != "" {
			for _, d := range cm.Devices {
				if d.ID == m.Username {
					p.bad(key+".edge.monitor.username", "is device %q's id: the monitor could take its client id", d.ID)
				}
				if strings.HasPrefix(d.ID, m.ClientIDPrefix) {
					p.bad(key+".edge.monitor.client_id_prefix", "device id %q starts with %q: the monitor could take its client id", d.ID, m.ClientIDPrefix)
				}
			}
		}
	}
}

// validateCommunity checks community i's own keys (key names it in
// problems): its domain, devices or device_count, data and partition.
func (t *Topology) validateCommunity(p *problems, key string, i int) {
	cm := &t.Communities[i]
	if cm.Domain == nil {
		d := i
		cm.Domain = &d
	}
	if t.Scenario == "lr" && (*cm.Domain < 0 || *cm.Domain >= len(t.Communities)) {
		p.bad(key+".domain", "must be in 0..%d, got %d", len(t.Communities)-1, *cm.Domain)
	}
	if cm.DeviceCount > 0 && len(cm.Devices) > 0 {
		p.bad(key, "give devices or device_count, not both")
	}
	if cm.DeviceCount < 0 || cm.DeviceCount > 10000 {
		p.bad(key+".device_count", "must be in 0..10000, got %d", cm.DeviceCount)
	}
	for j := 1; j <= cm.DeviceCount; j++ {
		cm.Devices = append(cm.Devices, Device{ID: fmt.Sprintf("%s-d%d", cm.ID, j)})
	}
	cm.DeviceCount = len(cm.Devices)
	if len(cm.Devices) == 0 {
		p.bad(key+".devices", "list at least one device")
	}
	if cm.Data.Kind != "" || !cm.allOwnData() {
		*p = append(*p, t.validateData(key+".data", &cm.Data)...)
	}
	validatePartition(p, key+".partition", &cm.Partition, cm.Data.Kind)
}

// allOwnData reports whether every device of cm gives its own data, so
// that the community's is not used.
func (cm *Community) allOwnData() bool {
	for _, d := range cm.Devices {
		if d.Data == nil {
			return false
		}
	}
	return len(cm.Devices) > 0
}

// validatePartition checks a community's or a device's partition (key
// names it in problems) of data of kind dataKind.
func validatePartition(p *problems, key string, pt *Partition, dataKind string) {
	p.enum(key+".kind", &pt.Kind, "iid", partKinds)
	switch pt.Kind {
	case "shards":
		if pt.ClassesPerDevice <= 0 {
			p.bad(key+".classes_per_device", "must be > 0 for shards")
		}
	case "dirichlet":
		if !(pt.Alpha > 0) {
			p.bad(key+".alpha", "must be > 0 for dirichlet")
		}
	case "modes":
		if dataKind != "gaussian" {
			p.bad(key+".kind", "modes applies to gaussian data only")
		}
	}
}

// validateDevicePartition checks device d's own partition (dkey names
// the device in problems); community is its community's id.
func validateDevicePartition(p *problems, dkey string, d *Device, community string) {
	dp := d.Partition
	if d.Data == nil {
		p.bad(dkey+".partition", "needs the device's own data: give data beside it")
		return
	}
	validatePartition(p, dkey+".partition", &dp.Partition, d.Data.Kind)
	if dp.Parts < 1 || dp.Part < 0 || dp.Part >= dp.Parts {
		p.bad(dkey+".partition", "part %d of %d parts is out of range: want parts ≥ 1 and part in 0..parts−1", dp.Part, dp.Parts)
	}
	if dp.Stream == "" {
		dp.Stream = community
	}
}

// validate checks community's edge (key names the community in problems)
// and fills its addresses, its state directory and its bridge's settings;
// the bridge's remote defaults to cloud, the cloud's advertised address.
func (e *Edge) validate(p *problems, key, community, cloud string) {
	validateListeners(p, key+".edge", &e.Listen, &e.HTTP, e.TLS, e.TLSOnly, e.Monitor)
	if e.Advertise == "" {
		e.Advertise = "tcp://" + loopbackIfAny(e.Listen)
		if e.TLSOnly && e.TLS != nil {
			e.Advertise = "ssl://" + loopbackIfAny(e.TLS.Listen)
		}
	}
	if e.State == "" {
		e.State = filepath.Join("state", community)
	}
	if !e.AllowAnonymous && e.Credentials == "" {
		p.bad(key+".edge", "needs credentials (the device password file) or allow_anonymous: true")
	}
	b := &e.Bridge
	if b.Remote == "" {
		b.Remote = cloud
	}
	if b.ClientID == "" {
		b.ClientID = "edge-" + community
	}
	if b.Username == "" {
		b.Username = b.ClientID
	}
	if b.QueueDir == "" {
		b.QueueDir = filepath.Join(e.State, "bridge")
	}
	if b.QueueMax == 0 {
		b.QueueMax = 64
	}
}

// validateDevices checks community cm's devices (key names it in
// problems); seen maps the device ids met so far to their community's.
func (t *Topology) validateDevices(p *problems, key string, cm *Community, seen map[string]string) {
	for j := range cm.Devices {
		d := &cm.Devices[j]
		dkey := fmt.Sprintf("%s.devices[%d]", key, j)
		if err := wire.ValidID(d.ID); err != nil {
			p.bad(dkey+".id", "%v", err)
			continue
		}
		dkey = fmt.Sprintf("%s.devices[%s]", key, d.ID)
		if other, dup := seen[d.ID]; dup {
			p.bad(dkey+".id", "duplicate device id (also in community %q)", other)
		}
		seen[d.ID] = cm.ID
		if d.Data != nil {
			*p = append(*p, t.validateData(dkey+".data", d.Data)...)
		}
		if d.Partition != nil {
			validateDevicePartition(p, dkey, d, cm.ID)
		}
		if d.Slowdown == 0 {
			d.Slowdown = 1
		}
		if d.Slowdown < 1 || d.Slowdown > 1000 {
			p.bad(dkey+".slowdown", "must be in [1, 1000], got %g", d.Slowdown)
		}
		if d.Delay < 0 {
			p.bad(dkey+".delay", "must be >= 0")
		}
	}
}

func (t *Topology) validateData(key string, d *Data) []string {
	var p []string
	if d.Kind == "" {
		return []string{key + ".kind: missing; one of " + fmt.Sprint(dataKinds)}
	}
	if !oneOf(d.Kind, dataKinds) {
		return []string{fmt.Sprintf("%s.kind: %q is not one of %v", key, d.Kind, dataKinds)}
	}
	if d.Split == "" {
		d.Split = "train"
	}
	if d.Split != "train" && d.Split != "test" {
		p = append(p, fmt.Sprintf("%s.split: %q is not train or test", key, d.Split))
	}
	if d.Parts == 0 {
		d.Parts = 1
	}
	if d.Parts < 1 || d.Part < 0 || d.Part >= d.Parts {
		p = append(p, fmt.Sprintf("%s: part %d of %d is out of range", key, d.Part, d.Parts))
	}
	switch d.Kind {
	case "gaussian":
		if len(d.Means) == 0 {
			p = append(p, key+".means: list at least one mode")
		}
		for i, mu := range d.Means {
			if len(mu) != t.Model.DataDim {
				p = append(p, fmt.Sprintf("%s.means[%d]: has %d coordinates, model.data_dim is %d", key, i, len(mu), t.Model.DataDim))
			}
		}
		if !(d.Std > 0) {
			p = append(p, fmt.Sprintf("%s.std: must be > 0, got %g", key, d.Std))
		}
		if len(d.Weights) > 0 && len(d.Weights) != len(d.Means) {
			p = append(p, fmt.Sprintf("%s.weights: %d weights for %d means", key, len(d.Weights), len(d.Means)))
		}
		if d.Samples == 0 {
			d.Samples = 2000
		}
		if d.Classes == 0 {
			d.Classes = len(d.Means)
		}
		if d.Samples < 1 {
			p = append(p, fmt.Sprintf("%s.samples: must be > 0", key))
		}
	case "mnist", "fashion-mnist", "inverted-mnist", "grey-mnist":
		if d.Classes == 0 {
			d.Classes = 10
		}
		if t.Model.DataDim != 784 {
			p = append(p, fmt.Sprintf("%s: %s rows have 784 values, model.data_dim is %d", key, d.Kind, t.Model.DataDim))
		}
	case "idx", "csv":
		if d.Path == "" {
			p = append(p, fmt.Sprintf("%s.path: required for %s", key, d.Kind))
		}
	}
	return p
}

// validateClasses checks that community cm can be trained with a
// class-conditional G (model.class_code): the classes of its data, and of
// each device's own, fit the code.
func (t *Topology) validateClasses(key string, cm *Community) []string {
	var p []string
	check := func(key string, d *Data) {
		switch {
		case d.Classes < 0:
			p = append(p, fmt.Sprintf("%s.classes: must be > 0, got %d", key, d.Classes))
		case d.Classes == 0:
			p = append(p, fmt.Sprintf("%s.classes: required with model.class_code for %s data (how many label classes it holds)", key, d.Kind))
		case d.LabelOffset < 0 || d.LabelOffset+d.Classes > t.Model.ClassCode:
			p = append(p, fmt.Sprintf("%s: classes %d to %d do not fit model.class_code %d", key, d.LabelOffset, d.LabelOffset+d.Classes-1, t.Model.ClassCode))
		}
	}
	if !cm.allOwnData() {
		check(key+".data", &cm.Data)
	}
	for j, dv := range cm.Devices {
		if dv.Data != nil && dv.Data.Kind != "" {
			check(fmt.Sprintf("%s.devices[%d].data", key, j), dv.Data)
		}
	}
	return p
}

// loopbackIfAny turns ":1883" into "127.0.0.1:1883" so that a default
// advertised address is dialable on the same host.
func loopbackIfAny(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "127.0.0.1" + addr
	}
	if len(addr) > 8 && addr[:8] == "0.0.0.0:" {
		return "127.0.0.1" + addr[7:]
	}
	return addr
}

// defaultMaxPayload is the largest message the model can produce, with headroom.
func (t *Topology) defaultMaxPayload() int {
	s := t.Spec()
	gen := 0
	for _, sh := range s.GenParams {
		gen += 4*prod(sh) + 32
	}
	cls := 0
	for _, sh := range s.ClsParams {
		cls += 4*prod(sh) + 32
	}
	for _, sh := range s.DiscParams { // Fed GAN's models carry D beside G
		cls += 4*prod(sh) + 32
	}
	batch := 2*4*t.Training.BatchSize*t.Model.DataDim + 2*t.Training.BatchSize + 512 // tensors, labels, fields
	largest := max(batch, gen+cls+1024)
	return largest + largest/4 + 64<<10
}

func prod(s []int) int {
	n := 1
	for _, v := range s {
		n *= v
	}
	return n
}
