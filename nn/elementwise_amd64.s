//go:build amd64 && !purego

#include "textflag.h"

// func adamSSE(w, g, m, v []float32, h *adamHyper)
// len(w) is a multiple of 4 and g, m, v are at least as long.
TEXT ·adamSSE(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ h+96(FP), AX
	MOVSS 0(AX), X8
	SHUFPS $0, X8, X8   // b1
	MOVSS 4(AX), X9
	SHUFPS $0, X9, X9   // c1
	MOVSS 8(AX), X10
	SHUFPS $0, X10, X10 // b2
	MOVSS 12(AX), X11
	SHUFPS $0, X11, X11 // c2
	MOVSS 16(AX), X12
	SHUFPS $0, X12, X12 // step
	MOVSS 20(AX), X13
	SHUFPS $0, X13, X13 // invBC2
	MOVSS 24(AX), X14
	SHUFPS $0, X14, X14 // eps
	SHRQ $2, CX
	JZ   adam_done

adam_loop:
	MOVUPS (SI), X0  // g
	MOVUPS (R8), X1  // m
	MOVUPS (R9), X2  // v
	MULPS  X8, X1    // b1·m
	MOVAPS X0, X3
	MULPS  X9, X3    // c1·g
	ADDPS  X3, X1    // m = b1·m + c1·g
	MOVUPS X1, (R8)
	MULPS  X0, X0    // g²
	MULPS  X11, X0   // c2·g²
	MULPS  X10, X2   // b2·v
	ADDPS  X0, X2    // v = b2·v + c2·g²
	MOVUPS X2, (R9)
	SQRTPS X2, X2    // √v
	MULPS  X13, X2   // √v·invBC2
	ADDPS  X14, X2   // + eps
	MULPS  X12, X1   // step·m
	DIVPS  X2, X1    // step·m / d
	MOVUPS (DI), X3
	SUBPS  X1, X3    // w − step·m/d
	MOVUPS X3, (DI)
	ADDQ   $16, DI
	ADDQ   $16, SI
	ADDQ   $16, R8
	ADDQ   $16, R9
	DECQ   CX
	JNZ    adam_loop

adam_done:
	RET

DATA one<>+0(SB)/4, $0x3f800000
GLOBL one<>(SB), RODATA, $4

// func leakyForwardSSE(y, x []float32, alpha float32)
// y = x·s with s = 1 where x > 0 and s = alpha elsewhere.
TEXT ·leakyForwardSSE(SB), NOSPLIT, $0-52
	MOVQ   y_base+0(FP), DI
	MOVQ   x_base+24(FP), SI
	MOVQ   x_len+32(FP), CX
	MOVSS  alpha+48(FP), X7
	SHUFPS $0, X7, X7 // alpha
	MOVSS  one<>(SB), X6
	SHUFPS $0, X6, X6 // 1
	XORPS  X5, X5     // 0
	SHRQ   $2, CX
	JZ     lf_done

lf_loop:
	MOVUPS (SI), X0
	MOVAPS X5, X1
	CMPPS  X0, X1, $1 // mask = 0 < x
	MOVAPS X1, X2
	ANDPS  X6, X1     // 1 where x > 0
	ANDNPS X7, X2     // alpha elsewhere
	ORPS   X2, X1
	MULPS  X1, X0
	MOVUPS X0, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DI
	DECQ   CX
	JNZ    lf_loop

lf_done:
	RET

// func leakyBackwardSSE(dx, dy, x []float32, alpha float32)
// dx = dy·s with s = 1 where x > 0 and s = alpha elsewhere.
TEXT ·leakyBackwardSSE(SB), NOSPLIT, $0-76
	MOVQ   dx_base+0(FP), DI
	MOVQ   dy_base+24(FP), DX
	MOVQ   x_base+48(FP), SI
	MOVQ   x_len+56(FP), CX
	MOVSS  alpha+72(FP), X7
	SHUFPS $0, X7, X7
	MOVSS  one<>(SB), X6
	SHUFPS $0, X6, X6
	XORPS  X5, X5
	SHRQ   $2, CX
	JZ     lb_done

lb_loop:
	MOVUPS (SI), X0
	MOVAPS X5, X1
	CMPPS  X0, X1, $1 // mask = 0 < x
	MOVAPS X1, X2
	ANDPS  X6, X1
	ANDNPS X7, X2
	ORPS   X2, X1
	MOVUPS (DX), X3
	MULPS  X1, X3
	MOVUPS X3, (DI)
	ADDQ   $16, SI
	ADDQ   $16, DX
	ADDQ   $16, DI
	DECQ   CX
	JNZ    lb_loop

lb_done:
	RET

// func adamAVX(w, g, m, v []float32, h *adamHyper)
// adamSSE with 8 lanes; len(w) is a multiple of 8. Needs AVX. The same
// IEEE operations in the same order (no FMA), so the same bits.
TEXT ·adamAVX(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ h+96(FP), AX
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // c1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // c2
	VBROADCASTSS 16(AX), Y12 // step
	VBROADCASTSS 20(AX), Y13 // invBC2
	VBROADCASTSS 24(AX), Y14 // eps
	SHRQ $3, CX
	JZ   adamavx_done

adamavx_loop:
	VMOVUPS (SI), Y0       // g
	VMULPS  (R8), Y8, Y1   // b1·m
	VMULPS  Y0, Y9, Y3     // c1·g
	VADDPS  Y3, Y1, Y1     // m
	VMOVUPS Y1, (R8)
	VMULPS  Y0, Y0, Y0     // g²
	VMULPS  Y0, Y11, Y0    // c2·g²
	VMULPS  (R9), Y10, Y2  // b2·v
	VADDPS  Y0, Y2, Y2     // v
	VMOVUPS Y2, (R9)
	VSQRTPS Y2, Y2
	VMULPS  Y13, Y2, Y2
	VADDPS  Y14, Y2, Y2    // d
	VMULPS  Y12, Y1, Y1    // step·m
	VDIVPS  Y2, Y1, Y1     // step·m/d
	VMOVUPS (DI), Y3
	VSUBPS  Y1, Y3, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, R8
	ADDQ    $32, R9
	DECQ    CX
	JNZ     adamavx_loop

adamavx_done:
	VZEROUPPER
	RET

// func adamAVX512(w, g, m, v []float32, h *adamHyper)
// adamSSE with 16 lanes; len(w) is a multiple of 16. Needs AVX-512F. The same
// IEEE operations in the same order (no FMA), so the same bits.
TEXT ·adamAVX512(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ h+96(FP), AX
	VBROADCASTSS 0(AX), Z8   // b1
	VBROADCASTSS 4(AX), Z9   // c1
	VBROADCASTSS 8(AX), Z10  // b2
	VBROADCASTSS 12(AX), Z11 // c2
	VBROADCASTSS 16(AX), Z12 // step
	VBROADCASTSS 20(AX), Z13 // invBC2
	VBROADCASTSS 24(AX), Z14 // eps
	SHRQ $4, CX
	JZ   adamavx512_done

adamavx512_loop:
	VMOVUPS (SI), Z0       // g
	VMULPS  (R8), Z8, Z1   // b1·m
	VMULPS  Z0, Z9, Z3     // c1·g
	VADDPS  Z3, Z1, Z1     // m
	VMOVUPS Z1, (R8)
	VMULPS  Z0, Z0, Z0     // g²
	VMULPS  Z0, Z11, Z0    // c2·g²
	VMULPS  (R9), Z10, Z2  // b2·v
	VADDPS  Z0, Z2, Z2     // v
	VMOVUPS Z2, (R9)
	VSQRTPS Z2, Z2
	VMULPS  Z13, Z2, Z2
	VADDPS  Z14, Z2, Z2    // d
	VMULPS  Z12, Z1, Z1    // step·m
	VDIVPS  Z2, Z1, Z1     // step·m/d
	VMOVUPS (DI), Z3
	VSUBPS  Z1, Z3, Z3
	VMOVUPS Z3, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $64, R8
	ADDQ    $64, R9
	DECQ    CX
	JNZ     adamavx512_loop

adamavx512_done:
	VZEROUPPER
	RET

// Constants of tanhRef, as float32 bits.
DATA tanhc<>+0(SB)/4, $0xa59f25c0  // a13
DATA tanhc<>+4(SB)/4, $0x2a61337e  // a11
DATA tanhc<>+8(SB)/4, $0xaebd37ff  // a9
DATA tanhc<>+12(SB)/4, $0x335c0041 // a7
DATA tanhc<>+16(SB)/4, $0x3779434a // a5
DATA tanhc<>+20(SB)/4, $0x3a270ded // a3
DATA tanhc<>+24(SB)/4, $0x3ba059dc // a1
DATA tanhc<>+28(SB)/4, $0x35a0d3d8 // b6
DATA tanhc<>+32(SB)/4, $0x38f895d6 // b4
DATA tanhc<>+36(SB)/4, $0x3b14aa05 // b2
DATA tanhc<>+40(SB)/4, $0x3ba059dd // b0
DATA tanhc<>+44(SB)/4, $0x40fcf84f // clamp
DATA tanhc<>+48(SB)/4, $0xc0fcf84f // −clamp
DATA tanhc<>+52(SB)/4, $0x39d1b717 // 4e-4
DATA tanhc<>+56(SB)/4, $0x41100000 // 9
DATA tanhc<>+60(SB)/4, $0xc1100000 // −9
DATA tanhc<>+64(SB)/4, $0x3f800000 // 1
DATA tanhc<>+68(SB)/4, $0xbf800000 // −1
DATA tanhc<>+72(SB)/4, $0x7fffffff // |·| mask
GLOBL tanhc<>(SB), RODATA, $76

// func tanhAVX(y, x []float32)
// tanhRef, 8 lanes at a time; len(x) is a multiple of 8. Needs AVX. The
// same IEEE operations in the same order (no FMA), so the same bits.
TEXT ·tanhAVX(SB), NOSPLIT, $0-48
	MOVQ y_base+0(FP), DI
	MOVQ x_base+24(FP), SI
	MOVQ x_len+32(FP), CX
	SHRQ $3, CX
	JZ   tanh_done
	LEAQ tanhc<>(SB), AX
	VBROADCASTSS 44(AX), Y15 // clamp
	VBROADCASTSS 48(AX), Y14 // −clamp
	VBROADCASTSS 72(AX), Y13 // |·| mask
	VBROADCASTSS 52(AX), Y12 // 4e-4
	VBROADCASTSS 56(AX), Y11 // 9
	VBROADCASTSS 60(AX), Y10 // −9

tanh_loop:
	VMOVUPS (SI), Y0
	VMAXPS  Y0, Y14, Y1 // max(−clamp, x), NaN from x
	VMINPS  Y1, Y15, Y1 // min(clamp, ·), NaN kept
	VMULPS  Y1, Y1, Y2  // x²

	VBROADCASTSS 0(AX), Y3 // p = a13
	VMULPS       Y2, Y3, Y3
	VBROADCASTSS 4(AX), Y4
	VADDPS       Y4, Y3, Y3
	VMULPS       Y2, Y3, Y3
	VBROADCASTSS 8(AX), Y4
	VADDPS       Y4, Y3, Y3
	VMULPS       Y2, Y3, Y3
	VBROADCASTSS 12(AX), Y4
	VADDPS       Y4, Y3, Y3
	VMULPS       Y2, Y3, Y3
	VBROADCASTSS 16(AX), Y4
	VADDPS       Y4, Y3, Y3
	VMULPS       Y2, Y3, Y3
	VBROADCASTSS 20(AX), Y4
	VADDPS       Y4, Y3, Y3
	VMULPS       Y2, Y3, Y3
	VBROADCASTSS 24(AX), Y4
	VADDPS       Y4, Y3, Y3
	VMULPS       Y1, Y3, Y3 // p·x

	VBROADCASTSS 28(AX), Y5 // q = b6
	VMULPS       Y2, Y5, Y5
	VBROADCASTSS 32(AX), Y4
	VADDPS       Y4, Y5, Y5
	VMULPS       Y2, Y5, Y5
	VBROADCASTSS 36(AX), Y4
	VADDPS       Y4, Y5, Y5
	VMULPS       Y2, Y5, Y5
	VBROADCASTSS 40(AX), Y4
	VADDPS       Y4, Y5, Y5
	VDIVPS       Y5, Y3, Y3 // p/q

	VANDPS       Y13, Y0, Y6           // |x|
	VCMPPS       $0x01, Y12, Y6, Y6    // |x| < 4e-4
	VBLENDVPS    Y6, Y0, Y3, Y3        // → x
	VCMPPS       $0x0d, Y11, Y0, Y6    // x ≥ 9
	VBROADCASTSS 64(AX), Y4
	VBLENDVPS    Y6, Y4, Y3, Y3        // → 1
	VCMPPS       $0x02, Y10, Y0, Y6    // x ≤ −9
	VBROADCASTSS 68(AX), Y4
	VBLENDVPS    Y6, Y4, Y3, Y3        // → −1
	VMOVUPS      Y3, (DI)

	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  tanh_loop

tanh_done:
	VZEROUPPER
	RET
