/* fastrnn_sgemm.h: float GEMMs of our own, picked at run time by the CPU's vector ISA.
 *
 * Every time step multiplies a few batch rows by the same recurrent weight matrix.  A
 * general BLAS packs that matrix again on every call; at the recurrence's shapes (16-64
 * rows) the repacking costs as much as a fifth of the product.  Here the weights are
 * packed once per kernel call into column panels (zero padded), and a register-blocked
 * micro-kernel streams through them.
 *
 * fr_sgemm_isa() says which path runs (FASTRNN_NO_PACKED_SGEMM=1 forces 0,
 * FASTRNN_NO_AVX512=1 caps it at 1, FASTRNN_NO_AMX=1 at 2):
 *   3  AMX: fastrnn_sgemm_amx.h, float32 GEMMs on the bf16 tile unit (each operand split
 *      into three bf16 pieces, float32 accuracy), for every float GEMM as with 2
 *   2  AVX-512: fastrnn_sgemm_avx512.h, a blocked 8x32 GEMM used for *every* float GEMM of
 *      the kernels (per-step products against the prepacked weights, and, through
 *      fr_sgemm, the input projection and the weight gradients)
 *   1  AVX2+FMA: the 6x16 micro-kernel below for the per-step products; BLIS otherwise
 *   0  BLIS everywhere (other CPUs and compilers)
 * benchmarks/bench_gemm.py measures each against BLIS, OpenBLAS and MKL.
 */
#ifndef FASTRNN_SGEMM_H
#define FASTRNN_SGEMM_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FR_NR 16 /* columns per packed panel: two 8-float AVX registers */
#define FR_MR 6  /* rows per micro-tile: 6 x 2 accumulators + 2 B + 1 A = 15 ymm */

/* Floats needed to pack a K x N matrix for the AVX2 kernel: ceil(N / 16) panels of K x 16. */
static inline size_t fr_packed_size16(int K, int N) {
    return (size_t)((N + FR_NR - 1) / FR_NR) * FR_NR * (size_t)K;
}

/* Pack B (K x N; element (k, n) at B[k * rs + n * cs]) into 16-column panels:
 * out[p][k][0..15] = B[k][16 p + 0..15], zero beyond N. */
static inline void fr_pack_b16(int K, int N, const float *B, long rs, long cs, float *out) {
    int p, k, j, n_panels = (N + FR_NR - 1) / FR_NR;
    for (p = 0; p < n_panels; p++) {
        float *panel = out + (size_t)p * K * FR_NR;
        int n0 = p * FR_NR;
        for (k = 0; k < K; k++) {
            for (j = 0; j < FR_NR; j++) {
                int n = n0 + j;
                panel[(size_t)k * FR_NR + j] = n < N ? B[(long)k * rs + (long)n * cs] : 0.0f;
            }
        }
    }
}

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#include <immintrin.h>
#define FR_HAVE_PACKED_SGEMM 1
#include "fastrnn_sgemm_avx512.h"
#include "fastrnn_sgemm_amx.h"

static inline int fr_sgemm_isa(void) {
    static int isa = -1; /* benign race: every thread computes the same value */
    if (isa < 0) {
        int v = 0;
        __builtin_cpu_init();
        if (getenv("FASTRNN_NO_PACKED_SGEMM") == NULL) {
            if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
                v = 1;
            if (__builtin_cpu_supports("avx512f") && getenv("FASTRNN_NO_AVX512") == NULL)
                v = 2;
            if (v == 2 && getenv("FASTRNN_NO_AMX") == NULL && frx_available())
                v = 3;
        }
        isa = v;
    }
    return isa;
}

static inline int fr_sgemm_packed_available(void) { return fr_sgemm_isa() > 0; }

/* One micro-tile: rows a[0..m) (m <= 6) times one packed panel, n <= 16 valid columns.
 * beta is 0 (overwrite C) or 1 (add to C).  Written out by hand so that the twelve
 * accumulators stay in registers. */
__attribute__((target("avx2,fma"))) static void fr_sgemm_tile(
    int K, int m, int n, const float *a0, int lda, const float *panel, float *c, int ldc,
    int beta)
{
    const long ld = lda; /* rows past m repeat row 0; their results are not stored */
    const float *a1 = a0 + (m > 1 ? ld : 0), *a2 = a0 + (m > 2 ? 2 * ld : 0);
    const float *a3 = a0 + (m > 3 ? 3 * ld : 0), *a4 = a0 + (m > 4 ? 4 * ld : 0);
    const float *a5 = a0 + (m > 5 ? 5 * ld : 0);
    __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
    __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
    __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
    __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
    __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
    __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
    __m256 acc[FR_MR][2];
    int r, k;
    for (k = 0; k < K; k++) {
        const float *b = panel + (size_t)k * FR_NR;
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8), x;
        x = _mm256_broadcast_ss(a0 + k);
        c00 = _mm256_fmadd_ps(x, b0, c00);
        c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a1 + k);
        c10 = _mm256_fmadd_ps(x, b0, c10);
        c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a2 + k);
        c20 = _mm256_fmadd_ps(x, b0, c20);
        c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a3 + k);
        c30 = _mm256_fmadd_ps(x, b0, c30);
        c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a4 + k);
        c40 = _mm256_fmadd_ps(x, b0, c40);
        c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a5 + k);
        c50 = _mm256_fmadd_ps(x, b0, c50);
        c51 = _mm256_fmadd_ps(x, b1, c51);
    }
    acc[0][0] = c00; acc[0][1] = c01; acc[1][0] = c10; acc[1][1] = c11;
    acc[2][0] = c20; acc[2][1] = c21; acc[3][0] = c30; acc[3][1] = c31;
    acc[4][0] = c40; acc[4][1] = c41; acc[5][0] = c50; acc[5][1] = c51;
    if (n == FR_NR) {
        for (r = 0; r < m; r++) {
            float *cr = c + (long)r * ldc;
            if (beta) {
                acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(cr));
                acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(cr + 8));
            }
            _mm256_storeu_ps(cr, acc[r][0]);
            _mm256_storeu_ps(cr + 8, acc[r][1]);
        }
    } else {
        float tmp[FR_NR];
        int j;
        for (r = 0; r < m; r++) {
            float *cr = c + (long)r * ldc;
            _mm256_storeu_ps(tmp, acc[r][0]);
            _mm256_storeu_ps(tmp + 8, acc[r][1]);
            for (j = 0; j < n; j++)
                cr[j] = beta ? cr[j] + tmp[j] : tmp[j];
        }
    }
}

/* Floats needed to pack a K x N matrix for fr_sgemm_packed on this CPU. */
static inline size_t fr_packed_size(int K, int N) {
    if (fr_sgemm_isa() == 3)
        return frx_packed_size(K, N);
    return fr_sgemm_isa() == 2 ? fr512_packed_size(K, N) : fr_packed_size16(K, N);
}

/* Pack B (K x N; element (k, n) at B[k * rs + n * cs]) for fr_sgemm_packed on this CPU. */
static inline void fr_pack_b(int K, int N, const float *B, long rs, long cs, float *out) {
    if (fr_sgemm_isa() == 3)
        frx_pack_b(K, N, B, rs, cs, out);
    else if (fr_sgemm_isa() == 2)
        fr512_pack_b(K, N, B, rs, cs, out);
    else
        fr_pack_b16(K, N, B, rs, cs, out);
}

/* C (M x N, row stride ldc) = A (M x K, row stride lda) @ B  [+ C when beta == 1],
 * B packed by fr_pack_b.  AVX2: panels outermost so each K x 16 panel is reused by all
 * rows while it is in cache.  Returns -1 (C untouched) if a buffer cannot be allocated. */
static inline int fr_sgemm_packed(int M, int N, int K, const float *A, int lda,
                                  const float *packed, float *C, int ldc, int beta) {
    int p, i, n_panels = (N + FR_NR - 1) / FR_NR;
    if (fr_sgemm_isa() == 3)
        return frx_gemm(M, N, K, 1.0f, A, lda, 1, NULL, 0, 0, packed, beta ? 1.0f : 0.0f, C,
                        ldc, NULL);
    if (fr_sgemm_isa() == 2)
        return fr512_gemm(M, N, K, 1.0f, A, lda, 1, NULL, 0, 0, packed, beta ? 1.0f : 0.0f,
                          C, ldc);
    for (p = 0; p < n_panels; p++) {
        const float *panel = packed + (size_t)p * K * FR_NR;
        int n0 = p * FR_NR, n = N - n0 < FR_NR ? N - n0 : FR_NR;
        for (i = 0; i < M; i += FR_MR) {
            int m = M - i < FR_MR ? M - i : FR_MR;
            fr_sgemm_tile(K, m, n, A + (long)i * lda, lda, panel, C + (long)i * ldc + n0,
                          ldc, beta);
        }
    }
    return 0;
}

/* C (M, N) = alpha op(A) @ op(B) + beta C, row-major like BLAS's row-major sgemm, on the
 * AVX-512 path; returns -1 (C untouched) when that path is off or out of memory, and the
 * caller then uses BLIS. */
static inline int fr_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta,
                           float *C, int ldc) {
    if (fr_sgemm_isa() == 3)
        return frx_gemm(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B,
                        trans_b ? 1 : ldb, trans_b ? ldb : 1, NULL, beta, C, ldc, NULL);
    if (fr_sgemm_isa() != 2)
        return -1;
    return fr512_gemm(M, N, K, alpha, A, trans_a ? 1 : lda, trans_a ? lda : 1, B,
                      trans_b ? 1 : ldb, trans_b ? ldb : 1, NULL, beta, C, ldc);
}

/* C1 (M, N1) = op(A) @ B1 and C2 (M, N2) = op(A) @ B2 (B1, B2 row-major), op(A) packed
 * once for both; only the AMX path has it (-1 otherwise, or when a width exceeds its
 * block: then two fr_sgemm calls). */
static inline int fr_sgemm_pair(int trans_a, int M, int N1, int N2, int K, const float *A,
                                int lda, const float *B1, int ldb1, float *C1, int ldc1,
                                const float *B2, int ldb2, float *C2, int ldc2) {
    if (fr_sgemm_isa() != 3)
        return -1;
    return frx_gemm_pair(M, N1, N2, K, A, trans_a ? 1 : lda, trans_a ? lda : 1, B1, ldb1, C1,
                         ldc1, B2, ldb2, C2, ldc2);
}

/* C (M, N) = op(A) @ op(B) + bias (N,) in every row, in one pass over C; only the AMX
 * path has it (-1 otherwise: the caller writes the bias rows and uses beta = 1). */
static inline int fr_sgemm_bias(int trans_a, int trans_b, int M, int N, int K,
                                const float *A, int lda, const float *B, int ldb,
                                const float *bias, float *C, int ldc) {
    if (fr_sgemm_isa() != 3 || K <= 0)
        return -1;
    return frx_gemm(M, N, K, 1.0f, A, trans_a ? 1 : lda, trans_a ? lda : 1, B,
                    trans_b ? 1 : ldb, trans_b ? ldb : 1, NULL, 0.0f, C, ldc, bias);
}
#else
#define FR_HAVE_PACKED_SGEMM 0
static inline int fr_sgemm_isa(void) { return 0; }
static inline int fr_sgemm_packed_available(void) { return 0; }
static inline size_t fr_packed_size(int K, int N) { return fr_packed_size16(K, N); }
static inline void fr_pack_b(int K, int N, const float *B, long rs, long cs, float *out) {
    fr_pack_b16(K, N, B, rs, cs, out);
}
static inline int fr_sgemm_packed(int M, int N, int K, const float *A, int lda,
                                  const float *packed, float *C, int ldc, int beta) {
    (void)M; (void)N; (void)K; (void)A; (void)lda; (void)packed; (void)C; (void)ldc;
    (void)beta;
    return -1;
}
static inline int fr_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha,
                           const float *A, int lda, const float *B, int ldb, float beta,
                           float *C, int ldc) {
    (void)trans_a; (void)trans_b; (void)M; (void)N; (void)K; (void)alpha; (void)A;
    (void)lda; (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    return -1;
}
static inline int fr_sgemm_pair(int trans_a, int M, int N1, int N2, int K, const float *A,
                                int lda, const float *B1, int ldb1, float *C1, int ldc1,
                                const float *B2, int ldb2, float *C2, int ldc2) {
    (void)trans_a; (void)M; (void)N1; (void)N2; (void)K; (void)A; (void)lda; (void)B1;
    (void)ldb1; (void)C1; (void)ldc1; (void)B2; (void)ldb2; (void)C2; (void)ldc2;
    return -1;
}
static inline int fr_sgemm_bias(int trans_a, int trans_b, int M, int N, int K,
                                const float *A, int lda, const float *B, int ldb,
                                const float *bias, float *C, int ldc) {
    (void)trans_a; (void)trans_b; (void)M; (void)N; (void)K; (void)A; (void)lda; (void)B;
    (void)ldb; (void)bias; (void)C; (void)ldc;
    return -1;
}
#endif

#endif
