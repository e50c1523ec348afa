//go:build amd64 && !purego

package nn

//go:noescape
func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

//go:noescape
func sgemm4x16(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, acc bool)

//go:noescape
func sgemm4x32(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, acc bool)

//go:noescape
func packB32(dst, src *float32, lds, k int)

// haveAVX512 reports whether the CPU and OS support AVX-512F (with AVX2
// and FMA), which the 4×32 kernel needs. Computed once, never changed.
var haveAVX512 = haveFMA && detectAVX512()

func detectAVX512() bool {
	// XCR0 bits 5-7: opmask, upper halves of ZMM0-15, ZMM16-31.
	if xcr0, _ := xgetbv(); xcr0&0xe6 != 0xe6 {
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0 // AVX512F
}

// haveFMA reports whether the CPU and OS support AVX2 and FMA, which the
// 4×16 matrix-product kernel needs. It is computed once, at package
// initialisation, and never changes.
var haveFMA = detectFMA()

func detectFMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state enabled
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}

//go:noescape
func packB16(dst, src *float32, lds, k int)

//go:noescape
func transpose4(dst *float32, ldd int, src *float32, lds int, r4, c4 int)

// transposeFast writes the c×r transpose of the r×c matrix a into dst
// using 4×4 SSE blocks and scalar code for the edges.
func transposeFast(dst, a []float32, r, c int) {
	dst = dst[:r*c]
	a = a[:r*c]
	r4, c4 := r&^3, c&^3
	if r4 > 0 && c4 > 0 {
		transpose4(&dst[0], r, &a[0], c, r4, c4)
	}
	for i := 0; i < r; i++ {
		j0 := c4
		if i >= r4 {
			j0 = 0
		}
		for j := j0; j < c; j++ {
			dst[j*r+i] = a[i*c+j]
		}
	}
}
