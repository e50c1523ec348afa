package setup

import (
	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/data"
)

// imageData loads an image device's partition. Filled in with the data
// partitioners.
func imageData(top *config.Topology, c *config.Community, j int, d config.Data) (*data.Dataset, error) {
	return nil, errf("data kind %q is not supported yet", d.Kind)
}
