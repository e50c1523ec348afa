package cloud

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log/slog"
	"time"

	"golang.org/x/image/draw"

	"github.com/fedgan/fedgan/internal/mqttc"
	"github.com/fedgan/fedgan/wire"
)

// previewSide is the preview picture's largest side in pixels: the 512-pixel
// scatter plot comes down to it, a 280-pixel MNIST grid stays as it is.
const previewSide = 320

// Preview turns an evaluation picture (PNG) into the preview published on
// {root}/global/preview: scaled down (never up) to at most previewSide
// pixels each way, re-encoded at best compression and, while it is over
// limit bytes, scaled down again by a quarter. The result passes
// wire.CheckPreview(result, limit).
func Preview(pic []byte, limit int) ([]byte, error) {
	src, err := png.Decode(bytes.NewReader(pic))
	if err != nil {
		return nil, fmt.Errorf("cloud: preview: %w", err)
	}
	b := src.Bounds()
	side := min(previewSide, wire.MaxPreviewSide, max(b.Dx(), b.Dy()))
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	for side >= 16 {
		w, h := b.Dx(), b.Dy()
		if s := max(w, h); s > side {
			w, h = max(1, w*side/s), max(1, h*side/s)
		}
		var img image.Image = src
		if w != b.Dx() || h != b.Dy() {
			dst := image.NewRGBA(image.Rect(0, 0, w, h))
			draw.CatmullRom.Scale(dst, dst.Bounds(), src, b, draw.Src, nil)
			img = dst
		}
		var buf bytes.Buffer
		if err := enc.Encode(&buf, img); err != nil {
			return nil, fmt.Errorf("cloud: preview: %w", err)
		}
		if err := wire.CheckPreview(buf.Bytes(), limit); err == nil {
			return buf.Bytes(), nil
		} else if wire.CodeOf(err) != wire.CodeTooLarge {
			return nil, fmt.Errorf("cloud: preview: %w", err)
		}
		side = side * 3 / 4
	}
	return nil, fmt.Errorf("cloud: preview: no size under %d bytes", wire.PreviewLimit(limit))
}

// publishPreview publishes the preview of an evaluation picture, retained
// (QoS 0, like the status: a dashboard gets the latest on subscribing).
// A picture that cannot be made small enough is logged and skipped:
// training goes on.
func (s *Service) publishPreview(ctx context.Context, c *mqttc.Client, pic []byte) {
	p, err := Preview(pic, s.top.Limits.MaxPayload)
	if err != nil {
		s.log.Warn("preview not published", slog.Any("error", err))
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := c.Publish(pctx, mqttc.Message{Topic: s.topics.GlobalPreview(), Payload: p, Retain: true}); err != nil && ctx.Err() == nil {
		s.log.Warn("preview not published", slog.Any("error", err))
	}
}
