# cython: language_level=3
"""Row-major GEMM for the kernels, fused over float/double.

Backend: BLIS through cython-blis (``blis.cy``), chosen by measurement
(benchmarks/bench_gemm.py): at the per-step shapes of the recurrence, e.g.
(16 x 1024 x 256) on one thread, BLIS ran 2x faster than scipy's OpenBLAS on the AMD EPYC
and AVX-512 Xeon machines we use, and close to MKL.  It is also single-threaded and
reentrant, so every OpenMP thread can call it on its own batch chunk with no thread-pool
interplay (OpenBLAS's pthread pool busy-waits between calls and must be limited with
threadpoolctl on every kernel call).  It takes row-major strides directly.

Swapping the backend means changing only this file.
"""
from cython cimport floating

cimport blis.cy


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
        blis.cy.sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
    else:
        blis.cy.dgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)


cdef inline void _scale_rows(int M, int N, floating beta, floating* C,
                             int ldc) noexcept nogil:
    cdef int i, j
    for i in range(M):
        for j in range(N):
            C[i * ldc + j] = 0 if beta == 0 else beta * C[i * ldc + j]
