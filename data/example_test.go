package data_test

import (
	"fmt"

	"github.com/fedgan/fedgan/data"
)

func ExampleGrid() {
	m := data.Grid(5, 5, 2, 0.05) // the standard 25-mode benchmark
	fmt.Println(m.Modes(), m.Means[0], m.Means[12], m.Means[24], m.Std[0])
	// Output: 25 [-4 -4] [0 0] [4 4] 0.05
}

func ExampleScaler() {
	sc := data.FitScaler([]string{"temp", "door"}, []float64{
		10, 1,
		30, 1, // door is constant
	})
	model := make([]float32, 2)
	sc.Transform(model, []float64{25, 1})
	units := make([]float64, 2)
	sc.Inverse(units, model)
	fmt.Println(model, units)
	// Output: [0.5 0] [25 1]
}

func ExamplePixel() {
	fmt.Println(data.Pixel(0), data.Pixel(255), data.PixelByte(0.6), data.Pixel(255-51) == -data.Pixel(51))
	// Output: -1 1 204 true
}
