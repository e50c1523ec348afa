package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/fedgan/fedgan/fed"
)

// Topology is one whole deployment: the cloud, every community with its
// edge and devices, the model and the training parameters (docs/DESIGN.md §7).
// Every role reads the same file and picks its own part by id.
type Topology struct {
	// Name labels the deployment in status messages and results.
	Name string `yaml:"name"`
	// Root is the MQTT topic root; default wire.DefaultRoot.
	Root string `yaml:"root"`
	// Seed makes a run reproducible; each role derives its own stream from it.
	Seed uint64 `yaml:"seed"`
	// Scenario is "fr" (feature related, default) or "lr" (label related).
	Scenario string `yaml:"scenario"`

	Model       Model       `yaml:"model"`
	Training    Training    `yaml:"training"`
	Limits      Limits      `yaml:"limits"`
	Cloud       Cloud       `yaml:"cloud"`
	Communities []Community `yaml:"communities"`

	// Dir is the directory of the file the topology was read from; relative
	// paths of inputs in the file (data, credentials, certificates) are
	// resolved against it; output and state folders are relative to the
	// working directory. Empty for FromBytes.
	Dir string `yaml:"-"`
	// Source names the file in error messages.
	Source string `yaml:"-"`
}

// Model describes the generator, the discriminators and (LR) the domain
// classifier. All are MLPs with LeakyReLU hidden activations.
type Model struct {
	// Latent is m, the dimension of z. Required.
	Latent int `yaml:"latent"`
	// DataDim is d, the dimension of a data row. Required.
	DataDim int `yaml:"data_dim"`
	// Generator lists the hidden layer widths of G (e.g. [256, 512]).
	Generator []int `yaml:"generator"`
	// Discriminator lists the hidden layer widths of D (e.g. [512, 256]).
	Discriminator []int `yaml:"discriminator"`
	// Classifier lists the hidden widths of the LR domain classifier C.
	Classifier []int `yaml:"classifier"`
	// LeakySlope is the LeakyReLU α; default 0.2.
	LeakySlope float64 `yaml:"leaky_slope"`
	// Output is G's output activation: "linear" (default) or "tanh".
	Output string `yaml:"output"`
	// SourceCode conditions the FR generator on the data source whose
	// discriminators judge a sample: G takes [z, e_s] with e_s the one-hot
	// code of source s. "none" (default) is the paper's unconditional G(z);
	// "community" gives each community a code (K columns); "device" gives
	// each device one (one column per device of the topology) and is meant
	// for communities whose devices hold different data. The global G draws
	// s with probability proportional to the source's samples, so that
	// G(z, e_s) is the mixture of all the data (see Topology.SourceShares).
	// FR only: in the LR scenario the domain code c_k plays this part.
	SourceCode string `yaml:"source_code"`
	// DomainCode is where the LR domain code c_k enters G: "input" (the
	// paper's G(z, c_k), default) or "skip_first": G's first layer sees z
	// alone and the code joins the layer after it (nn.DenseCarry), so that
	// the first-layer output, Eq. 8's high-level representation, is the
	// same in every domain by construction and only the later layers draw
	// the domain. LR only; G needs a hidden layer. "heads": the code skips
	// every layer but the last, which has one head per domain
	// (nn.DenseHeads), as CoGAN couples its generators: the shared layers
	// decide what is drawn from z, the domain's head how it looks there.
	// LR only.
	DomainCode string `yaml:"domain_code"`
	// SourceCodeScale is the value of the source code's one entry; default
	// the number of communities K. Eq. 1 averages K generators of which
	// only one trains the input weights of a given code, which divides
	// their step by about K; a code of magnitude K gives the code pathway
	// back the step size of the shared weights (and at initialisation
	// already sends different sources to different outputs).
	SourceCodeScale float64 `yaml:"source_code_scale"`
	// DMinibatchStd, when ≥ 2, gives D a minibatch standard deviation
	// column before its last layer, computed over groups of that many rows
	// (Karras et al. 2018): D can see how varied a batch is, and G loses
	// fewer modes. 0 (default) is the paper's plain MLP. A device's real
	// and generated rows are stacked in one batch of Batch rows each, so
	// the group must divide training.batch_size.
	DMinibatchStd int `yaml:"d_minibatch_std"`
	// ClassCode, when > 0, makes G and D class-conditional (Mirza &
	// Osindero 2014) on that many label classes: G takes [z, e_y] and D
	// [x, e_y], e_y the one-hot class. An edge draws y uniformly from the
	// classes of its community's data (data.label_offset up to
	// label_offset + data.classes), every batch carries the row classes,
	// and a device's D judges its real rows with their own labels. The
	// global G draws y with its community's data share, spread evenly
	// over the community's classes. A device judges only the rows of the
	// classes its own data holds (the others get no feedback from it), so
	// label-skewed partitions work too. FR with labelled data only.
	// 0 (default) is the paper's unconditional G.
	ClassCode int `yaml:"class_code"`
	// DClass is how D uses the classes with a class code: "input" (default,
	// D reads [x, e_y]), "aux" (D reads x and predicts its class with
	// class_code more outputs, the auxiliary classifier of AC-GAN, Odena et
	// al. 2017; G is also trained to make its rows of class y look like
	// class y) or "both".
	DClass string `yaml:"d_class"`
}

// Training holds the algorithm's parameters (docs/DESIGN.md §2, §7.2).
type Training struct {
	// Algorithm is "fr" (default: the paper's algorithm) or "fedgan" (the
	// Fed GAN baseline: every device trains a whole GAN, edges and the
	// cloud average G and D with FedAvg; docs/DESIGN.md §2.13). Fed GAN
	// needs scenario fr and mode sync, and ignores the server optimizer.
	Algorithm string `yaml:"algorithm"`
	// GlobalRounds is I_gl. Required.
	GlobalRounds int `yaml:"global_rounds"`
	// LocalIters is I_lo, generator updates per round. Required.
	LocalIters int `yaml:"local_iters"`
	// BatchSize is B; default 64.
	BatchSize int `yaml:"batch_size"`
	// Mode is "sync" (Eq. 4, default) or "async" (Eq. 5).
	Mode string `yaml:"mode"`
	// SyncPeriod bounds how long a sync edge waits for feedback; default 5s.
	SyncPeriod Duration `yaml:"sync_period"`
	// Staleness is "time" (default, s = Δt/τ) or "versions".
	Staleness string `yaml:"staleness"`
	// StalenessUnit is τ; default 1s.
	StalenessUnit Duration `yaml:"staleness_unit"`
	// MaxStaleness is how many generator versions an async edge keeps; older
	// feedback is dropped and counted. It bounds how far the edge runs ahead
	// of its slowest device. Default 8.
	MaxStaleness int `yaml:"max_staleness"`
	// Sample is how many devices an edge asks per iteration (0: every
	// device, the paper's); SampleFraction the same as a share of the
	// community's devices, rounded up (0: off; set one of the two).
	// Batches go to the asked devices only, on their own topics, in fair
	// cycles drawn from the seed, skipping offline and suspect devices
	// (docs/DESIGN.md §2.14). Feedback edges only (not training.algorithm:
	// fedgan).
	Sample         int     `yaml:"sample"`
	SampleFraction float64 `yaml:"sample_fraction"`
	// Quorum closes a sync iteration when this many asked devices have
	// answered (0: all of them), or at sync_period; at most the sample.
	Quorum int `yaml:"quorum"`
	// Weights is "exact" (default, c_j) or "constant" (w_j) for Eq. 4, or

	// "uniform" (1/n: plain averaging, the M-D GAN baseline).
	Weights string `yaml:"weights"`
	// WireDType is the dtype of the per-iteration tensors (X_d, X_g, the
	// feedback): "f32" (default) or "bf16" (bfloat16: half the bytes, 8
	// significant bits, the float32 range). Parameters stay f32.
	WireDType string `yaml:"wire_dtype"`
	// Objective is "minimax" (Eq. 3) or "nonsaturating"; see README for the default.
	Objective string `yaml:"objective"`
	// AuxWeight is λ of the auxiliary class loss of model.d_class aux or
	// both, in D's loss and in the generator objective; default 1.
	AuxWeight float64 `yaml:"aux_weight"`
	// ModeSeeking is λ of the mode-seeking term the edges add to G's
	// objective (MSGAN; fed.EdgeConfig.ModeSeeking); 0 (default) disables
	// it. It needs an even batch_size.
	ModeSeeking float64 `yaml:"mode_seeking"`
	// ClassInvariance is RegGAN's regulariser of G (Mao & Li 2018): λ of
	// Eq. 8 over the class codes, pulling G's first-layer outputs for one
	// z under different class codes together (fed.EdgeConfig). For the
	// centralized multi-domain baseline of Table 2, whose classes are the
	// domains; FR with model.class_code ≥ 2 only. Default 0 (off).
	ClassInvariance float64 `yaml:"class_invariance"`
	// InstanceNoise is the standard deviation of the noise added to every
	// row a discriminator sees at the start of training; it decays
	// linearly to 0 at the last round. 0 (default) disables it.
	InstanceNoise float64 `yaml:"instance_noise"`
	// DSpectralNorm, when > 0, bounds the spectral norm of every weight
	// matrix of the devices' discriminators to this value after each of
	// their steps (spectral normalisation by projection, Miyato et al.
	// 2018), so that D is at most DSpectralNorm^L-Lipschitz (L = number of
	// dense layers) and its feedback stays bounded. 0 (default) disables it.
	DSpectralNorm float64 `yaml:"d_spectral_norm"`
	// LRDecay, in [0, 1), lowers the edges' generator learning rate
	// linearly over the global rounds: round r uses
	// lr_g·(1 − LRDecay·r/GlobalRounds). 0 (default) keeps it constant.
	LRDecay float64 `yaml:"lr_decay"`
	// LRG and LRD are Adam learning rates of G and D; default 2e-4.
	LRG float64 `yaml:"lr_g"`
	LRD float64 `yaml:"lr_d"`
	// ServerOptimizer is "none" (default: G is the Eq. 1 average),
	// "adam": the cloud moves G towards the average with Adam at rate
	// ServerLR (default 1e-3; adaptive federated optimisation), or "sgd":
	// G moves ServerLR times the way to the average (default 1, which is
	// Eq. 1), with heavy-ball ServerMomentum (FedAvgM).
	ServerOptimizer string  `yaml:"server_optimizer"`
	ServerLR        float64 `yaml:"server_lr"`
	ServerMomentum  float64 `yaml:"server_momentum"`
	// ServerLRDecay, in [0, 1), lowers server_lr linearly over the rounds:
	// round r uses server_lr·(1 − server_lr_decay·r/global_rounds).
	ServerLRDecay float64 `yaml:"server_lr_decay"`
	// OptimizerG is the edges' optimizer for G_k: "adam" (default) or
	// "sgd" (with Momentum).
	OptimizerG string  `yaml:"optimizer_g"`
	Momentum   float64 `yaml:"momentum"`
	// Beta1, Beta2 are Adam's; defaults 0.5 and 0.999.
	Beta1 float64 `yaml:"beta1"`
	Beta2 float64 `yaml:"beta2"`
	// RoundTimeout bounds how long the cloud waits for community updates; default 120s.
	RoundTimeout Duration `yaml:"round_timeout"`
	// DeviceTimeout: a device that has not answered for this long is not
	// waited for by a sync edge until it answers again; default 3 × SyncPeriod.
	DeviceTimeout Duration `yaml:"device_timeout"`
	// StartQuorum is the share of a community's devices that must be
	// online before its edge opens the first iteration after it starts
	// (default 1: all of them); StartTimeout is how long the edge waits
	// for them after the first global model before it starts with whoever
	// is online (default 60s). A start quorum of 0 starts at once.
	StartQuorum  *float64 `yaml:"start_quorum"`
	StartTimeout Duration `yaml:"start_timeout"`
	// Lambda1 and Lambda2 weigh L_inv and L_spe (LR only); in [0, 1],
	// default 0.1 each (unset: nil). 0 switches the loss off (the
	// ablation of the domain losses). Lambdas returns the values.
	Lambda1 *float64 `yaml:"lambda1"`
	Lambda2 *float64 `yaml:"lambda2"`
	// ClassifierSteps is how many steps the cloud trains C per round (LR); default 50.
	ClassifierSteps int `yaml:"classifier_steps"`

	// Robust is the robust aggregation rule (fed.Robust, docs/DESIGN.md
	// §2.11): "clip" (default), "trimmed", "median", or "none" (the paper's
	// Eq. 1, 4 and 5 exactly). The numbers below default to
	// fed.DefaultRobust's: RobustWeightCap (1.5: no device's or
	// community's weight above 1.5/n), RobustClip (3: a feedback norm or
	// parameter change above 3 × the others' median is scaled down to
	// it), RobustTrim (0.2: the fraction trimmed at each end by
	// "trimmed"), RobustLossSpread (2: a loss below the others' median − 2
	// is raised to it), RobustWindow and RobustSuspect (20 and 0.5: a
	// reporter bounded or rejected in more than half of its last 20
	// reports is a suspect) and RobustQuarantine (false: suspects are
	// listed in the status; true: their reports are also left out).
	Robust           string  `yaml:"robust"`
	RobustWeightCap  float64 `yaml:"robust_weight_cap"`
	RobustClip       float64 `yaml:"robust_clip"`
	RobustTrim       float64 `yaml:"robust_trim"`
	RobustLossSpread float64 `yaml:"robust_loss_spread"`
	RobustWindow     int     `yaml:"robust_window"`
	RobustSuspect    float64 `yaml:"robust_suspect"`
	RobustQuarantine bool    `yaml:"robust_quarantine"`
}

// RobustConfig returns the fed.RobustConfig the training section
// describes (validated: the rule parses).
func (tr *Training) RobustConfig() fed.RobustConfig {
	rule, _ := fed.ParseRobust(tr.Robust)
	return fed.RobustConfig{Rule: rule, WeightCap: tr.RobustWeightCap, Clip: tr.RobustClip, Trim: tr.RobustTrim,
		LossSpread: tr.RobustLossSpread, Window: tr.RobustWindow, Suspect: tr.RobustSuspect, Quarantine: tr.RobustQuarantine}
}

// Limits protect gateways and services from bad or oversized input.
type Limits struct {
	// MaxPayload is the largest MQTT payload accepted, in bytes; default
	// derived from the model (largest message × 1.25 + 64 KiB).
	MaxPayload int `yaml:"max_payload"`
	// MaxPendingWrites bounds messages queued by a broker per client; default 64.
	MaxPendingWrites int `yaml:"max_pending_writes"`

	// The embedded brokers' gate (docs/DESIGN.md §6.1). Zero values take
	// the broker's defaults (broker.Default*).

	// ConnectTimeout closes a socket that has not finished its TLS
	// handshake and sent CONNECT this long after it was accepted; default 10s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// MaxClients caps the clients connected to one broker; client N+1 gets
	// CONNACK "server unavailable". Default: an edge's devices + 16, the
	// cloud's communities + 16.
	MaxClients int `yaml:"max_clients"`
	// MaxPendingConnections caps the sockets not yet authenticated; default 256.
	MaxPendingConnections int `yaml:"max_pending_connections"`
	// MaxConnectionsPerAddress caps the sockets from one IP address; default
	// 0 (no cap: devices behind one NAT share an address).
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// PublishRate is the most publishes per second one client may make
	// (bursts of PublishBurst); a client over it is disconnected. Default
	// 2000; negative turns the limit off.
	PublishRate  float64 `yaml:"publish_rate"`
	PublishBurst int     `yaml:"publish_burst"`
	// ReceiveMaximum is the most QoS 1/2 publishes one client may have
	// unacknowledged at a broker; a client over it is disconnected.
	// Default 16: the protocol's publishes are QoS 1, which the broker
	// answers before reading the next, so an honest client has at most one
	// in flight; only QoS 2 publishes never released pile up (at most 65535).
	ReceiveMaximum int `yaml:"receive_maximum"`
	// AuthFreeFailures failed logins from one address or for one username
	// are free; then attempts are refused for AuthBackoff, doubling with
	// every further failure up to AuthBackoffMax. Defaults 5, 1s, 5m.
	AuthFreeFailures int      `yaml:"auth_free_failures"`
	AuthBackoff      Duration `yaml:"auth_backoff"`
	AuthBackoffMax   Duration `yaml:"auth_backoff_max"`
	// AuthConcurrency bounds the bcrypt checks running at once; default
	// half the CPUs (at least 1).
	AuthConcurrency int `yaml:"auth_concurrency"`
	// AuthCache is how long a verified password is remembered after its
	// last use; default 5m.
	AuthCache Duration `yaml:"auth_cache"`
}

// TLS names certificate files. Paths are relative to the topology file.
type TLS struct {
	// Listen is the TLS listener address (servers only).
	Listen string `yaml:"listen"`
	Cert   string `yaml:"cert"`
	Key    string `yaml:"key"`
	// CA verifies the peer: client certificates on a server (mTLS), the
	// server on a client.
	CA string `yaml:"ca"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name"`
}

// Monitor is a read-only user allowed to subscribe to {root}/#.
type Monitor struct {
	Username string `yaml:"username"`
	// PasswordHash is a bcrypt hash (not the password).
	PasswordHash string `yaml:"password_hash"`
	// ClientIDPrefix: the monitor's client id must be its username or
	// start with this prefix; default "fedgan-" (fedgan watch and
	// fedgan-fw use it). No device id may start with it or equal the
	// username, so the monitor cannot hold a device's id.
	ClientIDPrefix string `yaml:"client_id_prefix"`
}

// Cloud is the cloud tier.
type Cloud struct {
	// ID is the cloud's client id; default "cloud".
	ID string `yaml:"id"`
	// Listen is the embedded broker's TCP address; default
	// "127.0.0.1:1883" (loopback only). Ignored when URL is set.
	Listen string `yaml:"listen"`
	// URL points the cloud at an existing MQTT broker (tcp://host:port,
	// ssl://…) instead of the embedded one.
	URL string `yaml:"url"`
	// Advertise is the URL edges dial to reach the cloud broker; default
	// URL, or tcp://Listen.
	Advertise string `yaml:"advertise"`
	// WebSocket and HTTP are optional listener addresses of the embedded
	// broker; an HTTP address without a host ("":9100") is on loopback.
	WebSocket string `yaml:"websocket"`
	HTTP      string `yaml:"http"`
	// HTTPTokenFile holds a token that /stats and /metrics then require.
	HTTPTokenFile string `yaml:"http_token_file"`
	TLS           *TLS   `yaml:"tls"`
	// TLSOnly turns the plain TCP listener off (needs tls.listen).
	TLSOnly bool `yaml:"tls_only"`
	// AllowAnonymous lets clients without credentials connect to the
	// embedded broker. Deployments leave it false.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// Credentials is a password file ("user:bcrypt-hash" lines) for the
	// embedded broker: the cloud service user and one user per edge.
	Credentials string `yaml:"credentials"`
	// Username and PasswordFile are what the cloud service uses to log in.
	Username     string   `yaml:"username"`
	PasswordFile string   `yaml:"password_file"`
	Monitor      *Monitor `yaml:"monitor"`
	// Output is the results folder; default "results/<name>".
	Output string `yaml:"output"`
	// State is the checkpoint folder; default Output + "/state".
	State string `yaml:"state"`
	// EvalEvery evaluates G every N rounds (and at the end); default 5.
	EvalEvery int `yaml:"eval_every"`
	// EvalSamples is how many samples that evaluation draws; default 2000.
	EvalSamples int `yaml:"eval_samples"`
	// EMA, in [0, 1), makes the evaluated and saved result an exponential
	// moving average of the global G over the rounds (decay per round),
	// as GAN research code keeps a G_ema: it smooths the round-to-round
	// oscillation of GAN training. Training itself is unchanged. 0
	// (default) evaluates and saves the last G.
	EMA float64 `yaml:"ema"`
}

// Community is one edge and its devices.
type Community struct {
	// ID names the community; a wire id.
	ID string `yaml:"id"`
	// Domain is the LR domain index c_k; default: the community's position.
	Domain *int `yaml:"domain"`
	// Data is the community's data source, split among its devices by
	// Partition; it may be omitted when every device gives its own.
	Data Data `yaml:"data"`
	// Partition splits Data among the devices.
	Partition Partition `yaml:"partition"`
	Edge      Edge      `yaml:"edge"`
	// Devices lists the devices; DeviceCount instead creates ids "<id>-d1"…
	Devices     []Device `yaml:"devices"`
	DeviceCount int      `yaml:"device_count"`
}

// Edge is a community's gateway service.
type Edge struct {
	// Listen is the embedded broker's TCP address; default
	// "127.0.0.1:1883": with no listen key an edge accepts devices on
	// loopback only, as Mosquitto 2 does.
	Listen string `yaml:"listen"`
	// Advertise is the URL devices dial; default tcp://Listen (with
	// TLSOnly, ssl://TLS.Listen).
	Advertise string `yaml:"advertise"`
	WebSocket string `yaml:"websocket"`
	// HTTP serves /healthz, /stats and /metrics; an address without a
	// host (":9100") is on loopback.
	HTTP string `yaml:"http"`
	// HTTPTokenFile holds a token that /stats and /metrics then require.
	HTTPTokenFile string `yaml:"http_token_file"`
	TLS           *TLS   `yaml:"tls"`
	// TLSOnly turns the plain TCP listener off (needs tls.listen).
	TLSOnly bool `yaml:"tls_only"`
	// AllowAnonymous lets devices connect without credentials.
	AllowAnonymous bool `yaml:"allow_anonymous"`
	// Credentials is the device password file ("device:bcrypt-hash" lines),
	// written by firmware-tools provision.
	Credentials string   `yaml:"credentials"`
	Monitor     *Monitor `yaml:"monitor"`
	// Bridge is the uplink to the cloud broker.
	Bridge Bridge `yaml:"bridge"`
	// State is the checkpoint folder; default "state/<community>".
	State string `yaml:"state"`
}

// Bridge is an edge's uplink to the cloud broker.
type Bridge struct {
	// Remote is the cloud broker URL; default Cloud.Advertise.
	Remote string `yaml:"remote"`
	// ClientID defaults to "edge-<community>"; Username likewise.
	ClientID     string `yaml:"client_id"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	TLS          *TLS   `yaml:"tls"`
	// QueueDir holds the store-and-forward queue; default State + "/bridge".
	QueueDir string `yaml:"queue_dir"`
	// QueueMax bounds queued messages; default 64.
	QueueMax int `yaml:"queue_max"`
}

// Device is one agent.
type Device struct {
	// ID is the device id, unique in the topology.
	ID string `yaml:"id"`
	// Data overrides the community's data for this device; the device
	// holds all of it (all of slice data.part) unless Partition is given.
	Data *Data `yaml:"data"`
	// Partition, with Data, gives the device one share of its data: the
	// rows that device Part of a community of Parts devices, all holding
	// Data split by this partition, holds in a topology with the same seed
	// whose community is named Stream (default: this device's community).
	// It lets a topology regroup another's devices with their exact data
	// (the M-D GAN configurations: one community holding the devices of
	// three, docs/DESIGN.md §2.13).
	Partition *DevicePartition `yaml:"partition"`
	// PasswordFile holds the device's MQTT password.
	PasswordFile string `yaml:"password_file"`
	// TLS holds the client certificate (mTLS) and the CA that verifies the edge.
	TLS *TLS `yaml:"tls"`
	// Delay is added to every batch's work (straggler experiments).
	Delay Duration `yaml:"delay"`
	// Slowdown multiplies the compute time (1 = none, 3 = three times slower).
	Slowdown float64 `yaml:"slowdown"`
}

// Data names a data source (docs/DESIGN.md §8.1).
type Data struct {
	// Kind is one of gaussian, mnist, fashion-mnist, inverted-mnist,
	// grey-mnist, idx, csv.
	Kind string `yaml:"kind"`
	// Path overrides where files are found (folder for mnist/fashion-mnist,
	// file for csv, images file for idx).
	Path string `yaml:"path"`
	// Labels is the labels file for idx.
	Labels string `yaml:"labels"`
	// Split is "train" (default) or "test".
	Split string `yaml:"split"`
	// Part/Parts give this community slice Part (0-based) of Parts equal
	// slices of the dataset (e.g. two communities sharing Fashion-MNIST).
	Part  int `yaml:"part"`
	Parts int `yaml:"parts"`
	// LabelOffset shifts labels (e.g. 10 for Fashion-MNIST beside MNIST).
	LabelOffset int `yaml:"label_offset"`
	// Classes is how many label classes the data holds (labels
	// label_offset … label_offset+classes−1); used with model.class_code.
	// Default 10 for mnist, fashion-mnist, inverted-mnist and grey-mnist and the
	// number of means for gaussian; required for idx and csv.
	Classes int `yaml:"classes"`
	// Gaussian mixture: Means (one row per mode), Std, Weights (default
	// uniform), Samples per device (default 2000).
	Means   [][]float64 `yaml:"means"`
	Std     float64     `yaml:"std"`
	Weights []float64   `yaml:"weights"`
	Samples int         `yaml:"samples"`
}

// Partition splits a community's data among its devices.
type Partition struct {
	// Kind is "iid" (default), "shards" or "dirichlet". For gaussian data
	// "iid" gives every device its own draws of the whole mixture and
	// "modes" gives device j the modes j, j+n, … (non-iid).
	Kind             string  `yaml:"kind"`
	ClassesPerDevice int     `yaml:"classes_per_device"`
	Alpha            float64 `yaml:"alpha"`
}

// DevicePartition is a device's own share of its data (Device.Partition).
type DevicePartition struct {
	// Kind, ClassesPerDevice and Alpha split the data, as a community's
	// partition does.
	Partition `yaml:",inline"`
	// Part (0-based) of Parts is the device's share.
	Part  int `yaml:"part"`
	Parts int `yaml:"parts"`
	// Stream names the random stream that splits the data, as a
	// community's id does; default the device's community's id.
	Stream string `yaml:"stream"`
}

// Duration is a time.Duration written as "2s", "150ms" in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML parses "1.5s"-style strings (and plain integers as seconds).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: want a duration like \"2s\"", n.Line)}}
	}
	if v, err := strconv.ParseFloat(n.Value, 64); err == nil {
		*d = Duration(v * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		// A *yaml.TypeError lets the decoder go on and report the rest.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (e.g. \"2s\", \"500ms\")", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// ErrConfig is the cause of every configuration error.
var ErrConfig = errors.New("config: invalid topology")

// Error lists every problem found in one topology, with the source file.
type Error struct {
	Source   string
	Problems []string
}

func (e *Error) Error() string {
	src := e.Source
	if src == "" {
		src = "topology"
	}
	return fmt.Sprintf("%s: %d problem(s):\n  %s", src, len(e.Problems), strings.Join(e.Problems, "\n  "))
}

// Unwrap makes errors.Is(err, ErrConfig) true.
func (e *Error) Unwrap() error { return ErrConfig }

// Load reads and validates a topology file.
func Load(path string) (*Topology, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return FromBytes(b, path, filepath.Dir(abs))
}

// FromBytes parses and validates a topology. source names it in errors;
// dir resolves relative paths. Unknown keys and bad values are all
// reported together.
func FromBytes(b []byte, source, dir string) (*Topology, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &Error{Source: source, Problems: []string{"empty file"}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &Error{Source: source, Problems: []string{err.Error()}}
	}
	var t Topology
	// The file's shape first: unknown keys (with the nearest known one)
	// and unreadable values, each with its line and key path.
	var problems []string
	shape := checkKeys(&doc, reflect.TypeFor[Topology]())
	for _, p := range shape {
		problems = append(problems, p.String())
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &Error{Source: source, Problems: []string{err.Error()}}
		}
		if len(shape) == 0 { // what the walk missed, in the decoder's words
			problems = append(problems, te.Errors...)
		}
	}
	t.Source, t.Dir = source, dir
	for _, p := range t.validate() {
		if !followsOn(p, shape) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Source: source, Problems: problems}
	}
	return &t, nil
}

// followsOn reports whether the validator's problem p is about a key
// that a shape mistake left at its zero value (a misspelt or unreadable
// key), which the shape mistake already reports.
func followsOn(p string, shape []keyProblem) bool {
	for _, s := range shape {
		if s.implies == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(p, s.implies); ok && rest != "" && strings.ContainsRune(":.[ ", rune(rest[0])) {
			return true
		}
	}
	return false
}
