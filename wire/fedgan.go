package wire

// The codec and checks of Fed GAN's two messages (docs/DESIGN.md §2.12):
// CommunityModel (edge → devices) and LocalModel (device → edge). They
// follow codec.go's rules: deterministic encoding in struct order, the
// bounded reader, one copy of the tensor data, every check of §4.5.

// AppendCommunityModel appends the MessagePack encoding of m to dst; see
// AppendBatch.
func AppendCommunityModel(dst []byte, m *CommunityModel) ([]byte, error) {
	if err := checkVersion("community_model.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil, nil); err != nil {
		return dst, err
	}
	if err := finiteParams("community_model", m.Params, m.DParams); err != nil {
		return dst, err
	}
	x := newEncoder(dst, 128+len(m.Community)+tensorsSize(m.Params)+tensorsSize(m.DParams))
	x.mapLen(6)
	x.int("v", version(m.V))
	x.str("community", m.Community)
	x.int("round", int64(m.Round))
	x.bool("final", m.Final)
	x.tensors("params", m.Params)
	x.tensors("d_params", m.DParams)
	return x.finish(dst)
}

// AppendLocalModel appends the MessagePack encoding of m to dst; see
// AppendBatch.
func AppendLocalModel(dst []byte, m *LocalModel) ([]byte, error) {
	if err := checkVersion("local.v", m.V, true); err != nil {
		return dst, err
	}
	if err := m.check(nil, nil); err != nil {
		return dst, err
	}
	if err := finiteParams("local", m.Params, m.DParams); err != nil {
		return dst, err
	}
	x := newEncoder(dst, 256+len(m.Community)+len(m.Device)+tensorsSize(m.Params)+tensorsSize(m.DParams))
	x.mapLen(11)
	x.int("v", version(m.V))
	x.str("community", m.Community)
	x.str("device", m.Device)
	x.int("round", int64(m.Round))
	x.int("samples", m.Samples)
	x.int("steps", int64(m.Steps))
	x.float("loss", m.Loss)
	x.float("d_loss", m.DLoss)
	x.tensors("params", m.Params)
	x.tensors("d_params", m.DParams)
	x.key("timings")
	x.mapLen(2)
	x.int("wait_us", m.Timings.WaitUS)
	x.int("compute_us", m.Timings.ComputeUS)
	return x.finish(dst)
}

// finiteParams checks every element of a message's G and D tensors.
func finiteParams(msg string, g, d []Tensor) error {
	for i := range g {
		if err := checkFinite(indexField(msg+".params", i), &g[i]); err != nil {
			return err
		}
	}
	for i := range d {
		if err := checkFinite(indexField(msg+".d_params", i), &d[i]); err != nil {
			return err
		}
	}
	return nil
}

// needDisc is the Spec check of the Fed GAN decoders: they need the
// discriminator's shapes.
func needDisc(s *Spec, msg string) error {
	if s == nil || len(s.DiscParams) == 0 {
		return errorf(CodeSpec, msg, "DiscParams is empty; decoding %s needs it (training.algorithm: fedgan)", msg)
	}
	return nil
}

// DecodeCommunityModel decodes and validates a CommunityModel that arrived
// on topic (Kind KindCommunityModel); its community must be the topic's,
// its parameters of the shapes of s.GenParams and s.DiscParams. See
// DecodeBatch.
func DecodeCommunityModel(p []byte, s *Spec, topic Topic) (*CommunityModel, error) {
	const msg = "community_model"
	r, err := start(p, s, &topic, msg, KindCommunityModel, false, true)
	if err != nil {
		return nil, err
	}
	if err := needDisc(s, msg); err != nil {
		return nil, err
	}
	m := new(CommunityModel)
	err = r.message(msg, []string{"v", "community", "round", "final", "params", "d_params"}, func(i int) (err error) {
		switch i {
		case 0:
			m.V, err = r.version(msg)
		case 1:
			m.Community, err = r.str()
		case 2:
			m.Round, err = r.int()
		case 3:
			m.Final, err = r.bool()
		case 4:
			m.Params, err = r.tensors(msg+".params", s.GenParams)
		case 5:
			m.DParams, err = r.tensors(msg+".d_params", s.DiscParams)
		}
		return err
	})
	if err == nil {
		err = checkVersion(msg+".v", m.V, false)
	}
	if err == nil {
		err = m.check(s, &topic)
	}
	if err == nil {
		err = own(paramFields(msg, len(m.Params)), append(ptrs(m.Params), ptrs(m.DParams)...)...)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeLocalModel decodes and validates a LocalModel that arrived on
// topic (Kind KindLocal); its community and device must be the topic's,
// its sample count in [1, MaxSamples], its parameters of the shapes of
// s.GenParams and s.DiscParams. See DecodeBatch.
func DecodeLocalModel(p []byte, s *Spec, topic Topic) (*LocalModel, error) {
	const msg = "local"
	r, err := start(p, s, &topic, msg, KindLocal, false, true)
	if err != nil {
		return nil, err
	}
	if err := needDisc(s, msg); err != nil {
		return nil, err
	}
	m := new(LocalModel)
	keys := []string{"v", "community", "device", "round", "samples", "steps", "loss", "d_loss", "params", "d_params", "timings"}
	err = r.message(msg, keys, func(i int) (err error) {
		switch i {
		case 0:
			m.V, err = r.version(msg)
		case 1:
			m.Community, err = r.str()
		case 2:
			m.Device, err = r.str()
		case 3:
			m.Round, err = r.int()
		case 4:
			m.Samples, err = r.int64()
		case 5:
			m.Steps, err = r.int()
		case 6:
			m.Loss, err = r.float64()
		case 7:
			m.DLoss, err = r.float64()
		case 8:
			m.Params, err = r.tensors(msg+".params", s.GenParams)
		case 9:
			m.DParams, err = r.tensors(msg+".d_params", s.DiscParams)
		case 10:
			err = r.fields(msg+".timings", []string{"wait_us", "compute_us"}, func(j int) (err error) {
				if j == 0 {
					m.Timings.WaitUS, err = r.int64()
				} else {
					m.Timings.ComputeUS, err = r.int64()
				}
				return err
			})
		}
		return err
	})
	if err == nil {
		err = checkVersion(msg+".v", m.V, false)
	}
	if err == nil {
		err = m.check(s, &topic)
	}
	if err == nil {
		err = own(paramFields(msg, len(m.Params)), append(ptrs(m.Params), ptrs(m.DParams)...)...)
	}
	if err != nil {
		return nil, err
	}
	return m, nil
}

// modelShapes checks G's and D's tensors of message msg against s (any
// shapes without a Spec, but both must be there).
func modelShapes(msg string, g, d []Tensor, s *Spec) error {
	var wantG, wantD [][]int
	if s != nil {
		wantG, wantD = s.GenParams, s.DiscParams
	}
	for _, t := range []struct {
		field string
		ts    []Tensor
		want  [][]int
	}{{msg + ".params", g, wantG}, {msg + ".d_params", d, wantD}} {
		if len(t.ts) == 0 {
			return errorf(CodeShape, t.field, "no tensors")
		}
		if err := checkCount(t.field, len(t.ts), t.want); err != nil {
			return err
		}
		if err := checkParams(t.field, t.ts, t.want); err != nil {
			return err
		}
	}
	return nil
}

func (m *CommunityModel) check(s *Spec, topic *Topic) error {
	var tc *string
	if topic != nil {
		tc = &topic.Community
	}
	if err := checkID("community_model.community", m.Community, tc); err != nil {
		return err
	}
	if err := checkNonNeg("community_model.round", int64(m.Round)); err != nil {
		return err
	}
	return modelShapes("community_model", m.Params, m.DParams, s)
}

func (m *LocalModel) check(s *Spec, topic *Topic) error {
	var tc, td *string
	if topic != nil {
		tc, td = &topic.Community, &topic.Device
	}
	if err := checkID("local.community", m.Community, tc); err != nil {
		return err
	}
	if err := checkID("local.device", m.Device, td); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"local.round", int64(m.Round)}, {"local.steps", int64(m.Steps)}, {"local.timings.wait_us", m.Timings.WaitUS}, {"local.timings.compute_us", m.Timings.ComputeUS}} {
		if err := checkNonNeg(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkSamples("local.samples", m.Samples, true); err != nil {
		return err
	}
	if err := checkFloat("local.loss", m.Loss); err != nil {
		return err
	}
	if err := checkFloat("local.d_loss", m.DLoss); err != nil {
		return err
	}
	return modelShapes("local", m.Params, m.DParams, s)
}
