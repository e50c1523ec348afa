package wire

import (
	"math"
	"testing"
)

// TestBF16: bfloat16 tensors round to nearest (ties to even), keep the
// float32 range, take half the bytes, and are validated like f32 ones
// (shape against bytes, no NaN or ±Inf).
func TestBF16(t *testing.T) {
	for _, tt := range []struct{ in, want float32 }{
		{1, 1}, {-2.5, -2.5}, {0, 0},
		{1 + 1.0/256, 1},           // the tie between 1 and 1+2⁻⁷ goes to the even one
		{1 + 3.0/256, 1 + 4.0/256}, // the other tie goes up
		{1 + 1.1/256, 1 + 2.0/256}, // above the tie: up
		{3.1415927, 3.140625},      // 8 significant bits
	} {
		v, err := NewTensorBF16([]int{1}, []float32{tt.in}).Float32s(nil)
		if err != nil || v[0] != tt.want {
			t.Errorf("bf16(%v) = %v, %v; want %v", tt.in, v, err, tt.want)
		}
	}
	for _, x := range []float32{1e30, -1e-30, 3e38, 1e-38} { // the float32 range, within bf16's rounding
		v, err := NewTensorBF16([]int{1}, []float32{x}).Float32s(nil)
		if err != nil || math.Abs(float64(v[0]-x)) > math.Abs(float64(x))/256 {
			t.Errorf("bf16(%v) = %v, %v; want within 1/256 of it", x, v, err)
		}
	}
	x := NewTensorBF16([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	if len(x.Data) != 12 || x.DType != DTypeBF16 {
		t.Errorf("a 2×3 bf16 tensor holds %d bytes of %q, want 12 of bf16", len(x.Data), x.DType)
	}
	if v, err := x.Values(); err != nil || v[5] != 6 {
		t.Errorf("Values: %v, %v", v, err)
	}
	for _, bad := range []Tensor{
		NewTensorBF16([]int{1}, []float32{float32(math.Inf(1))}),
		NewTensorBF16([]int{1}, []float32{float32(math.NaN())}),
		NewTensorBF16([]int{1}, []float32{math.MaxFloat32}), // rounds up to +Inf
		{Shape: []int{2}, DType: DTypeBF16, Data: make([]byte, 8)},
	} {
		if _, err := bad.Float32s(nil); err == nil {
			t.Errorf("%+v decoded, want an error", bad)
		}
	}
}

// TestBF16Messages: a batch and a feedback with bf16 tensors encode to
// about half the bytes and decode to the rounded values; parameters must
// stay f32.
func TestBF16Messages(t *testing.T) {
	s := &Spec{Batch: 64, DataDim: 784}
	vals := make([]float32, 64*784)
	for i := range vals {
		vals[i] = float32(math.Sin(float64(i)))
	}
	b := &Batch{V: Version, Community: "c1", Round: 1, Iter: 2, Version: 1,
		Fake: NewTensor([]int{64, 784}, vals), Gen: NewTensor([]int{64, 784}, vals)}
	full, err := AppendBatch(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	b.Fake, b.Gen = NewTensorBF16([]int{64, 784}, vals), NewTensorBF16([]int{64, 784}, vals)
	half, err := AppendBatch(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if r := float64(len(half)) / float64(len(full)); r > 0.501 {
		t.Errorf("bf16 batch is %d bytes, f32 %d: ratio %.4f, want ≤ 0.501", len(half), len(full), r)
	}
	got, err := DecodeBatch(half, s, Topic{Kind: KindBatch, Community: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := got.Gen.Values()
	for i, x := range vals {
		if d := math.Abs(float64(v[i] - x)); d > math.Abs(float64(x))/256+1e-30 {
			t.Fatalf("element %d: %v decoded as %v, more than bf16's rounding apart", i, x, v[i])
		}
	}
	fb := feedbackMsg()
	fb.Grad = NewTensorBF16([]int{4, 3}, make([]float32, 12))
	if p, err := AppendFeedback(nil, fb); err != nil {
		t.Fatal(err)
	} else if _, err := DecodeFeedback(p, &Spec{Batch: 4, DataDim: 3}, Topic{Kind: KindFeedback, Community: "c1", Device: "d1"}); err != nil {
		t.Errorf("bf16 feedback: %v", err)
	}
	g := generatorMsg()
	g.Params[0] = NewTensorBF16([]int{2, 5}, make([]float32, 10))
	if _, err := AppendGeneratorUpdate(nil, g); err == nil {
		t.Errorf("a bf16 generator parameter encoded, want an error (parameters are f32)")
	}
}
