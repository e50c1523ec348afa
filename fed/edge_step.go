// One local iteration of an edge: draw G_k's input rows and emit a batch,
// backpropagate the devices' feedback, step, and upload at the round's end.

package fed

import (
	"time"

	"github.com/fedgan/fedgan/nn"
	"github.com/fedgan/fedgan/wire"
)

// emit draws z_d, z_g, computes X_d, X_g and queues a Batch, for every
// device or, with EdgeConfig.Sample, for the devices pick chose.
func (e *Edge) emit(now time.Time) {
	if e.start.wait(now, len(e.live(time.Time{})), e.cfg.StartDevices, e.note) {
		e.cur = nil
		return
	}
	var to []string // nil: every device
	if e.sampling() {
		to = e.pick(now)
	}
	if e.cfg.Mode == Sync {
		exp := to
		if !e.sampling() {
			exp = e.live(now)
		}
		if len(exp) == 0 {
			// Devices that are online but timed out still get the batch
			// (it is broadcast anyway) and may answer; only an edge with
			// no device online at all waits for a presence message.
			exp = e.live(time.Time{})
		}
		if len(exp) == 0 {
			e.cur = nil
			e.note("no device online: waiting for one to come online")
			return
		}
		e.expected = make(map[string]bool, len(exp))
		for _, d := range exp {
			e.expected[d] = true
		}
		e.received = make(map[string]*Feedback, len(exp))
		e.deadline = now.Add(e.cfg.SyncPeriod)
	}
	b := e.cfg.Batch
	cols := e.cfg.Layout.Width()
	e.zIn = grow(e.zIn, b*cols)
	zd := e.zIn
	var ld, lg []byte
	if e.cfg.Layout.Classes > 0 {
		ld, lg = make([]byte, b), make([]byte, b)
	}
	e.fillZ(zd, ld)
	xd := e.cfg.Gen.Forward(nn.Mat{Rows: b, Cols: cols, Data: zd})
	e.xd = append(e.xd[:0], xd.Data[:b*e.cfg.DataDim]...)
	zg := make([]float32, b*cols)
	e.fillZ(zg, lg)
	if e.cfg.ModeSeeking > 0 {
		e.pairClasses(zg, lg)
	}
	xg := e.cfg.Gen.Forward(nn.Mat{Rows: b, Cols: cols, Data: zg})
	e.xg = append(e.xg[:0], xg.Data[:b*e.cfg.DataDim]...)
	v := &version{zg: zg, produced: now}
	e.iter++
	if e.cfg.Mode == Sync {
		e.cur, e.curIter = v, e.iter
	} else {
		e.versions[e.version] = v
		for old := range e.versions {
			if e.version-old > int64(e.cfg.MaxStaleness) {
				delete(e.versions, old)
			}
		}
	}
	shape := []int{b, e.cfg.DataDim}
	e.last = &wire.Batch{
		V: wire.Version, Community: e.cfg.Community, Round: e.round, Iter: e.iter, Version: e.version,
		Domain: e.cfg.Domain, Fake: wire.NewTensorOf(e.cfg.WireDType, shape, e.xd), Gen: wire.NewTensorOf(e.cfg.WireDType, shape, e.xg),
		SentUnixNano: now.UnixNano(), FakeLabels: ld, GenLabels: lg,
	}
	e.lastSent = now
	e.queueBatch(e.last, to)
}

// fillZ draws a batch of G's input rows into z: [z, c_k] or [z, e_s],
// with the class e_y at the end when G is class-conditional, whose class
// it writes to labels (len Batch). Each row's z is drawn before its class.
func (e *Edge) fillZ(z []float32, labels []byte) {
	l := e.cfg.Layout
	cols := l.Width()
	for i := 0; i < e.cfg.Batch; i++ {
		row := z[i*cols : (i+1)*cols]
		l.Fill(row, e.rng, NoCodes)
		c := Codes{Domain: -1, Source: -1, Class: -1, SourceScale: e.cfg.CodeScale}
		if l.Domains > 0 {
			c.Domain = e.cfg.Domain
		}
		if l.SourceCodes > 0 {
			c.Source = e.cfg.RowCodes[i%len(e.cfg.RowCodes)]
		}
		if l.Classes > 0 {
			c.Class = e.cfg.ClassSet[e.rng.IntN(len(e.cfg.ClassSet))]
			labels[i] = byte(c.Class)
		}
		l.SetCodes(row, c)
	}
}

// backward accumulates ∂L/∂θ of G at input z for the output gradient dx
// (with the mode-seeking term's gradient added to dx).
func (e *Edge) backward(z, dx []float32) {
	l := e.cfg.Layout
	x := e.cfg.Gen.Forward(nn.Mat{Rows: e.cfg.Batch, Cols: l.Width(), Data: z})
	if e.cfg.ModeSeeking > 0 {
		ModeSeekingGrad(dx, x.Data, z, e.cfg.Batch, e.cfg.DataDim, l.Width(), l.Latent, e.cfg.ModeSeeking)
	}
	e.cfg.Gen.Backward(nn.Mat{Rows: e.cfg.Batch, Cols: e.cfg.DataDim, Data: dx})
}

// MaxGrad bounds the generator's parameter gradient that an edge under a
// robust rule passes to its optimizer: Adam keeps g² in float32, which
// overflows to +Inf above √MaxFloat32 ≈ 1.8e19, and from then on every
// step of that coordinate is m/√Inf = 0 (G_k frozen for good). Honest
// gradients are many orders of magnitude below it; a larger one can only
// come from a report nothing bounded (docs/DESIGN.md §2.11).
const MaxGrad = 1e18

// gradFits reports whether every |g[i]| ≤ MaxGrad.
func gradFits(g []float32) bool {
	for _, v := range g {
		if v > MaxGrad || v < -MaxGrad {
			return false
		}
	}
	return true
}

// step adds the LR terms, takes one optimizer step and moves on.
func (e *Edge) step(now time.Time, loss float64) {
	if e.domainLosses() {
		e.domainTerms()
	}
	if e.cfg.ClassInvariance > 0 {
		e.classTerms()
	}
	for _, p := range e.cfg.Gen.Params() {
		msg := ""
		if checkFinite32(p.Name, p.Grad) != nil {
			msg = "non-finite generator gradient: update skipped"
		} else if e.robustOn() && !gradFits(p.Grad) {
			msg = "generator gradient too large for the optimizer: update skipped"
		}
		if msg != "" {
			e.cfg.Gen.ZeroGrad()
			e.stats.Diverged++
			e.note(msg, "param", p.Name)
			e.emit(now)
			return
		}
	}
	e.cfg.Opt.Step(e.cfg.Gen.Params())
	e.cfg.Gen.ZeroGrad()
	e.version++
	e.rIters++
	e.stats.Updates++
	e.stats.Loss = loss
	if e.rIters >= e.cfg.LocalIters {
		e.upload()
		return
	}
	e.emit(now)
}

// upload ends the round: GeneratorUpdate with L_{D*}(G_k) (docs/DESIGN.md §2.5).
func (e *Edge) upload() {
	e.state = uploaded
	e.cur = nil
	clear(e.versions)
	e.lastUpdate = &wire.GeneratorUpdate{
		V: wire.Version, Community: e.cfg.Community, Round: e.round, Loss: e.stats.Loss,
		Iters: e.rIters, Params: ParamTensors(e.cfg.Gen.Params()),
	}
	e.stats.LastUpload = e.round
	e.ready.Updates = append(e.ready.Updates, e.lastUpdate)
	e.ready.Checkpoint = true
}

// ParamTensors encodes parameters for the wire, one tensor each.
func ParamTensors(ps []*nn.Param) []wire.Tensor {
	ts := make([]wire.Tensor, len(ps))
	for i, p := range ps {
		ts[i] = wire.NewTensor(p.Shape, p.Value)
	}
	return ts
}
