package wire_test

import (
	"testing"

	"github.com/fedgan/fedgan/wire"
)

func TestRoundNumber(t *testing.T) {
	for _, c := range []struct {
		index int
		final bool
		want  int
	}{
		{0, false, 1},    // the first round
		{99, false, 100}, // after which samples_r0100.png is drawn
		{500, true, 500}, // the final model of a 500-round run
		{-1, false, 0},   // no round yet (an edge's last_upload_round)
	} {
		if got := wire.RoundNumber(c.index, c.final); got != c.want {
			t.Errorf("RoundNumber(%d, %v) = %d, want %d", c.index, c.final, got, c.want)
		}
	}
}
