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

// func packB16(dst, src *float32, lds, k int)
// Copies k rows of 16 floats, src rows lds floats apart, to dst
// contiguously. Needs AVX.
TEXT ·packB16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX
	MOVQ k+24(FP), CX
	TESTQ CX, CX
	JZ   pb_done

pb_loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    DX, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     pb_loop

pb_done:
	VZEROUPPER
	RET

// func transpose4(dst *float32, ldd int, src *float32, lds int, r4, c4 int)
// Writes the transpose of the r4×c4 block of src (row stride lds) into
// dst (row stride ldd), 4×4 blocks at a time; r4 and c4 are multiples of
// 4. SSE only.
TEXT ·transpose4(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ r4+32(FP), R10
	MOVQ c4+40(FP), R11
	TESTQ R10, R10
	JZ   tr_done
	TESTQ R11, R11
	JZ   tr_done

	// R12 = row-block index i (0, 4, ...), R13 = column-block index j.
	XORQ R12, R12

tr_rows:
	XORQ R13, R13

tr_cols:
	// src block at SI + (i·lds + j)·4, dst block at DI + (j·ldd + i)·4.
	MOVQ R12, AX
	IMULQ R9, AX
	LEAQ (SI)(AX*1), AX
	LEAQ (AX)(R13*4), AX
	MOVUPS (AX), X0
	ADDQ   R9, AX
	MOVUPS (AX), X1
	ADDQ   R9, AX
	MOVUPS (AX), X2
	ADDQ   R9, AX
	MOVUPS (AX), X3

	// 4×4 transpose of rows X0..X3.
	MOVAPS   X0, X4
	UNPCKLPS X1, X4 // a0 b0 a1 b1
	UNPCKHPS X1, X0 // a2 b2 a3 b3
	MOVAPS   X2, X5
	UNPCKLPS X3, X5 // c0 d0 c1 d1
	UNPCKHPS X3, X2 // c2 d2 c3 d3
	MOVAPS   X4, X1
	MOVLHPS  X5, X1 // a0 b0 c0 d0
	MOVHLPS  X4, X5 // a1 b1 c1 d1
	MOVAPS   X0, X3
	MOVLHPS  X2, X3 // a2 b2 c2 d2
	MOVHLPS  X0, X2 // a3 b3 c3 d3

	MOVQ   R13, BX
	IMULQ  R8, BX
	LEAQ   (DI)(BX*1), BX
	LEAQ   (BX)(R12*4), BX
	MOVUPS X1, (BX)
	ADDQ   R8, BX
	MOVUPS X5, (BX)
	ADDQ   R8, BX
	MOVUPS X3, (BX)
	ADDQ   R8, BX
	MOVUPS X2, (BX)

	ADDQ $4, R13
	CMPQ R13, R11
	JLT  tr_cols
	ADDQ $4, R12
	CMPQ R12, R10
	JLT  tr_rows

tr_done:
	RET

// func sgemm4x32(k int, a *float32, rs, cs int, b *float32, ldb int, c *float32, ldc int, acc bool)
//
// sgemm4x16 for a 4×32 tile of C, with AVX-512F.
TEXT ·sgemm4x32(SB), NOSPLIT, $0-65
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

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ  CX, CX
	JZ     k32_done

k32_loop:
	VMOVUPS      (SI), Z8
	VMOVUPS      64(SI), Z9
	VBROADCASTSS (R8), Z10
	VFMADD231PS  Z8, Z10, Z0
	VFMADD231PS  Z9, Z10, Z1
	VBROADCASTSS (R9), Z11
	VFMADD231PS  Z8, Z11, Z2
	VFMADD231PS  Z9, Z11, Z3
	VBROADCASTSS (R10), Z12
	VFMADD231PS  Z8, Z12, Z4
	VFMADD231PS  Z9, Z12, Z5
	VBROADCASTSS (R11), Z13
	VFMADD231PS  Z8, Z13, Z6
	VFMADD231PS  Z9, Z13, Z7
	ADDQ         R12, R8
	ADDQ         R12, R9
	ADDQ         R12, R10
	ADDQ         R12, R11
	ADDQ         R13, SI
	DECQ         CX
	JNZ          k32_loop

k32_done:
	MOVBLZX acc+64(FP), AX
	TESTQ   AX, AX
	JZ      store32
	VADDPS  (DI), Z0, Z0
	VADDPS  64(DI), Z1, Z1
	ADDQ    R14, DI
	VADDPS  (DI), Z2, Z2
	VADDPS  64(DI), Z3, Z3
	ADDQ    R14, DI
	VADDPS  (DI), Z4, Z4
	VADDPS  64(DI), Z5, Z5
	ADDQ    R14, DI
	VADDPS  (DI), Z6, Z6
	VADDPS  64(DI), Z7, Z7
	MOVQ    c+48(FP), DI

store32:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    R14, DI
	VMOVUPS Z2, (DI)
	VMOVUPS Z3, 64(DI)
	ADDQ    R14, DI
	VMOVUPS Z4, (DI)
	VMOVUPS Z5, 64(DI)
	ADDQ    R14, DI
	VMOVUPS Z6, (DI)
	VMOVUPS Z7, 64(DI)
	VZEROUPPER
	RET

// func packB32(dst, src *float32, lds, k int)
// packB16 for rows of 32 floats. Needs AVX.
TEXT ·packB32(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lds+16(FP), DX
	SHLQ $2, DX
	MOVQ k+24(FP), CX
	TESTQ CX, CX
	JZ   pb32_done

pb32_loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    DX, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     pb32_loop

pb32_done:
	VZEROUPPER
	RET
