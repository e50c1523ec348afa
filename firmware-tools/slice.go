package firmwaretools

import (
	"bytes"
	"fmt"
	"path"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/fedgan/fedgan/config"
)

// DefaultDataDir is the conventional folder of a device's data files on
// the board (docs/DESIGN.md §1.3: real data never leaves the device, so data
// files are never bundled: the board has them, or they are copied there).
const DefaultDataDir = "/var/lib/fedgan/data"

// sliceParams say what the device's own entry holds on the board.
type sliceParams struct {
	URL          string      // the edge URL the device dials
	PasswordFile string      // relative to the slice file; "" for none
	TLS          *config.TLS // relative paths; nil for none
	DataDir      string      // "" keeps the topology's data paths
}

// deviceSlice returns the topology file of device id alone: the model,
// the training parameters, its community with its edge's address and the
// ids of its siblings (a device's partition of the community's data
// depends on its index among them), and its own entry. In the LR scenario
// every community is kept, reduced the same way, because the number of
// communities sets the discriminator's input width. Credentials and data
// paths are those given in p; the cloud is named by its URL only.
func deviceSlice(top *config.Topology, id string, p sliceParams) ([]byte, error) {
	_, own, _, err := top.Device(id)
	if err != nil {
		return nil, &DeviceError{ID: id, Where: top.Source, Known: deviceIDs(top)}
	}
	s := config.Topology{
		Name: top.Name, Root: top.Root, Seed: top.Seed, Scenario: top.Scenario,
		Model: top.Model, Training: top.Training, Limits: top.Limits,
		Cloud: config.Cloud{ID: top.Cloud.ID, URL: top.Cloud.Advertise},
	}
	for i := range top.Communities {
		cm := &top.Communities[i]
		if cm.ID != own.ID && top.Scenario != "lr" {
			continue
		}
		dom := *cm.Domain
		c := config.Community{ID: cm.ID, Domain: &dom, Data: cm.Data, Partition: cm.Partition}
		// The agent reads only the address; the credentials value (a
		// gateway path, never opened on the board) or allow_anonymous is
		// what makes the edge entry valid.
		c.Edge = config.Edge{Advertise: cm.Edge.Advertise, AllowAnonymous: cm.Edge.AllowAnonymous, Credentials: cm.Edge.Credentials}
		for _, d := range cm.Devices {
			if d.ID != id {
				c.Devices = append(c.Devices, config.Device{ID: d.ID, Data: d.Data, Partition: d.Partition})
				continue
			}
			c.Edge.Advertise = p.URL
			me := config.Device{ID: d.ID, PasswordFile: p.PasswordFile, TLS: p.TLS, Delay: d.Delay, Slowdown: d.Slowdown, Partition: d.Partition}
			if d.Data != nil {
				dd := onBoardData(*d.Data, p.DataDir)
				me.Data = &dd
			} else {
				c.Data = onBoardData(c.Data, p.DataDir)
			}
			c.Devices = append(c.Devices, me)
		}
		s.Communities = append(s.Communities, c)
	}
	var n yaml.Node
	if err := n.Encode(&s); err != nil {
		return nil, fmt.Errorf("firmwaretools: device %s: encoding its topology: %w", id, err)
	}
	prune(&n)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# fedgan device %s of community %s: its own slice of %s,\n", id, own.ID, path.Base(top.Source))
	b.WriteString("# written by fedgan-fw provision. Relative paths are relative to this file.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("firmwaretools: device %s: encoding its topology: %w", id, err)
	}
	enc.Close()
	// The slice must load on its own, with the same model and data.
	if _, err := config.FromBytes(b.Bytes(), "slice of "+id, top.Dir); err != nil {
		return nil, fmt.Errorf("firmwaretools: device %s: its topology slice does not load: %w", id, err)
	}
	return b.Bytes(), nil
}

// onBoardData points d's files at dir: the MNIST family at dir/mnist or
// dir/fashion-mnist, IDX and CSV files at dir/<base name>. Generated data
// needs no files; an empty dir keeps d as it is.
func onBoardData(d config.Data, dir string) config.Data {
	if dir == "" {
		return d
	}
	switch d.Kind {
	case "mnist", "inverted-mnist", "grey-mnist":
		d.Path = path.Join(dir, "mnist")
	case "fashion-mnist":
		d.Path = path.Join(dir, "fashion-mnist")
	case "idx", "csv":
		d.Path = path.Join(dir, path.Base(d.Path))
		if d.Labels != "" {
			d.Labels = path.Join(dir, path.Base(d.Labels))
		}
	}
	return d
}

// prune removes mapping entries whose value is empty or zero: validation
// fills defaults for every zero value again, so the file stays short and
// means the same. The domain is always kept: zero is not its default.
// Lists of numbers are written on one line.
func prune(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		flow := n.Kind == yaml.SequenceNode
		for _, c := range n.Content {
			prune(c)
			flow = flow && (c.Kind == yaml.ScalarNode || c.Kind == yaml.SequenceNode && c.Style == yaml.FlowStyle)
		}
		if flow {
			n.Style = yaml.FlowStyle // [32, 32], [[1, 1], [-1, 1]]
		}
	case yaml.MappingNode:
		var keep []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			prune(v)
			if k.Value != "domain" && zero(v) {
				continue
			}
			keep = append(keep, k, v)
		}
		n.Content = keep
	}
}

func zero(v *yaml.Node) bool {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" || v.Value == "" {
			return true
		}
		if v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return false // a string that reads like a zero
		}
		return slices.Contains([]string{"0", "false", "0s"}, v.Value)
	case yaml.MappingNode, yaml.SequenceNode:
		return len(v.Content) == 0
	}
	return false
}

func deviceIDs(top *config.Topology) []string {
	var ids []string
	for _, c := range top.Communities {
		for _, d := range c.Devices {
			ids = append(ids, d.ID)
		}
	}
	return ids
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for key := range m {
		k = append(k, key)
	}
	slices.Sort(k)
	return k
}
