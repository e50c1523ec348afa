package fed

import (
	"bytes"
	"testing"
	"time"
)

// TestReadyOutlivesAdvance checks the contract of Ready: its messages stay
// as they were after Advance and after the events that follow (here the
// feedback that closes the iteration and emits the next batch).
func TestReadyOutlivesAdvance(t *testing.T) {
	e, err := classEdge(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := firstBatch(t, e)
	r := e.Ready()
	fake, gen := bytes.Clone(first.Fake.Data), bytes.Clone(first.Gen.Data)
	fl, gl := bytes.Clone(first.FakeLabels), bytes.Clone(first.GenLabels)
	e.Advance()
	if e.HasReady() {
		t.Fatalf("Ready after Advance: %+v", e.Ready())
	}
	grad := make([]float32, 64*4)
	for i := range grad {
		grad[i] = 0.5
	}
	if err := e.Feedback(time.Unix(0, 0), &Feedback{Device: "a", Round: 0, Iter: first.Iter, Version: first.Version, Grad: grad}); err != nil {
		t.Fatal(err)
	}
	next := e.Ready().Batches
	if len(next) != 1 || next[0] == first || next[0].Iter != first.Iter+1 {
		t.Fatalf("after the feedback Ready has %d batches, want the next iteration's", len(next))
	}
	if len(r.Batches) != 1 || r.Batches[0] != first {
		t.Fatalf("the taken Ready changed: %d batches", len(r.Batches))
	}
	if !bytes.Equal(first.Fake.Data, fake) || !bytes.Equal(first.Gen.Data, gen) || !bytes.Equal(first.FakeLabels, fl) || !bytes.Equal(first.GenLabels, gl) {
		t.Fatal("the first batch changed after Advance and the next iteration")
	}
}
