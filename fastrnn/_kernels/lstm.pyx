# cython: language_level=3
"""LSTM (PyTorch gates i, f, g, o), optionally with diagonal peepholes and a projected
state (PyTorch's proj_size): forward and backward through time over a batch.

Notation (declared once; every array C-contiguous and time-major):
    T steps, B batch, I input size, H hidden size; gate blocks stacked i, f, g, o.
    X (T, B, I)   h0, c0 (B, H)   W_ih (4H, I)   W_hh (4H, H)   b_ih, b_hh (4H,)
    w_peep (3H,) = [p_i, p_f, p_o] (zeros and ignored unless peephole)
    lengths (B,) int64 in [1, T]; Y (T, B, H) = h_t, C (T, B, H) = c_t,
    G (T, B, 4H) = post-activation gates, all zero past each length; h_n, c_n (B, H).
    With a projection (P < H units of state): W_hr (P, H), W_hh (4H, P), h0, h_n (B, P),
    Y (T, B, P), and M (T, B, H) = m_t saved for backward; P = H and no W_hr otherwise.

Forward, for the step of row b at time t (previous state h_prev, c_prev):
    1a: a  = W_ih x_t + b_ih + b_hh          one GEMM over all T*B rows, before the loop
    1b: a += W_hh h_prev                     one GEMM per step
    2:  i = sig(a_i + p_i c_prev),  f = sig(a_f + p_f c_prev),  g = tanh(a_g)
    3:  c_t = f c_prev + i g
    4:  o = sig(a_o + p_o c_t),  h_t = m_t = o tanh(c_t)
    5:  with a projection: h_t = W_hr m_t             one GEMM per step
Backward, steps in reverse order (dh, dc carry dL/dh, dL/dc from the later step):
    5:  with a projection: dh_t = dh + dY_t;  dm_t = dh_t W_hr     one GEMM per step
        dW_hr = dH^T M                                          after the loop
    4:  dm_t = dh + dY_t (no projection);  da_o = dm_t tanh(c_t) o (1 - o)
    3:  dc_t = dc + dm_t o (1 - tanh(c_t)^2) + p_o da_o
    2:  da_i = dc_t g i (1 - i),  da_f = dc_t c_prev f (1 - f),  da_g = dc_t i (1 - g^2)
        dc_prev = dc_t f + p_i da_i + p_f da_f
        dp_i += da_i c_prev,  dp_f += da_f c_prev,  dp_o += da_o c_t
    1b: dh_prev = da @ W_hh                  one GEMM per step
        dW_hh = dA^T Hprev, dW_ih = dA^T X, dX = dA W_ih, db = sum dA   after the loop

Parallel design, two ways to split the time loop over threads (_split.py):
- batch split (default): the batch is split into n_threads contiguous row chunks and each
  chunk runs its whole time loop with single-threaded GEMMs: rows never interact, so
  there is no barrier per step.  The peephole gradients are summed per chunk into private
  buffers and added in chunk order after the loop.
- units split (W_hh larger than a core's L2 cache, no projection): each thread owns a
  slice of the hidden units, i.e. its gate rows of W_hh, and runs every step for the
  whole batch; one barrier per step.
The GEMMs before and after the loop are split by output rows.  Results do not depend on
thread timing.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy

from fastrnn._kernels._denormals cimport fr_ftz_enter, fr_ftz_exit
from fastrnn._kernels._blas cimport (PackedWeights, gemm, gemm_packed, packed_free,
                                     packed_init, packed_none)
from fastrnn._kernels._gates cimport (lstm_backward_row, lstm_backward_units,
                                      lstm_forward_row, lstm_forward_units)
from fastrnn._kernels._loops cimport (add_rows, chunk_start, gate_rows, longest,
                                      n_chunks_for, parameter_grads, prev_time_index,
                                      project_inputs, put_units, take_units, time_index,
                                      units_count, units_start, zero_row)
from fastrnn._kernels._openmp cimport fr_omp_barrier

from fastrnn._kernels._split import split_for


cdef int _forward_chunk(
    int b0, int b1, int T, int B, int H, int P,
    const floating* h0, const floating* c0, const PackedWeights* Whh,
    const PackedWeights* Whr,   # op = W_hr^T (H, P), or NULL: no projection (P == H)
    const floating* w_peep, bint peephole, const int64_t* lengths, bint reverse,
    floating* Y,            # OUT (T, B, P)
    floating* h_n,          # OUT (B, P)
    floating* c_n,          # OUT (B, H)
    floating* G,            # IN-OUT (T, B, 4H): a from 1a on entry, gates on exit
    floating* C,            # OUT (T, B, H), or NULL: inference (G keeps a, no C)
    floating* M,            # OUT (T, B, H) m_t before the projection, or NULL
) noexcept nogil:
    cdef int Bc = b1 - b0, H4 = 4 * H, s, r, t, b, max_len = 0
    cdef floating* h = <floating*>malloc(<size_t>Bc * P * sizeof(floating))
    cdef floating* c = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* z = <floating*>malloc(<size_t>Bc * H4 * sizeof(floating))
    cdef floating* m = NULL   # (Bc, H) m_t of the chunk, projection only
    cdef floating* hp = NULL  # (Bc, P) W_hr m_t of the chunk, projection only
    cdef long long row
    cdef unsigned int csr
    if Whr != NULL:
        m = <floating*>calloc(<size_t>Bc * H, sizeof(floating))
        hp = <floating*>malloc(<size_t>Bc * P * sizeof(floating))
    if h == NULL or c == NULL or z == NULL or (Whr != NULL and (m == NULL or hp == NULL)):
        free(h)
        free(c)
        free(z)
        free(m)
        free(hp)
        return -1
    csr = fr_ftz_enter()
    memcpy(h, h0 + <long long>b0 * P, <size_t>Bc * P * sizeof(floating))
    memcpy(c, c0 + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for r in range(Bc):
        if lengths[b0 + r] > max_len:
            max_len = <int>lengths[b0 + r]
    for s in range(T):
        # 1b: z = h_prev @ W_hh^T for the whole chunk (skipped once every row finished)
        if s < max_len:
            gemm_packed(Bc, h, P, Whh, 0, z, H4)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:  # finished: output zero, state unchanged
                row = <long long>s * B + b
                zero_row(Y + row * P, P)
                if C != NULL:
                    zero_row(C + row * H, H)
                    zero_row(G + row * H4, H4)
                if M != NULL:
                    zero_row(M + row * H, H)
                continue
            row = <long long>t * B + b
            # 2-4: gates, c_t, h_t = m_t (fastrnn_gates_impl.h)
            if Whr == NULL:
                lstm_forward_row(H, w_peep if peephole else NULL, G + row * H4,
                                 z + r * H4, c + r * H, h + r * H, Y + row * H,
                                 C + row * H if C != NULL else NULL)
            else:
                lstm_forward_row(H, w_peep if peephole else NULL, G + row * H4,
                                 z + r * H4, c + r * H, m + r * H, M + row * H,
                                 C + row * H if C != NULL else NULL)
        if Whr == NULL or s >= max_len:
            continue
        # 5: h_t = W_hr m_t for the chunk; finished rows keep their state
        gemm_packed(Bc, m, H, Whr, 0, hp, P)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t >= 0:
                row = <long long>t * B + b
                memcpy(h + r * P, hp + r * P, P * sizeof(floating))
                memcpy(Y + row * P, hp + r * P, P * sizeof(floating))
    memcpy(h_n + <long long>b0 * P, h, <size_t>Bc * P * sizeof(floating))
    memcpy(c_n + <long long>b0 * H, c, <size_t>Bc * H * sizeof(floating))
    free(h)
    free(c)
    free(z)
    free(m)
    free(hp)
    fr_ftz_exit(csr)
    return 0


cdef int _backward_chunk(
    int b0, int b1, int T, int B, int H, int P,
    const floating* h0, const floating* c0, const PackedWeights* Whh,
    const PackedWeights* Whr,   # op = W_hr (P, H), or NULL: no projection (P == H)
    const floating* w_peep, bint peephole, const int64_t* lengths, bint reverse,
    const floating* Y,      # IN  (T, B, P)
    const floating* G,      # IN  (T, B, 4H)
    const floating* C,      # IN  (T, B, H)
    const floating* dY,     # IN  (T, B, P)
    const floating* dh_n,   # IN  (B, P)
    const floating* dc_n,   # IN  (B, H)
    floating* dA,           # OUT (T, B, 4H) pre-activation gradients, zero past lengths
    floating* Hprev,        # OUT (T, B, P) state each step started from, zero past lengths
    floating* dh0,          # OUT (B, P)
    floating* dH,           # OUT (T, B, P) total dL/dh_t per step, or NULL
    floating* dHt,          # OUT (T, B, P) dL/dh_t for dW_hr (projection), or NULL
    floating* dc0,          # OUT (B, H)
    floating* dwp,          # OUT (3H,) this chunk's peephole gradients
) noexcept nogil:
    cdef int Bc = b1 - b0, H4 = 4 * H, s, r, j, t, tp, b, max_len = 0
    cdef floating* dh = <floating*>malloc(<size_t>Bc * P * sizeof(floating))
    cdef floating* dc = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* da = <floating*>malloc(<size_t>Bc * H4 * sizeof(floating))
    cdef floating* dh_prev = <floating*>malloc(<size_t>Bc * P * sizeof(floating))
    cdef floating* dht = NULL    # (Bc, P) dL/dh_t of the chunk, projection only
    cdef floating* dm = NULL     # (Bc, H) dL/dm_t of the chunk, projection only
    cdef floating* zeros = NULL  # (H,) the "dY" of m_t, which is not an output
    cdef const floating* hp
    cdef const floating* cp
    cdef long long row
    cdef unsigned int csr
    if Whr != NULL:
        dht = <floating*>malloc(<size_t>Bc * P * sizeof(floating))
        dm = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
        zeros = <floating*>calloc(<size_t>H, sizeof(floating))
    if (dh == NULL or dc == NULL or da == NULL or dh_prev == NULL
            or (Whr != NULL and (dht == NULL or dm == NULL or zeros == NULL))):
        free(dh)
        free(dc)
        free(da)
        free(dh_prev)
        free(dht)
        free(dm)
        free(zeros)
        return -1
    csr = fr_ftz_enter()
    memcpy(dh, dh_n + <long long>b0 * P, <size_t>Bc * P * sizeof(floating))
    memcpy(dc, dc_n + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for j in range(3 * H):
        dwp[j] = 0
    for r in range(Bc):
        if lengths[b0 + r] > max_len:
            max_len = <int>lengths[b0 + r]
    for s in range(T - 1, -1, -1):
        if Whr != NULL:
            # 5: dh_t = dh + dY_t (kept for dW_hr and tracing); dm_t = dh_t W_hr
            for r in range(Bc):
                b = b0 + r
                t = time_index(s, lengths[b], reverse)
                if t < 0:
                    zero_row(dht + r * P, P)
                    zero_row(dHt + (<long long>s * B + b) * P, P)
                    continue
                row = <long long>t * B + b
                add_rows(P, dh + r * P, dY + row * P, dht + r * P)
                memcpy(dHt + row * P, dht + r * P, P * sizeof(floating))
                if dH != NULL:
                    memcpy(dH + row * P, dht + r * P, P * sizeof(floating))
            if s < max_len:
                gemm_packed(Bc, dht, P, Whr, 0, dm, H)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:  # finished: no gradient, carried dh, dc unchanged
                row = <long long>s * B + b
                zero_row(da + r * H4, H4)
                zero_row(dA + row * H4, H4)
                zero_row(Hprev + row * P, P)
                continue
            row = <long long>t * B + b
            tp = prev_time_index(t, lengths[b], reverse)
            if tp < 0:
                hp = h0 + <long long>b * P
                cp = c0 + <long long>b * H
            else:
                hp = Y + (<long long>tp * B + b) * P
                cp = C + (<long long>tp * B + b) * H
            # 4-2: da for this row, dc -> dc_prev (fastrnn_gates_impl.h)
            if Whr == NULL:
                if dH != NULL:  # total gradient into h_t, kept for tracing
                    add_rows(H, dh + r * H, dY + row * H, dH + row * H)
                lstm_backward_row(H, w_peep if peephole else NULL, G + row * H4,
                                  C + row * H, cp, dY + row * H, dh + r * H,
                                  dc + r * H, da + r * H4, dwp)
            else:
                lstm_backward_row(H, w_peep if peephole else NULL, G + row * H4,
                                  C + row * H, cp, zeros, dm + r * H, dc + r * H,
                                  da + r * H4, dwp)
            memcpy(dA + row * H4, da + r * H4, H4 * sizeof(floating))
            memcpy(Hprev + row * P, hp, P * sizeof(floating))
        if s >= max_len:  # every row of the chunk inactive: nothing flows back
            continue
        # 1b: dh_prev = da @ W_hh
        gemm_packed(Bc, da, H4, Whh, 0, dh_prev, P)
        for r in range(Bc):
            if time_index(s, lengths[b0 + r], reverse) >= 0:
                memcpy(dh + r * P, dh_prev + r * P, P * sizeof(floating))
    memcpy(dh0 + <long long>b0 * P, dh, <size_t>Bc * P * sizeof(floating))
    memcpy(dc0 + <long long>b0 * H, dc, <size_t>Bc * H * sizeof(floating))
    free(dh)
    free(dc)
    free(da)
    free(dh_prev)
    free(dht)
    free(dm)
    free(zeros)
    fr_ftz_exit(csr)
    return 0


# ---------------------------------------------------------------- units split
# Each thread of the parallel region runs one of these for its slice [u0, u1) of the
# hidden units (chunk_start over the team's real size, so a smaller team stays correct).
# Step labels as in the module docstring.  Shared: the double-buffered state h (2, B, H)
# (step s reads buffer s % 2 and writes the other, so one barrier per step suffices) or,
# backward, the double-buffered pre-activation gradients da (2, B, 4H).  Private: the
# thread's gate rows of W_hh (packed), c (B, n), dh and dc (B, n).  A thread that cannot
# allocate sets *fail before the first barrier, and then no thread runs the loop.

cdef void _forward_units(
    int T, int B, int H, int max_len, floating* hbuf, const floating* c0,
    const floating* W_hh, const floating* w_peep, bint peephole, const int64_t* lengths,
    bint reverse,
    floating* Y,            # OUT (T, B, H)
    floating* c_n,          # OUT (B, H)
    floating* G,            # IN-OUT (T, B, 4H): a from 1a on entry, gates on exit
    floating* C,            # OUT (T, B, H), or NULL: inference (G keeps a, no C)
    int* fail,
) noexcept nogil:
    cdef int u0 = units_start(H), n = units_count(H)
    cdef int H4 = 4 * H, N = 4 * n, s, b, k, t
    cdef floating* Wc = NULL    # (4n, H) this thread's gate rows of W_hh
    cdef floating* z = NULL     # (B, 4n) W_hh h_prev for these units, gate blocks n apart
    cdef floating* c = NULL     # (B, n) cell state of these units
    cdef floating* h_prev
    cdef floating* h_next
    cdef const floating* wp = w_peep + u0 if peephole else NULL
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    cdef PackedWeights pw
    packed_none(&pw)
    if n > 0:
        Wc = <floating*>malloc(<size_t>N * H * sizeof(floating))
        z = <floating*>malloc(<size_t>B * N * sizeof(floating))
        c = <floating*>malloc(<size_t>B * n * sizeof(floating))
        if Wc == NULL or z == NULL or c == NULL:
            fail[0] = 1
        else:
            gate_rows(W_hh, 4, H, H, u0, n, Wc)
            take_units(c0, B, H, u0, n, c)
            if packed_init(&pw, True, H, N, Wc, H) != 0:
                fail[0] = 1
    fr_omp_barrier()
    if fail[0] == 0:
        for s in range(T):
            h_prev = hbuf + <long long>(s % 2) * B * H
            h_next = hbuf + <long long>((s + 1) % 2) * B * H
            if n > 0:
                # 1b: z = h_prev @ W_hh^T for these units, the whole batch
                if s < max_len:
                    gemm_packed(B, h_prev, H, &pw, 0, z, N)
                for b in range(B):
                    t = time_index(s, lengths[b], reverse)
                    if t < 0:  # finished: output zero, state unchanged
                        row = <long long>s * B + b
                        zero_row(Y + row * H + u0, n)
                        if C != NULL:
                            zero_row(C + row * H + u0, n)
                            for k in range(4):
                                zero_row(G + row * H4 + k * H + u0, n)
                        memcpy(h_next + <long long>b * H + u0, h_prev + <long long>b * H + u0,
                               n * sizeof(floating))
                        continue
                    row = <long long>t * B + b
                    # 2-4: gates, c_t, h_t for these units
                    lstm_forward_units(n, H, n, wp, G + row * H4 + u0, z + <long long>b * N,
                                       c + b * n, h_next + <long long>b * H + u0,
                                       Y + row * H + u0,
                                       C + row * H + u0 if C != NULL else NULL)
            fr_omp_barrier()  # h_next complete before any thread reads it
        put_units(c, B if n > 0 else 0, H, u0, n, c_n)
    packed_free(&pw)
    free(Wc)
    free(z)
    free(c)
    fr_ftz_exit(csr)


cdef void _backward_units(
    int T, int B, int H, int max_len, const floating* h0, const floating* c0,
    const floating* W_hh, const floating* w_peep, bint peephole, const int64_t* lengths,
    bint reverse,
    const floating* Y,      # IN  (T, B, H)
    const floating* G,      # IN  (T, B, 4H)
    const floating* C,      # IN  (T, B, H)
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    const floating* dc_n,   # IN  (B, H)
    floating* dabuf,        # WORK (2, B, 4H) shared
    floating* dA,           # OUT (T, B, 4H)
    floating* Hprev,        # OUT (T, B, H)
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) or NULL
    floating* dc0,          # OUT (B, H)
    floating* dw_peep,      # OUT (3H,) each thread its units' entries
    int* fail,
) noexcept nogil:
    cdef int u0 = units_start(H), n = units_count(H)
    cdef int H4 = 4 * H, s, b, k, t, tp
    cdef floating* dh = NULL       # (B, n) dL/dh carried, these units
    cdef floating* dc = NULL       # (B, n) dL/dc carried
    cdef floating* dh_prev = NULL  # (B, n) da @ W_hh[:, units]
    cdef floating* da
    cdef const floating* hp
    cdef const floating* cp
    cdef const floating* wp = w_peep + u0 if peephole else NULL
    cdef floating* dwp = dw_peep + u0
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    cdef PackedWeights pw
    packed_none(&pw)
    if n > 0:
        dh = <floating*>malloc(<size_t>B * n * sizeof(floating))
        dc = <floating*>malloc(<size_t>B * n * sizeof(floating))
        dh_prev = <floating*>malloc(<size_t>B * n * sizeof(floating))
        if dh == NULL or dc == NULL or dh_prev == NULL:
            fail[0] = 1
        else:
            take_units(dh_n, B, H, u0, n, dh)
            take_units(dc_n, B, H, u0, n, dc)
            for k in range(3):
                zero_row(dwp + k * H, n)
            # op(B) = W_hh[:, u0:u1] (4H, n)
            if packed_init(&pw, False, H4, n, W_hh + u0, H) != 0:
                fail[0] = 1
    fr_omp_barrier()
    if fail[0] == 0:
        for s in range(T - 1, -1, -1):
            da = dabuf + <long long>(s % 2) * B * H4
            if n > 0:
                for b in range(B):
                    t = time_index(s, lengths[b], reverse)
                    if t < 0:  # finished: no gradient, carried dh, dc unchanged
                        row = <long long>s * B + b
                        for k in range(4):
                            zero_row(da + <long long>b * H4 + k * H + u0, n)
                            zero_row(dA + row * H4 + k * H + u0, n)
                        zero_row(Hprev + row * H + u0, n)
                        continue
                    row = <long long>t * B + b
                    tp = prev_time_index(t, lengths[b], reverse)
                    if tp < 0:
                        hp = h0 + <long long>b * H
                        cp = c0 + <long long>b * H
                    else:
                        hp = Y + (<long long>tp * B + b) * H
                        cp = C + (<long long>tp * B + b) * H
                    if dH != NULL:  # total gradient into h_t, kept for tracing
                        add_rows(n, dh + b * n, dY + row * H + u0, dH + row * H + u0)
                    # 4-2: da for these units, dc -> dc_prev
                    lstm_backward_units(n, H, wp, G + row * H4 + u0, C + row * H + u0,
                                        cp + u0, dY + row * H + u0, dh + b * n, dc + b * n,
                                        da + <long long>b * H4 + u0, dwp)
                    for k in range(4):
                        memcpy(dA + row * H4 + k * H + u0, da + <long long>b * H4 + k * H + u0,
                               n * sizeof(floating))
                    memcpy(Hprev + row * H + u0, hp + u0, n * sizeof(floating))
            fr_omp_barrier()  # every unit's da of this step written
            if n > 0 and s < max_len:
                # 1b: dh_prev[:, units] = da @ W_hh[:, units], the whole batch
                gemm_packed(B, da, H4, &pw, 0, dh_prev, n)
                for b in range(B):
                    if time_index(s, lengths[b], reverse) >= 0:
                        memcpy(dh + b * n, dh_prev + b * n, n * sizeof(floating))
        put_units(dh, B if n > 0 else 0, H, u0, n, dh0)
        put_units(dc, B if n > 0 else 0, H, u0, n, dc0)
    packed_free(&pw)
    free(dh)
    free(dc)
    free(dh_prev)
    fr_ftz_exit(csr)


cdef void _projection_grad(
    const floating* dHt,    # IN  (R, P) dL/dh_t of every step
    const floating* M,      # IN  (R, H) m_t of every step
    floating* dW_hr,        # OUT (P, H) = dHt^T @ M
    int R, int P, int H, int n_threads,
) noexcept nogil:
    """5 backward: dW_hr as one GEMM over all T*B rows, split by output rows."""
    cdef int n_chunks = n_chunks_for(n_threads, P), c, lo, hi
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        lo = chunk_start(c, n_chunks, P)
        hi = chunk_start(c + 1, n_chunks, P)
        gemm(True, False, hi - lo, H, R, 1, dHt + lo, P, M, H,
             0, dW_hr + <long long>lo * H, H)


def lstm_forward(
    const floating[:, :, ::1] X,        # IN  (T, B, I)
    const floating[:, ::1] h0,          # IN  (B, P)
    const floating[:, ::1] c0,          # IN  (B, H)
    const floating[:, ::1] W_ih,        # IN  (4H, I)
    const floating[:, ::1] W_hh,        # IN  (4H, P)
    const floating[::1] b_ih,           # IN  (4H,)
    const floating[::1] b_hh,           # IN  (4H,)
    const floating[::1] w_peep,         # IN  (3H,) zeros unless peephole
    bint peephole,
    const floating[:, ::1] W_hr,        # IN  (P, H), or shape (0, 0): no projection
    const int64_t[::1] lengths,         # IN  (B,) each in [1, T]
    bint reverse,
    floating[:, :, ::1] Y_out,          # OUT (T, B, P)
    floating[:, ::1] h_n_out,           # OUT (B, P)
    floating[:, ::1] c_n_out,           # OUT (B, H)
    floating[:, :, ::1] G_out,          # OUT (T, B, 4H) post-activation gates
    floating[:, :, ::1] C_out,          # OUT (T, B, H) cell states, or (0, 0, 0)
    floating[:, :, ::1] M_out,          # OUT (T, B, H) m_t (projection), or (0, 0, 0)
    int n_threads,
):
    """Run the LSTM over the batch; inputs must be validated by fastrnn.functional.

    Inference (C_out of shape (0, 0, 0)): G_out is only the workspace of step 1a and
    holds no gates afterwards, and no cell states are saved, which spares the time loop
    writing (T, B, 5H) values that only backward would read.
    """
    cdef int T = X.shape[0], B = X.shape[1], I = X.shape[2]
    cdef int H = c0.shape[1], P = h0.shape[1]
    cdef bint proj = W_hr.shape[0] > 0
    cdef bint units = split_for(n_threads, H, 4 * H * P * sizeof(floating),
                                not proj) == "units"
    cdef floating* M_ptr = &M_out[0, 0, 0] if proj else NULL
    cdef floating* C_ptr = &C_out[0, 0, 0] if C_out.shape[0] > 0 else NULL
    cdef int n_chunks = n_chunks_for(n_threads, B), c, err = 0
    cdef floating* hbuf = NULL
    cdef PackedWeights Whh, Whr
    Whh.packed = NULL
    Whr.packed = NULL
    if units:
        hbuf = <floating*>malloc(<size_t>2 * B * H * sizeof(floating))
        if hbuf == NULL:
            raise MemoryError("could not allocate the shared LSTM state")
    elif packed_init(&Whh, True, P, 4 * H, &W_hh[0, 0], P) != 0 or (
            proj and packed_init(&Whr, True, H, P, &W_hr[0, 0], H) != 0):
        packed_free(&Whh)
        packed_free(&Whr)
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        # 1a: a = W_ih x_t + b_ih + b_hh for all steps, written into G
        project_inputs(&X[0, 0, 0], &W_ih[0, 0], &b_ih[0], &b_hh[0], 4 * H,
                       &G_out[0, 0, 0], T * B, I, 4 * H, 4 * H, n_threads)
        if units:
            memcpy(hbuf, &h0[0, 0], <size_t>B * H * sizeof(floating))
            with parallel(num_threads=n_threads):
                _forward_units(T, B, H, longest(&lengths[0], B), hbuf, &c0[0, 0], &W_hh[0, 0],
                               &w_peep[0], peephole, &lengths[0], reverse,
                               &Y_out[0, 0, 0], &c_n_out[0, 0], &G_out[0, 0, 0],
                               C_ptr, &err)
            # after T steps the state (finished rows carried) is in buffer T % 2
            memcpy(&h_n_out[0, 0], hbuf + <long long>(T % 2) * B * H,
                   <size_t>B * H * sizeof(floating))
        else:
            for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
                err += _forward_chunk(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, P, &h0[0, 0], &c0[0, 0], &Whh, &Whr if proj else NULL,
                    &w_peep[0], peephole, &lengths[0], reverse, &Y_out[0, 0, 0],
                    &h_n_out[0, 0], &c_n_out[0, 0], &G_out[0, 0, 0], C_ptr, M_ptr)
    free(hbuf)
    packed_free(&Whh)
    packed_free(&Whr)
    if err:
        raise MemoryError("lstm_forward: could not allocate the per-thread state")


def lstm_backward(
    const floating[:, :, ::1] X,        # IN  (T, B, I)
    const floating[:, ::1] h0,          # IN  (B, P)
    const floating[:, ::1] c0,          # IN  (B, H)
    const floating[:, ::1] W_ih,        # IN  (4H, I)
    const floating[:, ::1] W_hh,        # IN  (4H, P)
    const floating[::1] w_peep,         # IN  (3H,)
    bint peephole,
    const floating[:, ::1] W_hr,        # IN  (P, H), or shape (0, 0): no projection
    const int64_t[::1] lengths,         # IN  (B,)
    bint reverse,
    const floating[:, :, ::1] Y,        # IN  (T, B, P) from lstm_forward
    const floating[:, :, ::1] G,        # IN  (T, B, 4H) from lstm_forward
    const floating[:, :, ::1] C,        # IN  (T, B, H) from lstm_forward
    const floating[:, :, ::1] M,        # IN  (T, B, H) from lstm_forward, or (0, 0, 0)
    const floating[:, :, ::1] dY,       # IN  (T, B, P)
    const floating[:, ::1] dh_n,        # IN  (B, P)
    const floating[:, ::1] dc_n,        # IN  (B, H)
    floating[:, :, ::1] dX_out,         # OUT (T, B, I)
    floating[:, ::1] dh0_out,           # OUT (B, P)
    floating[:, ::1] dc0_out,           # OUT (B, H)
    floating[:, ::1] dW_ih_out,         # OUT (4H, I)
    floating[:, ::1] dW_hh_out,         # OUT (4H, P)
    floating[::1] db_ih_out,            # OUT (4H,)
    floating[::1] db_hh_out,            # OUT (4H,)
    floating[::1] dw_peep_out,          # OUT (3H,) zeros unless peephole
    floating[:, ::1] dW_hr_out,         # OUT (P, H), or shape (0, 0) without projection
    floating[:, :, ::1] dA_work,        # WORK (T, B, 4H)
    floating[:, :, ::1] Hprev_work,     # WORK (T, B, P)
    floating[:, :, ::1] dHt_work,       # WORK (T, B, P) with a projection, or (0, 0, 0)
    floating[:, :, ::1] dH_out,         # OUT (T, B, P) dL/dh_t, or shape (0, 0, 0)
    int n_threads,
):
    """Backpropagate through time; inputs must be validated by fastrnn.functional."""
    cdef int T = X.shape[0], B = X.shape[1], I = X.shape[2]
    cdef int H = c0.shape[1], P = h0.shape[1]
    cdef bint proj = W_hr.shape[0] > 0
    cdef bint units = split_for(n_threads, H, 4 * H * P * sizeof(floating),
                                not proj) == "units"
    cdef floating* dH_ptr = &dH_out[0, 0, 0] if dH_out.shape[0] > 0 else NULL
    cdef floating* dHt_ptr = &dHt_work[0, 0, 0] if proj else NULL
    cdef int n_chunks = n_chunks_for(n_threads, B), c, j, err = 0
    cdef floating* dwp_chunks = NULL
    cdef floating* dabuf = NULL
    cdef PackedWeights Whh, Whr
    Whh.packed = NULL
    Whr.packed = NULL
    if units:
        dabuf = <floating*>malloc(<size_t>2 * B * 4 * H * sizeof(floating))
        if dabuf == NULL:
            raise MemoryError("could not allocate the shared LSTM gradients")
    elif packed_init(&Whh, False, 4 * H, P, &W_hh[0, 0], P) != 0 or (
            proj and packed_init(&Whr, False, P, H, &W_hr[0, 0], H) != 0):
        packed_free(&Whh)
        packed_free(&Whr)
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        if units:
            with parallel(num_threads=n_threads):
                _backward_units(T, B, H, longest(&lengths[0], B), &h0[0, 0], &c0[0, 0], &W_hh[0, 0],
                                &w_peep[0], peephole, &lengths[0], reverse, &Y[0, 0, 0],
                                &G[0, 0, 0], &C[0, 0, 0], &dY[0, 0, 0], &dh_n[0, 0],
                                &dc_n[0, 0], dabuf, &dA_work[0, 0, 0],
                                &Hprev_work[0, 0, 0], &dh0_out[0, 0], dH_ptr,
                                &dc0_out[0, 0], &dw_peep_out[0], &err)
            if not peephole:
                for j in range(3 * H):
                    dw_peep_out[j] = 0
        else:
            dwp_chunks = <floating*>malloc(<size_t>n_chunks * 3 * H * sizeof(floating))
            if dwp_chunks == NULL:
                err = 1
            else:
                for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
                    err += _backward_chunk(
                        chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                        T, B, H, P, &h0[0, 0], &c0[0, 0], &Whh, &Whr if proj else NULL,
                        &w_peep[0], peephole, &lengths[0], reverse, &Y[0, 0, 0],
                        &G[0, 0, 0], &C[0, 0, 0], &dY[0, 0, 0], &dh_n[0, 0],
                        &dc_n[0, 0], &dA_work[0, 0, 0], &Hprev_work[0, 0, 0],
                        &dh0_out[0, 0], dH_ptr, dHt_ptr, &dc0_out[0, 0],
                        dwp_chunks + <long long>c * 3 * H)
            if err == 0:
                # peephole gradients: chunk partial sums added in chunk order
                for j in range(3 * H):
                    dw_peep_out[j] = 0
                if peephole:
                    for c in range(n_chunks):
                        for j in range(3 * H):
                            dw_peep_out[j] += dwp_chunks[<long long>c * 3 * H + j]
        if err == 0:
            parameter_grads(&dA_work[0, 0, 0], &X[0, 0, 0], &W_ih[0, 0],
                            &dA_work[0, 0, 0], &Hprev_work[0, 0, 0],
                            &dX_out[0, 0, 0], &dW_ih_out[0, 0], &dW_hh_out[0, 0],
                            &db_ih_out[0], &db_hh_out[0], T * B, I, P, 4 * H,
                            n_threads)
            if proj:
                _projection_grad(dHt_ptr, &M[0, 0, 0], &dW_hr_out[0, 0], T * B, P, H,
                                 n_threads)
        free(dwp_chunks)
        free(dabuf)
    packed_free(&Whh)
    packed_free(&Whr)
    if err:
        raise MemoryError("lstm_backward: could not allocate the per-thread state")
