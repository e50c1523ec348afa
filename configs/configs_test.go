package configs_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgan/fedgan/cli"
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/experiment"
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
			if file == "reggan-mnist-inverted.yaml" {
				lr, err := config.Load("lr-mnist-inverted-iid.yaml")
				if err != nil {
					t.Fatal(err)
				}
				dir := filepath.Join(t.TempDir(), "domains")
				if err := experiment.MergeDomains(lr, dir, os.Stderr); err != nil {
					t.Fatal(err)
				}
				// Every training image of the LR file's devices once, half
				// of each domain; every domain's test images.
				for split, want := range map[data.Split]int{data.Train: 30000, data.Test: 10000} {
					ds, err := data.Source{Name: "domains", Path: dir}.Load(split)
					if err != nil {
						t.Fatal(err)
					}
					count := map[int]int{}
					for i := range ds.Len() {
						count[ds.Label(i)]++
					}
					if len(count) != 2 || count[0] != want || count[1] != want {
						t.Errorf("%v: %v images per domain, want %d each", split, count, want)
					}
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

// withFedGAN is the file's topology with training.algorithm: fedgan.
func withFedGAN(t *testing.T, file string) (*config.Topology, error) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(b), "\ntraining:\n", "\ntraining:\n  algorithm: fedgan\n", 1)
	if y == string(b) {
		t.Fatalf("%s has no training section", file)
	}
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return config.FromBytes([]byte(y), file, dir)
}

// TestFedGANConfigs loads every shipped configuration with
// training.algorithm: fedgan, the like-for-like Fed GAN run: the sync ones
// load (the LR ones as Table 2's FED GAN), with D's shapes in the wire
// Spec and a payload limit that fits a device's G and D; the async one is
// refused with the key named.
// The Gaussian one then trains a round in the simulator.
func TestFedGANConfigs(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			top, err := withFedGAN(t, file)
			fr, ferr := config.Load(file)
			if ferr != nil {
				t.Fatal(ferr)
			}
			if fr.Training.Mode != "sync" {
				if err == nil || !strings.Contains(err.Error(), "training.algorithm") {
					t.Fatalf("a %s %s configuration with fedgan: %v, want an error naming training.algorithm", fr.Scenario, fr.Training.Mode, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := top.Spec()
			floats := 0
			for _, ps := range [][][]int{s.GenParams, s.DiscParams} {
				for _, sh := range ps {
					n := 1
					for _, d := range sh {
						n *= d
					}
					floats += n
				}
			}
			if len(s.DiscParams) == 0 || s.PayloadLimit() < 4*floats+1024 || s.PayloadLimit() <= fr.Spec().PayloadLimit() {
				t.Fatalf("D shapes %v, payload limit %d for %d floats of G and D (FR: %d)", s.DiscParams, s.PayloadLimit(), floats, fr.Spec().PayloadLimit())
			}
			if file != "gaussian.yaml" {
				return
			}
			top.Training.GlobalRounds, top.Training.LocalIters = 1, 2
			top.Cloud.EvalSamples = 0
			sm, err := sim.New(top, sim.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := sm.Run()
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range res.Edges {
				if e.Updates != 1 || e.Feedback != int64(len(top.Communities[i].Devices)) {
					t.Errorf("edge %d: %d updates from %d local models, want 1 from every device", i, e.Updates, e.Feedback)
				}
			}
		})
	}
}
