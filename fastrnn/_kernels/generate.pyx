# cython: language_level=3
"""Fused generation: a LanguageModel's whole token loop (sample, embed, every layer,
head) in one nogil kernel, for every cell, float32 and float64, batch 1..B.

Notation (declared once): V vocabulary, E embedding size, H hidden size, L layers,
G gates per cell (GH = G*H), B samples, M samples still running (B minus those that
stopped at <EOS>; the running ones are kept in slots 0..M-1), N tokens at most.
Weights in PyTorch's layout, as fastrnn.functional: W_ih (GH, I), W_hh (GH, H),
b_ih, b_hh (GH,), w_peep (3H,); embedding (V, E); head W (V, H), b (V,).

For each new token t = 0 .. N-1 (step labels as in lstm.pyx / gru.pyx / rnn.pyx):
    S:  tok = sample(logits, U[t])          the rule of fastrnn.models.sampling, exactly
        a sample stops at <EOS> (its length is t); the loop ends when all stopped or
        t = N-1 (the last token needs no step)
    1a: layer 0: a = table[tok], table (V, GH) = embedding @ W_ih0^T + biases computed
        once per call (or, when V is large next to N*B, a = W_ih0 emb[tok] + biases);
        layer l > 0: a = W_ih h^{l-1}_t + biases
    1b: s = W_hh h^l_{t-1}
    2+: the cell's gate math on (a, s): the row functions of fastrnn_gates.h, the very
        code the training kernels run
    H:  logits = W h^{L-1}_t + b

Design:
- Products.  Each layer's [W_ih | W_hh] is packed once per call into panels of PW
  output rows (PW = 16 float / 8 double: 64 bytes), each panel k-major (the PW weights
  of input k, then of k + 1, ...), so 1a and 1b stream each panel once, contiguously,
  and step k of a product is one broadcast of x[k] and two vector FMAs per panel.
  fr_gen_gemm multiplies M rows by such panels with register-blocked tiles (1 row x 4
  panels when M = 1: eight independent FMA chains; up to 6 rows x 1 panel for larger
  M), written with GCC vector extensions and compiled twice: for AVX2+FMA, picked at
  run time, and for the baseline ISA (no -march=native).  Every output is summed over
  k in order from zero and then added to its bias, so it does not depend on M, on the
  tile, on the thread count, or on whether layer 0 used the table.
- Threads.  The H hidden units of each layer (and the V head rows) are split into
  n_chunks contiguous chunks; a chunk's gate rows are packed gate block by gate block,
  so one thread computes a, s and the gate math of its units with no synchronisation.
  One OpenMP team runs the whole loop, with a barrier after each layer, the head and
  sampling (and between gru_cho's two products): L + 2 barriers per token.
- Sampling reproduces sample_from_logits's float64 arithmetic operation by operation:
  the same divisions, libm exp (what NumPy calls for float64 on CPUs without AVX-512;
  on AVX-512 CPUs NumPy's own exp may differ in the last bit, which changes a token only
  if a uniform falls within that bit of a boundary), NumPy's pairwise summation for
  p.sum(), sequential cumulative sums, and the same comparisons, so equal logits give
  equal tokens (tests/test_generate.py checks the probabilities bit for bit).  It runs
  in the caller's floating-point mode; the layers flush denormals, as the training
  kernels do.
- Non-finite logits: NaN under temperature 0 gives its first index (numpy.argmax);
  otherwise NaN logits, or probabilities that come out NaN (+inf logits), give V-1.
"""
from cython cimport floating
from libc.math cimport NAN, exp
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free, qsort
from libc.string cimport memcpy, memset

import numpy as np

from fastrnn._kernels._denormals cimport fr_ftz_enter, fr_ftz_exit
from fastrnn._kernels._gates cimport (gru_cho_forward_n_row, gru_cho_forward_rz_row,
                                      gru_forward_row, gru_minimal_forward_row,
                                      lstm_forward_row, rnn_forward_row)


cdef extern from *:
    r"""
    #include <stdlib.h>
    #include <string.h>
    #ifdef _OPENMP
    #include <omp.h>
    #endif

    /* ---- one OpenMP team for the whole token loop ---------------------------- */
    typedef void (*fr_gen_worker_t)(void *ctx, int tid, int team);

    /* Run fn(ctx, tid, team) on a team of n_threads threads (on the caller alone when
     * n_threads is 1 or OpenMP is off).  team is the size OpenMP actually granted. */
    static void fr_gen_run_team(fr_gen_worker_t fn, void *ctx, int n_threads) {
    #ifdef _OPENMP
        if (n_threads > 1) {
            #pragma omp parallel num_threads(n_threads)
            fn(ctx, omp_get_thread_num(), omp_get_num_threads());
            return;
        }
    #endif
        fn(ctx, 0, 1);
    }

    static void fr_gen_barrier(int team) {
    #ifdef _OPENMP
        if (team > 1) {
            #pragma omp barrier
        }
    #endif
        (void)team;
    }

    static void *fr_gen_alloc(size_t bytes) { /* 64-byte aligned; NULL on failure */
        void *p = NULL;
        bytes = (bytes + 63) / 64 * 64;
    #ifdef _WIN32
        p = _aligned_malloc(bytes ? bytes : 64, 64);
    #else
        if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
            p = NULL;
    #endif
        return p;
    }

    static void fr_gen_free(void *p) {
    #ifdef _WIN32
        _aligned_free(p);
    #else
        free(p);
    #endif
    }

    /* ---- packing ---------------------------------------------------------------
     * Rows rows[0..N) of W (row stride ldw), columns 0..K: panel p (at out + p *
     * pstride) holds output rows 16p..16p+15 (float; 8 for double) column by column:
     * out[p * pstride + k * PW + j] = W[rows[p * PW + j] * ldw + k], zero past N.
     * [W_ih | W_hh] is packed by two calls, the second at out + I * PW. */
    #define FR_GEN_PW_F 16
    #define FR_GEN_PW_D 8
    #define FR_GEN_DEFINE_PACK(T, SFX, PW)                                           \
    static void fr_gen_pack_##SFX(int N, int K, const T *W, Py_ssize_t ldw,          \
                                  const int *rows, T *out, Py_ssize_t pstride) {     \
        int p, k, j, n_panels = (N + PW - 1) / PW;                                   \
        for (p = 0; p < n_panels; p++)                                               \
            for (k = 0; k < K; k++)                                                  \
                for (j = 0; j < PW; j++) {                                           \
                    int n = p * PW + j;                                              \
                    out[p * pstride + (Py_ssize_t)k * PW + j] =                      \
                        n < N ? W[(Py_ssize_t)rows[n] * ldw + k] : (T)0;             \
                }                                                                    \
    }
    FR_GEN_DEFINE_PACK(float, f, FR_GEN_PW_F)
    FR_GEN_DEFINE_PACK(double, d, FR_GEN_PW_D)

    /* ---- products -----------------------------------------------------------------
     * With P the packed rows of [W1 | W2] (N rows, K1 + K2 columns), one sweep over
     * the panels computes Y1 (M, N) = init + X1 (M, K1) @ W1^T and, when K2 > 0,
     * Y2 (M, N) = X2 (M, K2) @ W2^T; init is NULL (zero) or rows with stride ldi (0:
     * one bias row for all M).  Each Y1[i, n] is init[i, n] + (the sum over
     * k = 0..K1-1, in order from zero, of X1[i, k] W1[n, k]); likewise Y2. */
    #if (defined(__GNUC__) || defined(__clang__))
    #define FR_GEN_VECTOR 1
    #define FR_GEN_INLINE static inline __attribute__((always_inline))

    /* One tile: MR rows of X (rows >= m repeat row 0, unstored) times NP panels (panels
     * >= np repeat panel 0, unstored; the last stored panel has n_last valid columns),
     * in up to two phases over one sweep of the panels: Y1 = init + X1 @ (the first K1
     * columns of each panel)^T, then, when K2 > 0, Y2 = X2 @ (the next K2)^T.  MR and
     * NP are constants at every call, so the accumulators live in registers. */
    #define FR_GEN_DEFINE_TILE(T, SFX, PW)                                           \
    typedef T fr_gen_v_##SFX __attribute__((vector_size(32)));                       \
    typedef T fr_gen_vu_##SFX                                                        \
        __attribute__((vector_size(32), aligned(sizeof(T)), may_alias));            \
    FR_GEN_INLINE void fr_gen_tile_##SFX(                                            \
        const int MR, const int NP, int m, int np, int n_last,                       \
        int K1, const T *X1, Py_ssize_t ldx1, int K2, const T *X2, Py_ssize_t ldx2,  \
        const T *P, Py_ssize_t pstride, const T *init, Py_ssize_t ldi,               \
        T *Y1, Py_ssize_t ldy1, T *Y2, Py_ssize_t ldy2)                              \
    {                                                                                \
        enum { LANES = 32 / sizeof(T) };                                             \
        fr_gen_v_##SFX acc[6][8];                                                    \
        const T *x[6];                                                               \
        const T *pn[4];                                                              \
        int r, q, k, j, ph;                                                          \
        for (ph = 0; ph < 2; ph++) {                                                 \
            const int K = ph ? K2 : K1;                                              \
            const T *X = ph ? X2 : X1, *in0 = ph ? NULL : init;                      \
            const Py_ssize_t ldx = ph ? ldx2 : ldx1, ldy = ph ? ldy2 : ldy1;         \
            T *Y = ph ? Y2 : Y1;                                                     \
            if (ph && K2 <= 0)                                                       \
                break;                                                               \
            for (r = 0; r < MR; r++)                                                 \
                x[r] = X + (r < m ? r : 0) * ldx;                                    \
            for (q = 0; q < NP; q++)                                                 \
                pn[q] = P + (q < np ? q : 0) * pstride + (ph ? K1 * PW : 0);         \
            for (r = 0; r < MR; r++)                                                 \
                for (q = 0; q < 2 * NP; q++)                                         \
                    acc[r][q] = (fr_gen_v_##SFX){0};                                 \
            for (k = 0; k < K; k++) {                                                \
                for (q = 0; q < NP; q++) {                                           \
                    fr_gen_v_##SFX b0 = *(const fr_gen_vu_##SFX *)(pn[q] + k * PW);  \
                    fr_gen_v_##SFX b1 =                                              \
                        *(const fr_gen_vu_##SFX *)(pn[q] + k * PW + LANES);          \
                    for (r = 0; r < MR; r++) {                                       \
                        T xs = x[r][k];                                              \
                        acc[r][2 * q] += xs * b0;                                    \
                        acc[r][2 * q + 1] += xs * b1;                                \
                    }                                                                \
                }                                                                    \
            }                                                                        \
            for (r = 0; r < MR; r++) {                                               \
                if (r >= m)                                                          \
                    break;                                                           \
                for (q = 0; q < NP; q++) {                                           \
                    T *y = Y + r * ldy + q * PW;                                     \
                    const T *in = in0 ? in0 + r * ldi + q * PW : NULL;               \
                    if (q >= np)                                                     \
                        break;                                                       \
                    if (q < np - 1 || n_last == PW) {                                \
                        fr_gen_v_##SFX s0 = acc[r][2 * q], s1 = acc[r][2 * q + 1];   \
                        if (in) {                                                    \
                            s0 = *(const fr_gen_vu_##SFX *)in + s0;                  \
                            s1 = *(const fr_gen_vu_##SFX *)(in + LANES) + s1;        \
                        }                                                            \
                        *(fr_gen_vu_##SFX *)y = s0;                                  \
                        *(fr_gen_vu_##SFX *)(y + LANES) = s1;                        \
                    } else {                                                         \
                        T tmp[PW];                                                   \
                        memcpy(tmp, &acc[r][2 * q], sizeof(acc[r][2 * q]));          \
                        memcpy(tmp + LANES, &acc[r][2 * q + 1], sizeof(acc[r][0]));  \
                        for (j = 0; j < n_last; j++)                                 \
                            y[j] = in ? in[j] + tmp[j] : tmp[j];                     \
                    }                                                                \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    }

    /* The driver: M = 1, 2, 3 sweep panels in groups (1x4, 2x2, 3x2 tiles); larger M
     * sweeps panels outermost (each panel stays in cache for all rows) with row tiles
     * of 3 to 6 rows of near-equal size. */
    #define FR_GEN_TILE_CALL(SFX, PW, MR, NP, m, np)                                  \
        fr_gen_tile_##SFX(MR, NP, m, np, n_last, K1, X1 + i0 * ldx1, ldx1, K2,       \
                          K2 > 0 ? X2 + i0 * ldx2 : X2, ldx2, P + p * pstride,       \
                          pstride, init ? init + i0 * ldi + p * PW : NULL, ldi,      \
                          Y1 + i0 * ldy1 + p * PW, ldy1,                             \
                          K2 > 0 ? Y2 + i0 * ldy2 + p * PW : Y2, ldy2)
    #define FR_GEN_DEFINE_GEMM(T, SFX, PW, NAME, ATTR)                               \
    static ATTR void NAME(int M, int N, int K1, const T *X1, Py_ssize_t ldx1,        \
                          int K2, const T *X2, Py_ssize_t ldx2,                      \
                          const T *P, Py_ssize_t pstride, const T *init,             \
                          Py_ssize_t ldi, T *Y1, Py_ssize_t ldy1, T *Y2,             \
                          Py_ssize_t ldy2)                                           \
    {                                                                                \
        int n_panels = (N + PW - 1) / PW, p, i, np, n_tiles, i0 = 0, m, n_last;      \
        if (M <= 0 || N <= 0)                                                        \
            return;                                                                  \
        if (M <= 3) {                                                                \
            int G = M == 1 ? 4 : 2;                                                  \
            for (p = 0; p < n_panels; p += G) {                                      \
                np = n_panels - p < G ? n_panels - p : G;                            \
                n_last = N - (p + np - 1) * PW;                                      \
                if (M == 1)                                                          \
                    FR_GEN_TILE_CALL(SFX, PW, 1, 4, 1, np);                         \
                else if (M == 2)                                                     \
                    FR_GEN_TILE_CALL(SFX, PW, 2, 2, 2, np);                         \
                else                                                                 \
                    FR_GEN_TILE_CALL(SFX, PW, 3, 2, 3, np);                         \
            }                                                                        \
            return;                                                                  \
        }                                                                            \
        n_tiles = (M + 5) / 6;                                                       \
        for (p = 0; p < n_panels; p++) {                                             \
            n_last = N - p * PW < PW ? N - p * PW : PW;                              \
            for (i = 0; i < n_tiles; i++) {                                          \
                i0 = (int)((long long)i * M / n_tiles);                              \
                m = (int)((long long)(i + 1) * M / n_tiles) - i0;                    \
                switch (m) {                                                         \
                case 6: FR_GEN_TILE_CALL(SFX, PW, 6, 1, 6, 1); break;               \
                case 5: FR_GEN_TILE_CALL(SFX, PW, 5, 1, 5, 1); break;               \
                case 4: FR_GEN_TILE_CALL(SFX, PW, 4, 1, 4, 1); break;               \
                default: FR_GEN_TILE_CALL(SFX, PW, 3, 1, m, 1); break;              \
                }                                                                    \
            }                                                                        \
        }                                                                            \
    }

    FR_GEN_DEFINE_TILE(float, f, FR_GEN_PW_F)
    FR_GEN_DEFINE_TILE(double, d, FR_GEN_PW_D)
    FR_GEN_DEFINE_GEMM(float, f, FR_GEN_PW_F, fr_gen_gemm_f_base, )
    FR_GEN_DEFINE_GEMM(double, d, FR_GEN_PW_D, fr_gen_gemm_d_base, )

    #if defined(__x86_64__) || defined(__i386__)
    #define FR_GEN_AVX2_ATTR __attribute__((target("avx2,fma")))
    FR_GEN_DEFINE_GEMM(float, f, FR_GEN_PW_F, fr_gen_gemm_f_avx2, FR_GEN_AVX2_ATTR)
    FR_GEN_DEFINE_GEMM(double, d, FR_GEN_PW_D, fr_gen_gemm_d_avx2, FR_GEN_AVX2_ATTR)
    static int fr_gen_avx2(void) {
        static int available = -1; /* benign race: every thread computes the same */
        if (available < 0) {
            __builtin_cpu_init();
            available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        }
        return available;
    }
    #else
    #define fr_gen_gemm_f_avx2 fr_gen_gemm_f_base
    #define fr_gen_gemm_d_avx2 fr_gen_gemm_d_base
    static int fr_gen_avx2(void) { return 0; }
    #endif

    #else /* no vector extensions (MSVC): plain loops, same summation order */
    #define FR_GEN_VECTOR 0
    #define FR_GEN_DEFINE_GEMM_PLAIN(T, NAME, PW)                                    \
    static void NAME(int M, int N, int K1, const T *X1, Py_ssize_t ldx1, int K2,     \
                     const T *X2, Py_ssize_t ldx2, const T *P, Py_ssize_t pstride,   \
                     const T *init, Py_ssize_t ldi, T *Y1, Py_ssize_t ldy1, T *Y2,   \
                     Py_ssize_t ldy2) {                                              \
        int i, n, k;                                                                 \
        for (i = 0; i < M; i++)                                                      \
            for (n = 0; n < N; n++) {                                                \
                const T *w = P + (n / PW) * pstride + n % PW;                        \
                T acc = 0;                                                           \
                for (k = 0; k < K1; k++)                                             \
                    acc += X1[i * ldx1 + k] * w[(Py_ssize_t)k * PW];                 \
                Y1[i * ldy1 + n] = init ? init[i * ldi + n] + acc : acc;             \
                if (K2 <= 0)                                                         \
                    continue;                                                        \
                acc = 0;                                                             \
                for (k = 0; k < K2; k++)                                             \
                    acc += X2[i * ldx2 + k] * w[(Py_ssize_t)(K1 + k) * PW];          \
                Y2[i * ldy2 + n] = acc;                                              \
            }                                                                        \
    }
    FR_GEN_DEFINE_GEMM_PLAIN(float, fr_gen_gemm_f_base, FR_GEN_PW_F)
    FR_GEN_DEFINE_GEMM_PLAIN(double, fr_gen_gemm_d_base, FR_GEN_PW_D)
    #define fr_gen_gemm_f_avx2 fr_gen_gemm_f_base
    #define fr_gen_gemm_d_avx2 fr_gen_gemm_d_base
    static int fr_gen_avx2(void) { return 0; }
    #endif

    static void fr_gen_gemm_f(int M, int N, int K1, const float *X1, Py_ssize_t ldx1,
                              int K2, const float *X2, Py_ssize_t ldx2,
                              const float *P, Py_ssize_t pstride, const float *init,
                              Py_ssize_t ldi, float *Y1, Py_ssize_t ldy1, float *Y2,
                              Py_ssize_t ldy2) {
        if (fr_gen_avx2())
            fr_gen_gemm_f_avx2(M, N, K1, X1, ldx1, K2, X2, ldx2, P, pstride, init, ldi,
                               Y1, ldy1, Y2, ldy2);
        else
            fr_gen_gemm_f_base(M, N, K1, X1, ldx1, K2, X2, ldx2, P, pstride, init, ldi,
                               Y1, ldy1, Y2, ldy2);
    }

    static void fr_gen_gemm_d(int M, int N, int K1, const double *X1, Py_ssize_t ldx1,
                              int K2, const double *X2, Py_ssize_t ldx2,
                              const double *P, Py_ssize_t pstride, const double *init,
                              Py_ssize_t ldi, double *Y1, Py_ssize_t ldy1, double *Y2,
                              Py_ssize_t ldy2) {
        if (fr_gen_avx2())
            fr_gen_gemm_d_avx2(M, N, K1, X1, ldx1, K2, X2, ldx2, P, pstride, init, ldi,
                               Y1, ldy1, Y2, ldy2);
        else
            fr_gen_gemm_d_base(M, N, K1, X1, ldx1, K2, X2, ldx2, P, pstride, init, ldi,
                               Y1, ldy1, Y2, ldy2);
    }
    """
    ctypedef void (*fr_gen_worker_t)(void* ctx, int tid, int team) noexcept nogil
    void fr_gen_run_team(fr_gen_worker_t fn, void* ctx, int n_threads) noexcept nogil
    void fr_gen_barrier(int team) noexcept nogil
    void* fr_gen_alloc(size_t nbytes) noexcept nogil
    void fr_gen_free(void* p) noexcept nogil
    int fr_gen_avx2() noexcept nogil
    int FR_GEN_VECTOR
    int FR_GEN_PW_F
    int FR_GEN_PW_D
    void fr_gen_pack_f(int N, int K, const float* W, Py_ssize_t ldw, const int* rows,
                       float* out, Py_ssize_t pstride) noexcept nogil
    void fr_gen_pack_d(int N, int K, const double* W, Py_ssize_t ldw, const int* rows,
                       double* out, Py_ssize_t pstride) noexcept nogil
    void fr_gen_gemm_f(int M, int N, int K1, const float* X1, Py_ssize_t ldx1, int K2,
                       const float* X2, Py_ssize_t ldx2, const float* P,
                       Py_ssize_t pstride, const float* init, Py_ssize_t ldi, float* Y1,
                       Py_ssize_t ldy1, float* Y2, Py_ssize_t ldy2) noexcept nogil
    void fr_gen_gemm_d(int M, int N, int K1, const double* X1, Py_ssize_t ldx1, int K2,
                       const double* X2, Py_ssize_t ldx2, const double* P,
                       Py_ssize_t pstride, const double* init, Py_ssize_t ldi,
                       double* Y1, Py_ssize_t ldy1, double* Y2,
                       Py_ssize_t ldy2) noexcept nogil


#: kernel cell names (fastrnn.functional.CELLS) -> code, and gates per cell
CELL_CODES = {"rnn_tanh": 0, "rnn_relu": 1, "lstm": 2, "lstm_peephole": 3, "gru": 4,
              "gru_cho": 5, "gru_minimal": 6}
cdef enum:
    RNN_TANH = 0
    RNN_RELU = 1
    LSTM = 2
    LSTM_PEEPHOLE = 3
    GRU = 4
    GRU_CHO = 5
    GRU_MINIMAL = 6
cdef int[7] GATES = [1, 1, 4, 4, 3, 3, 2]


def gemm_backend() -> str:
    """The micro-kernel the products use on this CPU: "avx2+fma" or "generic"."""
    return "avx2+fma" if FR_GEN_VECTOR and fr_gen_avx2() else "generic"


# ======================================================================================
# Sampling: the rule of fastrnn.models.sampling, float64 operation for operation
# ======================================================================================

cdef struct IdP:
    double p
    int id


cdef struct SampleWork:
    double* z        # (V,) logits / temperature
    double* p        # (V,) probabilities
    double* sel      # (V,) scratch of the top-k selection
    IdP* pairs       # (V,) tokens of positive probability, for top-p


cdef int _cmp_desc(const void* a, const void* b) noexcept nogil:
    """Order of step 5: probability descending, then smaller id first."""
    cdef const IdP* x = <const IdP*>a
    cdef const IdP* y = <const IdP*>b
    if x.p > y.p:
        return -1
    if x.p < y.p:
        return 1
    return (x.id > y.id) - (x.id < y.id)


cdef double _pairwise_sum(const double* a, Py_ssize_t n) noexcept nogil:
    """NumPy's float64 add.reduce: 8 accumulators per block of <= 128, halves above."""
    cdef double r0, r1, r2, r3, r4, r5, r6, r7, res
    cdef Py_ssize_t i, n2
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[0], a[1], a[2], a[3]
        r4, r5, r6, r7 = a[4], a[5], a[6], a[7]
        i = 8
        while i < n - n % 8:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_sum(a, n2) + _pairwise_sum(a + n2, n - n2)


cdef double _select(double* a, int n, int rank) noexcept nogil:
    """The value of 0-based rank `rank` in ascending order (reorders a; no NaN)."""
    cdef int lo = 0, hi = n - 1, i, j
    cdef double pivot, tmp
    while lo < hi:
        pivot = a[rank]
        i = lo
        j = hi
        while True:
            while a[i] < pivot:
                i += 1
            while pivot < a[j]:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
            if i > j:
                break
        if j < rank:
            lo = i
        if rank < i:
            hi = j
    return a[rank]


cdef bint _probabilities(const floating* logits, int V, double temperature,
                         int top_k, double top_p, SampleWork* w) noexcept nogil:
    """Steps 2-5 of fastrnn.models.sampling for one row: w.p (V,) = the probabilities
    that step 6 samples from.  Returns False when they are NaN (NaN or +inf logits).
    temperature > 0."""
    cdef int i, j, n_pos, n_keep
    cdef bint keep_all = not (0 < top_k < V)
    cdef double v, m, kth = 0, total, c
    cdef double* z = w.z
    cdef double* p = w.p
    # 2: z = logits / temperature in float64
    m = <double>logits[0] / temperature
    for i in range(V):
        v = <double>logits[i] / temperature
        if v != v:
            return False
        z[i] = v
        if v > m:
            m = v
    # 3: top-k keeps z >= the k-th largest value (ties kept)
    if not keep_all:
        memcpy(w.sel, z, V * sizeof(double))
        kth = _select(w.sel, V, V - top_k)
    # 4: p = exp(z - max z) over kept entries, divided by NumPy's sum of p
    for i in range(V):
        p[i] = exp(z[i] - m) if keep_all or z[i] >= kth else 0.0
    total = 0.0 + _pairwise_sum(p, V)
    if total != total:
        return False
    for i in range(V):
        p[i] = p[i] / total
    # 5: top-p keeps the shortest prefix of (p descending, id ascending) reaching top_p
    if top_p < 1.0:
        n_pos = 0
        for i in range(V):
            if p[i] > 0:
                w.pairs[n_pos].p = p[i]
                w.pairs[n_pos].id = i
                n_pos += 1
        qsort(w.pairs, n_pos, sizeof(IdP), _cmp_desc)
        c = 0.0
        n_keep = n_pos
        for j in range(n_pos):
            c = c + w.pairs[j].p
            if c >= top_p:
                n_keep = j + 1
                break
        for j in range(n_keep, n_pos):
            p[w.pairs[j].id] = 0.0
    return True


cdef int _sample_row(const floating* logits, int V, double u, double temperature,
                     int top_k, double top_p, SampleWork* w) noexcept nogil:
    """One token from one row of logits (V,) and one uniform u in [0, 1)."""
    cdef int i, best
    cdef double v, c, x
    cdef const double* p = w.p
    # 1: greedy: the first index of the maximum (numpy.argmax: a NaN wins)
    if temperature == 0:
        best = 0
        for i in range(V):
            v = logits[i]
            if v != v:
                return i
            if v > logits[best]:
                best = i
        return best
    if not _probabilities(logits, V, temperature, top_k, top_p, w):
        return V - 1
    # 6: the first id whose cumulative probability (in id order) exceeds u * total
    c = 0.0
    for i in range(V):
        c = c + p[i]
    x = u * c
    c = 0.0
    for i in range(V):
        c = c + p[i]
        if c > x:
            return i
    return V - 1


cdef int _alloc_work(SampleWork* w, int V) noexcept nogil:
    w.z = <double*>calloc(V, sizeof(double))
    w.p = <double*>calloc(V, sizeof(double))
    w.sel = <double*>calloc(V, sizeof(double))
    w.pairs = <IdP*>calloc(V, sizeof(IdP))
    if w.z == NULL or w.p == NULL or w.sel == NULL or w.pairs == NULL:
        return -1
    return 0


cdef void _free_work(SampleWork* w) noexcept nogil:
    free(w.z)
    free(w.p)
    free(w.sel)
    free(w.pairs)


def sample_rows(
    const floating[:, ::1] logits,     # IN  (B, V)
    const double[::1] uniforms,        # IN  (B,) in [0, 1)
    double temperature,
    int top_k,                         # 0: no top-k
    double top_p,                      # 1.0: no top-p
):
    """The kernel's sampling rule on its own: (B,) int64 tokens (a test entry point).

    Arguments as :func:`fastrnn.models.sampling.sample_from_logits` after
    ``check_sampling_args`` (top_k 0 and top_p 1.0 mean off).
    """
    cdef int B = logits.shape[0], V = logits.shape[1], b
    if uniforms.shape[0] != B:
        raise ValueError(
            f"expected uniforms of shape ({B},), got ({uniforms.shape[0]},)")
    if V < 1:
        raise ValueError("expected at least one logit per row, got V = 0")
    out = np.empty(B, dtype=np.int64)
    cdef int64_t[::1] out_v = out
    cdef SampleWork w
    try:
        if _alloc_work(&w, V) != 0:
            raise MemoryError("sample_rows: could not allocate the work buffers")
        with nogil:
            for b in range(B):
                out_v[b] = _sample_row(&logits[b, 0], V, uniforms[b], temperature,
                                       top_k, top_p, &w)
    finally:
        _free_work(&w)
    return out


def probabilities(
    const floating[:, ::1] logits,     # IN  (B, V)
    double temperature,                # > 0
    int top_k,
    double top_p,
):
    """(B, V) float64: the probabilities the kernel samples from (steps 2-5), NaN rows
    where the logits give none (a test entry point)."""
    cdef int B = logits.shape[0], V = logits.shape[1], b, i
    if not temperature > 0:
        raise ValueError(f"expected temperature > 0, got {temperature}")
    if V < 1:
        raise ValueError("expected at least one logit per row, got V = 0")
    out = np.empty((B, V), dtype=np.float64)
    cdef double[:, ::1] out_v = out
    cdef SampleWork w
    try:
        if _alloc_work(&w, V) != 0:
            raise MemoryError("probabilities: could not allocate the work buffers")
        with nogil:
            for b in range(B):
                if _probabilities(&logits[b, 0], V, temperature, top_k, top_p, &w):
                    memcpy(&out_v[b, 0], w.p, V * sizeof(double))
                else:
                    for i in range(V):
                        out_v[b, i] = NAN
    finally:
        _free_work(&w)
    return out


# ======================================================================================
# The generator
# ======================================================================================

cdef struct Chunk:
    # one thread's share of a layer (hidden units [u0, u0 + n)) or of the head (rows)
    int u0
    int n
    void* P          # packed rows: [W_ih | W_hh] of the chunk's gates (gru_cho: r, z)
    void* Pn         # gru_cho: packed [W_in | W_hn] of the chunk's units, else NULL
    void* bias       # (G*n,) b_ih + b_hh in the chunk's gate order (head: (n,))
    void* wp         # (3*n,) peepholes [p_i, p_f, p_o] of the chunk's units, or NULL


cdef struct Layer:
    int I            # input size: E for layer 0, H above
    Py_ssize_t ps    # elements per packed panel: (I + H) * PW
    Chunk* chunks    # (n_chunks,)
    void* h[2]       # (B, H) each: state h_{t-1} and h_t, alternating with t's parity
    void* c          # (B, H) LSTM cell state, else NULL
    const void* b_hn  # gru: b_hh[2H:3H], added to W_hn h_prev inside r * (.), else NULL


cdef struct Gen:
    int cell, G, L, H, E, V, B, N, n_chunks, use_table, relu
    long long eos    # <EOS> id, -1: never stop
    double temperature, top_p
    int top_k
    Layer* layers    # (L,)
    Chunk* head      # (n_chunks,) vocabulary rows [u0, u0 + n)
    const void* emb  # (V, E)
    void* table      # (V, GH) layer 0's a for every token, chunk order, or NULL
    void* A          # (B, GH) a (1a), then the post-activation gates; chunk order
    void* S          # (B, GH) s (1b); chunk order
    void* RH         # (B, H) gru_cho: r * h_prev
    void* SN         # (B, H) gru_cho: W_hn (r * h_prev)
    void* Y          # (B, H) the row functions' output copy (not needed here)
    void* Cs         # (B, H) LSTM c_t copy (not needed here)
    void* AUX        # (B, H) gru W_hn h_prev + b_hn (not needed here)
    void* Xe         # (B, E) embedded tokens when there is no table
    void* logits     # (B, V)
    const double* U  # (N, B) uniforms
    int64_t* out     # (N, B) tokens
    int64_t* lengths  # (B,) tokens before <EOS> (N if none)
    int* tok         # (B,) token of each running slot
    int* sample      # (B,) sample index of each running slot
    char* stopped    # (B,) the slot sampled <EOS> at this step
    int* n_stopped   # (n_chunks,) per thread, at this step
    SampleWork* work  # (n_chunks,) per thread


cdef inline void _gemm2(int M, int N, int K1, const floating* X1, Py_ssize_t ldx1,
                        int K2, const floating* X2, Py_ssize_t ldx2, const void* P,
                        Py_ssize_t ps, const floating* init, Py_ssize_t ldi,
                        floating* Y1, Py_ssize_t ldy1, floating* Y2,
                        Py_ssize_t ldy2) noexcept nogil:
    """One sweep over packed rows [W1 | W2] (K1 + K2 columns): Y1 (M, N) = init +
    X1 (M, K1) @ W1^T and, when K2 > 0, Y2 (M, N) = X2 (M, K2) @ W2^T (C block)."""
    if floating is float:
        fr_gen_gemm_f(M, N, K1, X1, ldx1, K2, X2, ldx2, <const float*>P, ps, init, ldi,
                      Y1, ldy1, Y2, ldy2)
    else:
        fr_gen_gemm_d(M, N, K1, X1, ldx1, K2, X2, ldx2, <const double*>P, ps, init,
                      ldi, Y1, ldy1, Y2, ldy2)


cdef inline void _gemm(int M, int N, int K, const floating* X, Py_ssize_t ldx,
                       const void* P, Py_ssize_t ps, const floating* init,
                       Py_ssize_t ldi, floating* Y, Py_ssize_t ldy) noexcept nogil:
    """Y (M, N) = init + X (M, K) @ packed rows^T (their first K columns)."""
    _gemm2(M, N, K, X, ldx, 0, X, 0, P, ps, init, ldi, Y, ldy, Y, 0)


cdef inline int _panel_width(floating* kind) noexcept nogil:
    return FR_GEN_PW_F if floating is float else FR_GEN_PW_D


cdef void _table_chunk(Gen* g, floating* kind, int c) noexcept nogil:
    """1a for every token at once: table[:, chunk] = embedding @ W_ih0[chunk]^T + b."""
    cdef Layer* ly = &g.layers[0]
    cdef Chunk* ch = &ly.chunks[c]
    cdef int GH = g.G * g.H, n = ch.n
    cdef floating* T = <floating*>g.table + g.G * ch.u0
    cdef const floating* bias = <const floating*>ch.bias
    _gemm(g.V, (2 if g.cell == GRU_CHO else g.G) * n, g.E, <const floating*>g.emb, g.E,
          ch.P, ly.ps, bias, 0, T, GH)
    if g.cell == GRU_CHO:
        _gemm(g.V, n, g.E, <const floating*>g.emb, g.E, ch.Pn, ly.ps, bias + 2 * n, 0,
              T + 2 * n, GH)


cdef void _layer_chunk(Gen* g, floating* kind, int l, int c, int M,
                       int q) noexcept nogil:
    """1a, 1b and the gate math of one layer for one chunk of units, M running rows.

    Reads the state h_{t-1} from h[q], writes h_t to h[1 - q] (gru_cho: only r, z and
    r * h_prev here; _cho_n_chunk finishes the step).
    """
    cdef Layer* ly = &g.layers[l]
    cdef Chunk* ch = &ly.chunks[c]
    cdef int G = g.G, H = g.H, GH = g.G * g.H, n = ch.n, u0 = ch.u0, m, o
    cdef int PW = _panel_width(kind)
    cdef int n_rows = (2 if g.cell == GRU_CHO else G) * n
    cdef floating* A = <floating*>g.A + G * u0
    cdef floating* S = <floating*>g.S + G * u0
    cdef const floating* hp = <const floating*>ly.h[q]
    cdef floating* hn = <floating*>ly.h[1 - q]
    cdef const floating* bias = <const floating*>ch.bias
    cdef const floating* x
    cdef floating* a
    cdef floating* s
    cdef int ldx
    if l == 0 and g.use_table:
        # 1a: a = the token's row of the table; 1b: s = W_hh h_{t-1} (gru_cho: r, z)
        for m in range(M):
            memcpy(A + <Py_ssize_t>m * GH,
                   <floating*>g.table + <Py_ssize_t>g.tok[m] * GH + G * u0,
                   G * n * sizeof(floating))
        _gemm(M, n_rows, H, hp, H, <const floating*>ch.P + ly.I * PW, ly.ps, NULL, 0,
              S, GH)
    else:
        if l == 0:
            x = <const floating*>g.Xe
            ldx = g.E
        else:
            x = <const floating*>g.layers[l - 1].h[1 - q]
            ldx = H
        # 1a and 1b in one sweep over the packed [W_ih | W_hh]: a = W_ih x_t + biases,
        # s = W_hh h_{t-1} (gru_cho: the r, z rows; then a_n from [W_in | W_hn])
        _gemm2(M, n_rows, ly.I, x, ldx, H, hp, H, ch.P, ly.ps, bias, 0, A, GH, S, GH)
        if g.cell == GRU_CHO:
            _gemm(M, n, ly.I, x, ldx, ch.Pn, ly.ps, bias + 2 * n, 0, A + 2 * n, GH)
    # 2+: gate math per row (fastrnn_gates_impl.h, with the chunk's n units)
    for m in range(M):
        a = A + <Py_ssize_t>m * GH
        s = S + <Py_ssize_t>m * GH
        o = m * H + u0
        if g.cell == RNN_TANH or g.cell == RNN_RELU:
            rnn_forward_row(n, g.relu, a, s, hn + o)
        elif g.cell == LSTM or g.cell == LSTM_PEEPHOLE:
            lstm_forward_row(n, <const floating*>ch.wp, a, s, <floating*>ly.c + o,
                             hn + o, <floating*>g.Y + o, <floating*>g.Cs + o)
        elif g.cell == GRU:
            memcpy(hn + o, hp + o, n * sizeof(floating))
            gru_forward_row(n, a, s, <const floating*>ly.b_hn + u0,
                            <floating*>g.AUX + o, hn + o, <floating*>g.Y + o)
        elif g.cell == GRU_CHO:
            gru_cho_forward_rz_row(n, a, s, hp + o, <floating*>g.RH + o)
        else:
            memcpy(hn + o, hp + o, n * sizeof(floating))
            gru_minimal_forward_row(n, a, s, hn + o, <floating*>g.Y + o)


cdef void _cho_n_chunk(Gen* g, floating* kind, int l, int c, int M,
                       int q) noexcept nogil:
    """gru_cho 1d-2: n = tanh(a_n + W_hn (r * h_prev)), h_t; needs all of r * h_prev."""
    cdef Layer* ly = &g.layers[l]
    cdef Chunk* ch = &ly.chunks[c]
    cdef int H = g.H, GH = g.G * g.H, n = ch.n, u0 = ch.u0, m, o
    cdef int PW = _panel_width(kind)
    cdef const floating* hp = <const floating*>ly.h[q]
    cdef floating* hn = <floating*>ly.h[1 - q]
    cdef floating* SN = <floating*>g.SN
    _gemm(M, n, H, <const floating*>g.RH, H, <const floating*>ch.Pn + ly.I * PW, ly.ps,
          NULL, 0, SN + u0, H)
    for m in range(M):
        o = m * H + u0
        memcpy(hn + o, hp + o, n * sizeof(floating))
        gru_cho_forward_n_row(n, <floating*>g.A + <Py_ssize_t>m * GH + g.G * u0,
                              SN + o, hn + o, <floating*>g.Y + o)


cdef void _head_chunk(Gen* g, floating* kind, int c, int M, int q) noexcept nogil:
    """logits[:, rows] = W[rows] h^{L-1}_t + b[rows] for one chunk of vocab rows."""
    cdef Chunk* ch = &g.head[c]
    cdef int PW = _panel_width(kind)
    _gemm(M, ch.n, g.H, <const floating*>g.layers[g.L - 1].h[q], g.H, ch.P,
          <Py_ssize_t>g.H * PW, <const floating*>ch.bias, 0,
          <floating*>g.logits + ch.u0, g.V)


cdef void _compact(Gen* g, floating* kind, int M, int q) noexcept nogil:
    """Move the running slots to the front (slot order), dropping the stopped ones."""
    cdef int i, j = 0, l, H = g.H
    cdef size_t row = H * sizeof(floating)
    for i in range(M):
        if g.stopped[i]:
            g.stopped[i] = 0
            continue
        if i != j:
            g.tok[j] = g.tok[i]
            g.sample[j] = g.sample[i]
            if not g.use_table:
                memcpy(<floating*>g.Xe + <Py_ssize_t>j * g.E,
                       <floating*>g.Xe + <Py_ssize_t>i * g.E, g.E * sizeof(floating))
            for l in range(g.L):
                memcpy(<floating*>g.layers[l].h[q] + j * H,
                       <floating*>g.layers[l].h[q] + i * H, row)
                if g.layers[l].c != NULL:
                    memcpy(<floating*>g.layers[l].c + j * H,
                           <floating*>g.layers[l].c + i * H, row)
        j += 1


cdef void _worker(Gen* g, floating* kind, int tid, int team) noexcept nogil:
    """The token loop, run by every thread of the team (see the module docstring)."""
    cdef int M = g.B, t, i, lo, hi, n_stop, l, c, q, tk, b
    cdef unsigned int csr
    if g.use_table:
        c = tid
        while c < g.n_chunks:  # this thread's chunks
            _table_chunk(g, kind, c)
            c += team
        fr_gen_barrier(team)
    for t in range(g.N):
        # S: sample this thread's share of the running slots
        lo = <int>((<long long>tid * M) // team)
        hi = <int>((<long long>(tid + 1) * M) // team)
        n_stop = 0
        for i in range(lo, hi):
            b = g.sample[i]
            tk = _sample_row(<const floating*>g.logits + <Py_ssize_t>i * g.V, g.V,
                             g.U[<Py_ssize_t>t * g.B + b], g.temperature, g.top_k,
                             g.top_p, &g.work[tid])
            g.out[<Py_ssize_t>t * g.B + b] = tk
            g.tok[i] = tk
            if tk == g.eos:
                g.stopped[i] = 1
                g.lengths[b] = t
                n_stop += 1
            elif not g.use_table:
                memcpy(<floating*>g.Xe + <Py_ssize_t>i * g.E,
                       <const floating*>g.emb + <Py_ssize_t>tk * g.E,
                       g.E * sizeof(floating))
        g.n_stopped[tid] = n_stop
        fr_gen_barrier(team)
        n_stop = 0
        for i in range(team):
            n_stop += g.n_stopped[i]
        if n_stop > 0:
            if M - n_stop > 0 and t < g.N - 1:
                if tid == 0:
                    _compact(g, kind, M, t & 1)
                fr_gen_barrier(team)
            M -= n_stop
        if M == 0 or t == g.N - 1:
            break
        q = t & 1
        # 1a-2+: every layer, with denormals flushed like the training kernels
        csr = fr_ftz_enter()
        for l in range(g.L):
            c = tid
            while c < g.n_chunks:  # this thread's chunks
                _layer_chunk(g, kind, l, c, M, q)
                c += team
            fr_gen_barrier(team)
            if g.cell == GRU_CHO:
                c = tid
                while c < g.n_chunks:  # this thread's chunks
                    _cho_n_chunk(g, kind, l, c, M, q)
                    c += team
                fr_gen_barrier(team)
        fr_ftz_exit(csr)
        # H: the next logits
        c = tid
        while c < g.n_chunks:  # this thread's chunks
            _head_chunk(g, kind, c, M, 1 - q)
            c += team
        fr_gen_barrier(team)


cdef void _worker_f(void* ctx, int tid, int team) noexcept nogil:
    _worker(<Gen*>ctx, <float*>NULL, tid, team)


cdef void _worker_d(void* ctx, int tid, int team) noexcept nogil:
    _worker(<Gen*>ctx, <double*>NULL, tid, team)


# --------------------------------------------------------------------------------------
# Setup: split, pack, allocate; teardown
# --------------------------------------------------------------------------------------

cdef int _unit_start(int c, int n_chunks, int n) noexcept nogil:
    """First unit of chunk c of n units, on a multiple of 16 where possible (whole
    cache lines per thread; chunks have >= 16 units)."""
    cdef int u
    if c <= 0:
        return 0
    if c >= n_chunks:
        return n
    u = <int>((<long long>c * n) // n_chunks)
    u = (u + 8) // 16 * 16
    return u if 0 < u < n else <int>((<long long>c * n) // n_chunks)


cdef int _pack_rows(floating* kind, int n_rows, int I, int H, const floating* W_ih,
                    const floating* W_hh, const int* rows, void** out,
                    Py_ssize_t ps) noexcept nogil:
    """out = the given rows of [W_ih | W_hh] packed (W_hh may be NULL: head)."""
    cdef int PW = _panel_width(kind)
    cdef Py_ssize_t n_panels = (n_rows + PW - 1) // PW
    cdef floating* P = <floating*>fr_gen_alloc(n_panels * ps * sizeof(floating))
    out[0] = P
    if P == NULL:
        return -1
    if floating is float:
        fr_gen_pack_f(n_rows, I, W_ih, I, rows, P, ps)
        if W_hh != NULL:
            fr_gen_pack_f(n_rows, H, W_hh, H, rows, P + I * PW, ps)
    else:
        fr_gen_pack_d(n_rows, I, W_ih, I, rows, P, ps)
        if W_hh != NULL:
            fr_gen_pack_d(n_rows, H, W_hh, H, rows, P + I * PW, ps)
    return 0


cdef int _setup_layer(Gen* g, floating* kind, int l, const floating* W_ih,
                      const floating* W_hh, const floating* b_ih, const floating* b_hh,
                      const floating* w_peep, int* rows) noexcept nogil:
    """Split layer l into chunks: packed weights, biases, peepholes in chunk order."""
    cdef Layer* ly = &g.layers[l]
    cdef int G = g.G, H = g.H, c, k, j, n, u0, G1
    cdef floating* bias
    cdef floating* wp
    cdef int PW = _panel_width(kind)
    ly.I = g.E if l == 0 else H
    ly.ps = <Py_ssize_t>(ly.I + H) * PW
    ly.b_hn = b_hh + 2 * H if g.cell == GRU else NULL
    G1 = 2 if g.cell == GRU_CHO else G  # gate blocks in P (gru_cho: n goes to Pn)
    for c in range(g.n_chunks):
        u0 = _unit_start(c, g.n_chunks, H)
        n = _unit_start(c + 1, g.n_chunks, H) - u0
        ly.chunks[c].u0 = u0
        ly.chunks[c].n = n
        for k in range(G):
            for j in range(n):
                rows[k * n + j] = k * H + u0 + j
        if _pack_rows(kind, G1 * n, ly.I, H, W_ih, W_hh, rows, &ly.chunks[c].P,
                      ly.ps) != 0:
            return -1
        if g.cell == GRU_CHO:
            if _pack_rows(kind, n, ly.I, H, W_ih, W_hh, rows + 2 * n,
                          &ly.chunks[c].Pn, ly.ps) != 0:
                return -1
        bias = <floating*>fr_gen_alloc(G * n * sizeof(floating))
        ly.chunks[c].bias = bias
        if bias == NULL:
            return -1
        for k in range(G * n):
            # 1a's biases: b_ih + b_hh (gru: b_hn stays inside r * (.), as the kernel)
            bias[k] = b_ih[rows[k]] + (0 if g.cell == GRU and k >= 2 * n
                                       else b_hh[rows[k]])
        if g.cell == LSTM_PEEPHOLE:
            wp = <floating*>fr_gen_alloc(3 * n * sizeof(floating))
            ly.chunks[c].wp = wp
            if wp == NULL:
                return -1
            for k in range(3):
                for j in range(n):
                    wp[k * n + j] = w_peep[k * H + u0 + j]
    return 0


cdef int _setup_head(Gen* g, floating* kind, const floating* W, const floating* b,
                     int* rows) noexcept nogil:
    cdef int c, j, v0, n
    cdef int PW = _panel_width(kind)
    for c in range(g.n_chunks):
        v0 = <int>((<long long>c * g.V) // g.n_chunks)
        n = <int>((<long long>(c + 1) * g.V) // g.n_chunks) - v0
        g.head[c].u0 = v0
        g.head[c].n = n
        g.head[c].bias = <void*>(b + v0)
        for j in range(n):
            rows[j] = v0 + j
        if _pack_rows(kind, n, g.H, g.H, W, NULL, rows, &g.head[c].P,
                      <Py_ssize_t>g.H * PW) != 0:
            return -1
    return 0


cdef void _teardown(Gen* g) noexcept nogil:
    cdef int l, c
    if g.layers != NULL:
        for l in range(g.L):
            if g.layers[l].chunks != NULL:
                for c in range(g.n_chunks):
                    fr_gen_free(g.layers[l].chunks[c].P)
                    fr_gen_free(g.layers[l].chunks[c].Pn)
                    fr_gen_free(g.layers[l].chunks[c].bias)
                    fr_gen_free(g.layers[l].chunks[c].wp)
                free(g.layers[l].chunks)
            fr_gen_free(g.layers[l].h[0])
            fr_gen_free(g.layers[l].h[1])
            fr_gen_free(g.layers[l].c)
        free(g.layers)
    if g.head != NULL:
        for c in range(g.n_chunks):
            fr_gen_free(g.head[c].P)  # bias points into the caller's array
        free(g.head)
    if g.work != NULL:
        for c in range(g.n_chunks):
            _free_work(&g.work[c])
        free(g.work)
    fr_gen_free(g.table)
    fr_gen_free(g.A)
    fr_gen_free(g.S)
    fr_gen_free(g.RH)
    fr_gen_free(g.SN)
    fr_gen_free(g.Y)
    fr_gen_free(g.Cs)
    fr_gen_free(g.AUX)
    fr_gen_free(g.Xe)
    fr_gen_free(g.logits)
    free(g.tok)
    free(g.sample)
    free(g.stopped)
    free(g.n_stopped)


cdef int _allocate(Gen* g, floating* kind) noexcept nogil:
    """Every buffer of the loop (packed weights excepted); -1 when out of memory."""
    cdef int l, c, B = g.B, H = g.H, V = g.V, GH = g.G * g.H
    cdef size_t f = sizeof(floating)
    g.layers = <Layer*>calloc(g.L, sizeof(Layer))
    g.head = <Chunk*>calloc(g.n_chunks, sizeof(Chunk))
    g.work = <SampleWork*>calloc(g.n_chunks, sizeof(SampleWork))
    if g.layers == NULL or g.head == NULL or g.work == NULL:
        return -1
    for l in range(g.L):
        g.layers[l].chunks = <Chunk*>calloc(g.n_chunks, sizeof(Chunk))
        g.layers[l].h[0] = fr_gen_alloc(B * H * f)
        g.layers[l].h[1] = fr_gen_alloc(B * H * f)
        if g.cell == LSTM or g.cell == LSTM_PEEPHOLE:
            g.layers[l].c = fr_gen_alloc(B * H * f)
            if g.layers[l].c == NULL:
                return -1
        if (g.layers[l].chunks == NULL or g.layers[l].h[0] == NULL
                or g.layers[l].h[1] == NULL):
            return -1
    for c in range(g.n_chunks):
        if _alloc_work(&g.work[c], V) != 0:
            return -1
    if g.use_table:
        g.table = fr_gen_alloc(<size_t>V * GH * f)
        if g.table == NULL:
            return -1
    else:
        g.Xe = fr_gen_alloc(<size_t>B * g.E * f)
        if g.Xe == NULL:
            return -1
    g.A = fr_gen_alloc(<size_t>B * GH * f)
    g.S = fr_gen_alloc(<size_t>B * GH * f)
    g.RH = fr_gen_alloc(<size_t>B * H * f)
    g.SN = fr_gen_alloc(<size_t>B * H * f)
    g.Y = fr_gen_alloc(<size_t>B * H * f)
    g.Cs = fr_gen_alloc(<size_t>B * H * f)
    g.AUX = fr_gen_alloc(<size_t>B * H * f)
    g.logits = fr_gen_alloc(<size_t>B * V * f)
    g.tok = <int*>calloc(B, sizeof(int))
    g.sample = <int*>calloc(B, sizeof(int))
    g.stopped = <char*>calloc(B, sizeof(char))
    g.n_stopped = <int*>calloc(g.n_chunks, sizeof(int))
    if (g.A == NULL or g.S == NULL or g.RH == NULL or g.SN == NULL or g.Y == NULL
            or g.Cs == NULL or g.AUX == NULL or g.logits == NULL or g.tok == NULL
            or g.sample == NULL or g.stopped == NULL or g.n_stopped == NULL):
        return -1
    return 0


def generate(
    str cell,
    const floating[:, ::1] embedding,  # IN  (V, E)
    list W_ih,                         # IN  per layer (GH, I), I = E (layer 0) or H
    list W_hh,                         # IN  per layer (GH, H)
    list b_ih,                         # IN  per layer (GH,) (zeros without bias)
    list b_hh,                         # IN  per layer (GH,)
    list w_peep,                       # IN  per layer (3H,) (lstm_peephole), else None
    const floating[:, ::1] W_head,     # IN  (V, H)
    const floating[::1] b_head,        # IN  (V,)
    const floating[:, :, ::1] h0,      # IN  (L, B, H) state after the prompt
    const floating[:, :, ::1] c0,      # IN  (L, B, H) LSTM cell state (else ignored)
    const floating[:, ::1] logits0,    # IN  (B, V) logits after the prompt
    const double[:, ::1] uniforms,     # IN  (N, B) in [0, 1)
    double temperature,                # >= 0 (0: greedy)
    int top_k,                         # 0: off
    double top_p,                      # 1.0: off
    long long eos_id,                  # -1: never stop
    int64_t[:, ::1] tokens_out,        # OUT (N, B) sampled tokens (past a length: any)
    int64_t[::1] lengths_out,          # OUT (B,) tokens before <EOS>, N if none
    bint use_table,                    # 1a of layer 0 through the (V, GH) table
    int n_threads,                     # at most this many threads ...
    long long min_work,                # ... each with >= min_work multiply-adds a step
):
    """Generate up to N tokens per sample; inputs are checked by
    fastrnn.models._fused_generate (only shapes are re-checked here)."""
    if cell not in CELL_CODES:
        raise ValueError(f"expected cell in {tuple(CELL_CODES)}, got {cell!r}")
    cdef int code = CELL_CODES[cell]
    cdef int L = len(W_ih), V = embedding.shape[0], E = embedding.shape[1]
    cdef int B = logits0.shape[0], N = uniforms.shape[0], H = h0.shape[2]
    cdef int G = GATES[code], l, err = 0, max_rows
    cdef floating[:, ::1] w_ih, w_hh
    cdef floating[::1] bi, bh, wp
    cdef int* rows = NULL
    cdef long long work
    cdef Gen g
    _check_shapes(code, L, V, E, H, B, N, W_ih, W_hh, b_ih, b_hh, w_peep,
                  W_head.shape[0], W_head.shape[1], b_head.shape[0], h0.shape[0],
                  h0.shape[1], c0.shape[0], c0.shape[1], c0.shape[2],
                  logits0.shape[1], uniforms.shape[1], tokens_out.shape[0],
                  tokens_out.shape[1], lengths_out.shape[0], n_threads)
    if N == 0:
        lengths_out[:] = 0
        return
    memset(&g, 0, sizeof(Gen))
    g.cell, g.G, g.L, g.H, g.E, g.V, g.B, g.N = code, G, L, H, E, V, B, N
    g.relu = code == RNN_RELU
    # threads: one per >= min_work multiply-adds per step, >= 16 hidden units each
    work = B * (<long long>G * H * ((0 if use_table else E) + H)
                + <long long>(L - 1) * G * H * 2 * H + <long long>V * H)
    g.n_chunks = <int>max(1, min(n_threads, H // 16, work // max(1, min_work)))
    g.use_table = use_table
    g.eos = eos_id
    g.temperature, g.top_k, g.top_p = temperature, top_k, top_p
    g.emb = &embedding[0, 0]
    g.U = &uniforms[0, 0]
    g.out = &tokens_out[0, 0]
    g.lengths = &lengths_out[0]
    max_rows = G * H if G * H > V else V
    try:
        with nogil:
            err = _allocate(&g, <floating*>NULL)
            rows = <int*>calloc(max_rows, sizeof(int))
            if rows == NULL:
                err = -1
        if err:
            raise MemoryError("generate: could not allocate the work buffers")
        for l in range(L):
            w_ih = W_ih[l]
            w_hh = W_hh[l]
            bi = b_ih[l]
            bh = b_hh[l]
            wp = w_peep[l] if code == LSTM_PEEPHOLE else bi
            with nogil:
                err = _setup_layer(&g, <floating*>NULL, l, &w_ih[0, 0], &w_hh[0, 0],
                                   &bi[0], &bh[0], &wp[0], rows)
                if err == 0:
                    memcpy(g.layers[l].h[0], &h0[l, 0, 0], B * H * sizeof(floating))
                    if g.layers[l].c != NULL:
                        memcpy(g.layers[l].c, &c0[l, 0, 0], B * H * sizeof(floating))
            if err:
                raise MemoryError("generate: could not allocate the packed weights")
        with nogil:
            err = _setup_head(&g, <floating*>NULL, &W_head[0, 0], &b_head[0], rows)
            if err == 0:
                memcpy(g.logits, &logits0[0, 0], B * V * sizeof(floating))
                for l in range(B):
                    g.sample[l] = l
                    lengths_out[l] = N
                if floating is float:
                    fr_gen_run_team(_worker_f, &g, g.n_chunks)
                else:
                    fr_gen_run_team(_worker_d, &g, g.n_chunks)
        if err:
            raise MemoryError("generate: could not allocate the packed head")
    finally:
        free(rows)
        _teardown(&g)


def _check_shapes(int code, int L, int V, int E, int H, int B, int N, list W_ih,
                  list W_hh, list b_ih, list b_hh, list w_peep, int hv, int hh,
                  int bv, int h0l, int h0b, int c0l, int c0b, int c0h, int lv, int ub,
                  int tn, int tb, int lb, int n_threads):
    """Raise ValueError unless every array has the shape the loop will index."""
    cdef int G = GATES[code], l
    if L < 1 or V < 1 or E < 1 or H < 1 or B < 1:
        raise ValueError(f"expected L, V, E, H, B >= 1, got {L}, {V}, {E}, {H}, {B}")
    if n_threads < 1:
        raise ValueError(f"expected n_threads >= 1, got {n_threads}")
    if not (len(W_hh) == len(b_ih) == len(b_hh) == len(w_peep) == L):
        raise ValueError("expected one W_ih, W_hh, b_ih, b_hh, w_peep per layer")
    for l in range(L):
        want = (G * H, E if l == 0 else H)
        if tuple(W_ih[l].shape) != want or tuple(W_hh[l].shape) != (G * H, H):
            raise ValueError(f"expected layer {l} weights of shapes {want} and "
                             f"{(G * H, H)}, got {W_ih[l].shape} and {W_hh[l].shape}")
        if tuple(b_ih[l].shape) != (G * H,) or tuple(b_hh[l].shape) != (G * H,):
            raise ValueError(f"expected layer {l} biases of shape {(G * H,)}")
        if code == LSTM_PEEPHOLE and (w_peep[l] is None
                                      or tuple(w_peep[l].shape) != (3 * H,)):
            raise ValueError(f"expected layer {l} peepholes of shape {(3 * H,)}")
    if (hv, hh, bv) != (V, H, V):
        raise ValueError(f"expected head weight ({V}, {H}) and bias ({V},), got "
                         f"({hv}, {hh}) and ({bv},)")
    if (h0l, h0b) != (L, B):
        raise ValueError(
            f"expected h0 of shape ({L}, {B}, {H}), got ({h0l}, {h0b}, {H})")
    if code in (LSTM, LSTM_PEEPHOLE) and (c0l, c0b, c0h) != (L, B, H):
        raise ValueError(f"expected c0 of shape ({L}, {B}, {H}), "
                         f"got ({c0l}, {c0b}, {c0h})")
    if lv != V or ub != B or (tn, tb) != (N, B) or lb != B:
        raise ValueError(f"expected logits0 ({B}, {V}), uniforms ({N}, {B}), "
                         f"tokens_out ({N}, {B}), lengths_out ({B},); got "
                         f"({B}, {lv}), ({N}, {ub}), ({tn}, {tb}), ({lb},)")
