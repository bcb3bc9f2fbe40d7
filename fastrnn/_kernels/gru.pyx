# cython: language_level=3
"""Gated recurrent unit, three variants: forward and backward through time over a batch.

Notation (declared once; every array C-contiguous and time-major):
    T steps, B batch, I input size, H hidden size, G gates (3, or 2 for minimal).
    X (T, B, I)   h0 (B, H)   W_ih (G*H, I)   W_hh (G*H, H)   b_ih, b_hh (G*H,)
    lengths (B,) int64 in [1, T]; Y (T, B, H) = h_t, zero past each length; h_n (B, H).
    Gate blocks are stacked in PyTorch's order: [r, z, n] (variants 0, 1), [z, n] (2).
    W_hX / b_hX denote gate X's rows of W_hh / b_hh (likewise W_iX, b_iX).
    GATES (T, B, G*H) post-activation gates; AUX (T, B, H) a per-variant saved value:
        variant 0: AUX = W_hn h_prev + b_hn     (needed by the backward pass for dr)
        variant 1: AUX = r * h_prev             (the input of W_hn; for plotting)
        variant 2: AUX = 0                      (unused)

Forward, for the step of row b at time t (previous state h_prev):
    1a: a_t = W_ih x_t + b_ih + b_hh            one GEMM over all T*B rows, before the loop
                                                (variant 0: b_hh only for the r, z columns)
  variant 0 (PyTorch), one GEMM per step:
    1b: s = W_hh h_prev                         (all 3H rows)
    1c: r = sigmoid(a_r + s_r), z = sigmoid(a_z + s_z)
    1d: AUX = s_n + b_hn; n = tanh(a_n + r * AUX)
  variant 1 (Cho et al. 2014), two GEMMs per step:
    1b: s = W_h{r,z} h_prev                     (first 2H rows)
    1c: r = sigmoid(a_r + s_r), z = sigmoid(a_z + s_z); AUX = r * h_prev
    1d: n = tanh(a_n + W_hn AUX)                second GEMM (rows 2H..3H)
  variant 2 (minimal, r = 1), one GEMM per step:
    1b: s = W_hh h_prev                         (all 2H rows)
    1c: z = sigmoid(a_z + s_z)
    1d: n = tanh(a_n + s_n)
  all variants:
    2:  h_t = (1 - z) * n + z * h_prev

Backward, steps in reverse order (dh carries dL/dh from the later step):
    2:  dh_tot = dY_t + dh;  dn = dh_tot (1 - z);  dz = dh_tot (h_prev - n);
        dh_prev = dh_tot z  (+ the recurrent terms below)
    1d: da_n = dn (1 - n^2)
        variant 0: dr = da_n * AUX;   recurrent n-gradient da_n * r
        variant 1: d_rh = da_n @ W_hn (GEMM); dr = d_rh h_prev; dh_prev += d_rh r
    1c: da_r = dr r (1 - r);  da_z = dz z (1 - z)
    1b: dh_prev += dA_hh @ W_hh  one GEMM per step over the recurrent gate gradients
        variant 0: dA_hh = [da_r, da_z, da_n r] (3H);  variant 1: [da_r, da_z] (2H);
        variant 2: [da_z, da_n] (2H)
    1a: dX = dA W_ih, dW_ih = dA^T X, db_ih = sum dA, dW_hh = dA_hh^T Hprev, db_hh =
        sum dA_hh, one GEMM over all T*B rows per weight block, after the loop.
        dA = [da_r, da_z, da_n] (or [da_z, da_n]); variant 1 uses dA_hh = dA and takes
        the n block of dW_hh from da_n^T (r * h_prev) instead.

Work buffers of the backward pass, all zero past each length: dA and dA_hh (T, B, G*H)
as above (variants 1 and 2: dA_hh = dA), Hprev (T, B, H) the state each step started
from, RH (T, B, H) r * h_prev for variant 1 (zero for variants 0 and 2).

Parallel design (_split.py): the batch is split into n_threads contiguous row chunks
and each chunk runs its whole time loop with single-threaded GEMMs: rows never interact,
so there is no barrier per step.  For the PyTorch form with W_hh larger than a core's L2,
threads instead own slices of the hidden units and run every step for the whole batch,
with one barrier per step (the units split).  The GEMMs before and after the loop are
split by output rows.  Results do not depend on thread timing.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport int64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from fastrnn._kernels._denormals cimport fr_ftz_enter, fr_ftz_exit
from fastrnn._kernels._blas cimport (PackedWeights, gemm, gemm_packed, packed_free,
                                     packed_init, packed_none)
from fastrnn._kernels._gates cimport (column_sums, gru_backward_row, gru_backward_units,
                                      gru_forward_units, gru_cho_backward_nz_row,
                                      gru_cho_backward_r_row, gru_cho_forward_n_row,
                                      gru_cho_forward_rz_row, gru_forward_row,
                                      gru_minimal_backward_row, gru_minimal_forward_row)
from fastrnn._kernels._loops cimport (add_rows, chunk_start, gate_rows, n_chunks_for,
                                      parameter_grads, prev_time_index, project_inputs,
                                      put_units, take_units, time_index, units_count,
                                      units_start, zero_row)
from fastrnn._kernels._openmp cimport fr_omp_barrier

from fastrnn._kernels._split import split_for


# ---------------------------------------------------------------------------------------
# Forward chunks.  Each processes batch rows [b0, b1) over all T steps.  On entry GATES
# holds the pre-activations a_t from 1a (at each row's time index); on exit the gates.
# ---------------------------------------------------------------------------------------

cdef int _forward_chunk_pytorch(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* P1,
    const PackedWeights* P2, const floating* b_hh,
    const int64_t* lengths, bint reverse,
    floating* Y,            # OUT (T, B, H)
    floating* h_n,          # OUT (B, H)
    floating* GATES,        # IN-OUT (T, B, 3H)
    floating* AUX,          # OUT (T, B, H)  W_hn h_prev + b_hn, or NULL: inference
) noexcept nogil:
    cdef int Bc = b1 - b0, N = 3 * H, s, r, t, b
    cdef floating* h = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* S = <floating*>malloc(<size_t>Bc * N * sizeof(floating))
    cdef floating* a
    cdef floating* y
    cdef floating* aux
    cdef floating* hr
    cdef const floating* sr
    cdef const floating* b_hn = b_hh + 2 * H
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    if h == NULL or S == NULL:
        free(h)
        free(S)
        fr_ftz_exit(csr)
        return -1
    memcpy(h, h0 + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T):
        # 1b: S = h_prev @ W_hh^T for the whole chunk (all three gate blocks)
        gemm_packed(Bc, h, H, P1, 0, S, N)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:  # finished: outputs zero, state unchanged
                row = <long long>s * B + b
                zero_row(Y + row * H, H)
                if AUX != NULL:
                    zero_row(GATES + row * N, N)
                    zero_row(AUX + row * H, H)
                continue
            row = <long long>t * B + b
            a = GATES + row * N
            y = Y + row * H
            aux = AUX + row * H if AUX != NULL else NULL
            hr = h + r * H
            sr = S + r * N
            # 1c-2: r, z, n, h_t (fastrnn_gates_impl.h)
            gru_forward_row(H, a, sr, b_hn, aux, hr, y)
    memcpy(h_n + <long long>b0 * H, h, <size_t>Bc * H * sizeof(floating))
    free(h)
    free(S)
    fr_ftz_exit(csr)
    return 0


cdef int _forward_chunk_cho(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* P1,
    const PackedWeights* P2, const int64_t* lengths, bint reverse,
    floating* Y,            # OUT (T, B, H)
    floating* h_n,          # OUT (B, H)
    floating* GATES,        # IN-OUT (T, B, 3H)
    floating* AUX,          # OUT (T, B, H)  r * h_prev, or NULL: inference
) noexcept nogil:
    cdef int Bc = b1 - b0, N = 3 * H, s, r, t, b
    cdef floating* h = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* S = <floating*>malloc(<size_t>Bc * 2 * H * sizeof(floating))
    cdef floating* rh = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* Sn = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* a
    cdef floating* y
    cdef floating* hr
    cdef floating* rhr
    cdef const floating* sr
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    if h == NULL or S == NULL or rh == NULL or Sn == NULL:
        free(h)
        free(S)
        free(rh)
        free(Sn)
        fr_ftz_exit(csr)
        return -1
    memcpy(h, h0 + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T):
        # 1b: S = h_prev @ W_h{r,z}^T (first 2H rows of W_hh)
        gemm_packed(Bc, h, H, P1, 0, S, 2 * H)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            rhr = rh + r * H
            if t < 0:  # finished: outputs zero, state unchanged
                row = <long long>s * B + b
                zero_row(Y + row * H, H)
                if AUX != NULL:
                    zero_row(GATES + row * N, N)
                    zero_row(AUX + row * H, H)
                zero_row(rhr, H)
                continue
            row = <long long>t * B + b
            a = GATES + row * N
            hr = h + r * H
            sr = S + r * 2 * H
            # 1c: r, z and the reset state r * h_prev (fastrnn_gates_impl.h)
            gru_cho_forward_rz_row(H, a, sr, hr, rhr)
            if AUX != NULL:
                memcpy(AUX + row * H, rhr, H * sizeof(floating))
        # 1d: Sn = (r * h_prev) @ W_hn^T (rows 2H..3H of W_hh)
        gemm_packed(Bc, rh, H, P2, 0, Sn, H)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:
                continue
            row = <long long>t * B + b
            a = GATES + row * N
            y = Y + row * H
            hr = h + r * H
            sr = Sn + r * H
            # 1d-2: n = tanh(a_n + W_hn (r * h_prev)), h_t (fastrnn_gates_impl.h)
            gru_cho_forward_n_row(H, a, sr, hr, y)
    memcpy(h_n + <long long>b0 * H, h, <size_t>Bc * H * sizeof(floating))
    free(h)
    free(S)
    free(rh)
    free(Sn)
    fr_ftz_exit(csr)
    return 0


cdef int _forward_chunk_minimal(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* P1,
    const PackedWeights* P2, const int64_t* lengths, bint reverse,
    floating* Y,            # OUT (T, B, H)
    floating* h_n,          # OUT (B, H)
    floating* GATES,        # IN-OUT (T, B, 2H)
    floating* AUX,          # OUT (T, B, H)  zero, or NULL: inference
) noexcept nogil:
    cdef int Bc = b1 - b0, N = 2 * H, s, r, t, b
    cdef floating* h = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* S = <floating*>malloc(<size_t>Bc * N * sizeof(floating))
    cdef floating* a
    cdef floating* y
    cdef floating* hr
    cdef const floating* sr
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    if h == NULL or S == NULL:
        free(h)
        free(S)
        fr_ftz_exit(csr)
        return -1
    memcpy(h, h0 + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T):
        # 1b: S = h_prev @ W_hh^T for the whole chunk (both gate blocks)
        gemm_packed(Bc, h, H, P1, 0, S, N)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:  # finished: outputs zero, state unchanged
                row = <long long>s * B + b
                zero_row(Y + row * H, H)
                if AUX != NULL:
                    zero_row(GATES + row * N, N)
                    zero_row(AUX + row * H, H)
                continue
            row = <long long>t * B + b
            if AUX != NULL:
                zero_row(AUX + row * H, H)
            a = GATES + row * N
            y = Y + row * H
            hr = h + r * H
            sr = S + r * N
            # 1c-2: z, n, h_t (fastrnn_gates_impl.h)
            gru_minimal_forward_row(H, a, sr, hr, y)
    memcpy(h_n + <long long>b0 * H, h, <size_t>Bc * H * sizeof(floating))
    free(h)
    free(S)
    fr_ftz_exit(csr)
    return 0


# ---------------------------------------------------------------------------------------
# Backward chunks.  Each processes batch rows [b0, b1) over all T steps in reverse and
# writes dA, dA_hh, Hprev, RH (zero past lengths) and dh0 for its rows.
# ---------------------------------------------------------------------------------------

cdef inline const floating* _h_prev(const floating* h0, const floating* Y, int t, int b,
                                    int B, int H, int64_t length,
                                    bint reverse) noexcept nogil:
    """The state that fed time t of row b: Y at the previous time index, or h0."""
    cdef int tp = prev_time_index(t, length, reverse)
    if tp < 0:
        return h0 + <long long>b * H
    return Y + (<long long>tp * B + b) * H


cdef int _backward_chunk_pytorch(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* P1,
    const PackedWeights* P2, const int64_t* lengths, bint reverse,
    const floating* Y,      # IN  (T, B, H)
    const floating* GATES,  # IN  (T, B, 3H)
    const floating* AUX,    # IN  (T, B, H)  W_hn h_prev + b_hn
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    floating* dA,           # OUT (T, B, 3H) [da_r, da_z, da_n]
    floating* dA_hh,        # OUT (T, B, 3H) [da_r, da_z, da_n * r]
    floating* Hprev,        # OUT (T, B, H)
    floating* RH,           # OUT (T, B, H)  zero
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) total dL/dh_t per step, or NULL
) noexcept nogil:
    cdef int Bc = b1 - b0, N = 3 * H, s, r, t, b
    cdef floating* dh = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* D = <floating*>malloc(<size_t>Bc * N * sizeof(floating))
    cdef const floating* g
    cdef const floating* aux
    cdef const floating* dy
    cdef const floating* hp
    cdef floating* da
    cdef floating* dd
    cdef floating* dhr
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    if dh == NULL or D == NULL:
        free(dh)
        free(D)
        fr_ftz_exit(csr)
        return -1
    memcpy(dh, dh_n + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T - 1, -1, -1):
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            dd = D + r * N
            if t < 0:  # finished: no gradient flows, dh unchanged
                row = <long long>s * B + b
                zero_row(dd, N)
                zero_row(dA + row * N, N)
                zero_row(dA_hh + row * N, N)
                zero_row(Hprev + row * H, H)
                zero_row(RH + row * H, H)
                continue
            row = <long long>t * B + b
            g = GATES + row * N
            aux = AUX + row * H
            dy = dY + row * H
            hp = _h_prev(h0, Y, t, b, B, H, lengths[b], reverse)
            da = dA + row * N
            dhr = dh + r * H
            # 2-1c: dh_tot, da_n, da_r, da_z; dh_prev = dh_tot z (+ 1b below)
            if dH != NULL:  # total gradient into h_t, kept for tracing
                add_rows(H, dhr, dy, dH + row * H)
            gru_backward_row(H, g, aux, dy, hp, dhr, da, dd)
            memcpy(dA_hh + row * N, dd, N * sizeof(floating))
            memcpy(Hprev + row * H, hp, H * sizeof(floating))
            zero_row(RH + row * H, H)
        # 1b: dh_prev += [da_r, da_z, da_n r] @ W_hh   (finished rows add zero)
        gemm_packed(Bc, D, N, P1, 1, dh, H)
    memcpy(dh0 + <long long>b0 * H, dh, <size_t>Bc * H * sizeof(floating))
    free(dh)
    free(D)
    fr_ftz_exit(csr)
    return 0


cdef int _backward_chunk_cho(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* P1,
    const PackedWeights* P2, const int64_t* lengths, bint reverse,
    const floating* Y,      # IN  (T, B, H)
    const floating* GATES,  # IN  (T, B, 3H)
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    floating* dA,           # OUT (T, B, 3H) [da_r, da_z, da_n]
    floating* dA_hh,        # OUT (T, B, 3H) = dA
    floating* Hprev,        # OUT (T, B, H)
    floating* RH,           # OUT (T, B, H)  r * h_prev
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) total dL/dh_t per step, or NULL
) noexcept nogil:
    cdef int Bc = b1 - b0, N = 3 * H, s, r, t, b
    cdef floating* dh = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* Drz = <floating*>malloc(<size_t>Bc * 2 * H * sizeof(floating))
    cdef floating* Dn = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* Drh = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef const floating* g
    cdef const floating* dy
    cdef const floating* hp
    cdef const floating* drh
    cdef floating* da
    cdef floating* drz
    cdef floating* dn
    cdef floating* dhr
    cdef floating* rh
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    if dh == NULL or Drz == NULL or Dn == NULL or Drh == NULL:
        free(dh)
        free(Drz)
        free(Dn)
        free(Drh)
        fr_ftz_exit(csr)
        return -1
    memcpy(dh, dh_n + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T - 1, -1, -1):
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            drz = Drz + r * 2 * H
            dn = Dn + r * H
            if t < 0:  # finished: no gradient flows, dh unchanged
                row = <long long>s * B + b
                zero_row(drz, 2 * H)
                zero_row(dn, H)
                zero_row(dA + row * N, N)
                zero_row(dA_hh + row * N, N)
                zero_row(Hprev + row * H, H)
                zero_row(RH + row * H, H)
                continue
            row = <long long>t * B + b
            g = GATES + row * N
            dy = dY + row * H
            hp = _h_prev(h0, Y, t, b, B, H, lengths[b], reverse)
            dhr = dh + r * H
            # 2-1c: dh_tot; da_n; da_z; dh_prev = dh_tot z (+ 1d, 1b below)
            if dH != NULL:  # total gradient into h_t, kept for tracing
                add_rows(H, dhr, dy, dH + row * H)
            gru_cho_backward_nz_row(H, g, dy, hp, dhr, dn, drz)
        # 1d: d_rh = da_n @ W_hn
        gemm_packed(Bc, Dn, H, P2, 0, Drh, H)
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            if t < 0:
                continue
            row = <long long>t * B + b
            g = GATES + row * N
            hp = _h_prev(h0, Y, t, b, B, H, lengths[b], reverse)
            drz = Drz + r * 2 * H
            dn = Dn + r * H
            drh = Drh + r * H
            dhr = dh + r * H
            da = dA + row * N
            rh = RH + row * H
            # 1d: dr = d_rh h_prev; dh_prev += d_rh r. 1c: da_r = dr r (1 - r)
            gru_cho_backward_r_row(H, g, hp, drh, dn, dhr, drz, da, rh)
            memcpy(dA_hh + row * N, da, N * sizeof(floating))
            memcpy(Hprev + row * H, hp, H * sizeof(floating))
        # 1b: dh_prev += [da_r, da_z] @ W_h{r,z}   (finished rows add zero)
        gemm_packed(Bc, Drz, 2 * H, P1, 1, dh, H)
    memcpy(dh0 + <long long>b0 * H, dh, <size_t>Bc * H * sizeof(floating))
    free(dh)
    free(Drz)
    free(Dn)
    free(Drh)
    fr_ftz_exit(csr)
    return 0


cdef int _backward_chunk_minimal(
    int b0, int b1, int T, int B, int H,
    const floating* h0, const PackedWeights* P1,
    const PackedWeights* P2, const int64_t* lengths, bint reverse,
    const floating* Y,      # IN  (T, B, H)
    const floating* GATES,  # IN  (T, B, 2H)
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    floating* dA,           # OUT (T, B, 2H) [da_z, da_n]
    floating* dA_hh,        # OUT (T, B, 2H) = dA
    floating* Hprev,        # OUT (T, B, H)
    floating* RH,           # OUT (T, B, H)  zero
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) total dL/dh_t per step, or NULL
) noexcept nogil:
    cdef int Bc = b1 - b0, N = 2 * H, s, r, t, b
    cdef floating* dh = <floating*>malloc(<size_t>Bc * H * sizeof(floating))
    cdef floating* D = <floating*>malloc(<size_t>Bc * N * sizeof(floating))
    cdef const floating* g
    cdef const floating* dy
    cdef const floating* hp
    cdef floating* dd
    cdef floating* dhr
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    if dh == NULL or D == NULL:
        free(dh)
        free(D)
        fr_ftz_exit(csr)
        return -1
    memcpy(dh, dh_n + <long long>b0 * H, <size_t>Bc * H * sizeof(floating))
    for s in range(T - 1, -1, -1):
        for r in range(Bc):
            b = b0 + r
            t = time_index(s, lengths[b], reverse)
            dd = D + r * N
            if t < 0:  # finished: no gradient flows, dh unchanged
                row = <long long>s * B + b
                zero_row(dd, N)
                zero_row(dA + row * N, N)
                zero_row(dA_hh + row * N, N)
                zero_row(Hprev + row * H, H)
                zero_row(RH + row * H, H)
                continue
            row = <long long>t * B + b
            g = GATES + row * N
            dy = dY + row * H
            hp = _h_prev(h0, Y, t, b, B, H, lengths[b], reverse)
            dhr = dh + r * H
            # 2-1c: dh_tot; da_z = dz z (1 - z); da_n = dn (1 - n^2); dh_prev = dh_tot z
            if dH != NULL:  # total gradient into h_t, kept for tracing
                add_rows(H, dhr, dy, dH + row * H)
            gru_minimal_backward_row(H, g, dy, hp, dhr, dd)
            memcpy(dA + row * N, dd, N * sizeof(floating))
            memcpy(dA_hh + row * N, dd, N * sizeof(floating))
            memcpy(Hprev + row * H, hp, H * sizeof(floating))
            zero_row(RH + row * H, H)
        # 1b: dh_prev += [da_z, da_n] @ W_hh   (finished rows add zero)
        gemm_packed(Bc, D, N, P1, 1, dh, H)
    memcpy(dh0 + <long long>b0 * H, dh, <size_t>Bc * H * sizeof(floating))
    free(dh)
    free(D)
    fr_ftz_exit(csr)
    return 0


# ---------------------------------------------------------------------------------------
# Units split, PyTorch form only.  Each thread of the parallel region runs one of these
# for its slice [u0, u1) of the hidden units (split over the team's real size).  Shared:
# the double-buffered state h (2, B, H) forward, the double-buffered recurrent gate
# gradients D (2, B, 3H) backward; step s uses buffer s % 2, so one barrier per step
# suffices.  Private: the thread's gate rows of W_hh (packed), S (B, 3n), dh (B, n).  A
# thread that cannot allocate sets *fail before the first barrier; then no thread runs.
# ---------------------------------------------------------------------------------------

cdef void _forward_units_pytorch(
    int T, int B, int H, floating* hbuf, const floating* W_hh, const floating* b_hh,
    const int64_t* lengths, bint reverse,
    floating* Y,            # OUT (T, B, H)
    floating* GATES,        # IN-OUT (T, B, 3H)
    floating* AUX,          # OUT (T, B, H)  W_hn h_prev + b_hn, or NULL: inference
    int* fail,
) noexcept nogil:
    cdef int u0 = units_start(H), n = units_count(H)
    cdef int N = 3 * H, Nc = 3 * n, s, b, k, t
    cdef floating* Wc = NULL    # (3n, H) this thread's gate rows of W_hh
    cdef floating* S = NULL     # (B, 3n) W_hh h_prev for these units, blocks n apart
    cdef floating* h_prev
    cdef floating* h_next
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    cdef PackedWeights pw
    packed_none(&pw)
    if n > 0:
        Wc = <floating*>malloc(<size_t>Nc * H * sizeof(floating))
        S = <floating*>malloc(<size_t>B * Nc * sizeof(floating))
        if Wc == NULL or S == NULL:
            fail[0] = 1
        else:
            gate_rows(W_hh, 3, H, H, u0, n, Wc)
            if packed_init(&pw, True, H, Nc, Wc, H) != 0:
                fail[0] = 1
    fr_omp_barrier()
    if fail[0] == 0:
        for s in range(T):
            h_prev = hbuf + <long long>(s % 2) * B * H
            h_next = hbuf + <long long>((s + 1) % 2) * B * H
            if n > 0:
                # 1b: S = h_prev @ W_hh^T for these units, the whole batch
                gemm_packed(B, h_prev, H, &pw, 0, S, Nc)
                for b in range(B):
                    # the state starts as h_prev (kept as is by finished rows)
                    memcpy(h_next + <long long>b * H + u0, h_prev + <long long>b * H + u0,
                           n * sizeof(floating))
                    t = time_index(s, lengths[b], reverse)
                    if t < 0:  # finished: outputs zero, state unchanged
                        row = <long long>s * B + b
                        zero_row(Y + row * H + u0, n)
                        if AUX != NULL:
                            for k in range(3):
                                zero_row(GATES + row * N + k * H + u0, n)
                            zero_row(AUX + row * H + u0, n)
                        continue
                    row = <long long>t * B + b
                    # 1c-2: r, z, n, h_t for these units
                    gru_forward_units(n, H, n, GATES + row * N + u0, S + <long long>b * Nc,
                                      b_hh + 2 * H + u0,
                                      AUX + row * H + u0 if AUX != NULL else NULL,
                                      h_next + <long long>b * H + u0, Y + row * H + u0)
            fr_omp_barrier()  # h_next complete before any thread reads it
    packed_free(&pw)
    free(Wc)
    free(S)
    fr_ftz_exit(csr)


cdef void _backward_units_pytorch(
    int T, int B, int H, const floating* h0, const floating* W_hh,
    const int64_t* lengths, bint reverse,
    const floating* Y,      # IN  (T, B, H)
    const floating* GATES,  # IN  (T, B, 3H)
    const floating* AUX,    # IN  (T, B, H)
    const floating* dY,     # IN  (T, B, H)
    const floating* dh_n,   # IN  (B, H)
    floating* Dbuf,         # WORK (2, B, 3H) shared
    floating* dA,           # OUT (T, B, 3H)
    floating* dA_hh,        # OUT (T, B, 3H)
    floating* Hprev,        # OUT (T, B, H)
    floating* RH,           # OUT (T, B, H) zero
    floating* dh0,          # OUT (B, H)
    floating* dH,           # OUT (T, B, H) or NULL
    int* fail,
) noexcept nogil:
    cdef int u0 = units_start(H), n = units_count(H)
    cdef int N = 3 * H, s, b, k, t
    cdef floating* dh = NULL    # (B, n) dL/dh carried, these units
    cdef floating* D
    cdef const floating* hp
    cdef long long row
    cdef unsigned int csr = fr_ftz_enter()
    cdef PackedWeights pw
    packed_none(&pw)
    if n > 0:
        dh = <floating*>malloc(<size_t>B * n * sizeof(floating))
        if dh == NULL:
            fail[0] = 1
        else:
            take_units(dh_n, B, H, u0, n, dh)
            # op(B) = W_hh[:, u0:u1] (3H, n)
            if packed_init(&pw, False, N, n, W_hh + u0, H) != 0:
                fail[0] = 1
    fr_omp_barrier()
    if fail[0] == 0:
        for s in range(T - 1, -1, -1):
            D = Dbuf + <long long>(s % 2) * B * N
            if n > 0:
                for b in range(B):
                    t = time_index(s, lengths[b], reverse)
                    if t < 0:  # finished: no gradient flows, dh unchanged
                        row = <long long>s * B + b
                        for k in range(3):
                            zero_row(D + <long long>b * N + k * H + u0, n)
                            zero_row(dA + row * N + k * H + u0, n)
                            zero_row(dA_hh + row * N + k * H + u0, n)
                        zero_row(Hprev + row * H + u0, n)
                        zero_row(RH + row * H + u0, n)
                        continue
                    row = <long long>t * B + b
                    hp = _h_prev(h0, Y, t, b, B, H, lengths[b], reverse)
                    if dH != NULL:  # total gradient into h_t, kept for tracing
                        add_rows(n, dh + b * n, dY + row * H + u0, dH + row * H + u0)
                    # 2-1c for these units; dh -> dh_tot z (1b adds the rest)
                    gru_backward_units(n, H, GATES + row * N + u0, AUX + row * H + u0,
                                       dY + row * H + u0, hp + u0, dh + b * n,
                                       dA + row * N + u0, D + <long long>b * N + u0)
                    for k in range(3):
                        memcpy(dA_hh + row * N + k * H + u0, D + <long long>b * N + k * H + u0,
                               n * sizeof(floating))
                    memcpy(Hprev + row * H + u0, hp + u0, n * sizeof(floating))
                    zero_row(RH + row * H + u0, n)
            fr_omp_barrier()  # every unit's recurrent gate gradients of this step written
            if n > 0:
                # 1b: dh_prev[:, units] += D @ W_hh[:, units]   (finished rows add zero)
                gemm_packed(B, D, N, &pw, 1, dh, n)
        put_units(dh, B if n > 0 else 0, H, u0, n, dh0)
    packed_free(&pw)
    free(dh)
    fr_ftz_exit(csr)


cdef void _parameter_grads_cho(
    const floating* dA,      # IN  (R, 3H) [da_r, da_z, da_n]
    const floating* X,       # IN  (R, I)
    const floating* W_ih,    # IN  (3H, I)
    const floating* Hprev,   # IN  (R, H)
    const floating* RH,      # IN  (R, H) r * h_prev
    floating* dX,            # OUT (R, I)   = dA @ W_ih
    floating* dW_ih,         # OUT (3H, I)  = dA^T @ X
    floating* dW_hh,         # OUT (3H, H)  = [da_r, da_z]^T Hprev ; da_n^T RH
    floating* db_ih,         # OUT (3H,)    = column sums of dA
    floating* db_hh,         # OUT (3H,)    = column sums of dA
    int R, int I, int H, int n_threads,
) noexcept nogil:
    """1a/1b/1d backward for variant 1, as parameter_grads but the n block of dW_hh
    multiplies r * h_prev.  Split by output rows, independent of n_threads."""
    cdef int N = 3 * H
    cdef int n_chunks = n_chunks_for(n_threads, N if N < R else R)
    cdef int c, rlo, rhi, nlo, nhi, lo2
    for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
        rlo = chunk_start(c, n_chunks, R)
        rhi = chunk_start(c + 1, n_chunks, R)
        gemm(False, False, rhi - rlo, I, N, 1, dA + <long long>rlo * N, N, W_ih, I,
             0, dX + <long long>rlo * I, I)
        nlo = chunk_start(c, n_chunks, N)
        nhi = chunk_start(c + 1, n_chunks, N)
        gemm(True, False, nhi - nlo, I, R, 1, dA + nlo, N, X, I,
             0, dW_ih + <long long>nlo * I, I)
        # rows [nlo, min(nhi, 2H)) of dW_hh from Hprev, rows [max(nlo, 2H), nhi) from RH
        lo2 = nlo if nlo > 2 * H else 2 * H
        gemm(True, False, (nhi if nhi < 2 * H else 2 * H) - nlo, H, R, 1, dA + nlo, N,
             Hprev, H, 0, dW_hh + <long long>nlo * H, H)
        gemm(True, False, nhi - lo2, H, R, 1, dA + lo2, N, RH, H,
             0, dW_hh + <long long>lo2 * H, H)
        column_sums(dA, db_ih, R, N, nlo, nhi)
        column_sums(dA, db_hh, R, N, nlo, nhi)


def gru_forward(
    const floating[:, :, ::1] X,        # IN  (T, B, I)
    const floating[:, ::1] h0,          # IN  (B, H)
    const floating[:, ::1] W_ih,        # IN  (G*H, I)
    const floating[:, ::1] W_hh,        # IN  (G*H, H)
    const floating[::1] b_ih,           # IN  (G*H,)
    const floating[::1] b_hh,           # IN  (G*H,)
    const int64_t[::1] lengths,         # IN  (B,) each in [1, T]
    bint reverse,
    int variant,                        # 0 PyTorch, 1 Cho et al., 2 minimal
    floating[:, :, ::1] Y_out,          # OUT (T, B, H)
    floating[:, ::1] h_n_out,           # OUT (B, H)
    floating[:, :, ::1] G_out,          # OUT (T, B, G*H) post-activation gates
    floating[:, :, ::1] Aux_out,        # OUT (T, B, H) see the module docstring, or (0, 0, 0)
    int n_threads,
):
    """Run the GRU over the batch; inputs must be validated by fastrnn.functional.

    Inference (Aux_out of shape (0, 0, 0)): nothing is saved for backward; G_out is the
    workspace of step 1a and of the gates (finished rows not zeroed).
    """
    cdef int T = X.shape[0], B = X.shape[1], I = X.shape[2], H = h0.shape[1]
    cdef floating* aux_ptr = &Aux_out[0, 0, 0] if Aux_out.shape[0] > 0 else NULL
    cdef int N = W_hh.shape[0]
    cdef int n_chunks = n_chunks_for(n_threads, B), c, err = 0
    if variant not in (0, 1, 2):
        raise ValueError(f"expected variant 0, 1 or 2, got {variant}")
    cdef bint units = split_for(n_threads, H, N * H * sizeof(floating),
                                variant == 0) == "units"
    cdef floating* hbuf = NULL
    cdef PackedWeights P1, P2  # per-step weights: Cho splits W_h{r,z} and W_hn
    P1.packed = NULL
    P2.packed = NULL
    if units:
        hbuf = <floating*>malloc(<size_t>2 * B * H * sizeof(floating))
        if hbuf == NULL:
            raise MemoryError("could not allocate the shared GRU state")
    elif packed_init(&P1, True, H, 2 * H if variant == 1 else N, &W_hh[0, 0], H) != 0:
        raise MemoryError("could not allocate the packed recurrent weights")
    elif packed_init(&P2, True, H if variant == 1 else 0, H if variant == 1 else 0,
                     &W_hh[0, 0] + (2 * H * H if variant == 1 else 0), H) != 0:
        packed_free(&P1)
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        # 1a: a_t = W_ih x_t + b_ih + b_hh for all steps, written into G_out
        #     (variant 0 keeps b_hn apart: it sits inside r * (W_hn h + b_hn))
        project_inputs(&X[0, 0, 0], &W_ih[0, 0], &b_ih[0], &b_hh[0],
                       2 * H if variant == 0 else N,
                       &G_out[0, 0, 0], T * B, I, N, N, n_threads)
        if units:
            memcpy(hbuf, &h0[0, 0], <size_t>B * H * sizeof(floating))
            with parallel(num_threads=n_threads):
                _forward_units_pytorch(T, B, H, hbuf, &W_hh[0, 0], &b_hh[0], &lengths[0],
                                       reverse, &Y_out[0, 0, 0], &G_out[0, 0, 0],
                                       aux_ptr, &err)
            # after T steps the state (finished rows carried) is in buffer T % 2
            memcpy(&h_n_out[0, 0], hbuf + <long long>(T % 2) * B * H,
                   <size_t>B * H * sizeof(floating))
            n_chunks = 0  # the batch-split loop below has nothing to do
        for c in prange(n_chunks, num_threads=n_chunks if n_chunks > 0 else 1,
                        schedule="static"):
            if variant == 0:
                err += _forward_chunk_pytorch(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, &h0[0, 0], &P1, &P2, &b_hh[0], &lengths[0], reverse,
                    &Y_out[0, 0, 0], &h_n_out[0, 0], &G_out[0, 0, 0], aux_ptr)
            elif variant == 1:
                err += _forward_chunk_cho(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, &h0[0, 0], &P1, &P2, &lengths[0], reverse,
                    &Y_out[0, 0, 0], &h_n_out[0, 0], &G_out[0, 0, 0], aux_ptr)
            else:
                err += _forward_chunk_minimal(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, &h0[0, 0], &P1, &P2, &lengths[0], reverse,
                    &Y_out[0, 0, 0], &h_n_out[0, 0], &G_out[0, 0, 0], aux_ptr)
    free(hbuf)
    packed_free(&P1)
    packed_free(&P2)
    if err:
        raise MemoryError("gru_forward: could not allocate the per-thread state")


def gru_backward(
    const floating[:, :, ::1] X,        # IN  (T, B, I)
    const floating[:, ::1] h0,          # IN  (B, H)
    const floating[:, ::1] W_ih,        # IN  (G*H, I)
    const floating[:, ::1] W_hh,        # IN  (G*H, H)
    const int64_t[::1] lengths,         # IN  (B,)
    bint reverse,
    int variant,                        # 0 PyTorch, 1 Cho et al., 2 minimal
    const floating[:, :, ::1] Y,        # IN  (T, B, H) from gru_forward
    const floating[:, :, ::1] G,        # IN  (T, B, G*H) from gru_forward
    const floating[:, :, ::1] Aux,      # IN  (T, B, H) from gru_forward
    const floating[:, :, ::1] dY,       # IN  (T, B, H)
    const floating[:, ::1] dh_n,        # IN  (B, H)
    floating[:, :, ::1] dX_out,         # OUT (T, B, I)
    floating[:, ::1] dh0_out,           # OUT (B, H)
    floating[:, ::1] dW_ih_out,         # OUT (G*H, I)
    floating[:, ::1] dW_hh_out,         # OUT (G*H, H)
    floating[::1] db_ih_out,            # OUT (G*H,)
    floating[::1] db_hh_out,            # OUT (G*H,)
    floating[:, :, ::1] dA_work,        # WORK (T, B, G*H)
    floating[:, :, ::1] dA_hh_work,     # WORK (T, B, G*H)
    floating[:, :, ::1] Hprev_work,     # WORK (T, B, H)
    floating[:, :, ::1] RH_work,        # WORK (T, B, H)
    floating[:, :, ::1] dH_out,         # OUT (T, B, H) dL/dh_t, or shape (0, 0, 0)
    int n_threads,
):
    """Backpropagate through time; inputs must be validated by fastrnn.functional."""
    cdef int T = X.shape[0], B = X.shape[1], I = X.shape[2], H = h0.shape[1]
    cdef floating* dH_ptr = &dH_out[0, 0, 0] if dH_out.shape[0] > 0 else NULL
    cdef int N = W_hh.shape[0]
    cdef int n_chunks = n_chunks_for(n_threads, B), c, err = 0
    if variant not in (0, 1, 2):
        raise ValueError(f"expected variant 0, 1 or 2, got {variant}")
    cdef bint units = split_for(n_threads, H, N * H * sizeof(floating),
                                variant == 0) == "units"
    cdef floating* Dbuf = NULL
    cdef PackedWeights P1, P2  # per-step weights: Cho splits W_h{r,z} and W_hn
    P1.packed = NULL
    P2.packed = NULL
    if units:
        Dbuf = <floating*>malloc(<size_t>2 * B * N * sizeof(floating))
        if Dbuf == NULL:
            raise MemoryError("could not allocate the shared GRU gradients")
    elif packed_init(&P1, False, 2 * H if variant == 1 else N, H, &W_hh[0, 0], H) != 0:
        raise MemoryError("could not allocate the packed recurrent weights")
    elif packed_init(&P2, False, H if variant == 1 else 0, H if variant == 1 else 0,
                     &W_hh[0, 0] + (2 * H * H if variant == 1 else 0), H) != 0:
        packed_free(&P1)
        raise MemoryError("could not allocate the packed recurrent weights")
    with nogil:
        if units:
            with parallel(num_threads=n_threads):
                _backward_units_pytorch(T, B, H, &h0[0, 0], &W_hh[0, 0], &lengths[0],
                                        reverse, &Y[0, 0, 0], &G[0, 0, 0], &Aux[0, 0, 0],
                                        &dY[0, 0, 0], &dh_n[0, 0], Dbuf,
                                        &dA_work[0, 0, 0], &dA_hh_work[0, 0, 0],
                                        &Hprev_work[0, 0, 0], &RH_work[0, 0, 0],
                                        &dh0_out[0, 0], dH_ptr, &err)
            n_chunks = 0  # the batch-split loop below has nothing to do
        for c in prange(n_chunks, num_threads=n_chunks if n_chunks > 0 else 1,
                        schedule="static"):
            if variant == 0:
                err += _backward_chunk_pytorch(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, &h0[0, 0], &P1, &P2, &lengths[0], reverse,
                    &Y[0, 0, 0], &G[0, 0, 0], &Aux[0, 0, 0], &dY[0, 0, 0],
                    &dh_n[0, 0], &dA_work[0, 0, 0], &dA_hh_work[0, 0, 0],
                    &Hprev_work[0, 0, 0], &RH_work[0, 0, 0], &dh0_out[0, 0], dH_ptr)
            elif variant == 1:
                err += _backward_chunk_cho(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, &h0[0, 0], &P1, &P2, &lengths[0], reverse,
                    &Y[0, 0, 0], &G[0, 0, 0], &dY[0, 0, 0],
                    &dh_n[0, 0], &dA_work[0, 0, 0], &dA_hh_work[0, 0, 0],
                    &Hprev_work[0, 0, 0], &RH_work[0, 0, 0], &dh0_out[0, 0], dH_ptr)
            else:
                err += _backward_chunk_minimal(
                    chunk_start(c, n_chunks, B), chunk_start(c + 1, n_chunks, B),
                    T, B, H, &h0[0, 0], &P1, &P2, &lengths[0], reverse,
                    &Y[0, 0, 0], &G[0, 0, 0], &dY[0, 0, 0],
                    &dh_n[0, 0], &dA_work[0, 0, 0], &dA_hh_work[0, 0, 0],
                    &Hprev_work[0, 0, 0], &RH_work[0, 0, 0], &dh0_out[0, 0], dH_ptr)
        if err == 0:
            if variant == 1:
                _parameter_grads_cho(&dA_work[0, 0, 0], &X[0, 0, 0], &W_ih[0, 0],
                                     &Hprev_work[0, 0, 0], &RH_work[0, 0, 0],
                                     &dX_out[0, 0, 0], &dW_ih_out[0, 0],
                                     &dW_hh_out[0, 0], &db_ih_out[0], &db_hh_out[0],
                                     T * B, I, H, n_threads)
            else:
                parameter_grads(&dA_work[0, 0, 0], &X[0, 0, 0], &W_ih[0, 0],
                                &dA_hh_work[0, 0, 0], &Hprev_work[0, 0, 0],
                                &dX_out[0, 0, 0], &dW_ih_out[0, 0], &dW_hh_out[0, 0],
                                &db_ih_out[0], &db_hh_out[0], T * B, I, H, N, n_threads)
        free(Dbuf)
    packed_free(&P1)
    packed_free(&P2)
    if err:
        raise MemoryError("gru_backward: could not allocate the per-thread state")
