package wire_test

import (
	"errors"
	"fmt"

	"github.com/fedgan/fedgan/wire"
)

// An edge encodes a batch and a device decodes it: the topic tells the
// device which decoder to use and which community the payload must name;
// the Spec, which shapes to expect.
func Example() {
	topics := wire.Topics{} // root fedgan/v1
	spec := &wire.Spec{Batch: 2, DataDim: 3}

	// Edge side.
	shape := []int{2, 3}
	b := &wire.Batch{
		V: wire.Version, Community: "c1", Round: 0, Iter: 7, Version: 6,
		Fake: wire.NewTensor(shape, []float32{0, 0.5, 1, -1, -0.5, 0}),
		Gen:  wire.NewTensor(shape, []float32{1, 2, 3, 4, 5, 6}),
	}
	payload, err := wire.AppendBatch(nil, b)
	if err != nil {
		panic(err)
	}
	name := topics.Batch("c1")

	// Device side.
	topic, err := topics.Parse(name)
	if err != nil {
		panic(err)
	}
	got, err := wire.DecodeBatch(payload, spec, topic)
	if err != nil {
		panic(err)
	}
	xg, err := got.Gen.Values() // validated already; no copy
	if err != nil {
		panic(err)
	}
	fmt.Println(name, topic.Kind, got.Iter, got.Gen.Shape, xg)

	// The same payload where the model has four columns is rejected.
	_, err = wire.DecodeBatch(payload, &wire.Spec{Batch: 2, DataDim: 4}, topic)
	fmt.Println(err)
	fmt.Println(wire.CodeOf(err), errors.Is(err, wire.ErrShape))
	// Output:
	// fedgan/v1/c/c1/batch batch 7 [2 3] [1 2 3 4 5 6]
	// wire: batch.fake: shape mismatch: got [2 3], want [2 4]
	// shape true
}

func ExampleMatch() {
	t := wire.Topics{}
	fmt.Println(wire.Match(t.FeedbackFilter("c1"), t.Feedback("c1", "d7")))
	fmt.Println(wire.Match(t.FeedbackFilter("c1"), t.Feedback("c2", "d7")))
	fmt.Println(wire.Match(t.All(), t.GlobalModel()))
	fmt.Println(wire.Match("#", "$SYS/broker/uptime"))
	// Output:
	// true
	// false
	// true
	// false
}

func ExampleTensor_Float32s() {
	t := wire.NewTensor([]int{2, 2}, []float32{1, 2, 3, 4})
	buf := make([]float32, 0, 16) // reused across calls
	v, err := t.Float32s(buf)
	fmt.Println(v, err)

	t.DType = "f16"
	_, err = t.Float32s(buf)
	fmt.Println(err)
	// Output:
	// [1 2 3 4] <nil>
	// wire: tensor: malformed message: dtype "f16", want "f32" or "bf16"
}

func ExampleDecodeFeedback() {
	topics := wire.Topics{}
	spec := &wire.Spec{Batch: 1, DataDim: 2}
	fb := &wire.Feedback{
		V: wire.Version, Community: "c1", Device: "d2", Iter: 3,
		Loss: -0.7, Grad: wire.NewTensor([]int{1, 2}, []float32{0.25, -0.125}),
	}
	payload, err := wire.AppendFeedback(nil, fb)
	if err != nil {
		panic(err)
	}
	// Device d2 of community c1 publishes it on another device's topic.
	topic, _ := topics.Parse(topics.Feedback("c1", "d9"))
	_, err = wire.DecodeFeedback(payload, spec, topic)
	var we *wire.Error
	if errors.As(err, &we) {
		fmt.Println(we.Code, we.Field)
	}
	fmt.Println(err)
	// Output:
	// id_mismatch feedback.device
	// wire: feedback.device: id does not match topic: "d2", but the topic says "d9"
}
