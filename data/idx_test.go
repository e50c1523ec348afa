package data

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func fixture(name string) string { return filepath.Join("testdata", "idx", name) }

// The good fixture: 2 images of 2×3 pixels, labels 3 and 7.
var (
	tinyPixels = []byte{0, 255, 51, 204, 127, 128, 1, 2, 3, 4, 5, 6}
	tinyLabels = []int{3, 7}
)

func TestReadIDX(t *testing.T) {
	for _, name := range []string{"tiny-images-idx3-ubyte", "tiny-images-idx3-ubyte.gz"} {
		t.Run(name, func(t *testing.T) {
			idx, err := ReadIDX(fixture(name), 0)
			if err != nil {
				t.Fatal(err)
			}
			if idx.Type != IDXUint8 || !slices.Equal(idx.Dims, []int{2, 2, 3}) || !slices.Equal(idx.Data, tinyPixels) {
				t.Errorf("got type %v dims %v data %v, want uint8 [2 2 3] %v", idx.Type, idx.Dims, idx.Data, tinyPixels)
			}
			if got := idx.Elems(); got != 12 {
				t.Errorf("Elems: got %d, want 12", got)
			}
		})
	}
}

// TestReadIDXErrors checks that each corrupted fixture fails with the
// right sentinel, a *FileError naming the file, and a message that says
// what is wrong.
func TestReadIDXErrors(t *testing.T) {
	tests := []struct {
		file string
		is   error
		msg  string
	}{
		{"bad-magic-idx3-ubyte", ErrIDXMagic, "data: bad IDX magic number: got 0x08030000, want 0x0000TTNN with a known type TT and NN ≥ 1 dimensions"},
		{"unknown-type-idx3-ubyte", ErrIDXMagic, "got 0x00000703, want"},
		{"short-data-idx3-ubyte", ErrIDXShort, "data: IDX file is truncated: dimensions [2 2 3] of uint8 announce 12 payload bytes, file holds 10"},
		{"short-header-idx3-ubyte", ErrIDXShort, "header announces 3 dimensions (12 bytes), file holds 6"},
		{"trailing-idx3-ubyte", ErrIDXTrailing, "the 12 payload bytes are followed by more data"},
		{"huge-dims-idx3-ubyte", ErrIDXTooLarge, "dimensions [4294967295 4294967295 4294967295] of uint8 exceed the 1073741824-byte limit"},
		{"truncated-idx3-ubyte.gz", ErrIDXShort, "announce 12 payload bytes, file holds"},
		{"bad-crc-idx3-ubyte.gz", nil, "gzip: invalid checksum"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := fixture(tt.file)
			_, err := ReadIDX(path, 0)
			if err == nil {
				t.Fatal("got no error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("got %v, want errors.Is %v", err, tt.is)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != path {
				t.Errorf("got %#v, want a *FileError with Path %q", err, path)
			}
			if !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got message %q, want it to start with %q and contain %q", err, path+": ", tt.msg)
			}
		})
	}
}

// TestLoadIDXErrors checks the image/label consistency checks, and that
// the error names the file that is wrong.
func TestLoadIDXErrors(t *testing.T) {
	tests := []struct {
		name, images, labels string
		wrong                string // the file the error must name
		is                   error
		msg                  string
	}{
		{"labels 2-D", "tiny-images-idx3-ubyte", "labels-2d-idx1-ubyte", "labels-2d-idx1-ubyte", ErrIDXDims,
			"label file has dimensions [2 1], want one dimension (N)"},
		{"count mismatch", "tiny-images-idx3-ubyte", "labels-3-idx1-ubyte", "tiny-images-idx3-ubyte", ErrIDXDims,
			"image file holds 2 images but label file testdata/idx/labels-3-idx1-ubyte holds 3 labels"},
		{"images 1-D", "images-1d-idx1-ubyte", "", "images-1d-idx1-ubyte", ErrIDXDims,
			"image file has dimensions [12], want N×rows×cols or N×features"},
		{"float images", "float-images-idx3-ubyte", "", "float-images-idx3-ubyte", ErrIDXType,
			"image file holds float32, want uint8"},
		{"labels are images", "tiny-images-idx3-ubyte", "tiny-images-idx3-ubyte", "tiny-images-idx3-ubyte", ErrIDXDims,
			"label file has dimensions [2 2 3]"},
		{"short images with good labels", "short-data-idx3-ubyte", "tiny-labels-idx1-ubyte", "short-data-idx3-ubyte", ErrIDXShort,
			"file holds 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lp := ""
			if tt.labels != "" {
				lp = fixture(tt.labels)
			}
			_, err := LoadIDX("tiny", fixture(tt.images), lp)
			if !errors.Is(err, tt.is) {
				t.Fatalf("got %v, want errors.Is %v", err, tt.is)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != fixture(tt.wrong) {
				t.Errorf("got %v, want a *FileError naming %s", err, fixture(tt.wrong))
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got message %q, want it to contain %q", err, tt.msg)
			}
		})
	}
}

func TestLoadIDX(t *testing.T) {
	d, err := LoadIDX("tiny", fixture("tiny-images-idx3-ubyte.gz"), fixture("tiny-labels-idx1-ubyte"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Dim != 6 || d.Height != 2 || d.Width != 3 || d.Classes != 8 || !d.IsImage() {
		t.Fatalf("got len %d dim %d %d×%d classes %d image %t, want 2, 6, 2×3, 8 (largest label 7 + 1), true",
			d.Len(), d.Dim, d.Height, d.Width, d.Classes, d.IsImage())
	}
	row := make([]float32, 6)
	d.Row(row, 0)
	// b/127.5 − 1 for 0 255 51 204 127 128.
	want := []float32{-1, 1, -0.6, 0.6, -1.0 / 255, 1.0 / 255}
	for j := range want {
		if diff := row[j] - want[j]; diff > 1e-6 || diff < -1e-6 {
			t.Errorf("row 0 value %d: got %v, want %v", j, row[j], want[j])
		}
	}
	if got := d.Labels(); !slices.Equal(got, tinyLabels) {
		t.Errorf("labels: got %v, want %v", got, tinyLabels)
	}
	// Without labels.
	u, err := LoadIDX("tiny", fixture("tiny-images-idx3-ubyte"), "")
	if err != nil {
		t.Fatal(err)
	}
	if u.Classes != 0 || u.Label(1) != -1 || u.Labels() != nil {
		t.Errorf("unlabelled: got classes %d, label %d, labels %v; want 0, −1, nil", u.Classes, u.Label(1), u.Labels())
	}
}

// TestSourceDir reads a user's dataset through a Source directory holding
// a gzip image file and a plain label file.
func TestSourceDir(t *testing.T) {
	src := Source{Name: "tiny", Path: filepath.Join("testdata", "tiny")}
	d, err := src.Load(Train)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 12)
	d.RowBytes(got[:6], 0)
	d.RowBytes(got[6:], 1)
	if !slices.Equal(got, tinyPixels) || !slices.Equal(d.Labels(), tinyLabels) || d.Name != "tiny" {
		t.Errorf("got %s pixels %v labels %v, want tiny %v %v", d.Name, got, d.Labels(), tinyPixels, tinyLabels)
	}
	labels, err := src.Labels(Train)
	if err != nil || !slices.Equal(labels, tinyLabels) {
		t.Errorf("Labels: got %v, %v; want %v", labels, err, tinyLabels)
	}

	// LoadRows keeps the requested order and repeats.
	r, err := src.LoadRows(Train, []int{1, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	got = make([]byte, 18)
	for k := range 3 {
		r.RowBytes(got[6*k:], k)
	}
	want := slices.Concat(tinyPixels[6:], tinyPixels[:6], tinyPixels[6:])
	if !slices.Equal(got, want) || !slices.Equal(r.Labels(), []int{7, 3, 7}) {
		t.Errorf("LoadRows(1 0 1): got %v labels %v, want %v labels [7 3 7]", got, r.Labels(), want)
	}
	if r.Classes != 8 {
		t.Errorf("LoadRows keeps the file's classes: got %d, want 8", r.Classes)
	}
	if _, err := src.LoadRows(Train, []int{2}); !errors.Is(err, ErrDataset) || !strings.Contains(err.Error(), "row 2 outside the 2 images") {
		t.Errorf("LoadRows(2): got %v, want ErrDataset naming row 2", err)
	}

	// The test split is missing: the error names both file names tried.
	_, err = src.Load(Test)
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(Test): got %v, want a *NotFoundError wrapping ErrNotFound and fs.ErrNotExist", err)
	}
	wantTried := []string{filepath.Join("testdata", "tiny", "t10k-images-idx3-ubyte.gz"), filepath.Join("testdata", "tiny", "t10k-images-idx3-ubyte")}
	if !slices.Equal(nf.Tried, wantTried) || !strings.Contains(err.Error(), "set path: to a directory holding") {
		t.Errorf("Load(Test): got tried %v, message %q; want %v and a hint", nf.Tried, err, wantTried)
	}
}
