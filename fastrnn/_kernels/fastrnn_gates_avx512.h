/* fastrnn_gates_avx512.h: the float32 LSTM forward gate loop written with AVX-512
 * intrinsics (included by fastrnn_gates.h after the generic float instantiation).
 *
 * Why: the generic loop (fastrnn_gates_impl.h, vectorised by gcc) computes 2^n in
 * fr_expf with an integer conversion, an add, a shift and a multiply; AVX-512's
 * vscalefps does it in one instruction, and vroundscaleps rounds in one.  Five
 * exponentials per unit make that 16% of the LSTM forward's gate math, which is a fifth
 * of a char-LM forward (benchmarks/README.md).  Same formulas, clamps and polynomials as
 * fr_expf / fr_sigmoidf / fr_tanhf (fastrnn_math.h); results agree with the generic loop
 * to about one float32 ulp (not bit for bit: the rounding of n can differ at a tie).
 *
 * fr_lstm_forward_units_fast_f / _row_fast_f pick this loop on CPUs with AVX-512F
 * (FASTRNN_GENERIC_GATES=1 forces the generic one: tests run both).
 */
#ifndef FASTRNN_GATES_AVX512_H
#define FASTRNN_GATES_AVX512_H

#include <stdlib.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(FASTRNN_NO_CLONES)
#define FR_HAVE_AVX512_GATES 1
#include <immintrin.h>

#define FR_AVX512 __attribute__((target("avx512f")))

FR_AVX512 static inline __m512 fr_exp16(__m512 x) {
    __m512 n, r, r2, p;
    /* clamp; min/max return their second operand when one is NaN: x goes second so that
     * NaN propagates (as in fr_expf), instead of becoming a finite gate */
    x = _mm512_max_ps(_mm512_set1_ps(FR_EXP_MIN), _mm512_min_ps(_mm512_set1_ps(FR_EXP_MAX), x));
    n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(FR_LOG2E)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(FR_LN2_HI), x); /* |r| <= ln(2) / 2 */
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(FR_LN2_LO), r);
    r2 = _mm512_mul_ps(r, r);
    p = _mm512_set1_ps(FR_EXP_P5);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(FR_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(FR_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(FR_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(FR_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(FR_EXP_P0));
    p = _mm512_fmadd_ps(p, r2, _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n); /* p 2^n */
}

FR_AVX512 static inline __m512 fr_sigmoid16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(one, _mm512_add_ps(one, fr_exp16(_mm512_sub_ps(_mm512_setzero_ps(), x))));
}

/* tanh: the odd polynomial for |x| < FR_TANH_SMALL, 1 - 2 / (e^2|x| + 1) with x's sign
 * above. */
FR_AVX512 static inline __m512 fr_tanh16(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 ax = _mm512_abs_ps(x), z = _mm512_mul_ps(x, x), small, big;
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u));
    small = _mm512_set1_ps(FR_TANH_T4);
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(FR_TANH_T3));
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(FR_TANH_T2));
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(FR_TANH_T1));
    small = _mm512_fmadd_ps(small, z, _mm512_set1_ps(FR_TANH_T0));
    small = _mm512_fmadd_ps(_mm512_mul_ps(small, z), x, x);
    big = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f),
                                           _mm512_add_ps(fr_exp16(_mm512_add_ps(ax, ax)), one)));
    big = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(big), sign));
    return _mm512_mask_blend_ps(
        _mm512_cmp_ps_mask(ax, _mm512_set1_ps(FR_TANH_SMALL), _CMP_LT_OQ), big, small);
}

/* Steps 1b-4 of fr_lstm_forward_row_impl (fastrnn_gates_impl.h) for n units, 16 at a
 * time: gate block k at g[k * gs + j], z[k * zs + j], wp[k * gs + j]; wp NULL: no
 * peepholes; c_out NULL: inference (g keeps a, no c_t saved). */
FR_AVX512 __attribute__((noinline)) static void fr_lstm_forward_avx512(
    int n, int gs, int zs, const float *wp, float *g, const float *z, float *c, float *h,
    float *y, float *c_out)
{
    int j;
    for (j = 0; j < n; j += 16) {
        __mmask16 m = n - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - j)) - 1u);
        /* 1b: a += W_hh h_prev */
        __m512 ai = _mm512_add_ps(_mm512_maskz_loadu_ps(m, g + j), _mm512_maskz_loadu_ps(m, z + j));
        __m512 af = _mm512_add_ps(_mm512_maskz_loadu_ps(m, g + gs + j),
                                  _mm512_maskz_loadu_ps(m, z + zs + j));
        __m512 ag = _mm512_add_ps(_mm512_maskz_loadu_ps(m, g + 2 * gs + j),
                                  _mm512_maskz_loadu_ps(m, z + 2 * zs + j));
        __m512 ao = _mm512_add_ps(_mm512_maskz_loadu_ps(m, g + 3 * gs + j),
                                  _mm512_maskz_loadu_ps(m, z + 3 * zs + j));
        __m512 cp = _mm512_maskz_loadu_ps(m, c + j), vi, vf, vg, vo, ct, ht;
        /* 2: i, f (peepholes see c_prev), g */
        if (wp) {
            ai = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, wp + j), cp, ai);
            af = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, wp + gs + j), cp, af);
        }
        vi = fr_sigmoid16(ai);
        vf = fr_sigmoid16(af);
        vg = fr_tanh16(ag);
        /* 3: c_t = f c_prev + i g */
        ct = _mm512_fmadd_ps(vf, cp, _mm512_mul_ps(vi, vg));
        /* 4: o (peephole sees c_t), h_t = o tanh(c_t) */
        if (wp)
            ao = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, wp + 2 * gs + j), ct, ao);
        vo = fr_sigmoid16(ao);
        ht = _mm512_mul_ps(vo, fr_tanh16(ct));
        if (c_out) {
            _mm512_mask_storeu_ps(g + j, m, vi);
            _mm512_mask_storeu_ps(g + gs + j, m, vf);
            _mm512_mask_storeu_ps(g + 2 * gs + j, m, vg);
            _mm512_mask_storeu_ps(g + 3 * gs + j, m, vo);
            _mm512_mask_storeu_ps(c_out + j, m, ct);
        }
        _mm512_mask_storeu_ps(c + j, m, ct);
        _mm512_mask_storeu_ps(h + j, m, ht);
        _mm512_mask_storeu_ps(y + j, m, ht);
    }
}

/* 1: use the AVX-512 loop (the CPU has AVX-512F and FASTRNN_GENERIC_GATES is not 1). */
static inline int fr_avx512_gates(void) {
    static int ok = -1; /* benign race: every thread computes the same value */
    if (ok < 0) {
        const char *force = getenv("FASTRNN_GENERIC_GATES");
        __builtin_cpu_init();
        ok = __builtin_cpu_supports("avx512f") && !(force && force[0] == '1');
    }
    return ok;
}
#else
#define FR_HAVE_AVX512_GATES 0
#endif

/* The float32 LSTM forward entry points the kernels call (_gates.pxd). */
static inline void fr_lstm_forward_units_fast_f(int n, int gs, int zs, const float *wp,
                                                float *g, const float *z, float *c,
                                                float *h, float *y, float *c_out)
{
#if FR_HAVE_AVX512_GATES
    if (fr_avx512_gates()) {
        fr_lstm_forward_avx512(n, gs, zs, wp, g, z, c, h, y, c_out);
        return;
    }
#endif
    fr_lstm_forward_units_f(n, gs, zs, wp, g, z, c, h, y, c_out);
}

static inline void fr_lstm_forward_row_fast_f(int H, const float *wp, float *g, const float *z,
                                              float *c, float *h, float *y, float *c_out)
{
    fr_lstm_forward_units_fast_f(H, H, H, wp, g, z, c, h, y, c_out); /* a whole row */
}

#endif
