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

Parallel design: the batch is split into n_threads contiguous row chunks and each chunk
runs its whole time loop with single-threaded BLAS: rows never interact, so there is no
barrier per step.  The GEMMs before and after the loop are split by output rows.  Results
therefore do not depend on the thread count except through BLAS blocking of row chunks.
"""
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastrnn._kernels._denormals cimport fr_ftz_enter, fr_ftz_exit
from fastrnn._kernels._blas cimport PackedWeights, gemm_packed, packed_free, packed_init
from fastrnn._kernels._gates cimport rnn_backward_row, rnn_forward_row
from fastrnn._kernels._loops cimport (add_rows, chunk_start, n_chunks_for,
                                      parameter_grads, prev_time_index, project_inputs,
                                      time_index, zero_row)


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
    cdef PackedWeights Whh
    if packed_init(&Whh, True, H, H, &W_hh[0, 0], H) != 0:
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        # 1a: a_t = W_ih x_t + b_ih + b_hh for all steps, written into Y
        project_inputs(&X[0, 0, 0], &W_ih[0, 0], &b_ih[0], &b_hh[0], H,
                       &Y_out[0, 0, 0], T * B, I, H, H, n_threads)
        for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
            err += _forward_chunk(
                chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                T, B, H, &h0[0, 0], &Whh, &lengths[0], reverse, relu,
                &Y_out[0, 0, 0], &h_n_out[0, 0])
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
    cdef PackedWeights Whh
    if packed_init(&Whh, False, H, H, &W_hh[0, 0], H) != 0:
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
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
    packed_free(&Whh)
    if err:
        raise MemoryError("rnn_backward: could not allocate the per-thread state")
