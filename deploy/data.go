package deploy

import (
	"fmt"
	"slices"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
)

// Mixture is a Gaussian data source's mixture.
func Mixture(d config.Data) *data.Mixture {
	m := &data.Mixture{Means: d.Means, Weights: d.Weights}
	for range d.Means {
		m.Std = append(m.Std, d.Std)
	}
	if len(m.Weights) == 0 {
		for range d.Means {
			m.Weights = append(m.Weights, 1)
		}
	}
	return m
}

// GlobalMixture is the union of every community's Gaussian modes, weighted
// by how many samples the community's devices hold: the distribution the
// global generator should learn. It returns nil when some community's data
// is not Gaussian.
func GlobalMixture(top *config.Topology) *data.Mixture {
	all := &data.Mixture{}
	for i := range top.Communities {
		c := &top.Communities[i]
		for j := range c.Devices {
			d := c.DeviceData(j)
			if d.Kind != "gaussian" {
				return nil
			}
			m := deviceModes(c, j, Mixture(d))
			p := m.Probs()
			for k := range m.Means {
				addMode(all, m.Means[k], m.Std[k], p[k]*float64(d.Samples))
			}
		}
	}
	return all
}

func addMode(all *data.Mixture, mean []float64, std, w float64) {
	for k, mu := range all.Means {
		if equal(mu, mean) && all.Std[k] == std {
			all.Weights[k] += w
			return
		}
	}
	all.Means = append(all.Means, append([]float64(nil), mean...))
	all.Std = append(all.Std, std)
	all.Weights = append(all.Weights, w)
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// modesOf is device j's share of m under the "modes" partition: modes
// j, j+n, j+2n, … (all of them when there are fewer modes than devices
// would leave it empty: then mode j mod |modes|).
func modesOf(m *data.Mixture, j, n int) *data.Mixture {
	out := &data.Mixture{}
	for k := j; k < len(m.Means); k += n {
		out.Means = append(out.Means, m.Means[k])
		out.Std = append(out.Std, m.Std[k])
		out.Weights = append(out.Weights, m.Weights[k])
	}
	if len(out.Means) == 0 {
		return m.Component(j % len(m.Means))
	}
	return out
}

// deviceModes is device j of community c's share of its mixture m: the
// modes of its own partition (config.DevicePartition) or of its
// community's, all of m unless that partition is "modes". The rows are
// drawn with the device's own stream (DeviceRNG), so one device id with
// one mixture and one share draws the same rows in any topology of one
// seed.
func deviceModes(c *config.Community, j int, m *data.Mixture) *data.Mixture {
	if dp := c.Devices[j].Partition; dp != nil {
		if dp.Kind == "modes" {
			return modesOf(m, dp.Part, dp.Parts)
		}
		return m
	}
	if c.Partition.Kind == "modes" {
		return modesOf(m, j, len(c.Devices))
	}
	return m
}

// DeviceData loads device id's local data: only its own partition.
func DeviceData(top *config.Topology, id string) (*data.Dataset, error) {
	_, c, j, err := top.Device(id)
	if err != nil {
		return nil, err
	}
	d := c.DeviceData(j)
	switch d.Kind {
	case "gaussian":
		m := deviceModes(c, j, Mixture(d))
		ds, err := m.Sample(d.Samples, DeviceRNG(top, id))
		if err != nil {
			return nil, err
		}
		return OffsetLabels(ds, d.LabelOffset) // mode k has label label_offset + k
	}
	return imageData(top, c, j, d)
}

// CheckClasses reports an error unless every label of device id's data ds
// is one of its community's classes (Topology.CommunityClasses), which
// a class-conditional G (model.class_code) needs: the device's
// discriminator reads each real row with its label. Without a class code
// it returns nil.
func CheckClasses(top *config.Topology, id string, ds *data.Dataset) error {
	if top.Model.ClassCode == 0 {
		return nil
	}
	_, c, _, err := top.Device(id)
	if err != nil {
		return err
	}
	ys := top.CommunityClasses(c)
	for i := range ds.Len() {
		if y := ds.Label(i); !slices.Contains(ys, y) {
			allow := fmt.Sprintf("community %s's data (label_offset %d, classes %d) allow %d to %d", c.ID, c.Data.LabelOffset, c.Data.Classes, ys[0], ys[len(ys)-1])
			if slices.ContainsFunc(c.Devices, func(d config.Device) bool { return d.Data != nil }) {
				allow = fmt.Sprintf("the data of community %s and of its devices allow only %v", c.ID, ys)
			}
			return errf("device %s: row %d has label %d, but model.class_code and %s", id, i, y, allow)
		}
	}
	return nil
}
