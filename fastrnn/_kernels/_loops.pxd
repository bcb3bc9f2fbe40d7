# cython: language_level=3
"""Pieces shared by every cell kernel: time indexing with lengths and direction, the
batched input projection before the time loop, and the weight-gradient GEMMs after it.

Notation: T steps, B batch, I input, H hidden, N = G*H stacked gate columns,
R = T*B rows of a flattened time-major (T, B, .) array.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from fastrnn._kernels._blas cimport gemm, gemm_bias, gemm_pair
from fastrnn._kernels._gates cimport column_sums
from fastrnn._kernels._openmp cimport omp_get_num_threads, omp_get_thread_num


cdef inline int time_index(int s, int64_t length, bint reverse) noexcept nogil:
    """Time index processed at step s by a sequence of this length, or -1 if finished.

    Forward: t = s.  Reverse: t = length-1-s (backwards *within* the sequence).
    """
    if s >= length:
        return -1
    return <int>(length - 1 - s) if reverse else s


cdef inline int prev_time_index(int t, int64_t length, bint reverse) noexcept nogil:
    """Time index whose state feeds time t, or -1 when it is the initial state h0."""
    if reverse:
        return t + 1 if t + 1 < length else -1
    return t - 1


cdef inline int chunk_start(int c, int n_chunks, int n) noexcept nogil:
    """First row of chunk c when n rows are split into n_chunks near-equal parts.

    Chunk c covers rows [chunk_start(c), chunk_start(c + 1)).  (Returned, not written
    through pointers, so that prange sees the bounds as thread-private assignments.)
    """
    return <int>((<long long>c * n) // n_chunks)


cdef inline int n_chunks_for(int n_threads, int n) noexcept nogil:
    if n_threads < 1:
        n_threads = 1
    return n if n < n_threads else n_threads


cdef inline void project_inputs(
    const floating* X,      # IN  (R, I)
    const floating* W_ih,   # IN  (N, I)
    const floating* b1,     # IN  (N,)   added to every column
    const floating* b2,     # IN  (N,)   added to the first n_b2 columns only
    int n_b2,
    floating* A,            # OUT (R, lda) first N columns: X @ W_ih^T + b1 + b2
    int R, int I, int N, int lda, int n_threads,
) noexcept nogil:
    """1a: the input projection of all time steps at once, split by rows over threads.

    The bias row goes into the GEMM's output tiles where the backend can (gemm_bias),
    else into every row of A before a beta = 1 GEMM; the values are the same.
    """
    cdef int n_chunks = n_chunks_for(n_threads, R)
    cdef int c, lo, hi, r, j
    cdef floating* bias = <floating*>malloc(<size_t>N * sizeof(floating))
    cdef int k
    if bias != NULL:
        for k in range(N):
            bias[k] = b1[k] + (b2[k] if k < n_b2 else 0)
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        lo = chunk_start(c, n_chunks, R)
        hi = chunk_start(c + 1, n_chunks, R)
        if bias == NULL or not gemm_bias(False, True, hi - lo, N, I, X + <long long>lo * I,
                                         I, W_ih, I, bias, A + <long long>lo * lda, lda):
            for r in range(lo, hi):
                for j in range(N):
                    A[r * lda + j] = b1[j] + (b2[j] if j < n_b2 else 0)
            gemm(False, True, hi - lo, N, I, 1, X + <long long>lo * I, I, W_ih, I,
                 1, A + <long long>lo * lda, lda)
    free(bias)


cdef inline void parameter_grads(
    const floating* dA,      # IN  (R, N) pre-activation gate gradients (input side)
    const floating* X,       # IN  (R, I)
    const floating* W_ih,    # IN  (N, I)
    const floating* dA_hh,   # IN  (R, N) gate gradients on the recurrent side
    const floating* Hprev,   # IN  (R, H) the state each row's step started from
    floating* dX,            # OUT (R, I)   = dA @ W_ih
    floating* dW_ih,         # OUT (N, I)   = dA^T @ X
    floating* dW_hh,         # OUT (N, H)   = dA_hh^T @ Hprev
    floating* db_ih,         # OUT (N,)     = column sums of dA
    floating* db_hh,         # OUT (N,)     = column sums of dA_hh
    int R, int I, int H, int N, int n_threads,
) noexcept nogil:
    """1a/1b backward: every weight gradient as one GEMM over all T*B rows.

    Work is split by output rows (dX by batch-time rows, dW and db by gate columns), so
    no reduction between threads is needed and results do not depend on n_threads.
    """
    cdef int n_chunks = n_chunks_for(n_threads, N if N < R else R)
    cdef int c, rlo, rhi, nlo, nhi
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        rlo = chunk_start(c, n_chunks, R)
        rhi = chunk_start(c + 1, n_chunks, R)
        gemm(False, False, rhi - rlo, I, N, 1, dA + <long long>rlo * N, N, W_ih, I,
             0, dX + <long long>rlo * I, I)
        nlo = chunk_start(c, n_chunks, N)
        nhi = chunk_start(c + 1, n_chunks, N)
        # the same dA on both sides (LSTM, RNN): dA^T packed once for dW_ih and dW_hh
        if dA_hh != dA or nhi <= nlo or not gemm_pair(
                True, nhi - nlo, I, H, R, dA + nlo, N, X, I, dW_ih + <long long>nlo * I, I,
                Hprev, H, dW_hh + <long long>nlo * H, H):
            gemm(True, False, nhi - nlo, I, R, 1, dA + nlo, N, X, I,
                 0, dW_ih + <long long>nlo * I, I)
            gemm(True, False, nhi - nlo, H, R, 1, dA_hh + nlo, N, Hprev, H,
                 0, dW_hh + <long long>nlo * H, H)
        column_sums(dA, db_ih, R, N, nlo, nhi)
        if dA_hh == dA:  # db_hh = db_ih
            memcpy(db_hh + nlo, db_ih + nlo, (nhi - nlo) * sizeof(floating))
        else:
            column_sums(dA_hh, db_hh, R, N, nlo, nhi)


cdef inline void zero_row(floating* p, int n) noexcept nogil:
    memset(p, 0, n * sizeof(floating))


cdef inline void add_rows(int n, const floating* a, const floating* b,
                          floating* out) noexcept nogil:
    """out = a + b over n entries (the total gradient dL/dh_t = dh + dY_t, for tracing)."""
    cdef int j
    for j in range(n):
        out[j] = a[j] + b[j]


# ---- units split (rnn.pyx, lstm.pyx, gru.pyx): a thread's slice [u0, u0 + n) of units

cdef inline int units_start(int H) noexcept nogil:
    """First unit of the calling thread's slice: the units split over the team's size."""
    return chunk_start(omp_get_thread_num(), omp_get_num_threads(), H)


cdef inline int units_count(int H) noexcept nogil:
    """Units in the calling thread's slice (0 when the team has more threads than units)."""
    cdef int tid = omp_get_thread_num(), nt = omp_get_num_threads()
    return chunk_start(tid + 1, nt, H) - chunk_start(tid, nt, H)


cdef inline void gate_rows(const floating* W, int G, int H, int K, int u0, int n,
                           floating* out) noexcept nogil:
    """out (G*n, K) = rows g*H + u0 .. g*H + u0 + n of W (G*H, K), gate block by block."""
    cdef int g, j
    for g in range(G):
        for j in range(n):
            memcpy(out + <long long>(g * n + j) * K, W + <long long>(g * H + u0 + j) * K,
                   K * sizeof(floating))


cdef inline void take_units(const floating* src, int B, int H, int u0, int n,
                            floating* out) noexcept nogil:
    """out (B, n) = src[:, u0:u0 + n] of src (B, H)."""
    cdef int b
    for b in range(B):
        memcpy(out + <long long>b * n, src + <long long>b * H + u0, n * sizeof(floating))


cdef inline void put_units(const floating* src, int B, int H, int u0, int n,
                           floating* out) noexcept nogil:
    """out[:, u0:u0 + n] = src (B, n) for out (B, H)."""
    cdef int b
    for b in range(B):
        memcpy(out + <long long>b * H + u0, src + <long long>b * n, n * sizeof(floating))


cdef inline int longest(const int64_t* lengths, int B) noexcept nogil:
    """max(lengths): steps after it have no active row."""
    cdef int b, m = 0
    for b in range(B):
        if lengths[b] > m:
            m = <int>lengths[b]
    return m
