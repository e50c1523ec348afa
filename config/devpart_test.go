package config

import (
	"slices"
	"strings"
	"testing"
)

// TestDevicePartition checks a device's own partition (device.partition):
// defaults, and one clear problem for each bad value.
func TestDevicePartition(t *testing.T) {
	const base = `
name: t
model: {latent: 4, data_dim: DIM, generator: [8], discriminator: [8]CODE}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - id: all
    edge: {allow_anonymous: true}
    devices:
      - {id: d1, data: DATA, partition: PART}
      - {id: d2, data: {kind: mnist}}
`
	const gauss = `{kind: gaussian, means: [[0, 0], [1, 1]], std: 1}`
	for _, tt := range []struct {
		name, dim, code, data, part string
		want                        string // the problem; "" for none
	}{
		{"iid", "784", "", "{kind: mnist}", "{part: 2, parts: 5, stream: c1}", ""},
		{"shards", "784", "", "{kind: mnist}", "{kind: shards, classes_per_device: 2, part: 0, parts: 5}", ""},
		{"modes", "2", "", gauss, "{kind: modes, part: 1, parts: 2}", ""},
		{"no parts", "784", "", "{kind: mnist}", "{part: 0}", "communities[all].devices[d1].partition: part 0 of 0 parts is out of range"},
		{"part too big", "784", "", "{kind: mnist}", "{part: 5, parts: 5}", "part 5 of 5 parts is out of range"},
		{"negative part", "784", "", "{kind: mnist}", "{part: -1, parts: 5}", "part -1 of 5 parts is out of range"},
		{"kind", "784", "", "{kind: mnist}", "{kind: quantiles, parts: 2}", `communities[all].devices[d1].partition.kind: "quantiles" is not one of`},
		{"shards need a count", "784", "", "{kind: mnist}", "{kind: shards, parts: 2}", "devices[d1].partition.classes_per_device: must be > 0 for shards"},
		{"dirichlet needs alpha", "784", "", "{kind: mnist}", "{kind: dirichlet, parts: 2}", "devices[d1].partition.alpha: must be > 0 for dirichlet"},
		{"modes need gaussian", "784", "", "{kind: mnist}", "{kind: modes, parts: 2}", "devices[d1].partition.kind: modes applies to gaussian data only"},
		{"class code fits", "784", ", class_code: 20", "{kind: fashion-mnist, label_offset: 10}", "{parts: 2}", ""},
		{"class code too small", "784", ", class_code: 10", "{kind: fashion-mnist, label_offset: 10}", "{parts: 2}", "communities[all].devices[0].data: classes 10 to 19 do not fit model.class_code 10"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.NewReplacer("DIM", tt.dim, "CODE", tt.code, "DATA", tt.data, "PART", tt.part).Replace(base)
			if tt.dim == "2" {
				src = strings.Replace(src, "{kind: mnist}", gauss, 1)
			}
			top, err := FromBytes([]byte(src), "t", "")
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("got %v, want a problem containing %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := &top.Communities[0]
			dp := c.Devices[0].Partition
			if dp.Kind == "" || (dp.Stream != "all" && dp.Stream != "c1") {
				t.Errorf("defaults: kind %q, stream %q; want a kind and the community's id unless given", dp.Kind, dp.Stream)
			}
			if tt.code != "" {
				want := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
				if got := top.CommunityClasses(c); !slices.Equal(got, want) {
					t.Errorf("CommunityClasses = %v, want the union of its devices' classes %v", got, want)
				}
			}
		})
	}
}

// TestDevicePartitionNeedsData: a device's own partition splits its own
// data, so it needs data beside it; a community whose devices all give
// their own data needs none.
func TestDevicePartitionNeedsData(t *testing.T) {
	const src = `
name: t
model: {latent: 4, data_dim: 784, generator: [8], discriminator: [8]}
training: {global_rounds: 1, local_iters: 1}
cloud: {allow_anonymous: true}
communities:
  - id: all
    data: {kind: mnist}
    edge: {allow_anonymous: true}
    devices:
      - {id: d1, partition: {parts: 2}}
`
	_, err := FromBytes([]byte(src), "t", "")
	if want := "communities[all].devices[d1].partition: needs the device's own data"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want %q", err, want)
	}
	noData := strings.Replace(strings.Replace(src, "    data: {kind: mnist}\n", "", 1), "{id: d1, ", "{id: d1, data: {kind: mnist}, ", 1)
	if _, err := FromBytes([]byte(noData), "t", ""); err != nil {
		t.Fatalf("community without data whose devices all give their own: %v", err)
	}
	missing := strings.Replace(src, "    data: {kind: mnist}\n", "", 1)
	if _, err := FromBytes([]byte(missing), "t", ""); err == nil || !strings.Contains(err.Error(), "communities[all].data.kind: missing") {
		t.Fatalf("community without data and a device without its own: got %v, want communities[all].data.kind: missing", err)
	}
}
