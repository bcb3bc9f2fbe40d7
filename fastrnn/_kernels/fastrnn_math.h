/* fastrnn_math.h: scalar activations for the kernels and denormal flushing.
 *
 * Kept in C so that the compiler can inline them into the gate loops.  double uses libm.
 * float uses a branch-free expf (Cephes' polynomial, about 1 ulp) that gcc vectorises
 * inside the gate loops, where libm's expf/tanhf are scalar calls: the gate math of a
 * small LSTM step costs as much as its GEMM otherwise (see benchmarks/README.md).
 */
#ifndef FASTRNN_MATH_H
#define FASTRNN_MATH_H

#include <math.h>
#include <string.h>

#if defined(__SSE__) || defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
#define FR_HAVE_MXCSR 1
#else
#define FR_HAVE_MXCSR 0
#endif

/* Always inlined: a gate loop that calls them out of line is not vectorised at all
 * (gcc stopped inlining them into the four instantiations of the LSTM row loop). */
#if defined(__GNUC__) || defined(__clang__)
#define FR_MATH_INLINE static inline __attribute__((always_inline))
#else
#define FR_MATH_INLINE static inline
#endif

/* The constants of the float exp and tanh, shared with the AVX-512 gate loop
 * (fastrnn_gates_avx512.h), which must compute the same functions. */
#define FR_EXP_MIN (-87.0f)   /* clamp: e^x stays a normal float */
#define FR_EXP_MAX 88.0f
#define FR_LOG2E 1.44269504088896341f
#define FR_LN2_HI 0.693359375f /* ln 2 = FR_LN2_HI + FR_LN2_LO, the first exact */
#define FR_LN2_LO (-2.12194440e-4f)
#define FR_EXP_P5 1.9875691500e-4f /* e^r ~ 1 + r + r^2 (P0 + P1 r + ... + P5 r^5) */
#define FR_EXP_P4 1.3981999507e-3f
#define FR_EXP_P3 8.3334519073e-3f
#define FR_EXP_P2 4.1665795894e-2f
#define FR_EXP_P1 1.6666665459e-1f
#define FR_EXP_P0 5.0000001201e-1f
#define FR_TANH_SMALL 0.625f /* below: tanh x ~ x + x^3 (T0 + T1 z + ... + T4 z^4) */
#define FR_TANH_T4 (-5.70498872745e-3f)
#define FR_TANH_T3 2.06390887954e-2f
#define FR_TANH_T2 (-5.37397155531e-2f)
#define FR_TANH_T1 1.33314422036e-1f
#define FR_TANH_T0 (-3.33332819422e-1f)

/* exp(x) for float, |x| clamped to the finite range; no branches, no libm call. */
FR_MATH_INLINE float fr_expf(float x) {
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adds and rounds to integer */
    float n, r, r2, p, scale;
    int bits;
    x = x < FR_EXP_MIN ? FR_EXP_MIN : (x > FR_EXP_MAX ? FR_EXP_MAX : x);
    n = (x * FR_LOG2E + round_magic) - round_magic; /* round(x / ln 2) */
    r = (x - n * FR_LN2_HI) - n * FR_LN2_LO;        /* |r| <= ln(2) / 2 */
    r2 = r * r;
    p = FR_EXP_P5;
    p = p * r + FR_EXP_P4;
    p = p * r + FR_EXP_P3;
    p = p * r + FR_EXP_P2;
    p = p * r + FR_EXP_P1;
    p = p * r + FR_EXP_P0;
    p = p * r2 + r + 1.0f;
    bits = ((int)n + 127) << 23;                 /* 2^n as IEEE bits */
    memcpy(&scale, &bits, sizeof scale);         /* (a bit cast that vectorises) */
    return p * scale;
}

FR_MATH_INLINE float fr_sigmoidf(float x) { return 1.0f / (1.0f + fr_expf(-x)); }

/* tanh: odd polynomial near zero (no cancellation), 1 - 2 / (e^2x + 1) elsewhere. */
FR_MATH_INLINE float fr_tanhf(float x) {
    float ax = x < 0.0f ? -x : x;
    float z = x * x;
    float small = ((((FR_TANH_T4 * z + FR_TANH_T3) * z + FR_TANH_T2) * z + FR_TANH_T1) * z
                   + FR_TANH_T0) * z * x + x;
    float big = 1.0f - 2.0f / (fr_expf(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < FR_TANH_SMALL ? small : big;
}
static inline double fr_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }
static inline double fr_tanh(double x) { return tanh(x); }

/* Flush denormals to zero (FTZ) and treat denormal inputs as zero (DAZ) for the calling
 * thread; returns the previous control word so the caller can restore it. Denormals
 * appear when vanishing gradients decay towards zero and can slow x86 math 100x. */
static inline unsigned int fr_ftz_enter(void) {
#if FR_HAVE_MXCSR
    unsigned int saved = _mm_getcsr();
    _mm_setcsr(saved | 0x8040u);
    return saved;
#else
    return 0u;
#endif
}

static inline void fr_ftz_exit(unsigned int saved) {
#if FR_HAVE_MXCSR
    _mm_setcsr(saved);
#else
    (void)saved;
#endif
}

#endif
