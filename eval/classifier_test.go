package eval_test

import (
	"bytes"
	"errors"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/eval"
)

// blobs is a numeric dataset of n rows of dim values per class: class c's
// rows are N(μ_c, 0.3²) with μ_c = +1 in coordinate c and −1 elsewhere.
func blobs(t *testing.T, n, dim, classes int, seed uint64) *data.Dataset {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 0))
	var rows []float32
	var labels []int
	for i := range n * classes {
		c := i % classes
		for j := range dim {
			mu := -1.0
			if j == c {
				mu = 1
			}
			rows = append(rows, float32(mu+0.3*rng.NormFloat64()))
		}
		labels = append(labels, c)
	}
	ds, err := data.NewNumeric("blobs", dim, rows, labels, classes)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

var small = eval.ClassifierSettings{Hidden: []int{16, 8}, Epochs: 15, Batch: 16, LR: 3e-3}

func TestTrainClassifier(t *testing.T) {
	train := blobs(t, 100, 6, 3, 1)
	epochs := 0
	cls, err := eval.TrainClassifier(train, small, func(e int, loss float64) { epochs = e })
	if err != nil {
		t.Fatal(err)
	}
	if epochs != small.Epochs {
		t.Errorf("progress saw %d epochs, want %d", epochs, small.Epochs)
	}
	if cls.Classes != 3 || cls.Dim() != 6 || cls.FeatureDim() != 8 {
		t.Errorf("classes %d, dim %d, features %d; want 3, 6, 8", cls.Classes, cls.Dim(), cls.FeatureDim())
	}
	acc, err := cls.Accuracy(blobs(t, 50, 6, 3, 2))
	if err != nil {
		t.Fatal(err)
	}
	if acc < 0.99 {
		t.Errorf("test accuracy %.3f on well separated blobs, want ≥ 0.99", acc)
	}
	if cls.Key != eval.ClassifierKey(train, small) {
		t.Errorf("Key %s is not ClassifierKey of the data and settings", cls.Key)
	}
	p := cls.Probs(nil, []float32{1, -1, -1, -1, -1, -1})
	var sum float32
	for _, v := range p {
		sum += v
	}
	if len(p) != 3 || math.Abs(float64(sum)-1) > 1e-5 || p[0] < 0.9 {
		t.Errorf("probs of a class-0 row: %v, want 3 probabilities summing to 1, the first ≥ 0.9", p)
	}

	if _, err := eval.TrainClassifier(blobs(t, 5, 2, 1, 1), small, nil); !errors.Is(err, eval.ErrData) {
		t.Errorf("one class: got %v, want ErrData", err)
	}
	if _, err := eval.TrainClassifier(train, eval.ClassifierSettings{Hidden: []int{-1}}, nil); !errors.Is(err, eval.ErrSettings) {
		t.Errorf("negative width: got %v, want ErrSettings", err)
	}
}

func TestClassifierKey(t *testing.T) {
	a := blobs(t, 10, 4, 2, 1)
	same := blobs(t, 10, 4, 2, 1)
	other := blobs(t, 10, 4, 2, 2)
	k := eval.ClassifierKey(a, small)
	for _, tc := range []struct {
		name  string
		key   string
		equal bool
	}{
		{"same rows", eval.ClassifierKey(same, small), true},
		{"defaults filled", eval.ClassifierKey(a, eval.ClassifierSettings{}), false},
		{"explicit defaults", eval.ClassifierKey(a, eval.ClassifierSettings{}.WithDefaults()), false},
		{"other rows", eval.ClassifierKey(other, small), false},
		{"other epochs", eval.ClassifierKey(a, eval.ClassifierSettings{Hidden: small.Hidden, Epochs: 16, Batch: small.Batch, LR: small.LR}), false},
		{"fewer rows", eval.ClassifierKey(a.Subset([]int{0, 1, 2}), small), false},
	} {
		if got := tc.key == k; got != tc.equal {
			t.Errorf("%s: key equal %v, want %v", tc.name, got, tc.equal)
		}
	}
	if eval.ClassifierKey(a, eval.ClassifierSettings{}) != eval.ClassifierKey(a, eval.ClassifierSettings{}.WithDefaults()) {
		t.Errorf("zero settings and their defaults give different keys")
	}
	if len(k) != 64 {
		t.Errorf("key %q is not 64 hex digits", k)
	}
}

func TestCache(t *testing.T) {
	train := blobs(t, 30, 4, 2, 1)
	cls, err := eval.TrainClassifier(train, small, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := eval.Cache{Dir: filepath.Join(t.TempDir(), "cache")}
	if _, _, err := c.Load(cls.Key); !errors.Is(err, eval.ErrNoClassifier) {
		t.Fatalf("empty cache: got %v, want ErrNoClassifier", err)
	}
	if err := c.Save(cls, eval.ClassifierInfo{Rows: train.Len(), Sources: []string{"blobs"}}); err != nil {
		t.Fatal(err)
	}
	got, info, err := c.Load(cls.Key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Key != cls.Key || info.Classes != 2 || info.Dim != 4 || info.Rows != 60 {
		t.Errorf("info %+v", info)
	}
	x := []float32{0.5, -1, 0.3, 0.2, -1, 1, 0, 0}
	if a, b := cls.Probs(nil, x), got.Probs(nil, x); !equal32(a, b) {
		t.Errorf("loaded classifier gives %v, saved one %v", b, a)
	}

	// Other data: reported missing, listing what the cache holds.
	otherKey := eval.ClassifierKey(blobs(t, 30, 4, 2, 9), small)
	_, _, err = c.Load(otherKey)
	var miss *eval.MissingError
	if !errors.As(err, &miss) || len(miss.Others) != 1 || miss.Others[0].Key != cls.Key || !strings.Contains(err.Error(), "blobs") {
		t.Errorf("other data: got %v, want a MissingError listing the cached classifier", err)
	}

	// A corrupted network file is an error, never used.
	base := filepath.Join(c.Dir, "classifier-"+cls.Key[:16])
	b, err := os.ReadFile(base + ".nnw")
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(base+".nnw", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(cls.Key); !errors.Is(err, eval.ErrCache) {
		t.Errorf("corrupted network: got %v, want ErrCache", err)
	}
}

func equal32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func rowsOf(ds *data.Dataset, keep func(label int) bool) []float32 {
	var out []float32
	row := make([]float32, ds.Dim)
	for i := range ds.Len() {
		if keep(ds.Label(i)) {
			ds.Row(row, i)
			out = append(out, row...)
		}
	}
	return out
}

func TestScore(t *testing.T) {
	train := blobs(t, 100, 6, 3, 1)
	cls, err := eval.TrainClassifier(train, small, nil)
	if err != nil {
		t.Fatal(err)
	}
	real := blobs(t, 200, 6, 3, 3)
	ref, err := cls.Reference(real, 10000, rand.New(rand.NewPCG(1, 0)))
	if err != nil {
		t.Fatal(err)
	}
	third := 1.0 / 3
	if math.Abs(ref.Hist[0]-third) > 1e-9 || ref.Features.N != 600 {
		t.Errorf("reference histogram %v of %d rows, want thirds of 600", ref.Hist, ref.Features.N)
	}

	// The reference rows themselves: FID 0, every class, KL 0.
	rep, err := cls.Score(ref, rowsOf(real, func(int) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(rep.FID) > 1e-6 || rep.Covered != 3 || rep.Classes != 3 || rep.ClassKL > 1e-3 || rep.IS < 2.5 {
		t.Errorf("real rows: %v, want FID 0, 3/3 classes, KL 0, IS near 3", rep)
	}

	// Fresh rows of the same distribution: a small FID.
	fresh, err := cls.Score(ref, rowsOf(blobs(t, 200, 6, 3, 4), func(int) bool { return true }))
	if err != nil {
		t.Fatal(err)
	}

	// Only class 0: one class covered, KL = ln 3, IS near 1, larger FID.
	one, err := cls.Score(ref, rowsOf(real, func(l int) bool { return l == 0 }))
	if err != nil {
		t.Fatal(err)
	}
	if one.Covered != 1 || math.Abs(one.ClassKL-math.Log(3)) > 1e-3 || one.IS > 1.2 || !(one.FID > 10*fresh.FID) {
		t.Errorf("class 0 only: %v, want 1/3 classes, KL ln 3 = %.4f, IS near 1, FID ≫ %.3f", one, math.Log(3), fresh.FID)
	}
	if got := one.Missing(ref); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("missing classes %v, want [1 2]", got)
	}

	if _, err := cls.Score(ref, []float32{float32(math.Inf(1)), 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}); !errors.Is(err, eval.ErrData) {
		t.Errorf("Inf in the samples: got %v, want ErrData", err)
	}
}

func TestGrid(t *testing.T) {
	// Three 2×2 images in two columns at scale 1: 2 rows of cells of 4
	// pixels (2 + the gap), plus the outer gap: 10×10.
	x := []float32{-1, 1, 0, 1, 1, 1, 1, 1, -1, -1, -1, -1}
	var buf bytes.Buffer
	if err := eval.Grid(&buf, x, 2, 2, 2, 1); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 10 || b.Dy() != 10 {
		t.Fatalf("grid is %v, want 10×10", b)
	}
	for _, tc := range []struct {
		x, y int
		want uint32
	}{
		{0, 0, 128}, // border
		{2, 2, 0},   // image 0, pixel (0, 0) = −1
		{3, 2, 255}, // image 0, pixel (0, 1) = 1
		{2, 3, 128}, // image 0, pixel (1, 0) = 0 ↦ round(127.5) = 128
		{6, 2, 255}, // image 1
		{2, 6, 0},   // image 2
		{6, 6, 128}, // no image 3: background
		{4, 4, 128}, // gap between cells
		{9, 9, 128}, // outer gap
		{7, 7, 128}, // empty cell
		{3, 7, 0},   // image 2, pixel (1, 1)
		{7, 3, 255}, // image 1, pixel (1, 1)
		{3, 3, 255}, // image 0, pixel (1, 1) = 1
	} {
		r, _, _, _ := img.At(tc.x, tc.y).RGBA()
		if got := r >> 8; got != tc.want {
			t.Errorf("pixel (%d, %d) = %d, want %d", tc.x, tc.y, got, tc.want)
		}
	}
	if err := eval.Grid(&buf, x[:3], 2, 2, 2, 1); !errors.Is(err, eval.ErrData) {
		t.Errorf("3 values as 2×2 images: got %v, want ErrData", err)
	}
}
