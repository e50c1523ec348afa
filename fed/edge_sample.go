// Device sampling: an edge with EdgeConfig.Sample asks only that many
// devices per iteration, in fair cycles, so that the bytes a batch costs
// grow with the devices asked, not with those connected.

package fed

import (
	"slices"
	"time"

	"github.com/fedgan/fedgan/wire"
)

// sampling reports whether the edge asks a sample of its devices.
func (e *Edge) sampling() bool { return e.cfg.Sample > 0 }

// pick chooses the devices asked for the next batch: Sample of the live
// devices that are not suspects (docs/DESIGN.md §2.11), in cycles: each
// cycle is a permutation of the configured devices drawn from the edge's
// random state (so a run is reproducible from its seed), and batches take
// the next eligible devices of the current cycle, so every device
// eligible throughout is asked once per cycle (the counts of any two
// differ by at most one); a device not eligible when its turn comes
// waits for the next cycle. With too few eligible devices it falls back
// to online devices that timed out, then to suspects, so that an edge
// never stops asking while a device is online. The result is sorted; it
// is empty with no device online.
func (e *Edge) pick(now time.Time) []string {
	// Count each pool in one pass, build nothing, sort nothing (an edge
	// may have thousands of devices): 0 live non-suspects, 1 online
	// non-suspects, 2 online.
	level := func(d *device, id string) int {
		switch {
		case !d.online:
			return 3
		case e.sus.suspect(id):
			return 2
		case !d.lastSeen.IsZero() && now.Sub(d.lastSeen) > e.cfg.DeviceTimeout:
			return 1
		}
		return 0
	}
	var n [4]int
	for id, d := range e.devices {
		n[level(d, id)]++
	}
	pool, size := 0, n[0]
	if size < e.cfg.Sample {
		pool, size = 1, n[0]+n[1]
	}
	if size == 0 {
		pool, size = 2, n[0]+n[1]+n[2]
	}
	elig := func(id string) bool { return level(e.devices[id], id) <= pool }
	want := min(e.cfg.Sample, size)
	out := make([]string, 0, want)
	// Pass 0 takes from what is left of the current cycle, pass 1 from a
	// fresh one (skipping, and keeping for later in that cycle, devices
	// pass 0 took).
	for pass := 0; pass < 2 && len(out) < want; pass++ {
		if len(e.cycle) == 0 {
			e.cycle = append(e.cycle, e.cfg.Devices...)
			e.rng.Shuffle(len(e.cycle), func(i, j int) { e.cycle[i], e.cycle[j] = e.cycle[j], e.cycle[i] })
		}
		var keep []string
		i := 0
		for ; i < len(e.cycle) && len(out) < want; i++ {
			switch d := e.cycle[i]; {
			case slices.Contains(out, d):
				keep = append(keep, d)
			case elig(d):
				out = append(out, d)
			}
		}
		e.cycle = append(keep, e.cycle[i:]...)
	}
	slices.Sort(out)
	return out
}

// queueBatch puts b in Ready for the devices to (nil: every device, on
// the community's batch topic) and counts the asks.
func (e *Edge) queueBatch(b *wire.Batch, to []string) {
	e.ready.Batches = append(e.ready.Batches, b)
	e.ready.To = append(e.ready.To, to)
	e.stats.Asked += int64(len(to))
}
