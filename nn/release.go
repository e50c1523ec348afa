package nn

// releaser is a layer that can drop its working buffers.
type releaser interface{ release() }

// Release drops the working buffers every layer keeps between calls
// (outputs, input gradients, the matrix products' scratch), keeping the
// parameters and their gradients. The next Forward allocates them again.
// Outputs returned before are no longer owned by s. The simulator calls it
// after each virtual device's step when it runs thousands of them: a
// device's buffers are then allocated per step instead of held by every
// device at once.
func (s *Sequential) Release() {
	for _, l := range s.Layers {
		if r, ok := l.(releaser); ok {
			r.release()
		}
	}
}

func (d *Dense) release()        { d.x, d.y, d.dx, d.s = Mat{}, nil, nil, scratch{} }
func (l *LeakyReLU) release()    { l.x, l.y, l.dx = Mat{}, nil, nil }
func (r *ReLU) release()         { r.x, r.y, r.dx = Mat{}, nil, nil }
func (t *Tanh) release()         { t.y, t.dx = nil, nil }
func (s *Sigmoid) release()      { s.y, s.dx = nil, nil }
func (l *MinibatchStd) release() { l.x, l.y, l.dx, l.mu, l.sd = Mat{}, nil, nil, nil, nil }
func (c *DenseCarry) release()   { c.d.release(); c.x1, c.y, c.dy1, c.dx = nil, nil, nil, nil }
func (h *DenseHeads) release()   { h.d.release(); h.ex, h.x, h.c, h.dx = nil, nil, nil, nil }
