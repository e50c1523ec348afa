package wire

import (
	"bytes"
	"image/png"
)

// MaxPreview is the largest preview picture ({root}/global/preview) in
// bytes: small enough for a gateway to carry it down and for a browser on
// a slow link, large enough for a 320-pixel PNG of a scatter plot or a
// grid of samples.
const MaxPreview = 100 << 10

// MaxPreviewSide is the largest width or height of a preview picture, in
// pixels.
const MaxPreviewSide = 1024

// PreviewLimit is the byte limit of a preview on a broker whose payload
// limit is maxPayload (0: DefaultMaxPayload): MaxPreview or, when lower,
// maxPayload.
func PreviewLimit(maxPayload int) int {
	if maxPayload <= 0 {
		maxPayload = DefaultMaxPayload
	}
	return min(MaxPreview, maxPayload)
}

// CheckPreview reports whether p is a preview picture the tree accepts:
// at most PreviewLimit(maxPayload) bytes, a PNG whose header decodes, at
// most MaxPreviewSide pixels each way. It reads the header only (no
// pixels), so it costs microseconds; the error is an *Error (too_large,
// malformed or range).
func CheckPreview(p []byte, maxPayload int) error {
	if limit := PreviewLimit(maxPayload); len(p) > limit {
		return errorf(CodeTooLarge, "preview", "%d bytes, limit %d", len(p), limit)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(p))
	if err != nil {
		return errorf(CodeMalformed, "preview", "not a PNG: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxPreviewSide || cfg.Height > MaxPreviewSide {
		return errorf(CodeRange, "preview", "%d×%d pixels, at most %d each way", cfg.Width, cfg.Height, MaxPreviewSide)
	}
	return nil
}
