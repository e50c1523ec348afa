package fed

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// TestWireDType: with WireDType bf16 an edge's batches carry X_d and X_g
// as bfloat16 (half the bytes); an unknown dtype is refused.
func TestWireDType(t *testing.T) {
	for _, tt := range []struct {
		dtype, want string
		ok          bool
	}{{"", wire.DTypeF32, true}, {wire.DTypeF32, wire.DTypeF32, true}, {wire.DTypeBF16, wire.DTypeBF16, true}, {"f16", "", false}} {
		gen := tinyGen(t)
		e, err := NewEdge(EdgeConfig{Community: "c", Devices: []string{"a"}, Mode: Sync, SyncPeriod: time.Second, LocalIters: 2,
			Batch: 2, Layout: Layout{Latent: 2}, DataDim: 2, RNG: rand.NewPCG(1, 1), Gen: gen, Opt: nn.NewAdam(1e-3, 0.5, 0.999, 1e-8), WireDType: tt.dtype})
		if !tt.ok {
			if err == nil {
				t.Errorf("dtype %q accepted", tt.dtype)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		now := time.Unix(0, 0)
		if err := e.Presence(now, "a", true); err != nil {
			t.Fatal(err)
		}
		if err := e.Global(now, &Global{Params: nn.Flatten(nil, gen.Params())}); err != nil {
			t.Fatal(err)
		}
		b := e.Ready().Batches[0]
		if b.Fake.DType != tt.want || b.Gen.DType != tt.want {
			t.Errorf("dtype %q: batch tensors are %q and %q, want %q", tt.dtype, b.Fake.DType, b.Gen.DType, tt.want)
		}
		if _, err := b.Gen.Values(); err != nil {
			t.Errorf("dtype %q: %v", tt.dtype, err)
		}
	}
}
