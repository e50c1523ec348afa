package data

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPixel(t *testing.T) {
	for _, tt := range []struct {
		b    byte
		want float32
	}{
		{0, -1}, {255, 1}, {51, -0.6}, {204, 0.6}, {127, -1.0 / 255}, {128, 1.0 / 255},
	} {
		if got := Pixel(tt.b); math.Abs(float64(got-tt.want)) > 1e-7 {
			t.Errorf("Pixel(%d): got %v, want %v", tt.b, got, tt.want)
		}
	}
	for b := range 256 {
		if got := PixelByte(Pixel(byte(b))); got != byte(b) {
			t.Errorf("PixelByte(Pixel(%d)): got %d", b, got)
		}
		if Pixel(255-byte(b)) != -Pixel(byte(b)) {
			t.Errorf("Pixel(255−%d) = %v is not −Pixel(%d) = %v", b, Pixel(255-byte(b)), b, -Pixel(byte(b)))
		}
	}
	for _, tt := range []struct {
		x    float32
		want byte
	}{
		{2, 255}, {-3, 0}, {float32(math.NaN()), 0}, {float32(math.Inf(1)), 255}, {float32(math.Inf(-1)), 0},
		{0, 128}, // (0+1)·127.5 = 127.5 rounds half away from zero
		{-0.999, 0}, {0.999, 255},
	} {
		if got := PixelByte(tt.x); got != tt.want {
			t.Errorf("PixelByte(%v): got %d, want %d", tt.x, got, tt.want)
		}
	}
	dst := make([]byte, 3)
	PixelBytes(dst, []float32{-1, 0.6, 1})
	if !slices.Equal(dst, []byte{0, 204, 255}) {
		t.Errorf("PixelBytes: got %v, want [0 204 255]", dst)
	}
}

// numeric returns a 4-row, 2-column labelled dataset: row i is (i, 10i).
func numeric(t *testing.T) *Dataset {
	d, err := NewNumeric("n", 2, []float32{0, 0, 1, 10, 2, 20, 3, 30}, []int{0, 1, 2, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestNumericDataset(t *testing.T) {
	d := numeric(t)
	if d.Len() != 4 || d.Dim != 2 || d.Classes != 3 || d.IsImage() {
		t.Fatalf("got len %d dim %d classes %d image %t, want 4 2 3 false", d.Len(), d.Dim, d.Classes, d.IsImage())
	}
	dst := make([]float32, 6)
	d.Rows(dst, []int{3, 0, 3})
	if want := []float32{3, 30, 0, 0, 3, 30}; !slices.Equal(dst, want) {
		t.Errorf("Rows(3 0 3): got %v, want %v", dst, want)
	}
	s := d.Subset([]int{2, 1})
	d.Rows(dst[:4], []int{2, 1})
	got := make([]float32, 4)
	s.Rows(got, []int{0, 1})
	if !slices.Equal(got, dst[:4]) || !slices.Equal(s.Labels(), []int{2, 1}) || s.Classes != 3 || s.Len() != 2 {
		t.Errorf("Subset(2 1): got rows %v labels %v classes %d, want %v [2 1] 3", got, s.Labels(), s.Classes, dst[:4])
	}
	if s.MemSize() != 2*2*4+2*4 {
		t.Errorf("Subset MemSize: got %d, want %d", s.MemSize(), 2*2*4+2*4)
	}

	// Sample is deterministic given the rng and draws rows of the dataset.
	a, b := make([]float32, 2*50), make([]float32, 2*50)
	la := make([]int, 50)
	d.Sample(a, 50, rand.New(rand.NewPCG(3, 4)))
	d.SampleLabeled(b, la, 50, rand.New(rand.NewPCG(3, 4)))
	if !slices.Equal(a, b) {
		t.Error("Sample and SampleLabeled with the same seed differ")
	}
	seen := map[float32]bool{}
	for k := range 50 {
		i := a[2*k]
		if a[2*k+1] != 10*i || la[k] != []int{0, 1, 2, 1}[int(i)] {
			t.Fatalf("sample %d: got row (%v, %v) label %d, not a row of the dataset", k, a[2*k], a[2*k+1], la[k])
		}
		seen[i] = true
	}
	if len(seen) != 4 {
		t.Errorf("50 draws with replacement from 4 rows hit %d distinct rows, want 4", len(seen))
	}
}

func TestNewNumericErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		dim     int
		rows    []float32
		labels  []int
		classes int
	}{
		{"ragged", 3, []float32{1, 2, 3, 4}, nil, 0},
		{"zero dim", 0, nil, nil, 0},
		{"label count", 2, []float32{1, 2, 3, 4}, []int{0}, 1},
		{"label range", 2, []float32{1, 2, 3, 4}, []int{0, 2}, 2},
		{"negative label", 2, []float32{1, 2}, []int{-1}, 2},
	} {
		if _, err := NewNumeric("x", tt.dim, tt.rows, tt.labels, tt.classes); !errors.Is(err, ErrDataset) {
			t.Errorf("%s: got %v, want ErrDataset", tt.name, err)
		}
	}
}

func TestMerge(t *testing.T) {
	a := numeric(t)
	b, err := NewNumeric("m", 2, []float32{7, 70}, []int{4}, 5)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Merge("ab", a, b)
	if err != nil {
		t.Fatal(err)
	}
	// b's label 4 becomes 4 + a.Classes = 7; classes 3 + 5.
	if m.Len() != 5 || m.Classes != 8 || !slices.Equal(m.Labels(), []int{0, 1, 2, 1, 7}) {
		t.Errorf("got len %d classes %d labels %v, want 5 8 [0 1 2 1 7]", m.Len(), m.Classes, m.Labels())
	}
	row := make([]float32, 2)
	m.Row(row, 4)
	if !slices.Equal(row, []float32{7, 70}) {
		t.Errorf("row 4: got %v, want [7 70]", row)
	}

	img, err := LoadIDX("tiny", fixture("tiny-images-idx3-ubyte"), fixture("tiny-labels-idx1-ubyte"))
	if err != nil {
		t.Fatal(err)
	}
	mi, err := Merge("twice", img, img)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Len() != 4 || mi.Classes != 16 || !mi.IsImage() || mi.Height != 2 || mi.Width != 3 || !slices.Equal(mi.Labels(), []int{3, 7, 11, 15}) {
		t.Errorf("images: got len %d classes %d %d×%d labels %v, want 4 16 2×3 [3 7 11 15]", mi.Len(), mi.Classes, mi.Height, mi.Width, mi.Labels())
	}
	if _, err := Merge("bad", a, img); !errors.Is(err, ErrDataset) {
		t.Errorf("merging numeric and image data: got %v, want ErrDataset", err)
	}
	if _, err := Merge("none"); !errors.Is(err, ErrDataset) {
		t.Errorf("merging nothing: got %v, want ErrDataset", err)
	}
}

func TestDatasetPanics(t *testing.T) {
	d := numeric(t)
	for name, f := range map[string]func(){
		"Row out of range":    func() { d.Row(make([]float32, 2), 4) },
		"Row short dst":       func() { d.Row(make([]float32, 1), 0) },
		"Subset out of range": func() { d.Subset([]int{0, -1}) },
		"Sample empty":        func() { d.Subset(nil).Sample(make([]float32, 2), 1, rand.New(rand.NewPCG(1, 1))) },
		"RowBytes numeric":    func() { d.RowBytes(make([]byte, 2), 0) },
		"Label out of range":  func() { d.Label(9) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: did not panic", name)
				}
			}()
			f()
		}()
	}
}
