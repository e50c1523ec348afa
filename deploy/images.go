package deploy

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
)

// A device's share of an image (or CSV) data source is found in three
// steps, each deterministic given the topology's seed, so that every
// device computes its own share, and only its own, without talking to
// anyone:
//
//  1. the source's rows of the split (train by default) are cut into
//     data.parts equal random slices (data.IID) with a stream named after
//     the source, PCG(top, "slice/<kind>|<path>|<labels>|<split>"), so
//     that communities sharing a dataset (Fashion-MNIST part 0 and part 1
//     of 2) get disjoint slices that cover it;
//  2. slice data.part is divided among the community's devices that use
//     the community's data by the community's partition (iid, shards,
//     dirichlet) with the stream PCG(top, "partition/<community>"); a
//     device with its own data keeps the whole slice of that source, or,
//     with its own partition (config.DevicePartition), share part of
//     parts of it, split with the stream PCG(top, "partition/<stream>"):
//     the rows device part of community <stream> holds in a topology
//     with the same seed whose community splits that data among parts
//     devices;
//  3. the device reads only its rows (data.Source.LoadRows streams the
//     image file), and its labels are shifted by data.label_offset.

// imageData loads device j of community c's share of the image, IDX or
// CSV source d.
func imageData(top *config.Topology, c *config.Community, j int, d config.Data) (*data.Dataset, error) {
	src, idx, err := deviceRows(top, c, j, d)
	if err != nil {
		return nil, err
	}
	ds, err := src.load(idx)
	if err != nil {
		return nil, err
	}
	return OffsetLabels(ds, d.LabelOffset)
}

// DeviceRows returns the rows of its data source (ascending; of the
// split the configuration names) that device id holds, without loading
// them: what DeviceData loads.
func DeviceRows(top *config.Topology, id string) ([]int, error) {
	_, c, j, err := top.Device(id)
	if err != nil {
		return nil, err
	}
	_, idx, err := deviceRows(top, c, j, c.DeviceData(j))
	return idx, err
}

// deviceRows opens d and picks device j's rows of it.
func deviceRows(top *config.Topology, c *config.Community, j int, d config.Data) (*source, []int, error) {
	src, err := openSource(top, d)
	if err != nil {
		return nil, nil, err
	}
	labels, n, err := src.labels()
	if err != nil {
		return nil, nil, err
	}
	rows, err := sliceRows(top, d, n)
	if err != nil {
		return nil, nil, err
	}
	parts, pos := 1, 0
	part, stream := c.Partition, c.ID
	if dp := c.Devices[j].Partition; dp != nil {
		parts, pos, part, stream = dp.Parts, dp.Part, dp.Partition, dp.Stream
	} else if c.Devices[j].Data == nil {
		parts = 0
		for k := range c.Devices {
			if c.Devices[k].Data == nil {
				if k == j {
					pos = parts
				}
				parts++
			}
		}
	}
	var sub []int
	if labels != nil {
		sub = make([]int, len(rows))
		for k, i := range rows {
			sub[k] = labels[i]
		}
	} else {
		if part.Kind != "iid" && parts > 1 {
			return nil, nil, errf("community %s: partition %q needs labels, and %s has none", c.ID, part.Kind, src.name)
		}
		sub = make([]int, len(rows)) // IID needs only the count
	}
	scheme := data.Scheme{Kind: part.Kind, ClassesPerPart: part.ClassesPerDevice, Alpha: part.Alpha}
	split, err := scheme.Partition(sub, parts, rand.New(PCG(top, "partition/"+stream)))
	if err != nil {
		return nil, nil, fmt.Errorf("setup: community %s: %w", c.ID, err)
	}
	idx := split[pos]
	if len(idx) == 0 {
		return nil, nil, errf("device %s of community %s gets no rows of %s (%d rows in its slice, %d devices, partition %s)",
			c.Devices[j].ID, c.ID, src.name, len(rows), parts, part.Kind)
	}
	for k, i := range idx { // positions in the slice → rows of the source
		idx[k] = rows[i]
	}
	return src, idx, nil
}

// sliceRows returns the rows (ascending) of slice d.Part of d.Parts of a
// source of n rows. The datasets derived from MNIST's files are sliced as
// MNIST is, so that part k of one and part j ≠ k of another (the label-
// related scenario's domains) hold no image in common.
func sliceRows(top *config.Topology, d config.Data, n int) ([]int, error) {
	if d.Parts <= 1 {
		rows := make([]int, n)
		for i := range rows {
			rows[i] = i
		}
		return rows, nil
	}
	id := data.FilesOf(d.Kind) + "|" + d.Path + "|" + d.Labels + "|" + d.Split
	slices, err := data.IID(n, d.Parts, rand.New(PCG(top, "slice/"+id)))
	if err != nil {
		return nil, fmt.Errorf("setup: slicing %s into %d parts: %w", d.Kind, d.Parts, err)
	}
	return slices[d.Part], nil
}

// OffsetLabels returns ds with every label shifted by offset (and Classes
// grown by it): the labels of Fashion-MNIST become 10–19 beside MNIST's
// 0–9. ds is returned as is when offset is 0 or ds has no labels.
func OffsetLabels(ds *data.Dataset, offset int) (*data.Dataset, error) {
	if offset == 0 || ds.Classes == 0 {
		return ds, nil
	}
	if offset < 0 {
		return nil, errf("label_offset %d is negative", offset)
	}
	// Merge shifts each set's labels by the classes of the sets before it:
	// an empty set of `offset` classes in front shifts ds by offset.
	pad := ds.Subset(nil)
	pad.Classes = offset
	out, err := data.Merge(ds.Name, pad, ds)
	if err != nil {
		return nil, fmt.Errorf("setup: label offset: %w", err)
	}
	return out, nil
}

// source is one configured data source: image files, one IDX file, or a
// CSV file.
type source struct {
	name  string
	split data.Split
	// img is set for the built-in datasets and IDX folders.
	img *data.Source
	// whole is set for a single IDX file or a CSV file, read at once.
	whole *data.Dataset
}

func openSource(top *config.Topology, d config.Data) (*source, error) {
	s := &source{name: d.Kind}
	if d.Split == "test" {
		s.split = data.Test
	}
	path := top.Path(d.Path)
	switch {
	case data.Builtin(d.Kind):
		s.img = &data.Source{Name: d.Kind, Path: path}
	case d.Kind == "idx":
		s.name = "idx:" + d.Path
		st, err := os.Stat(path)
		if err != nil {
			return nil, idxMissing(d, path, err)
		}
		if st.IsDir() {
			s.img = &data.Source{Name: filepath.Base(path), Path: path}
			break
		}
		if d.Split == "test" {
			return nil, errf("idx data %s is one file, which has no test split; give a folder holding train- and t10k- files", d.Path)
		}
		if s.whole, err = data.LoadIDX(filepath.Base(path), path, top.Path(d.Labels)); err != nil {
			return nil, err
		}
	case d.Kind == "csv":
		s.name = "csv:" + d.Path
		ds, _, err := data.LoadCSV(path, nil)
		if err != nil {
			return nil, err
		}
		s.whole = ds
	default:
		return nil, errf("data kind %q is not an image, IDX or CSV source", d.Kind)
	}
	return s, nil
}

// idxMissing says what to do when an IDX source is not there. The
// centralized baseline's merged MNIST + Fashion-MNIST folder is written by
// `fedgan experiment` (or `fedgan eval merge`).
func idxMissing(d config.Data, path string, err error) error {
	return fmt.Errorf("setup: idx data %s not found (%w); give a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "+
		"t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz or one images file, or write the merged MNIST + Fashion-MNIST folder "+
		"with `fedgan eval merge -o %s`", d.Path, err, path)
}

// labels returns the split's labels (nil if it has none) and its rows.
func (s *source) labels() ([]int, int, error) {
	if s.whole != nil {
		return s.whole.Labels(), s.whole.Len(), nil
	}
	l, err := s.img.Labels(s.split)
	if err != nil {
		return nil, 0, err
	}
	if l == nil { // a user's IDX folder without label files
		ds, err := s.img.Load(s.split)
		if err != nil {
			return nil, 0, err
		}
		s.whole = ds
		return nil, ds.Len(), nil
	}
	return l, len(l), nil
}

// load reads rows idx.
func (s *source) load(idx []int) (*data.Dataset, error) {
	if s.whole != nil {
		return s.whole.Subset(idx), nil
	}
	return s.img.LoadRows(s.split, idx)
}

// RealData is the real data an image topology is evaluated against: every
// distinct image source its communities and devices hold, in order of
// first appearance, whole (every part), labels shifted by label_offset,
// concatenated. Train is the training split (what the evaluation
// classifier learns); Test is the test split (the reference for FID),
// or Train again for a source that has no test split (a single IDX file).
// Names lists the sources and TestSets holds each one's test split (in
// the same order; Test is their concatenation). Real returns a nil Train
// and no error when some community's data is not images (Gaussian or CSV).
type RealData struct {
	Train, Test *data.Dataset
	Names       []string
	TestSets    []*data.Dataset
}

// DomainReal loads the real data of the communities of domain d of the
// label-related topology top (Real of those communities) and returns
// their ids; with no community in domain d it returns no data, no ids and
// no error.
func DomainReal(top *config.Topology, d int) (*RealData, []string, error) {
	sub := *top
	sub.Communities = nil
	var ids []string
	for _, c := range top.Communities {
		if c.Domain != nil && *c.Domain == d {
			sub.Communities = append(sub.Communities, c)
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	rd, err := Real(&sub)
	return rd, ids, err
}

// Real loads the real data of top; see RealData.
func Real(top *config.Topology) (*RealData, error) {
	type key struct {
		kind, path, labels string
		offset             int
	}
	var order []config.Data
	seen := map[key]bool{}
	for i := range top.Communities {
		c := &top.Communities[i]
		for j := range c.Devices {
			d := c.DeviceData(j)
			if !data.Builtin(d.Kind) && d.Kind != "idx" {
				return &RealData{}, nil
			}
			k := key{d.Kind, top.Path(d.Path), top.Path(d.Labels), d.LabelOffset}
			if !seen[k] {
				seen[k] = true
				order = append(order, d)
			}
		}
	}
	out := &RealData{}
	var train, test []*data.Dataset
	for _, d := range order {
		tr, te, err := loadWhole(top, d)
		if err != nil {
			return nil, err
		}
		if tr, err = OffsetLabels(tr, d.LabelOffset); err != nil {
			return nil, err
		}
		if te, err = OffsetLabels(te, d.LabelOffset); err != nil {
			return nil, err
		}
		train, test = append(train, tr), append(test, te)
		name := d.Kind
		if d.Path != "" {
			name += ":" + d.Path
		}
		if d.LabelOffset != 0 {
			name += fmt.Sprintf(" (labels +%d)", d.LabelOffset)
		}
		out.Names = append(out.Names, name)
	}
	out.TestSets = test
	var err error
	if out.Train, err = mergeKeepingLabels("real-train", train); err != nil {
		return nil, err
	}
	if out.Test, err = mergeKeepingLabels("real-test", test); err != nil {
		return nil, err
	}
	return out, nil
}

// loadWhole reads both splits of d (the single file twice for an IDX file).
func loadWhole(top *config.Topology, d config.Data) (train, test *data.Dataset, err error) {
	d.Split = "train"
	src, err := openSource(top, d)
	if err != nil {
		return nil, nil, err
	}
	if src.whole != nil {
		return src.whole, src.whole, nil
	}
	if train, err = src.img.Load(data.Train); err != nil {
		return nil, nil, err
	}
	if test, err = src.img.Load(data.Test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// mergeKeepingLabels concatenates sets whose labels are already in one
// label space (offsets applied): unlike data.Merge it does not shift them.
func mergeKeepingLabels(name string, sets []*data.Dataset) (*data.Dataset, error) {
	if len(sets) == 1 {
		return sets[0], nil
	}
	classes := 0
	for _, s := range sets {
		classes = max(classes, s.Classes)
	}
	// data.Merge shifts set k by the classes of the sets before it; give
	// every set 0 classes, so that none is shifted, then set Classes.
	shallow := slices.Clone(sets)
	for k := range shallow {
		c := *sets[k]
		c.Classes = 0
		shallow[k] = &c
	}
	out, err := data.Merge(name, shallow...)
	if err != nil {
		return nil, fmt.Errorf("setup: real data: %w", err)
	}
	out.Classes = classes
	return out, nil
}
