//go:build !amd64 || purego

package nn

// haveFMA is false without assembly: the matrix products use gonum.
const haveFMA = false

// haveAVX512 is false without assembly.
const haveAVX512 = false

func sgemm4x16(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	panic("nn: sgemm4x16 without assembly")
}

func packB16(dst, src *float32, lds, k int) { panic("nn: packB16 without assembly") }

func transposeFast(dst, a []float32, r, c int) { transpose(dst, a, r, c) }

func sgemm4x32(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, acc bool) {
	panic("nn: sgemm4x32 without assembly")
}

func packB32(dst, src *float32, lds, k int) { panic("nn: packB32 without assembly") }
