package wire

// This file holds the message types of docs/DESIGN.md §4.3. Their codec is in
// codec.go, their validation in validate.go, Tensor in tensor.go.

// Version is the protocol version this package writes and accepts.
const Version = 1

// DefaultRoot is the default topic root.
const DefaultRoot = "fedgan/v1"

// Batch is what an edge publishes on {root}/c/{community}/batch
// (docs/DESIGN.md §2.1 step 1).
type Batch struct {
	V            int    `msgpack:"v"`
	Community    string `msgpack:"community"`
	Round        int    `msgpack:"round"`
	Iter         int64  `msgpack:"iter"`    // local iteration id, increasing
	Version      int64  `msgpack:"version"` // generator version X_d, X_g came from
	Domain       int    `msgpack:"domain"`  // LR: index of the community's domain code; FR: 0
	Fake         Tensor `msgpack:"fake"`    // X_d = G_k(z_d), B×d
	Gen          Tensor `msgpack:"gen"`     // X_g = G_k(z_g), B×d
	SentUnixNano int64  `msgpack:"sent"`
	// FakeLabels and GenLabels are the class of each row of Fake and Gen,
	// one byte per row, when G is class-conditional (Spec.Classes > 0,
	// config model.class_code); absent otherwise. A device's discriminator
	// judges each row together with its class.
	FakeLabels []byte `msgpack:"fake_labels,omitempty"`
	GenLabels  []byte `msgpack:"gen_labels,omitempty"`
}

// Feedback is what a device publishes on
// {root}/c/{community}/feedback/{device} (docs/DESIGN.md §2.1 step 2).
type Feedback struct {
	V         int     `msgpack:"v"`
	Community string  `msgpack:"community"`
	Device    string  `msgpack:"device"`
	Round     int     `msgpack:"round"`
	Iter      int64   `msgpack:"iter"`
	Version   int64   `msgpack:"version"`
	Loss      float64 `msgpack:"loss"`   // L_kj, Eq. 3
	DLoss     float64 `msgpack:"d_loss"` // discriminator loss after its step (Eq. 2, as BCE)
	Grad      Tensor  `msgpack:"grad"`   // F_kj = ∂(generator objective)/∂X_g, B×d
	NReal     int     `msgpack:"n_real"`
	Timings   Timings `msgpack:"timings"`
}

// Timings reports where a device spent its time on one batch, in microseconds.
type Timings struct {
	WaitUS    int64 `msgpack:"wait_us"`    // batch arrival → start of work
	ComputeUS int64 `msgpack:"compute_us"` // D step + loss + feedback
}

// GeneratorUpdate is what an edge publishes on {root}/c/{community}/generator
// after I_lo local iterations (docs/DESIGN.md §2.5).
type GeneratorUpdate struct {
	V         int      `msgpack:"v"`
	Community string   `msgpack:"community"`
	Round     int      `msgpack:"round"`
	Loss      float64  `msgpack:"loss"`   // L_{D*}(G_k), aggregated loss of the last local iteration
	Iters     int      `msgpack:"iters"`  // local iterations done this round
	Params    []Tensor `msgpack:"params"` // G_k's parameters in nn.Params order
	// Fed GAN (config training.algorithm: fedgan, docs/DESIGN.md §2.12):
	// the community's averaged discriminator, in nn.Params order, and the
	// number of samples its devices hold (the FedAvg weight of the
	// community in the cloud). Both absent in FR.
	DParams []Tensor `msgpack:"d_params,omitempty"`
	Samples int64    `msgpack:"samples,omitempty"`
}

// GlobalModel is what the cloud publishes, retained, on {root}/global/model.
// Round is the round the edges should start with these parameters; Final
// marks the end of training.
type GlobalModel struct {
	V       int                `msgpack:"v"`
	Round   int                `msgpack:"round"`
	Final   bool               `msgpack:"final"`
	Params  []Tensor           `msgpack:"params"`
	Weights map[string]float64 `msgpack:"weights"` // community → Eq. 1 weight used
	// LR scenario (docs/DESIGN.md §2.6); empty in FR.
	Classifier []Tensor `msgpack:"classifier,omitempty"`
	LInv       float64  `msgpack:"l_inv"`
	LSpe       float64  `msgpack:"l_spe"`
	Lambda1    float64  `msgpack:"lambda1"`
	Lambda2    float64  `msgpack:"lambda2"`
	// DParams is the global discriminator of Fed GAN (docs/DESIGN.md
	// §2.12); absent in FR.
	DParams []Tensor `msgpack:"d_params,omitempty"`
}

// CommunityModel is what a Fed GAN edge publishes, retained, on
// {root}/c/{community}/model for its devices (docs/DESIGN.md §2.12): the
// global G and D every device starts round Round from.
type CommunityModel struct {
	V         int      `msgpack:"v"`
	Community string   `msgpack:"community"`
	Round     int      `msgpack:"round"`
	Final     bool     `msgpack:"final"`
	Params    []Tensor `msgpack:"params"`   // G, nn.Params order
	DParams   []Tensor `msgpack:"d_params"` // D, nn.Params order
}

// LocalModel is what a Fed GAN device publishes on
// {root}/c/{community}/local/{device} after its local steps of a round
// (docs/DESIGN.md §2.12): its G and D and the number of local samples it
// holds (its FedAvg weight).
type LocalModel struct {
	V         int      `msgpack:"v"`
	Community string   `msgpack:"community"`
	Device    string   `msgpack:"device"`
	Round     int      `msgpack:"round"`
	Samples   int64    `msgpack:"samples"` // local rows, 1 to MaxSamples
	Steps     int      `msgpack:"steps"`   // local GAN steps done this round
	Loss      float64  `msgpack:"loss"`    // Eq. 3 of its last step
	DLoss     float64  `msgpack:"d_loss"`  // D's loss of its last step
	Params    []Tensor `msgpack:"params"`
	DParams   []Tensor `msgpack:"d_params"`
	Timings   Timings  `msgpack:"timings"` // wait: model arrival → start; compute: the round's steps
}

// MaxSamples bounds a sample count (LocalModel.Samples,
// GeneratorUpdate.Samples): more rows than any device or community holds,
// small enough that sums of a thousand of them stay exact in a float64.
const MaxSamples = 1 << 40

// Presence states.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Presence is the JSON body of {root}/c/{community}/presence/{device}:
// published retained with StateOnline when a device connects, and set as
// its MQTT will with StateOffline.
type Presence struct {
	V         int    `json:"v"`
	State     string `json:"state"` // StateOnline or StateOffline
	Device    string `json:"device"`
	Community string `json:"community"`
	Agent     string `json:"agent,omitempty"` // build version
	UnixMilli int64  `json:"ts,omitempty"`
}
