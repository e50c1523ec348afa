package fed

import "github.com/fedgan/fedgan/wire"

// The conversions from wire messages to the state machines' inputs. They
// are used by every shell (the edge and cloud services, the simulator),
// so that a message means the same everywhere.
//
// Copy or not: they read tensors with Tensor.Values, which does not copy,
// so a result may share memory with m (a Feedback's Grad always does; the
// parameters of a Global or an Update do only when they are one tensor,
// otherwise they are one new slice, the tensors concatenated). That is
// safe without a copy because nobody writes to the memory: wire allocates
// every decoded message's tensor data afresh and never reuses it
// (NewTensor copies too), the caller hands m over and must not modify it
// afterwards, and the state machines only read these slices, though they
// keep them: an Edge keeps a Feedback's Grad until the iteration is
// aggregated, a Cloud an Update's Params until the round closes (and in
// its snapshot), an Edge copies a Global's parameters into G_k at once.
// A copy would cost a B×d or |G| allocation per message for nothing.
//
// m must have been validated by wire (its Decode functions do); an error
// is wire's, for a tensor that does not decode.

// GlobalOf converts a GlobalModel.
func GlobalOf(m *wire.GlobalModel) (*Global, error) {
	g := &Global{Round: m.Round, Final: m.Final, Lambda1: m.Lambda1, Lambda2: m.Lambda2}
	var err error
	if g.Params, err = flat(m.Params); err != nil {
		return nil, err
	}
	if g.Classifier, err = flat(m.Classifier); err != nil {
		return nil, err
	}
	if len(m.DParams) > 0 {
		if g.DParams, err = flat(m.DParams); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// UpdateOf converts a community's GeneratorUpdate.
func UpdateOf(m *wire.GeneratorUpdate) (*Update, error) {
	p, err := flat(m.Params)
	if err != nil {
		return nil, err
	}
	var d []float32
	if len(m.DParams) > 0 {
		if d, err = flat(m.DParams); err != nil {
			return nil, err
		}
	}
	return &Update{Community: m.Community, Round: m.Round, Loss: m.Loss, Params: p, DParams: d, Samples: m.Samples}, nil
}

// LocalOf converts a Fed GAN device's LocalModel.
func LocalOf(m *wire.LocalModel) (*Local, error) {
	g, err := flat(m.Params)
	if err != nil {
		return nil, err
	}
	d, err := flat(m.DParams)
	if err != nil {
		return nil, err
	}
	return &Local{Device: m.Device, Round: m.Round, Samples: m.Samples, Loss: m.Loss, DLoss: m.DLoss, G: g, D: d}, nil
}

// CommunityModelOf converts a Fed GAN edge's CommunityModel into the
// Global a device's LocalGAN starts its round from.
func CommunityModelOf(m *wire.CommunityModel) (*Global, error) {
	g, err := flat(m.Params)
	if err != nil {
		return nil, err
	}
	d, err := flat(m.DParams)
	if err != nil {
		return nil, err
	}
	return &Global{Round: m.Round, Final: m.Final, Params: g, DParams: d}, nil
}

// FeedbackOf converts a device's Feedback.
func FeedbackOf(m *wire.Feedback) (*Feedback, error) {
	grad, err := m.Grad.Values()
	if err != nil {
		return nil, err
	}
	return &Feedback{Device: m.Device, Round: m.Round, Iter: m.Iter, Version: m.Version, Loss: m.Loss, Grad: grad}, nil
}

// flat returns the values of ts one after the other: the one tensor's own
// values, or a new slice.
func flat(ts []wire.Tensor) ([]float32, error) {
	if len(ts) == 1 {
		return ts[0].Values()
	}
	n := 0
	for _, t := range ts {
		n += len(t.Data) / 4
	}
	out := make([]float32, 0, n)
	for _, t := range ts {
		v, err := t.Values()
		if err != nil {
			return nil, err
		}
		out = append(out, v...)
	}
	return out, nil
}
