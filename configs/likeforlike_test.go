package configs_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/deploy"
)

// baselines pairs each baseline configuration with the FR configuration
// whose data it must hold.
var baselines = []struct{ baseline, fr string }{
	{"mdgan-gaussian.yaml", "gaussian.yaml"},
	{"mdgan-grid25.yaml", "grid25.yaml"},
	{"mdgan-mnist-fmnist-iid.yaml", "mnist-fmnist-iid.yaml"},
	{"mdgan-mnist-fmnist-noniid.yaml", "mnist-fmnist-noniid.yaml"},
}

// TestLikeForLike is the like-for-like guarantee of the M-D GAN
// baselines: every device of the FR file is a device of the M-D GAN file
// (and no other), and the two build the same local dataset for it, row
// for row and label for label, for the files' seed and for another (the
// quality measurements change the seed of both). The M-D GAN file is the
// FR file in one community, with uniform weights and no server step.
func TestLikeForLike(t *testing.T) {
	for _, b := range baselines {
		t.Run(b.baseline, func(t *testing.T) {
			md, fr := load(t, b.baseline), load(t, b.fr)
			if fr.Model.DataDim == 784 && !haveImages() {
				t.Skip("MNIST or Fashion-MNIST not available")
			}
			if len(md.Communities) != 1 || md.Training.Weights != "uniform" || md.Training.ServerOptimizer != "none" {
				t.Fatalf("%d communities, weights %s, server_optimizer %s; want 1, uniform, none",
					len(md.Communities), md.Training.Weights, md.Training.ServerOptimizer)
			}
			if got, want := deviceIDs(md), deviceIDs(fr); !slices.Equal(got, want) {
				t.Fatalf("devices %v, want the FR file's %v", got, want)
			}
			for _, seed := range []uint64{fr.Seed, 7} {
				md.Seed, fr.Seed = seed, seed
				for _, id := range deviceIDs(fr) {
					// Images are compared row for row once; for the other
					// seed the rows picked from the source are.
					sameData(t, seed, id, md, fr, seed == 7 || testing.Short())
				}
			}
			if g, w := md.ClassShares(), fr.ClassShares(); !slices.EqualFunc(g, w, close) {
				t.Errorf("class shares %v, want the FR file's %v", g, w)
			}
			if g, w := deploy.GlobalMixture(md), deploy.GlobalMixture(fr); (g == nil) != (w == nil) || g != nil && !sameMixture(g, w) {
				t.Errorf("global mixture %+v, want the FR file's %+v", g, w)
			}
		})
	}
}

// TestCentralizedGaussian: the centralized Gaussian baselines learn the
// distribution the FR files' global G should learn (deploy.GlobalMixture),
// from one device holding as many rows as all the FR file's devices.
func TestCentralizedGaussian(t *testing.T) {
	for _, b := range []struct{ cent, fr string }{
		{"centralized-gaussian.yaml", "gaussian.yaml"},
		{"centralized-grid25.yaml", "grid25.yaml"},
	} {
		cent, fr := load(t, b.cent), load(t, b.fr)
		if n := len(deviceIDs(cent)); len(cent.Communities) != 1 || n != 1 {
			t.Fatalf("%s: %d communities, %d devices; want one of one", b.cent, len(cent.Communities), n)
		}
		if g, w := deploy.GlobalMixture(cent), deploy.GlobalMixture(fr); !sameMixture(g, w) {
			t.Errorf("%s: mixture %+v, want %s's %+v", b.cent, g, b.fr, w)
		}
		var rows int
		for i := range fr.Communities {
			for j := range fr.Communities[i].Devices {
				rows += fr.Communities[i].DeviceData(j).Samples
			}
		}
		if got := cent.Communities[0].Data.Samples; got != rows {
			t.Errorf("%s: %d rows, want %s's %d", b.cent, got, b.fr, rows)
		}
	}
}

func load(t *testing.T, file string) *config.Topology {
	t.Helper()
	top, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return top
}

func haveImages() bool {
	for _, ds := range []data.Source{{Name: data.MNIST}, {Name: data.FashionMNIST}} {
		if _, err := ds.Dir(); err != nil {
			return false
		}
	}
	return true
}

// deviceIDs lists top's device ids in file order.
func deviceIDs(top *config.Topology) []string {
	var ids []string
	for _, c := range top.Communities {
		for _, d := range c.Devices {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

// sameData fails t unless device id's local data is the same in a and b.
// With picked, for image data, it compares the rows picked from the same
// source (deploy.DeviceRows) instead of loading them.
func sameData(t *testing.T, seed uint64, id string, a, b *config.Topology, picked bool) {
	t.Helper()
	if picked && a.Model.DataDim == 784 {
		ra, err := deploy.DeviceRows(a, id)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := deploy.DeviceRows(b, id)
		if err != nil {
			t.Fatal(err)
		}
		if sa, sb := source(t, a, id), source(t, b, id); sa != sb || !slices.Equal(ra, rb) {
			t.Fatalf("seed %d, device %s: rows %d… of %s, want %d… of %s", seed, id, ra[:3], sa, rb[:3], sb)
		}
		return
	}
	x, err := deploy.DeviceData(a, id)
	if err != nil {
		t.Fatal(err)
	}
	y, err := deploy.DeviceData(b, id)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != y.Len() || x.Dim != y.Dim || x.Classes != y.Classes {
		t.Fatalf("seed %d, device %s: %d rows of %d values, %d classes; want %d, %d, %d", seed, id, x.Len(), x.Dim, x.Classes, y.Len(), y.Dim, y.Classes)
	}
	if !slices.Equal(x.Labels(), y.Labels()) {
		t.Fatalf("seed %d, device %s: labels differ", seed, id)
	}
	rx, ry := make([]float32, x.Dim), make([]float32, y.Dim)
	for i := range x.Len() {
		x.Row(rx, i)
		y.Row(ry, i)
		if !slices.Equal(rx, ry) {
			t.Fatalf("seed %d, device %s: row %d differs", seed, id, i)
		}
	}
}

func close(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// sameMixture reports whether a and b have the same modes with the same
// spreads and probabilities (in any order).
func sameMixture(a, b *data.Mixture) bool {
	if a == nil || b == nil || len(a.Means) != len(b.Means) {
		return false
	}
	pa, pb := a.Probs(), b.Probs()
	for i, mu := range a.Means {
		k := slices.IndexFunc(b.Means, func(m []float64) bool { return slices.Equal(m, mu) })
		if k < 0 || a.Std[i] != b.Std[k] || !close(pa[i], pb[k]) {
			return false
		}
	}
	return true
}

// source names device id's image source and its labels in top.
func source(t *testing.T, top *config.Topology, id string) string {
	t.Helper()
	_, c, j, err := top.Device(id)
	if err != nil {
		t.Fatal(err)
	}
	d := c.DeviceData(j)
	return fmt.Sprintf("%s|%s|%s|%s|labels +%d|%d classes", d.Kind, top.Path(d.Path), top.Path(d.Labels), d.Split, d.LabelOffset, d.Classes)
}
