# cython: language_level=3
"""Plain matrix products for the Python layer (Linear, Tensor @), on fastrnn's threads.

Why not NumPy's ``@``: NumPy's OpenBLAS keeps its own thread pool, whose threads spin
for a while after every call.  In a training step they then compete for the cores with
the recurrent kernels' OpenMP threads: measured on the 2-core char-LM model
(benchmarks/bench_model.py), limiting NumPy's BLAS to one thread made the whole step
16% faster.  Here every product splits its output over the same OpenMP threads the
kernels use, each thread calling single-threaded BLIS on its block.
"""
from cython cimport floating
from cython.parallel cimport prange

from fastrnn._kernels._blas cimport (
    PackedWeights, gemm, gemm_packed, packed_free, packed_init,
)
from fastrnn._kernels._loops cimport chunk_start, n_chunks_for


def matmul_into(
    bint trans_a,
    bint trans_b,
    const floating[:, ::1] A,       # IN  (M, K), or (K, M) when trans_a
    const floating[:, ::1] B,       # IN  (K, N), or (N, K) when trans_b
    floating beta,
    floating[:, ::1] C,             # IN-OUT (M, N): C = op(A) @ op(B) + beta * C
    int n_threads,
):
    """C = op(A) @ op(B) + beta C; shapes must be checked by the caller (fastrnn._linalg)."""
    cdef int M = C.shape[0], N = C.shape[1]
    cdef int K = A.shape[0] if trans_a else A.shape[1]
    cdef int lda = A.shape[1], ldb = B.shape[1], ldc = C.shape[1]
    cdef int c, lo, hi, n_chunks
    cdef bint by_rows = M >= N
    if M == 0 or N == 0:
        return
    if <double>M * N * K < 65536:  # too small to be worth a parallel region
        n_threads = 1
    n_chunks = n_chunks_for(n_threads, M if by_rows else N)
    with nogil:
        for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
            lo = chunk_start(c, n_chunks, M if by_rows else N)
            hi = chunk_start(c + 1, n_chunks, M if by_rows else N)
            if by_rows:  # rows lo..hi of op(A) and C
                gemm(trans_a, trans_b, hi - lo, N, K, 1,
                     &A[0, 0] + (lo if trans_a else <long long>lo * lda), lda,
                     &B[0, 0], ldb, beta, &C[0, 0] + <long long>lo * ldc, ldc)
            else:  # columns lo..hi of op(B) and C
                gemm(trans_a, trans_b, M, hi - lo, K, 1, &A[0, 0], lda,
                     &B[0, 0] + (<long long>lo * ldb if trans_b else lo), ldb,
                     beta, &C[0, 0] + lo, ldc)


def repeat_step_product(
    const floating[:, ::1] A,       # IN  (M, K) a thread's rows of h_{t-1}
    const floating[:, ::1] W,       # IN  (N, K) the recurrent weights W_hh
    floating[:, ::1] C,             # OUT (M, N) = A @ W^T
    int reps,
):
    """C = A @ W^T, reps times on one thread, W packed once: the kernels' per-step
    recurrent product exactly as they run it (benchmarks/bench_kernels.py's sgemm rate)."""
    cdef int M = A.shape[0], K = A.shape[1], N = W.shape[0], r
    cdef PackedWeights pw
    if W.shape[1] != K or C.shape[0] != M or C.shape[1] != N:
        raise ValueError("expected A (M, K), W (N, K), C (M, N)")
    if packed_init(&pw, True, K, N, &W[0, 0], K) != 0:
        raise MemoryError("could not allocate the packed weights")
    with nogil:
        for r in range(reps):
            gemm_packed(M, &A[0, 0], K, &pw, 0, &C[0, 0], N)
    packed_free(&pw)
