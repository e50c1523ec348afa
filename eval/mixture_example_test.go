package eval_test

import (
	"fmt"

	"github.com/fedgan/fedgan/data"
	"github.com/fedgan/fedgan/eval"
)

func ExampleScoreMixture() {
	m := data.Ring(4, 2, 0.1) // modes at (2,0), (0,2), (−2,0), (0,−2)
	samples := []float32{
		2, 0, 2.1, 0, // mode 0, twice
		0, 2.05, // mode 1
		-2, 0.2, // mode 2, 2σ away
		1, 1, // between modes: not high quality
	}
	r, err := eval.ScoreMixture(m, samples)
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Counts)
	fmt.Println(r)
	// Output:
	// [2 1 1 0]
	// modes covered 3/4 (captured 3), high quality 80.0%, reverse KL 0.3466 (5 samples)
}
