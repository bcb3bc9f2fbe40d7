# cython: language_level=3
"""Fused-type wrappers around the C gate functions in fastrnn_gates.h.

Each function does the elementwise gate math of one row (one sequence, one time step,
H units); see fastrnn_gates_impl.h for the equations and step labels.  They live in C
because `restrict` pointers are what lets gcc vectorise them.  Keep the declarations
in sync with the header.
"""
from cython cimport floating


cdef extern from "fastrnn_gates.h" nogil:
    void fr_rnn_forward_row_f(int H, int relu, float* y, const float* z, float* h) noexcept
    void fr_rnn_backward_row_f(int H, int relu, const float* y, const float* dy, const float* dh, float* da) noexcept
    void fr_lstm_forward_row_f(int H, const float* wp, float* g, const float* z, float* c, float* h, float* y, float* c_out) noexcept
    void fr_lstm_forward_row_fast_f(int H, const float* wp, float* g, const float* z, float* c, float* h, float* y, float* c_out) noexcept
    void fr_lstm_forward_units_fast_f(int n, int gs, int zs, const float* wp, float* g, const float* z, float* c, float* h, float* y, float* c_out) noexcept
    void fr_lstm_backward_row_f(int H, const float* wp, const float* g, const float* c_t, const float* c_prev, const float* dy, const float* dh, float* dc, float* da, float* dwp) noexcept
    void fr_gru_forward_row_f(int H, float* a, const float* s, const float* b_hn, float* aux, float* h, float* y) noexcept
    void fr_gru_backward_row_f(int H, const float* g, const float* aux, const float* dy, const float* hp, float* dh, float* da, float* dd) noexcept
    void fr_gru_cho_forward_rz_row_f(int H, float* a, const float* s, const float* h, float* rh) noexcept
    void fr_gru_cho_forward_n_row_f(int H, float* a, const float* sn, float* h, float* y) noexcept
    void fr_gru_cho_backward_nz_row_f(int H, const float* g, const float* dy, const float* hp, float* dh, float* dn, float* drz) noexcept
    void fr_gru_cho_backward_r_row_f(int H, const float* g, const float* hp, const float* drh, const float* dn, float* dh, float* drz, float* da, float* rh) noexcept
    void fr_gru_minimal_forward_row_f(int H, float* a, const float* s, float* h, float* y) noexcept
    void fr_gru_minimal_backward_row_f(int H, const float* g, const float* dy, const float* hp, float* dh, float* dd) noexcept
    void fr_column_sums_f(const float* A, float* out, int R, int N, int lo, int hi) noexcept
    void fr_column_sums_d(const double* A, double* out, int R, int N, int lo, int hi) noexcept
    void fr_rnn_forward_row_d(int H, int relu, double* y, const double* z, double* h) noexcept
    void fr_rnn_backward_row_d(int H, int relu, const double* y, const double* dy, const double* dh, double* da) noexcept
    void fr_lstm_forward_units_f(int n, int gs, int zs, const float* wp, float* g, const float* z, float* c, float* h, float* y, float* c_out) noexcept
    void fr_lstm_forward_units_d(int n, int gs, int zs, const double* wp, double* g, const double* z, double* c, double* h, double* y, double* c_out) noexcept
    void fr_lstm_backward_units_f(int n, int gs, const float* wp, const float* g, const float* c_t, const float* c_prev, const float* dy, const float* dh, float* dc, float* da, float* dwp) noexcept
    void fr_lstm_backward_units_d(int n, int gs, const double* wp, const double* g, const double* c_t, const double* c_prev, const double* dy, const double* dh, double* dc, double* da, double* dwp) noexcept
    void fr_gru_forward_units_f(int n, int gs, int ss, float* a, const float* s, const float* b_hn, float* aux, float* h, float* y) noexcept
    void fr_gru_forward_units_d(int n, int gs, int ss, double* a, const double* s, const double* b_hn, double* aux, double* h, double* y) noexcept
    void fr_gru_backward_units_f(int n, int gs, const float* g, const float* aux, const float* dy, const float* hp, float* dh, float* da, float* dd) noexcept
    void fr_gru_backward_units_d(int n, int gs, const double* g, const double* aux, const double* dy, const double* hp, double* dh, double* da, double* dd) noexcept
    void fr_lstm_forward_row_d(int H, const double* wp, double* g, const double* z, double* c, double* h, double* y, double* c_out) noexcept
    void fr_lstm_backward_row_d(int H, const double* wp, const double* g, const double* c_t, const double* c_prev, const double* dy, const double* dh, double* dc, double* da, double* dwp) noexcept
    void fr_gru_forward_row_d(int H, double* a, const double* s, const double* b_hn, double* aux, double* h, double* y) noexcept
    void fr_gru_backward_row_d(int H, const double* g, const double* aux, const double* dy, const double* hp, double* dh, double* da, double* dd) noexcept
    void fr_gru_cho_forward_rz_row_d(int H, double* a, const double* s, const double* h, double* rh) noexcept
    void fr_gru_cho_forward_n_row_d(int H, double* a, const double* sn, double* h, double* y) noexcept
    void fr_gru_cho_backward_nz_row_d(int H, const double* g, const double* dy, const double* hp, double* dh, double* dn, double* drz) noexcept
    void fr_gru_cho_backward_r_row_d(int H, const double* g, const double* hp, const double* drh, const double* dn, double* dh, double* drz, double* da, double* rh) noexcept
    void fr_gru_minimal_forward_row_d(int H, double* a, const double* s, double* h, double* y) noexcept
    void fr_gru_minimal_backward_row_d(int H, const double* g, const double* dy, const double* hp, double* dh, double* dd) noexcept


cdef inline void rnn_forward_row(int H, int relu, floating* y, const floating* z, floating* h) noexcept nogil:
    if floating is float:
        fr_rnn_forward_row_f(H, relu, y, z, h)
    else:
        fr_rnn_forward_row_d(H, relu, y, z, h)

cdef inline void rnn_backward_row(int H, int relu, const floating* y, const floating* dy, const floating* dh, floating* da) noexcept nogil:
    if floating is float:
        fr_rnn_backward_row_f(H, relu, y, dy, dh, da)
    else:
        fr_rnn_backward_row_d(H, relu, y, dy, dh, da)

cdef inline void lstm_forward_row(int H, const floating* wp, floating* g, const floating* z, floating* c, floating* h, floating* y, floating* c_out) noexcept nogil:
    if floating is float:
        fr_lstm_forward_row_fast_f(H, wp, g, z, c, h, y, c_out)
    else:
        fr_lstm_forward_row_d(H, wp, g, z, c, h, y, c_out)

cdef inline void lstm_backward_row(int H, const floating* wp, const floating* g, const floating* c_t, const floating* c_prev, const floating* dy, const floating* dh, floating* dc, floating* da, floating* dwp) noexcept nogil:
    if floating is float:
        fr_lstm_backward_row_f(H, wp, g, c_t, c_prev, dy, dh, dc, da, dwp)
    else:
        fr_lstm_backward_row_d(H, wp, g, c_t, c_prev, dy, dh, dc, da, dwp)

cdef inline void gru_forward_row(int H, floating* a, const floating* s, const floating* b_hn, floating* aux, floating* h, floating* y) noexcept nogil:
    if floating is float:
        fr_gru_forward_row_f(H, a, s, b_hn, aux, h, y)
    else:
        fr_gru_forward_row_d(H, a, s, b_hn, aux, h, y)

cdef inline void gru_backward_row(int H, const floating* g, const floating* aux, const floating* dy, const floating* hp, floating* dh, floating* da, floating* dd) noexcept nogil:
    if floating is float:
        fr_gru_backward_row_f(H, g, aux, dy, hp, dh, da, dd)
    else:
        fr_gru_backward_row_d(H, g, aux, dy, hp, dh, da, dd)

cdef inline void gru_cho_forward_rz_row(int H, floating* a, const floating* s, const floating* h, floating* rh) noexcept nogil:
    if floating is float:
        fr_gru_cho_forward_rz_row_f(H, a, s, h, rh)
    else:
        fr_gru_cho_forward_rz_row_d(H, a, s, h, rh)

cdef inline void gru_cho_forward_n_row(int H, floating* a, const floating* sn, floating* h, floating* y) noexcept nogil:
    if floating is float:
        fr_gru_cho_forward_n_row_f(H, a, sn, h, y)
    else:
        fr_gru_cho_forward_n_row_d(H, a, sn, h, y)

cdef inline void gru_cho_backward_nz_row(int H, const floating* g, const floating* dy, const floating* hp, floating* dh, floating* dn, floating* drz) noexcept nogil:
    if floating is float:
        fr_gru_cho_backward_nz_row_f(H, g, dy, hp, dh, dn, drz)
    else:
        fr_gru_cho_backward_nz_row_d(H, g, dy, hp, dh, dn, drz)

cdef inline void gru_cho_backward_r_row(int H, const floating* g, const floating* hp, const floating* drh, const floating* dn, floating* dh, floating* drz, floating* da, floating* rh) noexcept nogil:
    if floating is float:
        fr_gru_cho_backward_r_row_f(H, g, hp, drh, dn, dh, drz, da, rh)
    else:
        fr_gru_cho_backward_r_row_d(H, g, hp, drh, dn, dh, drz, da, rh)

cdef inline void gru_minimal_forward_row(int H, floating* a, const floating* s, floating* h, floating* y) noexcept nogil:
    if floating is float:
        fr_gru_minimal_forward_row_f(H, a, s, h, y)
    else:
        fr_gru_minimal_forward_row_d(H, a, s, h, y)

cdef inline void gru_minimal_backward_row(int H, const floating* g, const floating* dy, const floating* hp, floating* dh, floating* dd) noexcept nogil:
    if floating is float:
        fr_gru_minimal_backward_row_f(H, g, dy, hp, dh, dd)
    else:
        fr_gru_minimal_backward_row_d(H, g, dy, hp, dh, dd)


cdef inline void column_sums(const floating* A, floating* out, int R, int N, int lo, int hi) noexcept nogil:
    """out[j] = sum_r A[r, j] for j in [lo, hi) (the bias gradients)."""
    if floating is float:
        fr_column_sums_f(A, out, R, N, lo, hi)
    else:
        fr_column_sums_d(A, out, R, N, lo, hi)


cdef inline void lstm_forward_units(int n, int gs, int zs, const floating* wp, floating* g, const floating* z, floating* c, floating* h, floating* y, floating* c_out) noexcept nogil:
    """Steps 1b-4 for n units of a row; gate blocks gs apart in g/wp, zs apart in z."""
    if floating is float:
        fr_lstm_forward_units_fast_f(n, gs, zs, wp, g, z, c, h, y, c_out)
    else:
        fr_lstm_forward_units_d(n, gs, zs, wp, g, z, c, h, y, c_out)

cdef inline void lstm_backward_units(int n, int gs, const floating* wp, const floating* g, const floating* c_t, const floating* c_prev, const floating* dy, const floating* dh, floating* dc, floating* da, floating* dwp) noexcept nogil:
    """Steps 4-2 backward for n units of a row; gate blocks gs apart."""
    if floating is float:
        fr_lstm_backward_units_f(n, gs, wp, g, c_t, c_prev, dy, dh, dc, da, dwp)
    else:
        fr_lstm_backward_units_d(n, gs, wp, g, c_t, c_prev, dy, dh, dc, da, dwp)


cdef inline void gru_forward_units(int n, int gs, int ss, floating* a, const floating* s, const floating* b_hn, floating* aux, floating* h, floating* y) noexcept nogil:
    """PyTorch-form GRU steps 1c-2 for n units of a row; gate blocks gs apart in a, ss in s."""
    if floating is float:
        fr_gru_forward_units_f(n, gs, ss, a, s, b_hn, aux, h, y)
    else:
        fr_gru_forward_units_d(n, gs, ss, a, s, b_hn, aux, h, y)

cdef inline void gru_backward_units(int n, int gs, const floating* g, const floating* aux, const floating* dy, const floating* hp, floating* dh, floating* da, floating* dd) noexcept nogil:
    """PyTorch-form GRU steps 2-1c backward for n units of a row; gate blocks gs apart."""
    if floating is float:
        fr_gru_backward_units_f(n, gs, g, aux, dy, hp, dh, da, dd)
    else:
        fr_gru_backward_units_d(n, gs, g, aux, dy, hp, dh, da, dd)
