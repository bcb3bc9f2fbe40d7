# cython: language_level=3
"""Row-major GEMM for the kernels, fused over float/double.

Backend: BLIS through cython-blis (``blis.cy``), chosen by measurement
(benchmarks/bench_gemm.py): at the per-step shapes of the recurrence, e.g.
(16 x 1024 x 256) on one thread, BLIS ran 2x faster than scipy's OpenBLAS on the AMD EPYC
and AVX-512 Xeon machines we use, and close to MKL.  It is also single-threaded and
reentrant, so every OpenMP thread can call it on its own batch chunk with no thread-pool
interplay (OpenBLAS's pthread pool busy-waits between calls and must be limited with
threadpoolctl on every kernel call).  It takes row-major strides directly.

The per-step recurrent product goes through gemm_packed: on AVX2+FMA CPUs, float32
uses fastrnn_sgemm.h, whose weights are packed once per kernel call instead of on every
BLIS call (1.5x faster at 16 x 512 x 128, see benchmarks/README.md); otherwise BLIS.
On AVX-512 CPUs every float32 GEMM (gemm too) goes through fastrnn_sgemm_avx512.h: the
PyPI BLIS has no AVX-512 kernels and ran at half the rate there (benchmarks/README.md).

Swapping the backend means changing only this file.
"""
from cython cimport floating
from libc.stdlib cimport free, malloc

cimport blis.cy


cdef extern from "fastrnn_sgemm.h" nogil:
    size_t fr_packed_size(int K, int N) noexcept
    void fr_pack_b(int K, int N, const float* B, long rs, long cs, float* out) noexcept
    int fr_sgemm_packed_available() noexcept
    int fr_sgemm_packed(int M, int N, int K, const float* A, int lda,
                        const float* packed, float* C, int ldc, int beta) noexcept
    int fr_sgemm(bint trans_a, bint trans_b, int M, int N, int K, float alpha,
                 const float* A, int lda, const float* B, int ldb, float beta,
                 float* C, int ldc) noexcept
    int fr_sgemm_pair(bint trans_a, int M, int N1, int N2, int K, const float* A, int lda,
                      const float* B1, int ldb1, float* C1, int ldc1,
                      const float* B2, int ldb2, float* C2, int ldc2) noexcept
    int fr_sgemm_bias(bint trans_a, bint trans_b, int M, int N, int K,
                      const float* A, int lda, const float* B, int ldb,
                      const float* bias, float* C, int ldc) noexcept


cdef struct PackedWeights:
    # op(B) (K, N) of a recurrent weight matrix, for gemm_packed; ``packed`` holds it in
    # the micro-kernel's panel layout (float32 on AVX2+FMA CPUs) or is NULL (use BLIS)
    const void* B
    int ldb
    bint trans_b
    int K
    int N
    float* packed


cdef inline void gemm(bint trans_a, bint trans_b, int M, int N, int K,
                      floating alpha, const floating* A, int lda,
                      const floating* B, int ldb,
                      floating beta, floating* C, int ldc) noexcept nogil:
    """C (M, N) := alpha * op(A) @ op(B) + beta * C, row-major, op(A) is (M, K)."""
    if M <= 0 or N <= 0:
        return
    if K <= 0:  # nothing to multiply: C := beta * C, made explicit
        _scale_rows(M, N, beta, C, ldc)
        return
    if floating is float:
        # AVX-512 CPUs: our blocked GEMM; -1 means not this CPU (or no memory): BLIS
        if fr_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc) != 0:
            blis.cy.sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    else:
        blis.cy.dgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)


cdef inline void _scale_rows(int M, int N, floating beta, floating* C,
                             int ldc) noexcept nogil:
    cdef int i, j
    for i in range(M):
        for j in range(N):
            C[i * ldc + j] = 0 if beta == 0 else beta * C[i * ldc + j]


cdef inline bint gemm_pair(bint trans_a, int M, int N1, int N2, int K,
                           const floating* A, int lda,
                           const floating* B1, int ldb1, floating* C1, int ldc1,
                           const floating* B2, int ldb2, floating* C2, int ldc2) noexcept nogil:
    """C1 := op(A) @ B1 and C2 := op(A) @ B2 with op(A) packed once, where the backend
    can (the AMX path); False (nothing written) means: two gemm calls."""
    if floating is float:
        return fr_sgemm_pair(trans_a, M, N1, N2, K, A, lda, B1, ldb1, C1, ldc1,
                             B2, ldb2, C2, ldc2) == 0
    else:
        return False


cdef inline bint gemm_bias(bint trans_a, bint trans_b, int M, int N, int K,
                           const floating* A, int lda, const floating* B, int ldb,
                           const floating* bias, floating* C, int ldc) noexcept nogil:
    """C (M, N) := op(A) @ op(B) + bias (N,) in every row, in one pass over C, where the
    backend can (the AMX path); False (C untouched) means: write the bias rows, then
    gemm with beta = 1."""
    if M <= 0 or N <= 0:
        return True
    if floating is float:
        return fr_sgemm_bias(trans_a, trans_b, M, N, K, A, lda, B, ldb, bias, C, ldc) == 0
    else:
        return False


cdef inline int packed_init(PackedWeights* pw, bint trans_b, int K, int N,
                            const floating* B, int ldb) noexcept nogil:
    """Describe op(B) (K, N) once per kernel call, packing it for the float fast path.

    Returns -1 when the packed copy cannot be allocated.  Free with packed_free.
    """
    pw.B = B
    pw.ldb = ldb
    pw.trans_b = trans_b
    pw.K = K
    pw.N = N
    pw.packed = NULL
    if floating is float:
        if fr_sgemm_packed_available() and K > 0 and N > 0:
            pw.packed = <float*>malloc(fr_packed_size(K, N) * sizeof(float))
            if pw.packed == NULL:
                return -1
            # element (k, n) of op(B): B[n * ldb + k] when transposed, else B[k * ldb + n]
            fr_pack_b(K, N, B, 1 if trans_b else ldb, ldb if trans_b else 1, pw.packed)
    return 0


cdef inline void packed_none(PackedWeights* pw) noexcept nogil:
    """An empty description (nothing packed, nothing to free): every field set."""
    pw.B = NULL
    pw.ldb = 0
    pw.trans_b = False
    pw.K = 0
    pw.N = 0
    pw.packed = NULL


cdef inline void packed_free(PackedWeights* pw) noexcept nogil:
    free(pw.packed)
    pw.packed = NULL


cdef inline void gemm_packed(int M, const floating* A, int lda, const PackedWeights* pw,
                             floating beta, floating* C, int ldc) noexcept nogil:
    """C (M, N) := A (M, K) @ op(B) + beta * C, beta 0 or 1: the per-step product."""
    if M <= 0:
        return
    if floating is float:
        if pw.packed != NULL:
            if fr_sgemm_packed(M, pw.N, pw.K, A, lda, pw.packed, C, ldc, beta != 0) == 0:
                return
    gemm(False, pw.trans_b, M, pw.N, pw.K, 1, A, lda, <const floating*>pw.B, pw.ldb,
         beta, C, ldc)
