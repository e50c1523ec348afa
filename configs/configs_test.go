package configs_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedgan/fedgan/cli"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/sim"
)

// TestClassShares checks that the global generator of the image
// configurations draws MNIST and Fashion-MNIST half and half, as the data:
// each of the 20 classes a twentieth of the time.
func TestClassShares(t *testing.T) {
	for _, file := range []string{"mnist-fmnist-iid.yaml", "mnist-fmnist-noniid.yaml", "centralized.yaml",
		"mdgan-mnist-fmnist-iid.yaml", "mdgan-mnist-fmnist-noniid.yaml"} {
		top, err := config.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		got := top.ClassShares()
		if len(got) != 20 {
			t.Fatalf("%s: class shares %v, want 20", file, got)
		}
		for y, p := range got {
			if math.Abs(p-0.05) > 1e-12 {
				t.Errorf("%s: class %d drawn with probability %g, want 0.05", file, y, p)
			}
		}
	}
}

// TestMiniature runs each deployable configuration for one round of two
// local iterations in the simulator: the real data, partitions and model
// of the file, a few generator updates. The centralized baseline reads
// the merged MNIST + Fashion-MNIST folder, written here to a temporary
// folder from the i.i.d. configuration.
func TestMiniature(t *testing.T) {
	for _, ds := range []data.Source{{Name: data.MNIST}, {Name: data.FashionMNIST}} {
		if _, err := ds.Dir(); err != nil {
			t.Skipf("%s not available: %v", ds.Name, err)
		}
	}
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			top, err := config.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			if testing.Short() && top.Model.DataDim == 784 {
				t.Skip("image configuration: loads the datasets")
			}
			if file == "centralized.yaml" {
				iid, err := config.Load("mnist-fmnist-iid.yaml")
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(t.TempDir(), "mnist-fmnist")
				if err := cli.MergeRealData(iid, dir, os.Stderr); err != nil {
					t.Fatal(err)
				}
				top.Communities[0].Data.Path = dir
			}
			top.Training.GlobalRounds, top.Training.LocalIters = 1, 2
			top.Cloud.EvalSamples = 0
			s, err := sim.New(top, sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Run()
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Rounds) != 1 || res.Gen == nil {
				t.Fatalf("got %d rounds, want 1 and a generator", len(res.Rounds))
			}
			for i, e := range res.Edges {
				if e.Updates != 2 {
					t.Errorf("edge %d: %d generator updates, want 2", i, e.Updates)
				}
			}
		})
	}
}
