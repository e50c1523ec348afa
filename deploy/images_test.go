package deploy_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
)

// writeIDXFolder writes n images of 2×2 pixels as an IDX folder (train
// and t10k files, plain): pixel p of image i is byte(i) + p·64 wrapped,
// so a row tells which image it is; labels are i mod classes.
func writeIDXFolder(t *testing.T, dir string, n, classes int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, base := range []string{"train", "t10k"} {
		img := binary.BigEndian.AppendUint32(nil, 0x00000803)
		img = binary.BigEndian.AppendUint32(img, uint32(n))
		img = binary.BigEndian.AppendUint32(img, 2)
		img = binary.BigEndian.AppendUint32(img, 2)
		lab := binary.BigEndian.AppendUint32(nil, 0x00000801)
		lab = binary.BigEndian.AppendUint32(lab, uint32(n))
		for i := range n {
			for p := range 4 {
				img = append(img, byte(i+64*p))
			}
			lab = append(lab, byte(i%classes))
		}
		if err := os.WriteFile(filepath.Join(dir, base+"-images-idx3-ubyte"), img, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, base+"-labels-idx1-ubyte"), lab, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// topology parses a test topology whose relative paths resolve in dir.
func topology(t *testing.T, dir, yaml string) *config.Topology {
	t.Helper()
	top, err := config.FromBytes([]byte(yaml), "test.yaml", dir)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

const head = `
name: t
seed: 7
model: {latent: 2, data_dim: 4, generator: [4], discriminator: [4]}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
`

// TestDeviceDataIDX checks the three steps on a folder of 40 images: the
// two communities sharing the folder get disjoint halves, each device a
// disjoint fifth of its half, and the rows a device loads are exactly
// those rows, with the label offset applied.
func TestDeviceDataIDX(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "set"), 40, 4)
	top := topology(t, dir, head+`
  - id: a
    data: {kind: idx, path: set, part: 0, parts: 2}
    edge: {allow_anonymous: true}
    device_count: 4
  - id: b
    data: {kind: idx, path: set, part: 1, parts: 2, label_offset: 4}
    edge: {allow_anonymous: true}
    device_count: 4
`)
	var all []int
	for _, c := range top.Communities {
		for _, d := range c.Devices {
			idx, err := deploy.DeviceRows(top, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(idx) != 5 {
				t.Errorf("%s: got %d rows, want 40/2/4 = 5", d.ID, len(idx))
			}
			if !slices.IsSorted(idx) {
				t.Errorf("%s: rows %v not ascending", d.ID, idx)
			}
			again, _ := deploy.DeviceRows(top, d.ID)
			if !slices.Equal(idx, again) {
				t.Errorf("%s: rows %v then %v: not deterministic", d.ID, idx, again)
			}
			ds, err := deploy.DeviceData(top, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != len(idx) {
				t.Fatalf("%s: loaded %d rows, want %d", d.ID, ds.Len(), len(idx))
			}
			offset, classes := 0, 4
			if c.ID == "b" {
				offset, classes = 4, 8
			}
			if ds.Classes != classes {
				t.Errorf("%s: Classes %d, want %d", d.ID, ds.Classes, classes)
			}
			row := make([]byte, 4)
			for k, i := range idx {
				ds.RowBytes(row, k)
				if want := []byte{byte(i), byte(i + 64), byte(i + 128), byte(i + 192)}; !slices.Equal(row, want) {
					t.Errorf("%s: row %d is %v, want image %d = %v", d.ID, k, row, i, want)
				}
				if got, want := ds.Label(k), i%4+offset; got != want {
					t.Errorf("%s: label of image %d is %d, want %d", d.ID, i, got, want)
				}
			}
			all = append(all, idx...)
		}
	}
	slices.Sort(all)
	for i, v := range all {
		if v != i {
			t.Fatalf("the devices hold rows %v; want every one of 0..39 exactly once", all)
		}
	}
	if len(all) != 40 {
		t.Fatalf("the devices hold %d rows, want 40", len(all))
	}
}

// TestDeviceDataSeed checks that the partition follows the topology's
// seed.
func TestDeviceDataSeed(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "set"), 40, 4)
	rows := func(seed string) []int {
		top := topology(t, dir, strings.Replace(head, "seed: 7", "seed: "+seed, 1)+`
  - id: a
    data: {kind: idx, path: set}
    edge: {allow_anonymous: true}
    device_count: 4
`)
		idx, err := deploy.DeviceRows(top, "a-d1")
		if err != nil {
			t.Fatal(err)
		}
		return idx
	}
	if a, b := rows("7"), rows("8"); slices.Equal(a, b) {
		t.Errorf("seeds 7 and 8 give the same rows %v", a)
	}
}

// TestDeviceDataShards checks the label-skew partition: two classes per
// device.
func TestDeviceDataShards(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "set"), 80, 8)
	top := topology(t, dir, head+`
  - id: a
    data: {kind: idx, path: set}
    partition: {kind: shards, classes_per_device: 2}
    edge: {allow_anonymous: true}
    device_count: 4
`)
	seen := map[int]string{}
	for _, d := range top.Communities[0].Devices {
		ds, err := deploy.DeviceData(top, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		classes := map[int]bool{}
		for k := range ds.Len() {
			classes[ds.Label(k)] = true
		}
		if len(classes) != 2 || ds.Len() != 20 {
			t.Errorf("%s: %d rows of classes %v, want 20 rows of 2 classes", d.ID, ds.Len(), classes)
		}
		for c := range classes {
			if other, dup := seen[c]; dup {
				t.Errorf("class %d held by %s and %s", c, other, d.ID)
			}
			seen[c] = d.ID
		}
	}
}

// TestDeviceDataOverride checks that a device with its own data keeps all
// of it and is not counted among the devices sharing the community's.
func TestDeviceDataOverride(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "set"), 30, 3)
	writeIDXFolder(t, filepath.Join(dir, "own"), 7, 7)
	top := topology(t, dir, head+`
  - id: a
    data: {kind: idx, path: set}
    edge: {allow_anonymous: true}
    devices:
      - {id: x}
      - {id: y, data: {kind: idx, path: own}}
      - {id: z}
`)
	for _, tc := range []struct {
		id   string
		rows int
	}{{"x", 15}, {"y", 7}, {"z", 15}} {
		ds, err := deploy.DeviceData(top, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if ds.Len() != tc.rows {
			t.Errorf("%s: got %d rows, want %d", tc.id, ds.Len(), tc.rows)
		}
	}
}

// TestDeviceDataSources covers a single IDX file, the test split, and a
// CSV file.
func TestDeviceDataSources(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "set"), 12, 3)
	csv := "a,b\n1,10\n2,20\n3,30\n4,40\n"
	if err := os.WriteFile(filepath.Join(dir, "r.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	top := topology(t, dir, head+`
  - id: file
    data: {kind: idx, path: set/train-images-idx3-ubyte, labels: set/train-labels-idx1-ubyte}
    edge: {allow_anonymous: true}
    device_count: 3
  - id: test
    data: {kind: idx, path: set, split: test}
    edge: {allow_anonymous: true}
    device_count: 2
  - id: csv
    data: {kind: csv, path: r.csv}
    edge: {allow_anonymous: true}
    device_count: 2
`)
	top.Model.DataDim = 2 // for the CSV rows; DeviceData does not check it
	for _, tc := range []struct {
		id            string
		rows, classes int
	}{{"file-d1", 4, 3}, {"test-d2", 6, 3}, {"csv-d1", 2, 0}} {
		ds, err := deploy.DeviceData(top, tc.id)
		if err != nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		if ds.Len() != tc.rows || ds.Classes != tc.classes {
			t.Errorf("%s: %d rows of %d classes, want %d of %d", tc.id, ds.Len(), ds.Classes, tc.rows, tc.classes)
		}
	}
}

func TestDeviceDataErrors(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "set"), 4, 2)
	if err := os.WriteFile(filepath.Join(dir, "r.csv"), []byte("a\n1\n2\n3\n4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, community, want string
	}{
		{"missing folder", `{kind: idx, path: nowhere}`, "fedgan eval merge"},
		{"shards without labels", `{kind: csv, path: r.csv}
    partition: {kind: shards, classes_per_device: 1}`, "needs labels"},
		{"more devices than rows", `{kind: idx, path: set}`, "gets no rows"},
		{"one file has no test split", `{kind: idx, path: set/t10k-images-idx3-ubyte, split: test}`, "no test split"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := topology(t, dir, head+`
  - id: a
    data: `+tc.community+`
    edge: {allow_anonymous: true}
    device_count: 5
`)
			_, err := deploy.DeviceData(top, "a-d5")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestOffsetLabels(t *testing.T) {
	ds, err := data.NewNumeric("n", 1, []float32{1, 2, 3}, []int{0, 2, 1}, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := deploy.OffsetLabels(ds, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got.Classes != 13 || !slices.Equal(got.Labels(), []int{10, 12, 11}) || got.Len() != 3 {
		t.Errorf("got %d rows, labels %v of %d classes; want 3 rows, labels [10 12 11] of 13", got.Len(), got.Labels(), got.Classes)
	}
	row := make([]float32, 1)
	got.Row(row, 2)
	if row[0] != 3 {
		t.Errorf("row 2 is %v, want [3]", row)
	}
	if same, _ := deploy.OffsetLabels(ds, 0); same != ds {
		t.Errorf("offset 0 made a copy")
	}
	if _, err := deploy.OffsetLabels(ds, -1); err == nil {
		t.Errorf("offset -1: no error")
	}
}

// TestReal checks the evaluation data: each distinct source once, whole
// (every part), offsets applied, in order of appearance.
func TestReal(t *testing.T) {
	dir := t.TempDir()
	writeIDXFolder(t, filepath.Join(dir, "one"), 6, 3)
	writeIDXFolder(t, filepath.Join(dir, "two"), 4, 2)
	top := topology(t, dir, head+`
  - id: a
    data: {kind: idx, path: one}
    edge: {allow_anonymous: true}
    device_count: 2
  - id: b
    data: {kind: idx, path: two, part: 0, parts: 2, label_offset: 3}
    edge: {allow_anonymous: true}
    device_count: 1
  - id: c
    data: {kind: idx, path: two, part: 1, parts: 2, label_offset: 3}
    edge: {allow_anonymous: true}
    device_count: 1
`)
	rd, err := deploy.Real(top)
	if err != nil {
		t.Fatal(err)
	}
	want := []int{0, 1, 2, 0, 1, 2, 3, 4, 3, 4}
	for _, ds := range []*data.Dataset{rd.Train, rd.Test} {
		if !slices.Equal(ds.Labels(), want) || ds.Classes != 5 {
			t.Errorf("%s: labels %v of %d classes, want %v of 5", ds.Name, ds.Labels(), ds.Classes, want)
		}
	}
	if len(rd.Names) != 2 || len(rd.TestSets) != 2 || rd.TestSets[1].Len() != 4 {
		t.Errorf("got sources %v with %d test sets, want 2 sources, the second of 4 rows", rd.Names, len(rd.TestSets))
	}

	gauss := topology(t, dir, strings.Replace(head, "data_dim: 4", "data_dim: 2", 1)+`
  - id: g
    data: {kind: gaussian, means: [[0, 0]], std: 1}
    edge: {allow_anonymous: true}
    device_count: 1
`)
	if rd, err := deploy.Real(gauss); err != nil || rd.Train != nil {
		t.Errorf("gaussian topology: got %v, %v; want no image data and no error", rd, err)
	}
}

// TestPaperSplit checks the device rows of configs/mnist-fmnist-*.yaml
// from the label files alone: MNIST in fifths over c1's devices, each
// half of Fashion-MNIST in fifths over c2's and c3's, all disjoint; in
// the non-i.i.d. file two classes per device.
func TestPaperSplit(t *testing.T) {
	mnist, err := data.Source{Name: data.MNIST}.Labels(data.Train)
	if err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	fashion, err := data.Source{Name: data.FashionMNIST}.Labels(data.Train)
	if err != nil {
		t.Skipf("Fashion-MNIST not available: %v", err)
	}
	for _, file := range []string{"mnist-fmnist-iid.yaml", "mnist-fmnist-noniid.yaml"} {
		t.Run(file, func(t *testing.T) {
			top, err := config.Load(filepath.Join("..", "configs", file))
			if err != nil {
				t.Fatal(err)
			}
			held := map[string][]int{}
			for _, c := range top.Communities {
				labels, ds := mnist, data.MNIST
				if c.ID != "c1" {
					labels, ds = fashion, data.FashionMNIST
				}
				if c.Data.Kind != ds {
					t.Fatalf("community %s holds %s, want %s", c.ID, c.Data.Kind, ds)
				}
				for _, d := range c.Devices {
					idx, err := deploy.DeviceRows(top, d.ID)
					if err != nil {
						t.Fatal(err)
					}
					held[ds] = append(held[ds], idx...)
					classes := map[int]bool{}
					for _, i := range idx {
						classes[labels[i]] = true
					}
					if strings.Contains(file, "noniid") && len(classes) != 2 {
						t.Errorf("%s: %d classes, want 2", d.ID, len(classes))
					}
					want := 12000 // MNIST over 5 devices
					if ds == data.FashionMNIST {
						want = 6000 // half of Fashion-MNIST over 5 devices
					}
					if !strings.Contains(file, "noniid") && len(idx) != want {
						t.Errorf("%s: %d rows, want %d", d.ID, len(idx), want)
					}
				}
			}
			for ds, rows := range held {
				slices.Sort(rows)
				n := len(rows)
				if distinct := len(slices.Compact(rows)); n != 60000 || distinct != 60000 {
					t.Errorf("%s: the devices hold %d rows (%d distinct), want each of the 60000 once", ds, n, distinct)
				}
			}
		})
	}
}

// TestLRDomainsSplit: the label-related files' domains are MNIST and
// datasets derived from its files, each community holding its own part,
// so no training image is in two domains and every one is in one.
func TestLRDomainsSplit(t *testing.T) {
	if _, err := (data.Source{Name: data.MNIST}).Dir(); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	files, err := filepath.Glob(filepath.Join("..", "configs", "lr-*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no lr-*.yaml files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			top, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			var held []int
			kinds := map[string]bool{}
			for _, c := range top.Communities {
				if data.FilesOf(c.Data.Kind) != data.MNIST {
					t.Fatalf("community %s holds %s, not a dataset of MNIST's files", c.ID, c.Data.Kind)
				}
				kinds[c.Data.Kind] = true
				for _, d := range c.Devices {
					idx, err := deploy.DeviceRows(top, d.ID)
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, idx...)
				}
			}
			if len(kinds) != len(top.Communities) {
				t.Errorf("%d communities hold %d kinds of data, want one domain each", len(top.Communities), len(kinds))
			}
			slices.Sort(held)
			n := len(held)
			if distinct := len(slices.Compact(held)); n != 60000 || distinct != 60000 {
				t.Errorf("the devices hold %d rows (%d distinct), want each of MNIST's 60000 once", n, distinct)
			}
		})
	}
}
