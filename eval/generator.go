package eval

import (
	"bufio"
	"fmt"
	"os"

	"github.com/fedgan/fedgan/config"
	"github.com/fedgan/fedgan/nn"
)

// LoadGenerator reads a generator file (generator.nnw of a run) and, when
// top is not nil, checks its input and output widths against top.
func LoadGenerator(path string, top *config.Topology) (*nn.Sequential, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gen, err := nn.Load(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if top != nil {
		if in, want := gen.InDim(), top.GenInDim(); in != want {
			return nil, fmt.Errorf("%s: the generator takes %d inputs, %s says %d (latent %d + %d domains + %d source codes + %d classes)",
				path, in, top.Source, want, top.Model.Latent, top.Domains(), top.SourceCodes(), top.Model.ClassCode)
		}
		if out := gen.OutDim(); out != top.Model.DataDim {
			return nil, fmt.Errorf("%s: the generator makes rows of %d values, %s says %d", path, out, top.Source, top.Model.DataDim)
		}
	}
	return gen, nil
}
