package cloud

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"testing"

	"github.com/fedgan/fedgan/wire"
)

func TestPreview(t *testing.T) {
	enc := func(img image.Image) []byte {
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	// Noise compresses worst: 512×512 RGBA noise is about 1 MB.
	rng := rand.New(rand.NewPCG(1, 2))
	noise := image.NewRGBA(image.Rect(0, 0, 512, 400))
	for i := range noise.Pix {
		noise.Pix[i] = byte(rng.UintN(256))
	}
	small := image.NewGray(image.Rect(0, 0, 280, 280))
	for i := range small.Pix {
		small.Pix[i] = byte(i % 7 * 30)
	}
	small.Set(3, 3, color.White)
	for _, tc := range []struct {
		name       string
		pic        []byte
		limit      int
		maxW, maxH int
	}{
		{"noise, default limit", enc(noise), 0, previewSide, previewSide * 400 / 512},
		{"noise, a small broker", enc(noise), 20 << 10, previewSide, previewSide},
		{"a grid smaller than the preview", enc(small), 0, 280, 280},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Preview(tc.pic, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if err := wire.CheckPreview(p, tc.limit); err != nil {
				t.Fatal(err)
			}
			cfg, _ := png.DecodeConfig(bytes.NewReader(p))
			if cfg.Width > tc.maxW || cfg.Height > tc.maxH || cfg.Width < 16 {
				t.Errorf("%d×%d, want at most %d×%d", cfg.Width, cfg.Height, tc.maxW, tc.maxH)
			}
			t.Logf("%d bytes → %d bytes, %d×%d", len(tc.pic), len(p), cfg.Width, cfg.Height)
		})
	}
	if _, err := Preview([]byte("not a png"), 0); err == nil {
		t.Error("a non-PNG: nil error")
	}
}
