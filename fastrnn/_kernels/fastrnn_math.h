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

/* exp(x) for float, |x| clamped to the finite range; no branches, no libm call. */
FR_MATH_INLINE float fr_expf(float x) {
    const float log2e = 1.44269504088896341f;
    const float ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adds and rounds to integer */
    float n, r, r2, p, scale;
    int bits;
    x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
    n = (x * log2e + round_magic) - round_magic; /* round(x / ln 2) */
    r = (x - n * ln2_hi) - n * ln2_lo;           /* |r| <= ln(2) / 2 */
    r2 = r * r;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
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
    float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z
                     - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z
                   - 3.33332819422e-1f) * z * x + x;
    float big = 1.0f - 2.0f / (fr_expf(2.0f * ax) + 1.0f);
    big = x < 0.0f ? -big : big;
    return ax < 0.625f ? small : big;
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
