package eval

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/nn"
)

// ClassifierSettings say how an evaluation classifier is trained. They
// are part of its cache key: a classifier trained with other settings is
// another classifier. The zero value means the defaults.
type ClassifierSettings struct {
	// Hidden lists the hidden layer widths (ReLU); default [512, 256]. The
	// last one is the width of the features FID is computed on.
	Hidden []int `json:"hidden"`
	// Epochs is the number of passes over the training rows; default 12.
	Epochs int `json:"epochs"`
	// Batch is the minibatch size; default 128.
	Batch int `json:"batch"`
	// LR is Adam's initial learning rate, decayed linearly to LR/20 over
	// the run; default 1e-3.
	LR float64 `json:"lr"`
	// Seed draws the initial weights and the minibatches; default 1.
	Seed uint64 `json:"seed"`
	// MaxRows, if > 0, trains on a random subset of that many rows (for
	// tests and quick looks); 0 uses every row.
	MaxRows int `json:"max_rows"`
}

// WithDefaults returns s with zero fields set to their defaults.
func (s ClassifierSettings) WithDefaults() ClassifierSettings {
	if len(s.Hidden) == 0 {
		s.Hidden = []int{512, 256}
	}
	if s.Epochs == 0 {
		s.Epochs = 12
	}
	if s.Batch == 0 {
		s.Batch = 128
	}
	if s.LR == 0 {
		s.LR = 1e-3
	}
	if s.Seed == 0 {
		s.Seed = 1
	}
	return s
}

func (s ClassifierSettings) validate() error {
	for _, h := range s.Hidden {
		if h <= 0 {
			return fmt.Errorf("%w: hidden width %d", ErrSettings, h)
		}
	}
	if s.Epochs < 1 || s.Batch < 1 || !(s.LR > 0) || s.MaxRows < 0 {
		return fmt.Errorf("%w: epochs %d, batch %d, lr %g, max_rows %d", ErrSettings, s.Epochs, s.Batch, s.LR, s.MaxRows)
	}
	return nil
}

// Classifier is an evaluation classifier: an MLP from a data row to class
// logits, whose penultimate layer gives the features of FID.
//
// A Classifier is not safe for concurrent use.
type Classifier struct {
	// Net maps rows to logits: Dense, ReLU, …, Dense.
	Net *nn.Sequential
	// Classes is the number of classes (Net's output width).
	Classes int
	// Key identifies the training data and settings (see ClassifierKey).
	Key string
	// Settings are the settings it was trained with, defaults filled.
	Settings ClassifierSettings

	features *nn.Sequential
	buf      []float32
}

// evalBatch is how many rows go through the classifier at once.
const evalBatch = 500

// NewClassifier wraps a trained network. It returns an error wrapping
// ErrSettings if net does not end in a Dense layer or has no hidden layer.
func NewClassifier(net *nn.Sequential, key string, s ClassifierSettings) (*Classifier, error) {
	specs := net.Specs()
	if len(specs) < 3 || specs[len(specs)-1].Kind != nn.KindDense {
		return nil, fmt.Errorf("%w: a classifier is Dense, activation, …, Dense; got %d layers", ErrSettings, len(specs))
	}
	return &Classifier{Net: net, Classes: net.OutDim(), Key: key, Settings: s,
		features: net.Slice(0, len(net.Layers)-1)}, nil
}

// Dim is the width of a data row.
func (c *Classifier) Dim() int { return c.Net.InDim() }

// FeatureDim is the width of the penultimate features.
func (c *Classifier) FeatureDim() int { return c.features.OutDim() }

// run passes the n rows of x through net in batches and calls emit with
// each batch's first row index and output.
func (c *Classifier) run(net *nn.Sequential, x []float32, emit func(first int, out nn.Mat)) {
	d := c.Dim()
	n := len(x) / d
	for i := 0; i < n; i += evalBatch {
		m := min(evalBatch, n-i)
		emit(i, net.Forward(nn.Mat{Rows: m, Cols: d, Data: x[i*d : (i+m)*d]}))
	}
}

// Probs writes the class probabilities (softmax of the logits) of the rows
// of x to dst (rows × Classes) and returns it; dst is allocated when too
// small. It panics if len(x) is not a multiple of Dim().
func (c *Classifier) Probs(dst, x []float32) []float32 {
	c.checkRows(x)
	n, k := len(x)/c.Dim(), c.Classes
	if cap(dst) < n*k {
		dst = make([]float32, n*k)
	}
	dst = dst[:n*k]
	c.run(c.Net, x, func(first int, out nn.Mat) {
		for r := 0; r < out.Rows; r++ {
			softmax(dst[(first+r)*k:(first+r+1)*k], out.Row(r))
		}
	})
	return dst
}

// Features writes the penultimate-layer features of the rows of x to dst
// (rows × FeatureDim) and returns it, allocated when too small. It panics
// if len(x) is not a multiple of Dim().
func (c *Classifier) Features(dst, x []float32) []float32 {
	c.checkRows(x)
	n, f := len(x)/c.Dim(), c.FeatureDim()
	if cap(dst) < n*f {
		dst = make([]float32, n*f)
	}
	dst = dst[:n*f]
	c.run(c.features, x, func(first int, out nn.Mat) {
		copy(dst[first*f:], out.Data[:out.Rows*f])
	})
	return dst
}

func (c *Classifier) checkRows(x []float32) {
	if len(x)%c.Dim() != 0 {
		panic(fmt.Sprintf("eval: %d values are not rows of %d", len(x), c.Dim()))
	}
}

// Accuracy returns the fraction of the labelled rows of ds that the
// classifier assigns their label. It returns an error wrapping ErrData if
// ds has no labels, no rows or rows of another width.
func (c *Classifier) Accuracy(ds *data.Dataset) (float64, error) {
	if ds.Classes == 0 || ds.Len() == 0 || ds.Dim != c.Dim() {
		return 0, fmt.Errorf("%w: accuracy on %s: %d rows of %d values, %d classes; classifier takes %d values",
			ErrData, ds.Name, ds.Len(), ds.Dim, ds.Classes, c.Dim())
	}
	right := 0
	x := make([]float32, evalBatch*ds.Dim)
	idx := make([]int, 0, evalBatch)
	for i := 0; i < ds.Len(); i += evalBatch {
		idx = idx[:0]
		for j := i; j < min(i+evalBatch, ds.Len()); j++ {
			idx = append(idx, j)
		}
		ds.Rows(x, idx)
		out := c.Net.Forward(nn.Mat{Rows: len(idx), Cols: ds.Dim, Data: x[:len(idx)*ds.Dim]})
		for r, j := range idx {
			if argmax(out.Row(r)) == ds.Label(j) {
				right++
			}
		}
	}
	return float64(right) / float64(ds.Len()), nil
}

// ClassifierKey is the cache key of a classifier trained on train with
// settings s: the hex SHA-256 of the settings (defaults filled) and of
// every row (its bytes for images, its float32 bits otherwise) and label
// of train. Two datasets with the same rows and labels in the same order
// have the same key, wherever their files are.
func ClassifierKey(train *data.Dataset, s ClassifierSettings) string {
	s = s.WithDefaults()
	h := sha256.New()
	js, _ := json.Marshal(s) // plain struct: cannot fail
	fmt.Fprintf(h, "fedgan evaluation classifier v1\n%s\n%d %d %d %t\n", js, train.Len(), train.Dim, train.Classes, train.IsImage())
	var lab [4]byte
	if train.IsImage() {
		row := make([]byte, train.Dim)
		for i := range train.Len() {
			train.RowBytes(row, i)
			h.Write(row)
			binary.LittleEndian.PutUint32(lab[:], uint32(int32(train.Label(i))))
			h.Write(lab[:])
		}
	} else {
		row := make([]float32, train.Dim)
		b := make([]byte, 4*train.Dim)
		for i := range train.Len() {
			train.Row(row, i)
			for j, v := range row {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
			}
			h.Write(b)
			binary.LittleEndian.PutUint32(lab[:], uint32(int32(train.Label(i))))
			h.Write(lab[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TrainClassifier trains an evaluation classifier on the labelled rows of
// train with softmax cross-entropy and Adam. progress, if not nil, is
// called after every epoch with its number (1-based) and mean loss.
// It returns an error wrapping ErrData if train has no labels or no rows,
// and ErrSettings for bad settings.
func TrainClassifier(train *data.Dataset, s ClassifierSettings, progress func(epoch int, loss float64)) (*Classifier, error) {
	s = s.WithDefaults()
	if err := s.validate(); err != nil {
		return nil, err
	}
	if train.Classes < 2 || train.Len() == 0 {
		return nil, fmt.Errorf("%w: %s has %d rows and %d classes; a classifier needs labelled rows of at least 2 classes",
			ErrData, train.Name, train.Len(), train.Classes)
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x65766131)) // "eva1"
	sizes := append(append([]int{train.Dim}, s.Hidden...), train.Classes)
	var specs []nn.LayerSpec
	for i := 0; i+1 < len(sizes); i++ {
		specs = append(specs, nn.LayerSpec{Kind: nn.KindDense, In: sizes[i], Out: sizes[i+1]})
		if i+2 < len(sizes) {
			specs = append(specs, nn.LayerSpec{Kind: nn.KindReLU})
		}
	}
	net, err := nn.Build(specs, rng)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSettings, err)
	}
	rows := make([]int, train.Len())
	for i := range rows {
		rows[i] = i
	}
	if s.MaxRows > 0 && s.MaxRows < len(rows) {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		rows = rows[:s.MaxRows]
		slices.Sort(rows)
	}
	opt := nn.NewAdam(float32(s.LR), 0.9, 0.999, 1e-8)
	b := min(s.Batch, len(rows))
	steps := s.Epochs * ((len(rows) + b - 1) / b)
	x := make([]float32, b*train.Dim)
	labels := make([]int, b)
	grad := nn.NewMat(b, train.Classes)
	step := 0
	for epoch := 1; epoch <= s.Epochs; epoch++ {
		rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		var sum float64
		batches := 0
		for i := 0; i < len(rows); i += b {
			idx := rows[i:min(i+b, len(rows))]
			m := len(idx)
			train.Rows(x, idx)
			for k, r := range idx {
				labels[k] = train.Label(r)
			}
			net.ZeroGrad()
			logits := net.Forward(nn.Mat{Rows: m, Cols: train.Dim, Data: x[:m*train.Dim]})
			g := nn.Mat{Rows: m, Cols: train.Classes, Data: grad.Data[:m*train.Classes]}
			sum += nn.SoftmaxCrossEntropy(g, logits, labels[:m])
			net.BackwardParams(g)
			frac := float64(step) / float64(steps)
			opt.LR = float32(s.LR * (1 - 0.95*frac))
			opt.Step(net.Params())
			step++
			batches++
		}
		if math.IsNaN(sum) || math.IsInf(sum, 0) {
			return nil, fmt.Errorf("%w: training diverged in epoch %d (loss %g); lower lr", ErrSettings, epoch, sum)
		}
		if progress != nil {
			progress(epoch, sum/float64(batches))
		}
	}
	return NewClassifier(net, ClassifierKey(train, s), s)
}

// softmax writes softmax(a) to dst, computed in float64.
func softmax(dst, a []float32) {
	m := math.Inf(-1)
	for _, v := range a {
		m = math.Max(m, float64(v))
	}
	var s float64
	for _, v := range a {
		s += math.Exp(float64(v) - m)
	}
	for j, v := range a {
		dst[j] = float32(math.Exp(float64(v)-m) / s)
	}
}

func argmax(a []float32) int {
	best := 0
	for j, v := range a {
		if v > a[best] {
			best = j
		}
	}
	return best
}
