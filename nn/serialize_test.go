package nn_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/fedgan/fedgan/nn"
)

func testNet(t testing.TB, seed uint64) *nn.Sequential {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	net, err := nn.Build([]nn.LayerSpec{
		{Kind: nn.KindDense, In: 5, Out: 7},
		{Kind: nn.KindLeakyReLU, Alpha: 0.2},
		{Kind: nn.KindDense, In: 7, Out: 4},
		{Kind: nn.KindReLU},
		{Kind: nn.KindDense, In: 4, Out: 3},
		{Kind: nn.KindSigmoid},
		{Kind: nn.KindTanh},
	}, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range net.Params() {
		nn.FillNormal(p.Value, rng) // biases too, so that they round-trip
	}
	return net
}

func TestSaveLoadRoundTrip(t *testing.T) {
	net := testNet(t, 1)
	net.Params()[1].Value[0] = float32(math.NaN()) // saved and restored as is
	var buf bytes.Buffer
	if err := nn.Save(&buf, net); err != nil {
		t.Fatal(err)
	}
	got, err := nn.Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	want := net.Specs()
	gs := got.Specs()
	if len(gs) != len(want) {
		t.Fatalf("specs: got %v, want %v", gs, want)
	}
	for i := range want {
		if gs[i] != want[i] {
			t.Errorf("spec %d: got %+v, want %+v", i, gs[i], want[i])
		}
	}
	if a, b := nn.Flatten(nil, got.Params()), nn.Flatten(nil, net.Params()); !equal32(a, b) {
		t.Errorf("parameters differ after a round trip")
	}
	// The loaded network computes the same function.
	net.Params()[1].Value[0] = 0
	got.Params()[1].Value[0] = 0
	x := randMat(3, 5, rand.New(rand.NewPCG(2, 2)))
	if a, b := got.Forward(x), net.Forward(x); !equal32(a.Data, b.Data) {
		t.Errorf("Forward after Load: got %v, want %v", a.Data, b.Data)
	}
}

// TestSaveLoadCarry: a dense_carry layer's carried width round-trips (in
// the alpha slot of the layer table) and the loaded network computes the
// same function.
func TestSaveLoadCarry(t *testing.T) {
	net := carryNet(t, rand.New(rand.NewPCG(3, 3)))
	got := saveLoad(t, net)
	if gs := got.Specs(); gs[0] != net.Specs()[0] {
		t.Errorf("spec 0: got %+v, want %+v", gs[0], net.Specs()[0])
	}
	x := randMat(3, 6, rand.New(rand.NewPCG(2, 2)))
	if a, b := got.Forward(x), net.Forward(x); !equal32(a.Data, b.Data) {
		t.Errorf("Forward after Load: got %v, want %v", a.Data, b.Data)
	}
}

// saveLoad returns net saved and loaded again.
func saveLoad(t *testing.T, net *nn.Sequential) *nn.Sequential {
	t.Helper()
	var buf bytes.Buffer
	if err := nn.Save(&buf, net); err != nil {
		t.Fatal(err)
	}
	got, err := nn.Load(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSaveLoadHeads: a dense_heads layer's head count round-trips and the
// loaded network computes the same function.
func TestSaveLoadHeads(t *testing.T) {
	net := headsNet(t, rand.New(rand.NewPCG(4, 4)))
	copy(net.Params()[2].Value, randMat(14, 3, rand.New(rand.NewPCG(1, 1))).Data) // heads that differ
	got := saveLoad(t, net)
	if !slices.Equal(got.Specs(), net.Specs()) {
		t.Errorf("specs: got %+v, want %+v", got.Specs(), net.Specs())
	}
	x := randMat(3, 6, rand.New(rand.NewPCG(2, 2)))
	if a, b := got.Forward(x), net.Forward(x); !equal32(a.Data, b.Data) {
		t.Errorf("Forward after Load: got %v, want %v", a.Data, b.Data)
	}
}

// TestLoadHeader checks the layout of the file header against the
// documented format.
func TestLoadHeader(t *testing.T) {
	net, err := nn.Build([]nn.LayerSpec{{Kind: nn.KindDense, In: 1, Out: 1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	net.Params()[0].Value[0] = 1.5
	var buf bytes.Buffer
	if err := nn.Save(&buf, net); err != nil {
		t.Fatal(err)
	}
	want := []byte{
		'F', 'G', 'N', 'N', 1, 0, // magic, version 1
		1, 0, 0, 0, // 1 layer
		5, 'd', 'e', 'n', 's', 'e', 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, // dense 1→1, alpha 0
		2, 0, 0, 0, // 2 tensors
		2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0xc0, 0x3f, // weight [1 1] = 1.5
		1, 1, 0, 0, 0, 0, 0, 0, 0, // bias [1] = 0
	}
	b := buf.Bytes()
	if len(b) != len(want)+4 || !bytes.Equal(b[:len(want)], want) {
		t.Errorf("encoding:\ngot  % x\nwant % x + crc", b, want)
	}
}

// TestLoadRejectsDamage checks every truncation and a flip of every byte:
// each must give a *FormatError, never a panic or a silently wrong network.
func TestLoadRejectsDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := nn.Save(&buf, testNet(t, 3)); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for n := 0; n < len(good); n++ {
		_, err := nn.Load(bytes.NewReader(good[:n]))
		var fe *nn.FormatError
		if !errors.As(err, &fe) || !errors.Is(err, nn.ErrFormat) {
			t.Fatalf("Load of the first %d of %d bytes: got %v, want a *FormatError", n, len(good), err)
		}
	}
	bad := make([]byte, len(good))
	for i := range good {
		copy(bad, good)
		bad[i] ^= 0x40
		if _, err := nn.Load(bytes.NewReader(bad)); !errors.Is(err, nn.ErrFormat) {
			t.Fatalf("Load with byte %d flipped: got %v, want ErrFormat", i, err)
		}
	}
	if _, err := nn.Load(bytes.NewReader(append(append([]byte(nil), good...), 0))); !errors.Is(err, nn.ErrFormat) {
		t.Errorf("Load with a trailing byte: got %v, want ErrFormat", err)
	}
}

func TestLoadReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := nn.Load(io.MultiReader(bytes.NewReader([]byte("FGNN")), errReader{boom}))
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want the reader's error", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, and
// whatever it accepts must save back to the same bytes.
func FuzzLoad(f *testing.F) {
	var buf bytes.Buffer
	if err := nn.Save(&buf, testNet(f, 4)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes()) // a valid network
	var carry bytes.Buffer
	if err := nn.Save(&carry, carryNet(f, rand.New(rand.NewPCG(5, 5)))); err != nil {
		f.Fatal(err)
	}
	f.Add(carry.Bytes()) // a valid network with a dense_carry layer
	var heads bytes.Buffer
	if err := nn.Save(&heads, headsNet(f, rand.New(rand.NewPCG(6, 6)))); err != nil {
		f.Fatal(err)
	}
	f.Add(heads.Bytes())                                          // a valid network with a dense_heads layer
	f.Add(buf.Bytes()[:20])                                       // cut inside the layer table
	f.Add([]byte("FGNN\x01\x00"))                                 // header only
	f.Add([]byte("FGNN\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00")) // unknown version
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		net, err := nn.Load(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, nn.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		var out bytes.Buffer
		if err := nn.Save(&out, net); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), b) {
			t.Fatalf("accepted input does not round-trip")
		}
	})
}

// TestOptimizerStateRestore trains, saves network and optimizer state,
// trains on; then restores both into fresh objects and trains the same
// steps: the results must match bit for bit.
func TestOptimizerStateRestore(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func() nn.Optimizer
	}{
		{"adam", func() nn.Optimizer { return nn.NewAdam(1e-2, 0.5, 0.999, 1e-8) }},
		{"sgd momentum", func() nn.Optimizer { return nn.NewSGD(1e-2, 0.9) }},
		{"sgd", func() nn.Optimizer { return nn.NewSGD(1e-2, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, 12))
			x := randMat(8, 5, rng)
			train := func(net *nn.Sequential, opt nn.Optimizer, steps int) {
				dl := nn.NewMat(8, 1)
				for i := 0; i < steps; i++ {
					net.ZeroGrad()
					y := net.Forward(x)
					nn.SigmoidBCE(dl.Data, y.Data, 0.7)
					net.BackwardParams(dl)
					opt.Step(net.Params())
				}
			}
			net, _ := nn.MLP([]int{5, 6, 1}, 0.2, "", rng)
			opt := tc.opt()
			train(net, opt, 3)
			var saved bytes.Buffer
			if err := nn.Save(&saved, net); err != nil {
				t.Fatal(err)
			}
			state, err := opt.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			train(net, opt, 4)

			net2, err := nn.Load(&saved)
			if err != nil {
				t.Fatal(err)
			}
			var opt2 nn.Optimizer = nn.NewAdam(0, 0, 0, 0)
			if _, ok := opt.(*nn.SGD); ok {
				opt2 = nn.NewSGD(0, 0)
			}
			if err := opt2.UnmarshalBinary(state); err != nil {
				t.Fatal(err)
			}
			train(net2, opt2, 4)
			if a, b := nn.Flatten(nil, net2.Params()), nn.Flatten(nil, net.Params()); !equal32(a, b) {
				t.Errorf("restored training differs from uninterrupted training")
			}
			// Restored state is checked against the parameters' shapes.
			other, _ := nn.MLP([]int{5, 7, 1}, 0.2, "", rng)
			if err := opt2.(interface{ Check([]*nn.Param) error }).Check(other.Params()); !errors.Is(err, nn.ErrShape) {
				t.Errorf("Check with other shapes: got %v, want ErrShape", err)
			}
			// Damaged state is rejected and leaves the optimizer alone.
			for n := 0; n < len(state); n += 7 {
				if err := opt2.UnmarshalBinary(state[:n]); !errors.Is(err, nn.ErrFormat) {
					t.Fatalf("UnmarshalBinary of %d of %d bytes: got %v, want ErrFormat", n, len(state), err)
				}
			}
			if again, _ := opt2.MarshalBinary(); len(again) != len(state) {
				t.Errorf("failed UnmarshalBinary changed the state")
			}
		})
	}
}

func FuzzAdamUnmarshal(f *testing.F) {
	net := testNet(f, 5)
	a := nn.NewAdam(1e-3, 0.9, 0.999, 1e-8)
	a.Step(net.Params())
	good, _ := a.MarshalBinary()
	empty, _ := nn.NewAdam(1e-3, 0.9, 0.999, 1e-8).MarshalBinary()
	f.Add(good)
	f.Add(empty)
	f.Add(good[:30])
	f.Fuzz(func(t *testing.T, b []byte) {
		var o nn.Adam
		if err := o.UnmarshalBinary(b); err != nil {
			if !errors.Is(err, nn.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		out, _ := o.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted input does not round-trip")
		}
	})
}
