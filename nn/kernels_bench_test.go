package nn

import (
	"fmt"
	"testing"
)

// BenchmarkGEMM times the matrix products of the reference GAN step.
func BenchmarkGEMM(b *testing.B) {
	for _, tc := range []struct {
		op      string
		m, n, k int
	}{
		{"NN", 128, 512, 784}, // D layer 1 forward
		{"NN", 64, 784, 512},  // G layer 3 forward
		{"TN", 784, 512, 128}, // D layer 1 weight gradient
		{"TN", 512, 784, 64},  // G layer 3 weight gradient
		{"NT", 64, 784, 512},  // D layer 1 input gradient
		{"NT", 128, 256, 512}, // D layer 2 input gradient... (128×512·(256×512)ᵀ)
	} {
		b.Run(fmt.Sprintf("%s/%dx%dx%d", tc.op, tc.m, tc.n, tc.k), func(b *testing.B) {
			a := make([]float32, tc.m*tc.k)
			bb := make([]float32, tc.k*tc.n)
			c := make([]float32, tc.m*tc.n)
			for i := range a {
				a[i] = float32(i%7) * 0.1
			}
			for i := range bb {
				bb[i] = float32(i%5) * 0.1
			}
			var s scratch
			ct := startCPU(b)
			for i := 0; i < b.N; i++ {
				switch tc.op {
				case "NN":
					gemmNN(c, a, bb, tc.m, tc.n, tc.k, 0, &s)
				case "TN":
					gemmTN(c, a, bb, tc.m, tc.n, tc.k, &s)
				case "NT":
					gemmNT(c, a, bb, tc.m, tc.n, tc.k, &s)
				}
			}
			b.ReportMetric(2*float64(tc.m*tc.n*tc.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
			b.ReportMetric(2*float64(tc.m*tc.n*tc.k)*float64(b.N)/ct.seconds()/1e9, "cpu-GFLOPS")
		})
	}
}
