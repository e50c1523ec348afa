package wire

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"
)

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckPreview(t *testing.T) {
	ok := pngOf(t, 320, 200)
	if err := CheckPreview(ok, 0); err != nil {
		t.Fatalf("a 320×200 PNG: %v", err)
	}
	big := append(bytes.Clone(ok), make([]byte, MaxPreview)...)
	tests := []struct {
		name       string
		p          []byte
		maxPayload int
		code       Code
		msg        string
	}{
		{"over MaxPreview", big, 0, CodeTooLarge, "limit 102400"},
		{"over the broker's payload limit", ok, len(ok) - 1, CodeTooLarge, "limit"},
		{"not a PNG", []byte("GIF89a....."), 0, CodeMalformed, "not a PNG"},
		{"empty", nil, 0, CodeMalformed, "not a PNG"},
		{"too wide", pngOf(t, MaxPreviewSide+1, 1), 0, CodeRange, "1025×1 pixels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPreview(tt.p, tt.maxPayload)
			if CodeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("got %v (code %v), want code %v and %q", err, CodeOf(err), tt.code, tt.msg)
			}
		})
	}
	if got := PreviewLimit(70 << 10); got != 70<<10 {
		t.Errorf("PreviewLimit(70 KiB) = %d", got)
	}
}

// FuzzCheckPreview: whatever arrives on the preview topic, CheckPreview
// returns (no panic in the PNG header decoder), and what it accepts is a
// PNG whose header decodes within the size and side limits.
func FuzzCheckPreview(f *testing.F) {
	var b bytes.Buffer
	_ = png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, p []byte) {
		if CheckPreview(p, 0) != nil {
			return
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(p))
		if err != nil || len(p) > MaxPreview || cfg.Width > MaxPreviewSide || cfg.Height > MaxPreviewSide || cfg.Width < 1 || cfg.Height < 1 {
			t.Fatalf("accepted %d bytes: %v, %d×%d", len(p), err, cfg.Width, cfg.Height)
		}
	})
}
