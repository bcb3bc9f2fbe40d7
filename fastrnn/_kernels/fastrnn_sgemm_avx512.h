/* fastrnn_sgemm_avx512.h: a blocked float GEMM for AVX-512 CPUs (included by fastrnn_sgemm.h).
 *
 * Why our own: on an AVX-512 Xeon the PyPI build of BLIS runs at ~40-80 GFLOP/s per core
 * (no AVX-512 kernels in its generic x86-64 build), half of what MKL does there, and every
 * GEMM of the recurrent kernels (the input projection, the per-step recurrent product, the
 * weight gradients) went through it.  benchmarks/bench_gemm.py measures this file against
 * BLIS, OpenBLAS and MKL.
 *
 * Scheme (Goto/BLIS): C (M, N) = alpha op(A) (M, K) @ op(B) (K, N) + beta C, row-major C.
 *   jc: N in blocks of NC columns
 *     pc: K in blocks of KC; pack op(B)[pc:pc+kc, jc:jc+nc] into 32-column panels
 *       ic: M in blocks of MC rows; a transposed A is packed into 8-row panels, a
 *           row-major A is read in place (its rows are already contiguous in K)
 *         jr, ir: 8 x 32 micro-tile, 16 zmm accumulators, kc rank-1 updates
 * A B panel (KC x 32, 32 KB) stays in L1 while it meets every 8-row tile of the A block
 * (MC x KC, 128 KB, L2).  Operands are read through (row, column) strides, so
 * transposed operands need no copy beyond the packing.
 * B may also come packed once ahead (fr512_pack_b over all K: panel p at p * K * 32, row
 * k of it at + k * 32; a K block is then a plain offset): the per-step recurrent product
 * multiplies the same W_hh at every step.
 * Edge tiles: A panels are zero padded to 8 rows and only valid rows are stored; columns
 * past N are masked on store (B panels are zero padded).
 */
#ifndef FASTRNN_SGEMM_AVX512_H
#define FASTRNN_SGEMM_AVX512_H

#define FR512_MR 8    /* rows per micro-tile (broadcast from the A panel) */
#define FR512_NR 32   /* columns per micro-tile: two zmm registers */
#define FR512_KC 256  /* K block: an A panel is 8 KB, a B panel 32 KB */
#define FR512_MC 128  /* M block: the packed A block is 128 KB (L2) */
#define FR512_NC 1024 /* N block: the packed B block is 1 MB (L2) */

static inline int fr512_min(int a, int b) { return a < b ? a : b; }

/* Floats needed to pack a K x N matrix into 32-column panels. */
static inline size_t fr512_packed_size(int K, int N) {
    return (size_t)((N + FR512_NR - 1) / FR512_NR) * FR512_NR * (size_t)K;
}

/* Pack op(B)[k0:k0+kc, n0:n0+nc] (element (k, n) at B[k * rs + n * cs]) into 32-column
 * panels, each kc x 32 with row k at k * 32 and columns past nc zero; panel p starts at
 * out + p * ld_panel. */
static void fr512_pack_b_block(int kc, int nc, const float *B, long rs, long cs, float *out,
                               size_t ld_panel) {
    int p, k, j, n_panels = (nc + FR512_NR - 1) / FR512_NR;
    for (p = 0; p < n_panels; p++) {
        float *panel = out + (size_t)p * ld_panel;
        int n0 = p * FR512_NR, nv = fr512_min(FR512_NR, nc - n0);
        if (cs == 1) { /* rows of B contiguous: copy runs */
            for (k = 0; k < kc; k++) {
                const float *src = B + (long)k * rs + n0;
                float *dst = panel + (size_t)k * FR512_NR;
                for (j = 0; j < nv; j++)
                    dst[j] = src[j];
                for (; j < FR512_NR; j++)
                    dst[j] = 0.0f;
            }
        } else { /* columns of B contiguous (op = transpose): read down each column */
            for (j = 0; j < FR512_NR; j++) {
                if (j < nv) {
                    const float *src = B + (long)(n0 + j) * cs;
                    for (k = 0; k < kc; k++)
                        panel[(size_t)k * FR512_NR + j] = src[(long)k * rs];
                } else {
                    for (k = 0; k < kc; k++)
                        panel[(size_t)k * FR512_NR + j] = 0.0f;
                }
            }
        }
    }
}

/* The whole K x N matrix packed once (for fr512_gemm's prepacked B). */
static inline void fr512_pack_b(int K, int N, const float *B, long rs, long cs, float *out) {
    fr512_pack_b_block(K, N, B, rs, cs, out, (size_t)K * FR512_NR);
}

/* Pack alpha op(A)[0:mc, 0:kc] (element (m, k) at A[m * rs + k * cs]) into 8-row panels,
 * each kc x 8 with column k at k * 8; rows past mc are zero.  Only used for a transposed
 * A (rs == 1: the 8 values of a panel column are contiguous in A), whose rows cannot be
 * streamed directly by the micro-kernel. */
static void fr512_pack_a(int mc, int kc, float alpha, const float *A, long rs, long cs,
                         float *out) {
    int i, k, r;
    for (i = 0; i < mc; i += FR512_MR) {
        float *panel = out + (size_t)i * kc;
        int mv = fr512_min(FR512_MR, mc - i);
        for (k = 0; k < kc; k++) {
            const float *src = A + (long)i * rs + (long)k * cs;
            float *dst = panel + (size_t)k * FR512_MR;
            if (mv == FR512_MR && rs == 1) {
                for (r = 0; r < FR512_MR; r++)
                    dst[r] = alpha * src[r];
            } else {
                for (r = 0; r < FR512_MR; r++)
                    dst[r] = r < mv ? alpha * src[(long)r * rs] : 0.0f;
            }
        }
    }
}

#define FR512_ROW(r)                                                                       \
    x = _mm512_set1_ps(a##r[off]);                                                         \
    c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);                                             \
    c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);

#define FR512_STORE(r)                                                                     \
    if (r < m) {                                                                           \
        float *cr = c + (long)(r) * ldc;                                                   \
        if (beta == 0.0f) {                                                                \
            _mm512_mask_storeu_ps(cr, mask0, c##r##0);                                     \
            _mm512_mask_storeu_ps(cr + 16, mask1, c##r##1);                                \
        } else {                                                                           \
            __m512 o0 = _mm512_maskz_loadu_ps(mask0, cr);                                  \
            __m512 o1 = _mm512_maskz_loadu_ps(mask1, cr + 16);                             \
            if (beta != 1.0f) {                                                            \
                o0 = _mm512_mul_ps(o0, vbeta);                                             \
                o1 = _mm512_mul_ps(o1, vbeta);                                             \
            }                                                                              \
            _mm512_mask_storeu_ps(cr, mask0, _mm512_add_ps(o0, c##r##0));                  \
            _mm512_mask_storeu_ps(cr + 16, mask1, _mm512_add_ps(o1, c##r##1));             \
        }                                                                                  \
    }

/* One micro-tile: C[0:m, 0:n] = A (m x kc) @ B panel (kc x 32) + beta C.  Row r of A,
 * column k at a[r * rsa + k * ksa]: a packed panel (rsa 1, ksa 8) or rows of a row-major
 * A read in place (rsa lda, ksa 1).  Rows past m repeat row 0 and are not stored. */
__attribute__((target("avx512f"))) static void fr512_tile(
    int kc, const float *a, long rsa, long ksa, const float *b, float *c, long ldc, int m,
    int n, float beta)
{
    const float *a0 = a, *a1 = a + (m > 1 ? rsa : 0), *a2 = a + (m > 2 ? 2 * rsa : 0);
    const float *a3 = a + (m > 3 ? 3 * rsa : 0), *a4 = a + (m > 4 ? 4 * rsa : 0);
    const float *a5 = a + (m > 5 ? 5 * rsa : 0), *a6 = a + (m > 6 ? 6 * rsa : 0);
    const float *a7 = a + (m > 7 ? 7 * rsa : 0);
    long off = 0;
    __m512 c00 = _mm512_setzero_ps(), c01 = _mm512_setzero_ps();
    __m512 c10 = _mm512_setzero_ps(), c11 = _mm512_setzero_ps();
    __m512 c20 = _mm512_setzero_ps(), c21 = _mm512_setzero_ps();
    __m512 c30 = _mm512_setzero_ps(), c31 = _mm512_setzero_ps();
    __m512 c40 = _mm512_setzero_ps(), c41 = _mm512_setzero_ps();
    __m512 c50 = _mm512_setzero_ps(), c51 = _mm512_setzero_ps();
    __m512 c60 = _mm512_setzero_ps(), c61 = _mm512_setzero_ps();
    __m512 c70 = _mm512_setzero_ps(), c71 = _mm512_setzero_ps();
    __m512 b0, b1, x, vbeta = _mm512_set1_ps(beta);
    __mmask16 mask0, mask1;
    int k;
    for (k = 0; k < kc; k++) {
        b0 = _mm512_loadu_ps(b);
        b1 = _mm512_loadu_ps(b + 16);
        FR512_ROW(0) FR512_ROW(1) FR512_ROW(2) FR512_ROW(3)
        FR512_ROW(4) FR512_ROW(5) FR512_ROW(6) FR512_ROW(7)
        off += ksa;
        b += FR512_NR;
    }
    mask0 = n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1u);
    mask1 = n >= 32 ? (__mmask16)0xFFFF : n > 16 ? (__mmask16)((1u << (n - 16)) - 1u) : 0;
    FR512_STORE(0) FR512_STORE(1) FR512_STORE(2) FR512_STORE(3)
    FR512_STORE(4) FR512_STORE(5) FR512_STORE(6) FR512_STORE(7)
}

#undef FR512_ROW
#undef FR512_STORE

/* C (M, N; row stride ldc) = alpha op(A) @ op(B) + beta C on the calling thread.
 * op(A) (M, K): element (m, k) at A[m * rsa + k * csa]; op(B) (K, N): element (k, n) at
 * B[k * rsb + n * csb], or, when packed_b is not NULL, B packed by fr512_pack_b (B, rsb and
 * csb unused).  Returns -1 (C untouched) when the packing buffers cannot be allocated. */
static int fr512_gemm(int M, int N, int K, float alpha, const float *A, long rsa, long csa,
                      const float *B, long rsb, long csb, const float *packed_b, float beta,
                      float *C, long ldc) {
    int jc, pc, ic, jr, ir;
    int kc_max = fr512_min(K, FR512_KC);
    int mc_max = fr512_min((M + FR512_MR - 1) / FR512_MR * FR512_MR, FR512_MC);
    int pack_a = csa != 1 || alpha != 1.0f; /* else rows of A are read in place */
    float *abuf = NULL, *bbuf = NULL;
    if (pack_a) {
        abuf = (float *)malloc((size_t)mc_max * kc_max * sizeof(float));
        if (abuf == NULL)
            return -1;
    }
    if (packed_b == NULL) {
        bbuf = (float *)malloc(fr512_packed_size(kc_max, fr512_min(N, FR512_NC)) *
                               sizeof(float));
        if (bbuf == NULL) {
            free(abuf);
            return -1;
        }
    }
    for (jc = 0; jc < N; jc += FR512_NC) {
        int nc = fr512_min(FR512_NC, N - jc);
        for (pc = 0; pc < K; pc += FR512_KC) {
            int kc = fr512_min(FR512_KC, K - pc);
            float beta_block = pc == 0 ? beta : 1.0f;
            const float *bblock; /* first panel of this (kc, nc) block */
            size_t ld_panel;     /* floats between consecutive panels */
            if (packed_b != NULL) {
                ld_panel = (size_t)K * FR512_NR;
                bblock = packed_b + (size_t)(jc / FR512_NR) * ld_panel + (size_t)pc * FR512_NR;
            } else {
                ld_panel = (size_t)kc * FR512_NR;
                fr512_pack_b_block(kc, nc, B + (long)pc * rsb + (long)jc * csb, rsb, csb,
                                   bbuf, ld_panel);
                bblock = bbuf;
            }
            for (ic = 0; ic < M; ic += FR512_MC) {
                int mc = fr512_min(FR512_MC, M - ic);
                const float *ablock = A + (long)ic * rsa + (long)pc * csa;
                if (pack_a)
                    fr512_pack_a(mc, kc, alpha, ablock, rsa, csa, abuf);
                for (jr = 0; jr < nc; jr += FR512_NR) {
                    const float *bpanel = bblock + (size_t)(jr / FR512_NR) * ld_panel;
                    int n = fr512_min(FR512_NR, nc - jr);
                    for (ir = 0; ir < mc; ir += FR512_MR) {
                        float *c = C + (long)(ic + ir) * ldc + jc + jr;
                        int m = fr512_min(FR512_MR, mc - ir);
                        if (pack_a)
                            fr512_tile(kc, abuf + (size_t)ir * kc, 1, FR512_MR, bpanel, c,
                                       ldc, m, n, beta_block);
                        else
                            fr512_tile(kc, ablock + (long)ir * rsa, rsa, 1, bpanel, c, ldc,
                                       m, n, beta_block);
                    }
                }
            }
        }
    }
    free(abuf);
    free(bbuf);
    return 0;
}

#endif
