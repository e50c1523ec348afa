//go:build amd64 && !purego

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func sgemm4x16(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, acc bool)
//
// C[0:4, 0:16] = A[0:4, 0:k]·B[0:k, 0:16] (+ C when acc), where element
// (i, l) of A is a[i·rs + l·cs], B is row-major with stride ldb and C with
// stride ldc. Needs AVX2 and FMA.
TEXT ·sgemm4x16(SB), NOSPLIT, $0-65
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), R8
	MOVQ rs+16(FP), AX
	SHLQ $2, AX
	LEAQ (R8)(AX*1), R9
	LEAQ (R9)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	MOVQ cs+24(FP), R12
	SHLQ $2, R12
	MOVQ b+32(FP), SI
	MOVQ ldb+40(FP), R13
	SHLQ $2, R13
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), R14
	SHLQ $2, R14

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ  CX, CX
	JZ     k_done

k_loop:
	VMOVUPS      (SI), Y8
	VMOVUPS      32(SI), Y9
	VBROADCASTSS (R8), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (R9), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R10), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (R11), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         R12, R8
	ADDQ         R12, R9
	ADDQ         R12, R10
	ADDQ         R12, R11
	ADDQ         R13, SI
	DECQ         CX
	JNZ          k_loop

k_done:
	MOVBLZX acc+64(FP), AX
	TESTQ   AX, AX
	JZ      store
	VADDPS  (DI), Y0, Y0
	VADDPS  32(DI), Y1, Y1
	ADDQ    R14, DI
	VADDPS  (DI), Y2, Y2
	VADDPS  32(DI), Y3, Y3
	ADDQ    R14, DI
	VADDPS  (DI), Y4, Y4
	VADDPS  32(DI), Y5, Y5
	ADDQ    R14, DI
	VADDPS  (DI), Y6, Y6
	VADDPS  32(DI), Y7, Y7
	MOVQ    c+48(FP), DI

store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R14, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ    R14, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    R14, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	VZEROUPPER
	RET
