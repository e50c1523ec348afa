package experiment

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
	"github.com/fedgan/fedgan/internal/atomicfile"
)

// MergeRealData writes top's real data (deploy.Real: every image dataset,
// whole, labels offset) as an IDX folder in dir: train-images-idx3-ubyte.gz,
// train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
// t10k-labels-idx1-ubyte.gz. For the paper's split it is MNIST followed by
// Fashion-MNIST (labels 10–19): 120,000 training images of 20 classes,
// the data of the centralized baseline. Its rows and labels are those of
// deploy.Real, so the evaluation classifier's key, and so the classifier,
// is the same for both topologies.
func MergeRealData(top *config.Topology, dir string, stdout io.Writer) error {
	rd, err := deploy.Real(top)
	if err != nil {
		return err
	}
	if rd.Train == nil || rd.Train.Height == 0 {
		return fmt.Errorf("eval merge: %s holds no image data of one shape", top.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range []struct {
		ds   *data.Dataset
		base string
	}{{rd.Train, "train"}, {rd.Test, "t10k"}} {
		if err := writeIDX(filepath.Join(dir, s.base+"-images-idx3-ubyte.gz"), filepath.Join(dir, s.base+"-labels-idx1-ubyte.gz"), s.ds); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s: %d %s images of %d classes from %s\n", dir, s.ds.Len(), s.base, s.ds.Classes, strings.Join(rd.Names, " + "))
	}
	return nil
}

// writeIDX writes an image dataset as gzip-compressed IDX files (magic
// 0x00000803 N×H×W bytes, and 0x00000801 N label bytes).
func writeIDX(imagesPath, labelsPath string, ds *data.Dataset) error {
	if ds.Classes > 256 {
		return fmt.Errorf("eval merge: %d classes do not fit IDX label bytes", ds.Classes)
	}
	return writeIDXOf(imagesPath, labelsPath, []labelled{{ds, -1}})
}

// labelled is an image dataset whose rows are written with their own
// labels (label < 0) or all with label.
type labelled struct {
	ds    *data.Dataset
	label int
}

// writeIDXOf writes the rows of sets, in order, as one pair of
// gzip-compressed IDX files. The sets must hold images of one shape.
func writeIDXOf(imagesPath, labelsPath string, sets []labelled) error {
	n, h, w := 0, sets[0].ds.Height, sets[0].ds.Width
	for _, s := range sets {
		if s.ds.Height != h || s.ds.Width != w {
			return fmt.Errorf("eval merge: images of %d×%d and %d×%d", h, w, s.ds.Height, s.ds.Width)
		}
		n += s.ds.Len()
	}
	var img, lab bytes.Buffer
	gi, _ := gzip.NewWriterLevel(&img, gzip.BestSpeed)
	hdr := make([]byte, 16)
	binary.BigEndian.PutUint32(hdr[0:], 0x00000803)
	binary.BigEndian.PutUint32(hdr[4:], uint32(n))
	binary.BigEndian.PutUint32(hdr[8:], uint32(h))
	binary.BigEndian.PutUint32(hdr[12:], uint32(w))
	gi.Write(hdr)
	row := make([]byte, h*w)
	labels := make([]byte, 0, n)
	for _, s := range sets {
		for i := range s.ds.Len() {
			s.ds.RowBytes(row, i)
			gi.Write(row)
			y := s.label
			if y < 0 {
				y = s.ds.Label(i)
			}
			labels = append(labels, byte(y))
		}
	}
	if err := gi.Close(); err != nil {
		return err
	}
	gl := gzip.NewWriter(&lab)
	binary.BigEndian.PutUint32(hdr[0:], 0x00000801)
	binary.BigEndian.PutUint32(hdr[4:], uint32(n))
	gl.Write(hdr[:8])
	gl.Write(labels)
	if err := gl.Close(); err != nil {
		return err
	}
	if err := atomicfile.Write(imagesPath, img.Bytes(), 0o644); err != nil {
		return err
	}
	return atomicfile.Write(labelsPath, lab.Bytes(), 0o644)
}

// MergeDomains writes the data of the centralized multi-domain baseline
// of Table 2 as an IDX folder in dir: the training rows every device of
// the label-related topology lr holds, and every domain's real test
// images, each labelled with its domain index (so a class-conditional G
// of the folder takes the LR G's input columns). No image is in two
// domains when the LR file's communities hold disjoint parts.
func MergeDomains(lr *config.Topology, dir string, stdout io.Writer) error {
	if lr.Domains() == 0 {
		return fmt.Errorf("eval merge: %s is not a label-related topology", lr.Name)
	}
	var train, test []labelled
	for d := range lr.Domains() {
		rd, ids, err := deploy.DomainReal(lr, d)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return fmt.Errorf("eval merge: domain %d of %s has no community", d, lr.Name)
		}
		for _, id := range ids {
			c, err := lr.Community(id)
			if err != nil {
				return err
			}
			for _, dev := range c.Devices {
				ds, err := deploy.DeviceData(lr, dev.ID)
				if err != nil {
					return err
				}
				train = append(train, labelled{ds, d})
			}
		}
		test = append(test, labelled{rd.Test, d})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, s := range []struct {
		sets []labelled
		base string
	}{{train, "train"}, {test, "t10k"}} {
		if err := writeIDXOf(filepath.Join(dir, s.base+"-images-idx3-ubyte.gz"), filepath.Join(dir, s.base+"-labels-idx1-ubyte.gz"), s.sets); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s: the %d domains of %s, each image labelled with its domain\n", dir, lr.Domains(), lr.Name)
	return nil
}

// ensureIDXData writes the IDX folder a run reads if it is missing: for
// r.DomainsOf, MergeDomains of that file; otherwise the merged MNIST +
// Fashion-MNIST folder of the centralized baseline, from the i.i.d.
// topology.
func ensureIDXData(top *config.Topology, r Run, cfgDir string, stdout io.Writer) error {
	for _, c := range top.Communities {
		d := c.Data
		if d.Kind != "idx" {
			continue
		}
		path := top.Path(d.Path)
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if r.DomainsOf != "" {
			lr, err := config.Load(filepath.Join(cfgDir, r.DomainsOf))
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "experiment: writing the domains of %s to %s\n", r.DomainsOf, path)
			if err := MergeDomains(lr, path, stdout); err != nil {
				return err
			}
			continue
		}
		iid, err := config.Load(filepath.Join(cfgDir, "mnist-fmnist-iid.yaml"))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "experiment: writing the centralized baseline's data to %s\n", path)
		if err := MergeRealData(iid, path, stdout); err != nil {
			return err
		}
	}
	return nil
}
