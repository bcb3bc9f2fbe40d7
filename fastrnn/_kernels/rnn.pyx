# cython: language_level=3
"""Vanilla (Elman) RNN, tanh or ReLU: forward and backward through time over a batch.

Notation (declared once; every array C-contiguous and time-major):
    T steps, B batch, I input size, H hidden size.
    X (T, B, I)   h0 (B, H)   W_ih (H, I)   W_hh (H, H)   b_ih, b_hh (H,)
    lengths (B,) int64 in [1, T]; Y (T, B, H) = h_t, zero past each length; h_n (B, H).

Forward, for the step of row b at time t (previous state h_prev):
    1a: a_t  = W_ih x_t + b_ih + b_hh       one GEMM over all T*B rows, before the loop
    1b: a_t += W_hh h_prev                  one GEMM per step
    2:  h_t  = act(a_t)                     tanh or relu
Backward, steps in reverse order (dh carries dL/dh from the later step):
    2:  da_t    = (dY_t + dh) * act'(h_t)   act' from the saved output
    1b: dh_prev = da_t @ W_hh               one GEMM per step
        dW_hh   = dA^T Hprev, dW_ih = dA^T X, dX = dA W_ih, db = sum dA   after the loop

Parallel design (_split.py): the batch is split into n_threads contiguous row chunks
and each chunk runs its whole time loop with single-threaded GEMMs: rows never interact,
so there is no barrier per step.  With W_hh larger than a core's L2, threads instead own
slices of the hidden units and run every step for the whole batch, with one barrier per
step (the units split).  The GEMMs before and after the loop are split by output rows.
Results do not depend on thread timing.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastrnn._kernels._denormals cimport fr_ftz_enter, fr_ftz_exit
from fastrnn._kernels._blas cimport (PackedWeights, gemm_packed, packed_free, packed_init,
                                     packed_none)
from fastrnn._kernels._gates cimport rnn_backward_row, rnn_forward_row
from fastrnn._kernels._loops cimport (add_rows, chunk_start, n_chunks_for,
                                      parameter_grads, prev_time_index, project_inputs,
                                      put_units, take_units, time_index, units_count,
                                      units_start, zero_row)
from fastrnn._kernels._openmp cimport fr_omp_barrier

from fastrnn._kernels._split import split_for


cdef int _forward_chunk(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* Whh, const int64_t* lengths,
    bint reverse, bint relu,
    floating* Y,            # IN-OUT (T, B, H): holds a_t from 1a on entry, h_t on exit
    floating* h_n,          # OUT (B, H)
) noexcept nogil:
    cdef int Bc = b1 - b0, s, r, t, b
    cdef floating* h = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* z = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef unsigned int csr
    if h == NULL or z == NULL:
        free(h)
        free(z)
        return -1
    csr = fr_ftz_enter()
    memcpy(h, h0 + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T):
        # 1b: z = h_prev @ W_hh^T for the whole chunk
        gemm_packed(Bc, h, H, Whh, 0, z, H)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:  # finished: output zero, state unchanged
                zero_row(Y + (<long long>s * B + b) * H, H)
                continue
            # 2: h_t = act(a_t) (fastrnn_gates_impl.h)
            rnn_forward_row(H, relu, Y + (<long long>t * B + b) * H, z + r * H, h + r * H)
    memcpy(h_n + <long long>b0 * H, h, <size_t>Bc * H * sizeof(floating))
    free(h)
    free(z)
    fr_ftz_exit(csr)
    return 0


cdef int _backward_chunk(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* Whh, const int64_t* lengths,
    bint reverse, bint relu,
    const floating* Y,      # IN  (T, B, H)
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    floating* dA,           # OUT (T, B, H) pre-activation gradients, zero past lengths
    floating* Hprev,        # OUT (T, B, H) state each step started from, zero past lengths
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) total dL/dh_t per step, or NULL
) noexcept nogil:
    cdef int Bc = b1 - b0, s, r, t, tp, b
    cdef floating* dh = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* da = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* dh_prev = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef const floating* hp
    cdef long long row
    cdef unsigned int csr
    if dh == NULL or da == NULL or dh_prev == NULL:
        free(dh)
        free(da)
        free(dh_prev)
        return -1
    csr = fr_ftz_enter()
    memcpy(dh, dh_n + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T - 1, -1, -1):
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:
                zero_row(da + r * H, H)
                zero_row(dA + (<long long>s * B + b) * H, H)
                zero_row(Hprev + (<long long>s * B + b) * H, H)
                continue
            row = (<long long>t * B + b) * H
            # 2: da_t = (dY_t + dh) * act'(h_t) (fastrnn_gates_impl.h)
            if dH != NULL:  # total gradient into h_t, kept for tracing
                add_rows(H, dh + r * H, dY + row, dH + row)
            rnn_backward_row(H, relu, Y + row, dY + row, dh + r * H, da + r * H)
            memcpy(dA + row, da + r * H, H * sizeof(floating))
            tp = prev_time_index(t, lengths[b], reverse)
            hp = h0 + <long long>b * H if tp < 0 else Y + (<long long>tp * B + b) * H
            memcpy(Hprev + row, hp, H * sizeof(floating))
        # 1b: dh_prev = da @ W_hh
        gemm_packed(Bc, da, H, Whh, 0, dh_prev, H)
        for r in range(Bc):
            if time_index(s, lengths[b0 + r], reverse) >= 0:
                memcpy(dh + r * H, dh_prev + r * H, H * sizeof(floating))
    memcpy(dh0 + <long long>b0 * H, dh, <size_t>Bc * H * sizeof(floating))
    free(dh)
    free(da)
    free(dh_prev)
    fr_ftz_exit(csr)
    return 0


# Units split: each thread of the parallel region runs one of these for its slice
# [u0, u1) of the hidden units (split over the team's real size).  Shared: the
# double-buffered state h (2, B, H) forward, the double-buffered da (2, B, H) backward;
# step s uses buffer s % 2, so one barrier per step suffices.  A thread that cannot
# allocate sets *fail before the first barrier; then no thread runs the loop.

cdef void _forward_units(
    int T, int B, int H, floating* hbuf, const floating* W_hh, const int64_t* lengths,
    bint reverse, bint relu,
    floating* Y,            # IN-OUT (T, B, H): holds a_t from 1a on entry, h_t on exit
    int* fail,
) noexcept nogil:
    cdef int u0 = units_start(H), n = units_count(H)
    cdef int s, b, t
    cdef floating* z = NULL     # (B, n) W_hh h_prev for these units
    cdef floating* h_prev
    cdef floating* h_next
    cdef unsigned int csr = fr_ftz_enter()
    cdef PackedWeights pw
    packed_none(&pw)
    if n > 0:
        z = <floating*>malloc(<size_t>B * n * sizeof(floating))
        # op(B) = W_hh[u0:u1, :]^T (H, n)
        if z == NULL or packed_init(&pw, True, H, n, W_hh + <long long>u0 * H, H) != 0:
            fail[0] = 1
    fr_omp_barrier()
    if fail[0] == 0:
        for s in range(T):
            h_prev = hbuf + <long long>(s % 2) * B * H
            h_next = hbuf + <long long>((s + 1) % 2) * B * H
            if n > 0:
                # 1b: z = h_prev @ W_hh[units]^T, the whole batch
                gemm_packed(B, h_prev, H, &pw, 0, z, n)
                for b in range(B):
                    t = time_index(s, lengths[b], reverse)
                    if t < 0:  # finished: output zero, state unchanged
                        zero_row(Y + (<long long>s * B + b) * H + u0, n)
                        memcpy(h_next + <long long>b * H + u0, h_prev + <long long>b * H + u0,
                               n * sizeof(floating))
                        continue
                    # 2: h_t = act(a_t) for these units
                    rnn_forward_row(n, relu, Y + (<long long>t * B + b) * H + u0, z + b * n,
                                    h_next + <long long>b * H + u0)
            fr_omp_barrier()  # h_next complete before any thread reads it
    packed_free(&pw)
    free(z)
    fr_ftz_exit(csr)


cdef void _backward_units(
    int T, int B, int H, const floating* h0, const floating* W_hh,
    const int64_t* lengths, bint reverse, bint relu,
    const floating* Y,      # IN  (T, B, H)
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    floating* dabuf,        # WORK (2, B, H) shared
    floating* dA,           # OUT (T, B, H)
    floating* Hprev,        # OUT (T, B, H)
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) or NULL
    int* fail,
) noexcept nogil:
    cdef int u0 = units_start(H), n = units_count(H)
    cdef int s, b, t, tp
    cdef floating* dh = NULL       # (B, n) dL/dh carried, these units
    cdef floating* dh_prev = NULL  # (B, n) da @ W_hh[:, units]
    cdef floating* da
    cdef const floating* hp
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    cdef PackedWeights pw
    packed_none(&pw)
    if n > 0:
        dh = <floating*>malloc(<size_t>B * n * sizeof(floating))
        dh_prev = <floating*>malloc(<size_t>B * n * sizeof(floating))
        # op(B) = W_hh[:, u0:u1] (H, n)
        if dh == NULL or dh_prev == NULL or packed_init(&pw, False, H, n, W_hh + u0, H) != 0:
            fail[0] = 1
        else:
            take_units(dh_n, B, H, u0, n, dh)
    fr_omp_barrier()
    if fail[0] == 0:
        for s in range(T - 1, -1, -1):
            da = dabuf + <long long>(s % 2) * B * H
            if n > 0:
                for b in range(B):
                    t = time_index(s, lengths[b], reverse)
                    if t < 0:
                        row = (<long long>s * B + b) * H + u0
                        zero_row(da + <long long>b * H + u0, n)
                        zero_row(dA + row, n)
                        zero_row(Hprev + row, n)
                        continue
                    row = (<long long>t * B + b) * H + u0
                    # 2: da_t = (dY_t + dh) * act'(h_t) for these units
                    if dH != NULL:  # total gradient into h_t, kept for tracing
                        add_rows(n, dh + b * n, dY + row, dH + row)
                    rnn_backward_row(n, relu, Y + row, dY + row, dh + b * n,
                                     da + <long long>b * H + u0)
                    memcpy(dA + row, da + <long long>b * H + u0, n * sizeof(floating))
                    tp = prev_time_index(t, lengths[b], reverse)
                    hp = h0 + <long long>b * H if tp < 0 else Y + (<long long>tp * B + b) * H
                    memcpy(Hprev + row, hp + u0, n * sizeof(floating))
            fr_omp_barrier()  # every unit's da of this step written
            if n > 0:
                # 1b: dh_prev[:, units] = da @ W_hh[:, units], the whole batch
                gemm_packed(B, da, H, &pw, 0, dh_prev, n)
                for b in range(B):
                    if time_index(s, lengths[b], reverse) >= 0:
                        memcpy(dh + b * n, dh_prev + b * n, n * sizeof(floating))
        put_units(dh, B if n > 0 else 0, H, u0, n, dh0)
    packed_free(&pw)
    free(dh)
    free(dh_prev)
    fr_ftz_exit(csr)


def rnn_forward(
    const floating[:, :, ::1] X,        # IN  (T, B, I)
    const floating[:, ::1] h0,          # IN  (B, H)
    const floating[:, ::1] W_ih,        # IN  (H, I)
    const floating[:, ::1] W_hh,        # IN  (H, H)
    const floating[::1] b_ih,           # IN  (H,)
    const floating[::1] b_hh,           # IN  (H,)
    const int64_t[::1] lengths,         # IN  (B,) each in [1, T]
    bint reverse,
    bint relu,
    floating[:, :, ::1] Y_out,          # OUT (T, B, H)
    floating[:, ::1] h_n_out,           # OUT (B, H)
    int n_threads,
):
    """Run the RNN over the batch; inputs must be validated by fastrnn.functional."""
    cdef int T = X.shape[0], B = X.shape[1], I = X.shape[2], H = h0.shape[1]
    cdef int n_chunks = n_chunks_for(n_threads, B), c, err = 0
    cdef bint units = split_for(n_threads, H, H * H * sizeof(floating), True) == "units"
    cdef floating* hbuf = NULL
    cdef PackedWeights Whh
    Whh.packed = NULL
    if units:
        hbuf = <floating*>malloc(<size_t>2 * B * H * sizeof(floating))
        if hbuf == NULL:
            raise MemoryError("could not allocate the shared RNN state")
    elif packed_init(&Whh, True, H, H, &W_hh[0, 0], H) != 0:
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        # 1a: a_t = W_ih x_t + b_ih + b_hh for all steps, written into Y
        project_inputs(&X[0, 0, 0], &W_ih[0, 0], &b_ih[0], &b_hh[0], H,
                       &Y_out[0, 0, 0], T * B, I, H, H, n_threads)
        if units:
            memcpy(hbuf, &h0[0, 0], <size_t>B * H * sizeof(floating))
            with parallel(num_threads=n_threads):
                _forward_units(T, B, H, hbuf, &W_hh[0, 0], &lengths[0], reverse, relu,
                               &Y_out[0, 0, 0], &err)
            # after T steps the state (finished rows carried) is in buffer T % 2
            memcpy(&h_n_out[0, 0], hbuf + <long long>(T % 2) * B * H,
                   <size_t>B * H * sizeof(floating))
            n_chunks = 0  # the batch-split loop below has nothing to do
        for c in prange(n_chunks, num_threads=n_chunks if n_chunks > 0 else 1,
                        schedule="static"):
            err += _forward_chunk(
                chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                T, B, H, &h0[0, 0], &Whh, &lengths[0], reverse, relu,
                &Y_out[0, 0, 0], &h_n_out[0, 0])
    free(hbuf)
    packed_free(&Whh)
    if err:
        raise MemoryError("rnn_forward: could not allocate the per-thread state")


def rnn_backward(
    const floating[:, :, ::1] X,        # IN  (T, B, I)
    const floating[:, ::1] h0,          # IN  (B, H)
    const floating[:, ::1] W_ih,        # IN  (H, I)
    const floating[:, ::1] W_hh,        # IN  (H, H)
    const int64_t[::1] lengths,         # IN  (B,)
    bint reverse,
    bint relu,
    const floating[:, :, ::1] Y,        # IN  (T, B, H) from rnn_forward
    const floating[:, :, ::1] dY,       # IN  (T, B, H)
    const floating[:, ::1] dh_n,        # IN  (B, H)
    floating[:, :, ::1] dX_out,         # OUT (T, B, I)
    floating[:, ::1] dh0_out,           # OUT (B, H)
    floating[:, ::1] dW_ih_out,         # OUT (H, I)
    floating[:, ::1] dW_hh_out,         # OUT (H, H)
    floating[::1] db_ih_out,            # OUT (H,)
    floating[::1] db_hh_out,            # OUT (H,)
    floating[:, :, ::1] dA_work,        # WORK (T, B, H)
    floating[:, :, ::1] Hprev_work,     # WORK (T, B, H)
    floating[:, :, ::1] dH_out,         # OUT (T, B, H) dL/dh_t, or shape (0, 0, 0)
    int n_threads,
):
    """Backpropagate through time; inputs must be validated by fastrnn.functional."""
    cdef int T = X.shape[0], B = X.shape[1], I = X.shape[2], H = h0.shape[1]
    cdef floating* dH_ptr = &dH_out[0, 0, 0] if dH_out.shape[0] > 0 else NULL
    cdef int n_chunks = n_chunks_for(n_threads, B), c, err = 0
    cdef bint units = split_for(n_threads, H, H * H * sizeof(floating), True) == "units"
    cdef floating* dabuf = NULL
    cdef PackedWeights Whh
    Whh.packed = NULL
    if units:
        dabuf = <floating*>malloc(<size_t>2 * B * H * sizeof(floating))
        if dabuf == NULL:
            raise MemoryError("could not allocate the shared RNN gradients")
    elif packed_init(&Whh, False, H, H, &W_hh[0, 0], H) != 0:
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        if units:
            with parallel(num_threads=n_threads):
                _backward_units(T, B, H, &h0[0, 0], &W_hh[0, 0], &lengths[0], reverse,
                                relu, &Y[0, 0, 0], &dY[0, 0, 0], &dh_n[0, 0], dabuf,
                                &dA_work[0, 0, 0], &Hprev_work[0, 0, 0], &dh0_out[0, 0],
                                dH_ptr, &err)
            n_chunks = 0  # the batch-split loop below has nothing to do
        for c in prange(n_chunks, num_threads=n_chunks if n_chunks > 0 else 1,
                        schedule="static"):
            err += _backward_chunk(
                chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                T, B, H, &h0[0, 0], &Whh, &lengths[0], reverse, relu,
                &Y[0, 0, 0], &dY[0, 0, 0], &dh_n[0, 0],
                &dA_work[0, 0, 0], &Hprev_work[0, 0, 0], &dh0_out[0, 0], dH_ptr)
        if err == 0:
            parameter_grads(&dA_work[0, 0, 0], &X[0, 0, 0], &W_ih[0, 0],
                            &dA_work[0, 0, 0], &Hprev_work[0, 0, 0],
                            &dX_out[0, 0, 0], &dW_ih_out[0, 0], &dW_hh_out[0, 0],
                            &db_ih_out[0], &db_hh_out[0], T * B, I, H, H, n_threads)
        free(dabuf)
    packed_free(&Whh)
    if err:
        raise MemoryError("rnn_backward: could not allocate the per-thread state")
