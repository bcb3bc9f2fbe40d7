"""Plain NumPy float64 reference for every recurrent cell: the test oracle.

This module is written to be read, not to be fast. Each cell family has one
``_<family>_step_forward`` / ``_<family>_step_backward`` pair, and the backward
function repeats the step labels of the forward one (``# 2a: ...``) in reverse
order. One driver loop (:func:`forward`, :func:`backward`) handles variable lengths
and direction for all cells. Every compiled kernel must match these functions.

Notation
--------
T : time steps, B : batch, I : input size, H : hidden size, G : gate count.
All sequence arrays are time-major: ``X`` is (T, B, I), ``Y`` is (T, B, H).
``x``, ``h_prev``, ``c_prev``, ``h_t``, ``c_t`` are the (n, .) rows of the n
sequences still active at the current step. ``A`` holds pre-activations and
``gates`` post-activation gate values, both (n, G*H) with the gate blocks stacked
in the order of :data:`GATE_NAMES`. Gradients take a ``d`` prefix.

Cells
-----
``rnn_tanh``, ``rnn_relu`` (G=1)
    h_t = act(W_ih x + b_ih + W_hh h_prev + b_hh)
``lstm`` (G=4, gates i, f, g, o as in PyTorch)
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);  g = tanh(a_g)
    c_t = f * c_prev + i * g;  h_t = o * tanh(c_t)
``lstm_peephole``
    as ``lstm``, with diagonal peepholes ``w_peep = [p_i, p_f, p_o]`` of shape (3H,):
    a_i += p_i * c_prev;  a_f += p_f * c_prev;  a_o += p_o * c_t
either LSTM with a projection ``W_hr`` (P, H), P < H (PyTorch's ``proj_size``)
    h_t = W_hr (o * tanh(c_t)); the state h and the outputs have P units, so
    ``W_hh`` is (G*H, P) and ``h0``, ``Y``, ``h_n`` are (., P); c and the gates keep H
``gru`` (G=3, gates r, z, n; PyTorch form, the candidate resets after W_hn)
    n = tanh(W_in x + b_in + r * (W_hn h_prev + b_hn));  h_t = (1 - z) n + z h_prev
``gru_cho`` (G=3; Cho et al. 2014, the candidate resets before W_hn)
    n = tanh(W_in x + b_in + W_hn (r * h_prev) + b_hn)
``gru_minimal`` (G=2, gates z, n; a GRU without reset gate, r = 1)
    n = tanh(W_in x + b_in + W_hn h_prev + b_hn)

Parameters use the PyTorch layout: ``W_ih`` (G*H, I), ``W_hh`` (G*H, H),
``b_ih`` (G*H,), ``b_hh`` (G*H,), plus ``w_peep`` (3H,) for ``lstm_peephole``.

Lengths and direction
---------------------
Sequence b is valid at times 0 .. len_b - 1. Going forward, step s processes time s;
with ``reverse=True`` it processes time len_b - 1 - s, so every sequence runs
backwards *within its own length* and no sorting is needed. Outputs, gates and cell
states are zero past a sequence's length, and ``h_n`` / ``c_n`` hold the state after
its last processed step.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

GATE_COUNT: dict[str, int] = {
    "rnn_tanh": 1,
    "rnn_relu": 1,
    "lstm": 4,
    "lstm_peephole": 4,
    "gru": 3,
    "gru_cho": 3,
    "gru_minimal": 2,
}
CELLS: tuple[str, ...] = tuple(GATE_COUNT)
GATE_NAMES: dict[str, tuple[str, ...]] = {
    "rnn_tanh": (),
    "rnn_relu": (),
    "lstm": ("i", "f", "g", "o"),
    "lstm_peephole": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "gru_cho": ("r", "z", "n"),
    "gru_minimal": ("z", "n"),
}
LSTM_CELLS = ("lstm", "lstm_peephole")


class _Params(NamedTuple):
    W_ih: Array  # (G*H, I)
    W_hh: Array  # (G*H, H)
    b_ih: Array  # (G*H,)
    b_hh: Array  # (G*H,)
    w_peep: Array | None  # (3H,) for lstm_peephole, else None
    W_hr: Array | None = None  # (P, H) projection of an LSTM's state, else None


def sigmoid(a: Array) -> Array:
    """Logistic function, written so that large negative ``a`` does not overflow."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def dsigmoid(y: Array) -> Array:
    """Derivative of the sigmoid, from its output ``y``."""
    return y * (1.0 - y)


def dtanh(y: Array) -> Array:
    """Derivative of tanh, from its output ``y``."""
    return 1.0 - y * y


# =============================================================================
# Shared affine projection: A = W_ih x + b_ih + W_hh h_prev + b_hh
# =============================================================================


def _project(x: Array, h_prev: Array, p: _Params) -> Array:
    """Pre-activations of all gates, (n, G*H)."""
    return x @ p.W_ih.T + p.b_ih + h_prev @ p.W_hh.T + p.b_hh


def _project_backward(
    dA: Array, x: Array, h_prev: Array, p: _Params
) -> tuple[Array, Array, dict[str, Array]]:
    """Backprop ``dA`` (n, G*H) through :func:`_project`: (dx, dh_prev, grads)."""
    dx = dA @ p.W_ih  # (n, I)
    dh_prev = dA @ p.W_hh  # (n, H)
    db = dA.sum(axis=0)
    grads = {"W_ih": dA.T @ x, "W_hh": dA.T @ h_prev, "b_ih": db, "b_hh": db}
    return dx, dh_prev, grads


# =============================================================================
# Step functions
#
# Every step has the same interface, so that one driver serves all cells:
#   forward(x, h_prev, c_prev, p) -> (h_t, c_t, gates)
#   backward(dh_t, dc_t, x, h_prev, c_prev, gates, c_t, p)
#       -> (dx, dh_prev, dc_prev, grads)
# Cells without a cell state take and return ``None`` for the c arguments.
# ``grads`` holds this step's contribution to the parameter gradients.
# =============================================================================


def _rnn_step_forward(
    x: Array, h_prev: Array, c_prev: None, p: _Params, *, activation: str
) -> tuple[Array, None, Array]:
    # 1a: pre-activation
    a = _project(x, h_prev, p)  # (n, H)
    # 1b: nonlinearity; for an Elman cell the "gate" is the output itself
    h_t = np.tanh(a) if activation == "tanh" else np.maximum(a, 0.0)
    return h_t, None, h_t


def _rnn_step_backward(
    dh_t: Array,
    dc_t: None,
    x: Array,
    h_prev: Array,
    c_prev: None,
    gates: Array,
    c_t: None,
    p: _Params,
    *,
    activation: str,
) -> tuple[Array, Array, None, dict[str, Array]]:
    h_t = gates
    # 1b: h_t = act(a)
    da = dh_t * (dtanh(h_t) if activation == "tanh" else (h_t > 0.0))
    # 1a: a = W_ih x + b_ih + W_hh h_prev + b_hh
    dx, dh_prev, grads = _project_backward(da, x, h_prev, p)
    return dx, dh_prev, None, grads


def _lstm_step_forward(
    x: Array, h_prev: Array, c_prev: Array, p: _Params
) -> tuple[Array, Array, Array]:
    # 1a: pre-activations of the four gates, each (n, H)
    a_i, a_f, a_g, a_o = np.split(_project(x, h_prev, p), 4, axis=1)
    # 1b: input and forget peepholes read the previous cell
    if p.w_peep is not None:
        p_i, p_f, p_o = np.split(p.w_peep, 3)
        a_i = a_i + p_i * c_prev
        a_f = a_f + p_f * c_prev
    # 1c: input gate, forget gate, candidate
    i = sigmoid(a_i)
    f = sigmoid(a_f)
    g = np.tanh(a_g)
    # 2a: new cell
    c_t = f * c_prev + i * g
    # 2b: the output peephole reads the new cell
    if p.w_peep is not None:
        a_o = a_o + p_o * c_t
    # 2c: output gate
    o = sigmoid(a_o)
    # 3a: output
    h_t = o * np.tanh(c_t)
    # 4: projection
    if p.W_hr is not None:
        h_t = h_t @ p.W_hr.T
    return h_t, c_t, np.concatenate([i, f, g, o], axis=1)


def _lstm_step_backward(
    dh_t: Array,
    dc_t: Array,
    x: Array,
    h_prev: Array,
    c_prev: Array,
    gates: Array,
    c_t: Array,
    p: _Params,
) -> tuple[Array, Array, Array, dict[str, Array]]:
    i, f, g, o = np.split(gates, 4, axis=1)
    tanh_c = np.tanh(c_t)
    # 4: h_t = W_hr m_t, m_t = o * tanh(c_t)
    dW_hr = None
    if p.W_hr is not None:
        dW_hr = dh_t.T @ (o * tanh_c)
        dh_t = dh_t @ p.W_hr
    # 3a: h_t = o * tanh(c_t)
    do = dh_t * tanh_c
    dc_t = dc_t + dh_t * o * dtanh(tanh_c)
    # 2c: o = sigmoid(a_o)
    da_o = do * dsigmoid(o)
    # 2b: a_o += p_o * c_t
    if p.w_peep is not None:
        p_i, p_f, p_o = np.split(p.w_peep, 3)
        dc_t = dc_t + da_o * p_o
    # 2a: c_t = f * c_prev + i * g
    di = dc_t * g
    df = dc_t * c_prev
    dg = dc_t * i
    dc_prev = dc_t * f
    # 1c: i, f, g = sigmoid(a_i), sigmoid(a_f), tanh(a_g)
    da_i = di * dsigmoid(i)
    da_f = df * dsigmoid(f)
    da_g = dg * dtanh(g)
    # 1b: a_i += p_i * c_prev; a_f += p_f * c_prev
    if p.w_peep is not None:
        dc_prev = dc_prev + da_i * p_i + da_f * p_f
        dw_peep = np.concatenate(
            [(da_i * c_prev).sum(0), (da_f * c_prev).sum(0), (da_o * c_t).sum(0)]
        )
    # 1a: A = W_ih x + b_ih + W_hh h_prev + b_hh
    dA = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    dx, dh_prev, grads = _project_backward(dA, x, h_prev, p)
    if p.w_peep is not None:
        grads["w_peep"] = dw_peep
    if dW_hr is not None:
        grads["W_hr"] = dW_hr
    return dx, dh_prev, dc_prev, grads


def _gru_step_forward(
    x: Array, h_prev: Array, c_prev: None, p: _Params, *, reset_after: bool
) -> tuple[Array, None, Array]:
    """``reset_after=True`` is the PyTorch form, ``False`` the Cho et al. form."""
    H = h_prev.shape[1]
    W_hn, b_hn = p.W_hh[2 * H :], p.b_hh[2 * H :]
    # 1a: input projection for all gates, recurrent projection for r and z
    ax_r, ax_z, ax_n = np.split(x @ p.W_ih.T + p.b_ih, 3, axis=1)
    ah_r, ah_z = np.split(h_prev @ p.W_hh[: 2 * H].T + p.b_hh[: 2 * H], 2, axis=1)
    # 1b: reset and update gates
    r = sigmoid(ax_r + ah_r)
    z = sigmoid(ax_z + ah_z)
    # 1c: candidate; the reset gate applies after (PyTorch) or before (Cho) W_hn
    if reset_after:
        n = np.tanh(ax_n + r * (h_prev @ W_hn.T + b_hn))
    else:
        n = np.tanh(ax_n + (r * h_prev) @ W_hn.T + b_hn)
    # 2a: interpolate between the candidate and the previous state
    h_t = (1.0 - z) * n + z * h_prev
    return h_t, None, np.concatenate([r, z, n], axis=1)


def _gru_step_backward(
    dh_t: Array,
    dc_t: None,
    x: Array,
    h_prev: Array,
    c_prev: None,
    gates: Array,
    c_t: None,
    p: _Params,
    *,
    reset_after: bool,
) -> tuple[Array, Array, None, dict[str, Array]]:
    H = h_prev.shape[1]
    W_hn, b_hn = p.W_hh[2 * H :], p.b_hh[2 * H :]
    r, z, n = np.split(gates, 3, axis=1)
    # 2a: h_t = (1 - z) * n + z * h_prev
    dn = dh_t * (1.0 - z)
    dz = dh_t * (h_prev - n)
    dh_prev = dh_t * z
    # 1c: n = tanh(ax_n + r * ah_n)   or   n = tanh(ax_n + W_hn (r * h_prev) + b_hn)
    dax_n = dn * dtanh(n)
    if reset_after:
        dah_n = dax_n * r  # gradient of ah_n = W_hn h_prev + b_hn
        dr = dax_n * (h_prev @ W_hn.T + b_hn)
        dh_prev = dh_prev + dah_n @ W_hn
        dW_hn = dah_n.T @ h_prev
    else:
        dah_n = dax_n  # gradient of W_hn (r * h_prev) + b_hn
        drh = dah_n @ W_hn  # gradient of r * h_prev
        dr = drh * h_prev
        dh_prev = dh_prev + drh * r
        dW_hn = dah_n.T @ (r * h_prev)
    # 1b: r = sigmoid(ax_r + ah_r); z = sigmoid(ax_z + ah_z)
    da_r = dr * dsigmoid(r)
    da_z = dz * dsigmoid(z)
    # 1a: input projection for all gates, recurrent projection for r and z
    dAx = np.concatenate([da_r, da_z, dax_n], axis=1)  # (n, 3H)
    dAh_rz = np.concatenate([da_r, da_z], axis=1)  # (n, 2H)
    dx = dAx @ p.W_ih
    dh_prev = dh_prev + dAh_rz @ p.W_hh[: 2 * H]
    grads = {
        "W_ih": dAx.T @ x,
        "W_hh": np.concatenate([dAh_rz.T @ h_prev, dW_hn]),
        "b_ih": dAx.sum(axis=0),
        "b_hh": np.concatenate([dAh_rz.sum(axis=0), dah_n.sum(axis=0)]),
    }
    return dx, dh_prev, None, grads


def _gru_minimal_step_forward(
    x: Array, h_prev: Array, c_prev: None, p: _Params
) -> tuple[Array, None, Array]:
    # 1a: pre-activations of the update gate and the candidate
    a_z, a_n = np.split(_project(x, h_prev, p), 2, axis=1)
    # 1b: update gate and candidate
    z = sigmoid(a_z)
    n = np.tanh(a_n)
    # 2a: interpolate between the candidate and the previous state
    h_t = (1.0 - z) * n + z * h_prev
    return h_t, None, np.concatenate([z, n], axis=1)


def _gru_minimal_step_backward(
    dh_t: Array,
    dc_t: None,
    x: Array,
    h_prev: Array,
    c_prev: None,
    gates: Array,
    c_t: None,
    p: _Params,
) -> tuple[Array, Array, None, dict[str, Array]]:
    z, n = np.split(gates, 2, axis=1)
    # 2a: h_t = (1 - z) * n + z * h_prev
    dn = dh_t * (1.0 - z)
    dz = dh_t * (h_prev - n)
    # 1b: z = sigmoid(a_z); n = tanh(a_n)
    dA = np.concatenate([dz * dsigmoid(z), dn * dtanh(n)], axis=1)
    # 1a: A = W_ih x + b_ih + W_hh h_prev + b_hh
    dx, dh_prev, grads = _project_backward(dA, x, h_prev, p)
    dh_prev = dh_prev + dh_t * z
    return dx, dh_prev, None, grads


_StepForward = Callable[..., tuple[Array, Array | None, Array]]
_StepBackward = Callable[..., tuple[Array, Array, Array | None, dict[str, Array]]]

_STEPS: dict[str, tuple[_StepForward, _StepBackward]] = {
    "rnn_tanh": (
        partial(_rnn_step_forward, activation="tanh"),
        partial(_rnn_step_backward, activation="tanh"),
    ),
    "rnn_relu": (
        partial(_rnn_step_forward, activation="relu"),
        partial(_rnn_step_backward, activation="relu"),
    ),
    "lstm": (_lstm_step_forward, _lstm_step_backward),
    "lstm_peephole": (_lstm_step_forward, _lstm_step_backward),
    "gru": (
        partial(_gru_step_forward, reset_after=True),
        partial(_gru_step_backward, reset_after=True),
    ),
    "gru_cho": (
        partial(_gru_step_forward, reset_after=False),
        partial(_gru_step_backward, reset_after=False),
    ),
    "gru_minimal": (_gru_minimal_step_forward, _gru_minimal_step_backward),
}


# =============================================================================
# Driver: one loop over steps for all cells, handling lengths and direction
# =============================================================================


def _active(
    lengths: NDArray[np.intp], s: int, reverse: bool
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Rows still running at step ``s`` and the time index each of them reads.

    Returns ``rows`` (n,) and ``t`` (n,), so that ``X[t, rows]`` is (n, I).
    """
    rows = np.flatnonzero(lengths > s)
    t = lengths[rows] - 1 - s if reverse else np.full(rows.size, s)
    return rows, t


def _prepare(
    cell: str,
    X: Array,
    W_hh: Array,
    c0: Array | None,
    w_peep: Array | None,
    lengths: NDArray | None,
) -> tuple[Array | None, Array | None, NDArray[np.intp]]:
    """Fill in defaults: c0 = 0 for LSTMs, w_peep = 0 for peepholes, full lengths."""
    if cell not in _STEPS:
        raise ValueError(f"Unknown cell {cell!r}; expected one of {CELLS}")
    T, B, _ = X.shape
    H = W_hh.shape[0] // GATE_COUNT[cell]
    if cell in LSTM_CELLS:
        c0 = np.zeros((B, H)) if c0 is None else c0
    else:
        c0 = None
    if cell == "lstm_peephole":
        w_peep = np.zeros(3 * H) if w_peep is None else w_peep
    else:
        w_peep = None
    lengths = np.full(B, T) if lengths is None else np.asarray(lengths)
    return c0, w_peep, lengths.astype(np.intp)


def forward(
    cell: str,
    X: Array,
    h0: Array,
    W_ih: Array,
    W_hh: Array,
    b_ih: Array,
    b_hh: Array,
    *,
    c0: Array | None = None,
    w_peep: Array | None = None,
    W_hr: Array | None = None,
    lengths: NDArray | None = None,
    reverse: bool = False,
) -> dict[str, Array | None]:
    """Run one recurrent layer over a padded batch of sequences.

    Parameters
    ----------
    cell : str
        One of :data:`CELLS`.
    X : ndarray of shape (T, B, I)
        Inputs, time-major.
    h0 : ndarray of shape (B, H)
        Initial hidden state.
    W_ih : ndarray of shape (G*H, I)
    W_hh : ndarray of shape (G*H, H)
    b_ih, b_hh : ndarray of shape (G*H,)
        Parameters in PyTorch layout, gate blocks in the order of :data:`GATE_NAMES`.
    c0 : ndarray of shape (B, H), optional
        Initial cell state of LSTM cells (zeros if None); ignored otherwise.
    w_peep : ndarray of shape (3H,), optional
        Peephole weights ``[p_i, p_f, p_o]`` of ``lstm_peephole`` (zeros if None);
        ignored for other cells.
    W_hr : ndarray of shape (P, H), optional
        Projection of an LSTM's state (then ``h0``, ``W_hh``'s columns, ``Y`` and
        ``h_n`` have P units).
    lengths : ndarray of shape (B,), optional
        Integer sequence lengths in [1, T]; None means all T.
    reverse : bool
        Process each sequence backwards within its own length.

    Returns
    -------
    dict with keys
        ``"Y"`` (T, B, H) outputs, zero past each length; ``"h_n"`` (B, H) final
        hidden state; ``"c_n"`` (B, H) final cell state or None; ``"gates"``
        (T, B, G*H) post-activation gates at the time they belong to (a copy of
        ``Y`` for Elman cells), zero past each length; ``"C"`` (T, B, H) cell
        states of LSTM cells, zero past each length, or None.
    """
    c0, w_peep, lengths = _prepare(cell, X, W_hh, c0, w_peep, lengths)
    step_forward, _ = _STEPS[cell]
    p = _Params(W_ih, W_hh, b_ih, b_hh, w_peep, W_hr)
    T, B, _ = X.shape
    P = h0.shape[1]  # state units (H unless projected)
    H = W_hh.shape[0] // GATE_COUNT[cell]  # cell units

    Y = np.zeros((T, B, P))  # outputs
    gates = np.zeros((T, B, GATE_COUNT[cell] * H))  # post-activation gates
    C = np.zeros((T, B, H)) if c0 is not None else None  # LSTM cell states
    h = h0.copy()  # (B, H) running hidden state; rows freeze once finished
    c = c0.copy() if c0 is not None else None

    for s in range(T):
        rows, t = _active(lengths, s, reverse)
        c_prev = c[rows] if c is not None else None
        h_t, c_t, g_t = step_forward(X[t, rows], h[rows], c_prev, p)
        Y[t, rows] = h_t
        gates[t, rows] = g_t
        h[rows] = h_t
        if c is not None:
            C[t, rows] = c_t
            c[rows] = c_t

    return {"Y": Y, "h_n": h, "c_n": c, "gates": gates, "C": C}


def backward(
    cell: str,
    dY: Array,
    dh_n: Array,
    dc_n: Array | None,
    X: Array,
    h0: Array,
    W_ih: Array,
    W_hh: Array,
    b_ih: Array,
    b_hh: Array,
    *,
    c0: Array | None = None,
    w_peep: Array | None = None,
    W_hr: Array | None = None,
    lengths: NDArray | None = None,
    reverse: bool = False,
) -> dict[str, Array | None]:
    """Gradients of ``L = sum(dY*Y) + sum(dh_n*h_n) (+ sum(dc_n*c_n))``.

    Recomputes :func:`forward` with the same arguments, then backpropagates
    through time, visiting the steps in the opposite order.

    Parameters
    ----------
    cell : str
        One of :data:`CELLS`.
    dY : ndarray of shape (T, B, H)
        Gradient with respect to the outputs. Entries past a sequence's length
        have no effect (those outputs are constant zero).
    dh_n : ndarray of shape (B, H)
        Gradient with respect to the final hidden state.
    dc_n : ndarray of shape (B, H) or None
        Gradient with respect to the final cell state (zeros if None); ignored
        for non-LSTM cells.
    X, h0, W_ih, W_hh, b_ih, b_hh, c0, w_peep, lengths, reverse
        As in :func:`forward`.

    Returns
    -------
    dict with keys
        ``"dX"`` (T, B, I), ``"dh0"`` (B, H), ``"dc0"`` (B, H) or None,
        ``"dW_ih"`` (G*H, I), ``"dW_hh"`` (G*H, H), ``"db_ih"`` (G*H,),
        ``"db_hh"`` (G*H,), ``"dw_peep"`` (3H,) for ``lstm_peephole`` else None,
        ``"dW_hr"`` (P, H) with a projection else None.
    """
    c0, w_peep, lengths = _prepare(cell, X, W_hh, c0, w_peep, lengths)
    options = {"c0": c0, "w_peep": w_peep, "W_hr": W_hr, "lengths": lengths}
    out = forward(cell, X, h0, W_ih, W_hh, b_ih, b_hh, reverse=reverse, **options)
    _, step_backward = _STEPS[cell]
    p = _Params(W_ih, W_hh, b_ih, b_hh, w_peep, W_hr)
    Y, gates, C = out["Y"], out["gates"], out["C"]
    T, B, _ = X.shape

    dX = np.zeros_like(X)
    grads = {"W_ih": np.zeros_like(W_ih), "W_hh": np.zeros_like(W_hh)}
    grads.update(b_ih=np.zeros_like(b_ih), b_hh=np.zeros_like(b_hh))
    if w_peep is not None:
        grads["w_peep"] = np.zeros_like(w_peep)
    if W_hr is not None:
        grads["W_hr"] = np.zeros_like(W_hr)
    # Gradient w.r.t. the running state after step s. A row that has not started
    # yet (in backward order) still holds dh_n, which is where h_n came from.
    dh = dh_n.copy()  # (B, H)
    dc = None
    if c0 is not None:
        dc = np.zeros_like(c0) if dc_n is None else dc_n.copy()

    for s in reversed(range(T)):
        rows, t = _active(lengths, s, reverse)
        # The state before step s: h0 at the first step, else the previous output.
        if s == 0:
            h_prev = h0[rows]
            c_prev = c0[rows] if c0 is not None else None
        else:
            t_prev = t + 1 if reverse else t - 1
            h_prev = Y[t_prev, rows]
            c_prev = C[t_prev, rows] if C is not None else None
        c_t = C[t, rows] if C is not None else None
        dc_t = dc[rows] if dc is not None else None

        dh_t = dh[rows] + dY[t, rows]  # from the future and from the output
        dx, dh_prev, dc_prev, step_grads = step_backward(
            dh_t, dc_t, X[t, rows], h_prev, c_prev, gates[t, rows], c_t, p
        )
        dX[t, rows] = dx
        dh[rows] = dh_prev
        if dc is not None:
            dc[rows] = dc_prev
        for name, g in step_grads.items():
            grads[name] += g

    return {
        "dX": dX,
        "dh0": dh,
        "dc0": dc,
        "dW_ih": grads["W_ih"],
        "dW_hh": grads["W_hh"],
        "db_ih": grads["b_ih"],
        "db_hh": grads["b_hh"],
        "dw_peep": grads.get("w_peep"),
        "dW_hr": grads.get("W_hr"),
    }
