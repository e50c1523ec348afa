package config

import (
	"fmt"
	"math"
	"path/filepath"
	"time"

	"github.com/fedgan/fedgan/wire"
)

// Known values of the enumerated keys.
var (
	scenarios   = []string{"fr", "lr"}
	modes       = []string{"sync", "async"}
	stalenessK  = []string{"time", "versions"}
	weightsK    = []string{"exact", "constant"}
	objectives  = []string{"minimax", "nonsaturating"}
	outputs     = []string{"linear", "tanh"}
	dataKinds   = []string{"gaussian", "mnist", "fashion-mnist", "inverted-mnist", "idx", "csv"}
	partKinds   = []string{"iid", "shards", "dirichlet", "modes"}
	sourceCodes = []string{SourceNone, SourceCommunity, SourceDevice}
	dClasses    = []string{"input", "aux", "both"}
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

// validate fills defaults and returns every problem found.
func (t *Topology) validate() []string {
	var p []string
	bad := func(key, format string, args ...any) {
		p = append(p, key+": "+fmt.Sprintf(format, args...))
	}
	enum := func(key string, v *string, def string, allowed []string) {
		if *v == "" {
			*v = def
		}
		if !oneOf(*v, allowed) {
			bad(key, "%q is not one of %v", *v, allowed)
		}
	}
	if t.Name == "" {
		t.Name = "fedgan"
	}
	if t.Root == "" {
		t.Root = wire.DefaultRoot
	}
	enum("scenario", &t.Scenario, "fr", scenarios)

	m := &t.Model
	if m.Latent <= 0 {
		bad("model.latent", "must be > 0, got %d", m.Latent)
	}
	if m.DataDim <= 0 {
		bad("model.data_dim", "must be > 0, got %d", m.DataDim)
	}
	if len(m.Generator) == 0 {
		bad("model.generator", "list at least one hidden width")
	}
	if len(m.Discriminator) == 0 {
		bad("model.discriminator", "list at least one hidden width")
	}
	for i, w := range append(append(append([]int{}, m.Generator...), m.Discriminator...), m.Classifier...) {
		if w <= 0 || w > 1<<16 {
			bad("model", "hidden width #%d is %d; want 1..65536", i+1, w)
		}
	}
	if m.LeakySlope == 0 {
		m.LeakySlope = 0.2
	}
	if m.LeakySlope < 0 || m.LeakySlope >= 1 {
		bad("model.leaky_slope", "must be in [0, 1), got %g", m.LeakySlope)
	}
	enum("model.output", &m.Output, "linear", outputs)
	enum("model.source_code", &m.SourceCode, SourceNone, sourceCodes)
	if t.Scenario == "lr" && m.SourceCode != SourceNone {
		bad("model.source_code", "%q applies to the fr scenario only (lr conditions G on the domain code)", m.SourceCode)
	}
	if m.SourceCodeScale == 0 {
		m.SourceCodeScale = float64(max(len(t.Communities), 1))
	}
	if !(m.SourceCodeScale > 0) || math.IsInf(m.SourceCodeScale, 0) {
		bad("model.source_code_scale", "must be a finite number > 0, got %g", m.SourceCodeScale)
	}
	if m.DMinibatchStd == 1 || m.DMinibatchStd < 0 {
		bad("model.d_minibatch_std", "must be 0 (off) or a group of ≥ 2 rows, got %d", m.DMinibatchStd)
	}
	if m.ClassCode < 0 || m.ClassCode > wire.MaxClasses {
		bad("model.class_code", "must be 0 (off) or a number of classes up to %d, got %d", wire.MaxClasses, m.ClassCode)
	}
	if m.ClassCode > 0 && t.Scenario == "lr" {
		bad("model.class_code", "applies to the fr scenario only (lr conditions G on the domain code)")
	}
	enum("model.d_class", &m.DClass, "input", dClasses)
	if m.ClassCode > 0 && m.SourceCode != SourceNone {
		bad("model.class_code", "replaces model.source_code (a class belongs to one community); set source_code: none")
	}
	if t.Scenario == "lr" && len(m.Classifier) == 0 {
		m.Classifier = []int{64}
	}

	tr := &t.Training
	if tr.GlobalRounds <= 0 {
		bad("training.global_rounds", "must be > 0, got %d", tr.GlobalRounds)
	}
	if tr.LocalIters <= 0 {
		bad("training.local_iters", "must be > 0, got %d", tr.LocalIters)
	}
	if tr.BatchSize == 0 {
		tr.BatchSize = 64
	}
	if tr.BatchSize < 1 || tr.BatchSize > 4096 {
		bad("training.batch_size", "must be in 1..4096, got %d", tr.BatchSize)
	}
	if g := m.DMinibatchStd; g >= 2 && tr.BatchSize%g != 0 {
		bad("model.d_minibatch_std", "group %d does not divide training.batch_size %d: a group would mix real and generated rows", g, tr.BatchSize)
	}
	enum("training.mode", &tr.Mode, "sync", modes)
	if tr.SyncPeriod == 0 {
		tr.SyncPeriod = Duration(5 * time.Second)
	}
	enum("training.staleness", &tr.Staleness, "time", stalenessK)
	if tr.StalenessUnit == 0 {
		tr.StalenessUnit = Duration(time.Second)
	}
	if tr.MaxStaleness == 0 {
		tr.MaxStaleness = 8
	}
	if tr.MaxStaleness < 1 || tr.MaxStaleness > 1024 {
		bad("training.max_staleness", "must be in 1..1024, got %d", tr.MaxStaleness)
	}
	enum("training.weights", &tr.Weights, "exact", weightsK)
	enum("training.objective", &tr.Objective, "minimax", objectives)
	if tr.AuxWeight == 0 {
		tr.AuxWeight = 1
	}
	if !(tr.AuxWeight > 0) || math.IsInf(tr.AuxWeight, 0) {
		bad("training.aux_weight", "must be a finite number > 0, got %g", tr.AuxWeight)
	}
	if !(tr.ModeSeeking >= 0) || math.IsInf(tr.ModeSeeking, 0) {
		bad("training.mode_seeking", "must be a finite number >= 0, got %g", tr.ModeSeeking)
	} else if tr.ModeSeeking > 0 && tr.BatchSize%2 != 0 {
		bad("training.mode_seeking", "pairs the rows of a batch: batch_size must be even, got %d", tr.BatchSize)
	}
	if tr.InstanceNoise < 0 || math.IsNaN(tr.InstanceNoise) {
		bad("training.instance_noise", "must be >= 0, got %g", tr.InstanceNoise)
	}
	if !(tr.DSpectralNorm >= 0) || math.IsInf(tr.DSpectralNorm, 0) {
		bad("training.d_spectral_norm", "must be a finite number >= 0, got %g", tr.DSpectralNorm)
	}
	if !(tr.LRDecay >= 0 && tr.LRDecay < 1) {
		bad("training.lr_decay", "must be in [0, 1), got %g", tr.LRDecay)
	}
	enum("training.server_optimizer", &tr.ServerOptimizer, "none", []string{"none", "adam", "sgd"})
	if !(tr.ServerLRDecay >= 0 && tr.ServerLRDecay < 1) {
		bad("training.server_lr_decay", "must be in [0, 1), got %g", tr.ServerLRDecay)
	} else if tr.ServerLRDecay > 0 && tr.ServerOptimizer == "none" {
		bad("training.server_lr_decay", "applies to server_optimizer: adam or sgd only")
	}
	if !(tr.ServerMomentum >= 0 && tr.ServerMomentum < 1) {
		bad("training.server_momentum", "must be in [0, 1), got %g", tr.ServerMomentum)
	} else if tr.ServerMomentum > 0 && tr.ServerOptimizer != "sgd" {
		bad("training.server_momentum", "applies to server_optimizer: sgd only")
	}
	if tr.ServerLR == 0 {
		tr.ServerLR = 1e-3
		if tr.ServerOptimizer == "sgd" {
			tr.ServerLR = 1 // exactly Eq. 1
		}
	}
	if !(tr.ServerLR > 0) || math.IsInf(tr.ServerLR, 0) {
		bad("training.server_lr", "must be a finite number > 0, got %g", tr.ServerLR)
	}
	enum("training.optimizer_g", &tr.OptimizerG, "adam", []string{"adam", "sgd"})
	if tr.Momentum < 0 || tr.Momentum >= 1 {
		bad("training.momentum", "must be in [0, 1), got %g", tr.Momentum)
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
			bad(f.key, "must be in [0, 1), got %g", *f.v)
		}
	}
	if tr.RoundTimeout == 0 {
		tr.RoundTimeout = Duration(120 * time.Second)
	}
	if tr.DeviceTimeout == 0 {
		tr.DeviceTimeout = 3 * tr.SyncPeriod
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{{"training.sync_period", tr.SyncPeriod}, {"training.staleness_unit", tr.StalenessUnit}, {"training.round_timeout", tr.RoundTimeout}, {"training.device_timeout", tr.DeviceTimeout}} {
		if d.v <= 0 {
			bad(d.key, "must be > 0, got %s", d.v.D())
		}
	}
	if t.Scenario == "lr" {
		for _, l := range []struct {
			key string
			v   *float64
		}{{"training.lambda1", &tr.Lambda1}, {"training.lambda2", &tr.Lambda2}} {
			if *l.v == 0 {
				*l.v = 0.1
			}
			if !(*l.v > 0 && *l.v <= 1) {
				bad(l.key, "must be in (0, 1], got %g", *l.v)
			}
		}
		if tr.ClassifierSteps == 0 {
			tr.ClassifierSteps = 50
		}
	}

	if t.Limits.MaxPendingWrites == 0 {
		t.Limits.MaxPendingWrites = 64
	}
	if t.Limits.MaxPendingWrites < 1 {
		bad("limits.max_pending_writes", "must be > 0, got %d", t.Limits.MaxPendingWrites)
	}

	c := &t.Cloud
	if c.ID == "" {
		c.ID = "cloud"
	}
	if err := wire.ValidID(c.ID); err != nil {
		bad("cloud.id", "%v", err)
	}
	if c.Listen == "" && c.URL == "" {
		c.Listen = ":1883"
	}
	if c.Advertise == "" {
		if c.URL != "" {
			c.Advertise = c.URL
		} else {
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
		bad("cloud.ema", "must be in [0, 1), got %g", c.EMA)
	}
	if c.EvalEvery < 0 || c.EvalSamples < 0 {
		bad("cloud", "eval_every and eval_samples must be >= 0")
	}
	if !c.AllowAnonymous && c.URL == "" && c.Credentials == "" {
		bad("cloud", "the embedded broker needs credentials (a password file) or allow_anonymous: true")
	}

	if len(t.Communities) == 0 {
		bad("communities", "list at least one community")
	}
	seenC := map[string]bool{}
	seenD := map[string]string{}
	for i := range t.Communities {
		cm := &t.Communities[i]
		key := fmt.Sprintf("communities[%d]", i)
		if err := wire.ValidID(cm.ID); err != nil {
			bad(key+".id", "%v", err)
		} else {
			key = fmt.Sprintf("communities[%s]", cm.ID)
		}
		if seenC[cm.ID] {
			bad(key+".id", "duplicate community id %q", cm.ID)
		}
		seenC[cm.ID] = true
		if cm.Domain == nil {
			d := i
			cm.Domain = &d
		}
		if t.Scenario == "lr" && (*cm.Domain < 0 || *cm.Domain >= len(t.Communities)) {
			bad(key+".domain", "must be in 0..%d, got %d", len(t.Communities)-1, *cm.Domain)
		}
		if cm.DeviceCount > 0 && len(cm.Devices) > 0 {
			bad(key, "give devices or device_count, not both")
		}
		if cm.DeviceCount < 0 || cm.DeviceCount > 10000 {
			bad(key+".device_count", "must be in 0..10000, got %d", cm.DeviceCount)
		}
		for j := 1; j <= cm.DeviceCount; j++ {
			cm.Devices = append(cm.Devices, Device{ID: fmt.Sprintf("%s-d%d", cm.ID, j)})
		}
		cm.DeviceCount = len(cm.Devices)
		if len(cm.Devices) == 0 {
			bad(key+".devices", "list at least one device")
		}
		p = append(p, t.validateData(key+".data", &cm.Data)...)
		enum(key+".partition.kind", &cm.Partition.Kind, "iid", partKinds)
		if m.ClassCode > 0 {
			p = append(p, t.validateClasses(key, cm)...)
		}
		switch cm.Partition.Kind {
		case "shards":
			if cm.Partition.ClassesPerDevice <= 0 {
				bad(key+".partition.classes_per_device", "must be > 0 for shards")
			}
		case "dirichlet":
			if !(cm.Partition.Alpha > 0) {
				bad(key+".partition.alpha", "must be > 0 for dirichlet")
			}
		case "modes":
			if cm.Data.Kind != "gaussian" {
				bad(key+".partition.kind", "modes applies to gaussian data only")
			}
		}
		e := &cm.Edge
		if e.Listen == "" {
			e.Listen = ":1883"
		}
		if e.Advertise == "" {
			e.Advertise = "tcp://" + loopbackIfAny(e.Listen)
		}
		if e.State == "" {
			e.State = filepath.Join("state", cm.ID)
		}
		if !e.AllowAnonymous && e.Credentials == "" {
			bad(key+".edge", "needs credentials (the device password file) or allow_anonymous: true")
		}
		b := &e.Bridge
		if b.Remote == "" {
			b.Remote = c.Advertise
		}
		if b.ClientID == "" {
			b.ClientID = "edge-" + cm.ID
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
		for j := range cm.Devices {
			d := &cm.Devices[j]
			dkey := fmt.Sprintf("%s.devices[%d]", key, j)
			if err := wire.ValidID(d.ID); err != nil {
				bad(dkey+".id", "%v", err)
				continue
			}
			dkey = fmt.Sprintf("%s.devices[%s]", key, d.ID)
			if other, dup := seenD[d.ID]; dup {
				bad(dkey+".id", "duplicate device id (also in community %q)", other)
			}
			seenD[d.ID] = cm.ID
			if d.Data != nil {
				p = append(p, t.validateData(dkey+".data", d.Data)...)
			}
			if d.Slowdown == 0 {
				d.Slowdown = 1
			}
			if d.Slowdown < 1 || d.Slowdown > 1000 {
				bad(dkey+".slowdown", "must be in [1, 1000], got %g", d.Slowdown)
			}
			if d.Delay < 0 {
				bad(dkey+".delay", "must be >= 0")
			}
		}
	}
	if len(p) == 0 && t.Limits.MaxPayload == 0 {
		t.Limits.MaxPayload = t.defaultMaxPayload()
	}
	if t.Limits.MaxPayload < 0 {
		bad("limits.max_payload", "must be > 0 bytes, got %d", t.Limits.MaxPayload)
	}
	return p
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
	case "mnist", "fashion-mnist", "inverted-mnist":
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
// class-conditional G (model.class_code).
func (t *Topology) validateClasses(key string, cm *Community) []string {
	var p []string
	d := &cm.Data
	switch {
	case d.Classes < 0:
		p = append(p, fmt.Sprintf("%s.data.classes: must be > 0, got %d", key, d.Classes))
	case d.Classes == 0:
		p = append(p, fmt.Sprintf("%s.data.classes: required with model.class_code for %s data (how many label classes it holds)", key, d.Kind))
	case d.LabelOffset < 0 || d.LabelOffset+d.Classes > t.Model.ClassCode:
		p = append(p, fmt.Sprintf("%s.data: classes %d to %d do not fit model.class_code %d", key, d.LabelOffset, d.LabelOffset+d.Classes-1, t.Model.ClassCode))
	}
	for j, dv := range cm.Devices {
		if dv.Data != nil {
			p = append(p, fmt.Sprintf("%s.devices[%d].data: model.class_code needs the community's data on every device", key, j))
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
