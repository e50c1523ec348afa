package firmwaretools

import (
	"slices"
	"testing"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/deploy"
)

// TestSliceKeepsDevicePartition: a device's slice of a topology keeps its
// own partition (devices[].partition), so that on the board it holds the
// rows it holds in the topology (here the M-D GAN file's devices, which
// regroup the FR file's with their rows), and its siblings' too.
func TestSliceKeepsDevicePartition(t *testing.T) {
	top, err := config.Load("../configs/mdgan-mnist-fmnist-noniid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c1-d1", "c2-d4", "c3-d5"} {
		b, err := deviceSlice(top, id, sliceParams{URL: "tcp://127.0.0.1:1884"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := config.FromBytes(b, id+".yaml", top.Dir)
		if err != nil {
			t.Fatalf("%s: slice does not load: %v\n%s", id, err, b)
		}
		_, c, j, err := s.Device(id)
		if err != nil {
			t.Fatal(err)
		}
		_, oc, oj, _ := top.Device(id)
		if got, want := c.Devices[j].Partition, oc.Devices[oj].Partition; got == nil || *got != *want {
			t.Fatalf("%s: slice's partition %+v, want %+v", id, got, want)
		}
		got, err := deploy.DeviceRows(s, id)
		if err != nil {
			t.Skipf("no image data here: %v", err)
		}
		want, err := deploy.DeviceRows(top, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: the slice picks rows %d…, the topology %d…", id, got[:3], want[:3])
		}
	}
}
