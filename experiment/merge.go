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
	var img, lab bytes.Buffer
	gi, _ := gzip.NewWriterLevel(&img, gzip.BestSpeed)
	hdr := make([]byte, 16)
	binary.BigEndian.PutUint32(hdr[0:], 0x00000803)
	binary.BigEndian.PutUint32(hdr[4:], uint32(ds.Len()))
	binary.BigEndian.PutUint32(hdr[8:], uint32(ds.Height))
	binary.BigEndian.PutUint32(hdr[12:], uint32(ds.Width))
	gi.Write(hdr)
	row := make([]byte, ds.Dim)
	labels := make([]byte, ds.Len())
	for i := range ds.Len() {
		ds.RowBytes(row, i)
		gi.Write(row)
		labels[i] = byte(ds.Label(i))
	}
	if err := gi.Close(); err != nil {
		return err
	}
	gl := gzip.NewWriter(&lab)
	binary.BigEndian.PutUint32(hdr[0:], 0x00000801)
	binary.BigEndian.PutUint32(hdr[4:], uint32(ds.Len()))
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

// ensureIDXData writes the merged MNIST + Fashion-MNIST folder that the
// centralized baseline reads, from the i.i.d. topology, if it is missing.
func ensureIDXData(top *config.Topology, cfgDir string, stdout io.Writer) error {
	for _, c := range top.Communities {
		d := c.Data
		if d.Kind != "idx" {
			continue
		}
		path := top.Path(d.Path)
		if _, err := os.Stat(path); err == nil {
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
