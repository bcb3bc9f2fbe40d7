"""Validated functional interface to the recurrent kernels.

This is the line between Python and Cython (scikit-learn's ``_loss`` split): it checks
every argument, makes arrays C-contiguous, dispatches on dtype (float32 or float64),
allocates outputs and workspaces, and calls a kernel in ``fastrnn._kernels``.  Nothing
above this module touches a pointer; nothing below it checks input.

Notation: T steps, B batch, I input size, H hidden size, G gates per cell; arrays are
time-major ``(T, B, .)``.  Parameters use PyTorch's layout: ``W_ih (G*H, I)``,
``W_hh (G*H, H)``, ``b_ih, b_hh (G*H,)``, gate blocks stacked in PyTorch's order.

Cells (``cell`` argument of :func:`forward`)::

    "rnn_tanh", "rnn_relu"   G=1  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    "lstm"                   G=4  gates i, f, g, o (PyTorch)
    "lstm_peephole"          G=4  plus diagonal peepholes w_peep (3H,) = [p_i, p_f, p_o]:
                                  c_{t-1} into i and f, c_t into o
    either LSTM with W_hr        a projected state (PyTorch's proj_size P < H):
                                  h_t = W_hr (o * tanh(c_t)), W_hr (P, H), W_hh (G*H, P);
                                  h0, h_n, Y have P units, c0, c_n, gates stay H
    "gru"                    G=3  PyTorch form r, z, n: n = tanh(W_in x + b_in + r*(W_hn h + b_hn))
    "gru_cho"                G=3  Cho et al. 2014: n = tanh(W_in x + b_in + W_hn (r*h) + b_hn)
    "gru_minimal"            G=2  update gate only (z, n), i.e. a GRU with r = 1

Variable lengths: ``lengths`` (B,) in [1, T].  Steps past a sequence's length output zeros
and leave its state unchanged, so ``h_n`` is the state at its last valid step.  With
``reverse=True`` each sequence runs backwards within its own length (t = len-1 ... 0).
"""

from __future__ import annotations

import math
import sys
import threading
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fastrnn import _threads
from fastrnn._kernels import load_kernel
from fastrnn._validation import (
    as_float_array,
    check_lengths,
    check_shape,
    common_dtype,
    contiguous,
)

Array = NDArray[np.floating]

GATE_NAMES: dict[str, tuple[str, ...]] = {
    "rnn_tanh": (),
    "rnn_relu": (),
    "lstm": ("i", "f", "g", "o"),
    "lstm_peephole": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "gru_cho": ("r", "z", "n"),
    "gru_minimal": ("z", "n"),
}
GATE_COUNT: dict[str, int] = {c: max(1, len(g)) for c, g in GATE_NAMES.items()}
CELLS: tuple[str, ...] = tuple(GATE_NAMES)
_GRU_VARIANT = {"gru": 0, "gru_cho": 1, "gru_minimal": 2}

# Scratch arrays of backward (pre-activation gradients, saved states: several MB a call)
# are kept per thread and reused: freshly allocated, every call page-faulted them in
# again, which cost a fifth of a small LSTM's backward (benchmarks/README.md).
_scratch = threading.local()


def _workspace(name: str, shape: tuple[int, ...], dtype) -> Array:
    """An uninitialised scratch array, reused between calls on this thread."""
    n, key = math.prod(shape), (name, np.dtype(dtype))
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = {}
    buf = buffers.get(key)
    if buf is None or buf.size < n:
        buf = buffers[key] = np.empty(n, dtype)
    return buf[:n].reshape(shape)


# Kernel outputs (Y, gates, cell states, dX: several MB each) are recycled the same way,
# but only once nothing references them any more: a fresh np.empty of that size is a new
# mmap that the kernel must fault in and zero on first touch, ~5% of a char-LM training
# step (benchmarks/README.md).  A pooled buffer is handed out again only when the pool
# holds the sole reference to it, so arrays a caller (or a ForwardState, or a Tensor)
# still holds are never overwritten.
_RECYCLE_MIN_BYTES = 1 << 20  # smaller arrays come from malloc's free lists anyway
_RECYCLE_POOL = 8  # buffers kept per thread


def _refs_when_free() -> int:
    """sys.getrefcount(pool[i]) of a buffer only the pool holds (2 on CPython: the
    list's slot and the call's argument), measured rather than assumed."""
    probe = [np.empty(1)]
    return sys.getrefcount(probe[0])


_FREE = _refs_when_free()


def _recycled(shape: tuple[int, ...], dtype) -> Array:
    """An uninitialised array for a kernel output: an unreferenced pooled buffer of the
    same size and dtype if this thread has one, else a new (pooled) one."""
    dtype = np.dtype(dtype)
    n = math.prod(shape)
    if n * dtype.itemsize < _RECYCLE_MIN_BYTES:
        return np.empty(shape, dtype)
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = []
    first_free = None  # least recently used unreferenced buffer, evicted if full
    for i in range(len(pool)):
        if sys.getrefcount(pool[i]) != _FREE:
            continue
        if pool[i].size == n and pool[i].dtype == dtype:
            buf = pool.pop(i)
            pool.append(buf)  # most recently used last
            return buf.reshape(shape)
        if first_free is None:
            first_free = i
    buf = np.empty(n, dtype)
    if len(pool) >= _RECYCLE_POOL:
        if first_free is None:  # all in use: hand out an unpooled array
            return buf.reshape(shape)
        del pool[first_free]
    pool.append(buf)
    return buf.reshape(shape)


def clear_workspace() -> None:
    """Release this thread's scratch arrays and recycled output buffers (both are kept
    for the next call); arrays still referenced elsewhere stay valid."""
    _scratch.buffers = {}
    _scratch.pool = []


@dataclass(frozen=True, eq=False)
class ForwardState:
    """What :func:`backward` needs, and what tracing and the explorer show.

    ``gates`` holds the post-activation gate values (T, B, G*H), stored at the time index
    they belong to (zero past each length); ``C`` the LSTM cell states (T, B, H);
    ``aux`` (T, B, H) a GRU's extra saved term: ``W_hn h_{t-1} + b_hn`` for ``"gru"``,
    ``r * h_{t-1}`` for ``"gru_cho"``, zeros for ``"gru_minimal"``; with a projection
    (``W_hr`` of shape (P, H)) ``M`` (T, B, H) holds ``o * tanh(c_t)`` before it and
    ``Y`` (T, B, P) the projected states.  The arrays belong to this state; a later call
    never overwrites them.
    """

    cell: str
    X: Array
    h0: Array
    c0: Array | None
    W_ih: Array
    W_hh: Array
    w_peep: Array | None
    has_bias: bool
    lengths: NDArray[np.int64]
    reverse: bool
    n_threads: int
    Y: Array
    gates: Array | None
    C: Array | None
    aux: Array | None
    W_hr: Array | None = None
    M: Array | None = None

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATE_NAMES[self.cell]

    @property
    def hidden_size(self) -> int:
        """H, the units of the cell (and of the gates): ``W_hh.shape[0] // G``."""
        return self.W_hh.shape[0] // GATE_COUNT[self.cell]

    def gate(self, name: str) -> Array:
        """One gate's post-activation values, a (T, B, H) view of ``gates``."""
        names = self.gate_names
        if name not in names:
            raise KeyError(
                f"expected one of {names} for cell {self.cell!r}, got {name!r}"
            )
        H = self.hidden_size
        k = names.index(name)
        assert self.gates is not None
        return self.gates[:, :, k * H : (k + 1) * H]


@dataclass(frozen=True, eq=False)
class Gradients:
    """Gradients returned by :func:`backward`; ``None`` where a cell has no such input.

    ``dH`` (T, B, H) is the total gradient dL/dh_t at each step (from the output and from
    later steps; zero past each length), only with ``backward(..., return_dH=True)``: it is
    what the tracer turns into ||dL/dh_t|| to show gradients vanishing or exploding.
    With a projection, ``dW_hr`` (P, H), and ``dh0``, ``dW_hh`` and ``dH`` have P units.
    """

    dX: Array
    dh0: Array
    dc0: Array | None
    dW_ih: Array
    dW_hh: Array
    db_ih: Array | None
    db_hh: Array | None
    dw_peep: Array | None
    dH: Array | None = None
    dW_hr: Array | None = None

    def as_dict(self) -> dict[str, Array]:
        """Non-None gradients keyed by field name (``"dX"``, ``"dW_ih"``, ...)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }


def _prepare(
    cell: str,
    X: ArrayLike,
    h0: ArrayLike | None,
    c0: ArrayLike | None,
    W_ih: ArrayLike,
    W_hh: ArrayLike,
    b_ih: ArrayLike | None,
    b_hh: ArrayLike | None,
    w_peep: ArrayLike | None,
    lengths: ArrayLike | None,
    W_hr: ArrayLike | None = None,
) -> dict:
    """Validate and convert all forward inputs; returns contiguous arrays of one dtype.

    ``H`` is the cell size and ``P`` the state size: ``P == H`` unless ``W_hr`` (P, H)
    projects an LSTM's state.
    """
    if cell not in GATE_NAMES:
        raise ValueError(f"expected cell to be one of {CELLS}, got {cell!r}")
    is_lstm = cell.startswith("lstm")
    G = GATE_COUNT[cell]
    arrays = {"X": as_float_array("X", X)}
    arrays["W_ih"] = as_float_array("W_ih", W_ih)
    arrays["W_hh"] = as_float_array("W_hh", W_hh)
    check_shape("X", arrays["X"], (None, None, None), "(T, B, input_size)")
    T, B, I = arrays["X"].shape
    if T == 0:
        raise ValueError(f"expected at least one time step, got X of shape {(T, B, I)}")
    if B == 0:
        raise ValueError(f"expected a non-empty batch, got X of shape {(T, B, I)}")
    if I == 0:
        raise ValueError(f"expected input_size >= 1, got X of shape {(T, B, I)}")
    check_shape("W_hh", arrays["W_hh"], (None, None), "(G*hidden_size, hidden_size)")
    if W_hr is not None:
        if not is_lstm:
            raise ValueError(
                f"expected W_hr=None for cell {cell!r} (only LSTMs have a projection), "
                "got an array"
            )
        arrays["W_hr"] = as_float_array("W_hr", W_hr)
        check_shape("W_hr", arrays["W_hr"], (None, None), "(proj_size, hidden_size)")
        P, H = arrays["W_hr"].shape
        if not 0 < P < H:
            raise ValueError(
                f"expected W_hr of shape (proj_size, hidden_size) with "
                f"0 < proj_size < hidden_size, got {arrays['W_hr'].shape}"
            )
        layout = "(G*hidden_size, proj_size)"
    else:
        H = P = arrays["W_hh"].shape[1]
        layout = "(G*hidden_size, hidden_size)"
        if H == 0:
            raise ValueError(
                f"expected hidden_size >= 1, got W_hh of shape {arrays['W_hh'].shape}"
            )
    check_shape("W_hh", arrays["W_hh"], (G * H, P), f"{layout} for {cell} (G={G})")
    check_shape("W_ih", arrays["W_ih"], (G * H, I), f"for {cell} (G={G})")
    if (b_ih is None) != (b_hh is None):
        raise ValueError(
            "expected both b_ih and b_hh, or neither (bias=False), "
            f"got b_ih={'None' if b_ih is None else 'array'}, "
            f"b_hh={'None' if b_hh is None else 'array'}"
        )
    if b_ih is not None:
        arrays["b_ih"] = as_float_array("b_ih", b_ih)
        arrays["b_hh"] = as_float_array("b_hh", b_hh)
        check_shape("b_ih", arrays["b_ih"], (G * H,))
        check_shape("b_hh", arrays["b_hh"], (G * H,))
    if h0 is not None:
        arrays["h0"] = as_float_array("h0", h0)
        check_shape(
            "h0",
            arrays["h0"],
            (B, P),
            "(batch, proj_size)" if P < H else "(batch, hidden_size)",
        )
    if is_lstm and c0 is not None:
        arrays["c0"] = as_float_array("c0", c0)
        check_shape("c0", arrays["c0"], (B, H), "(batch, hidden_size)")
    elif c0 is not None:
        raise ValueError(
            f"expected c0=None for cell {cell!r} (only LSTMs have a cell "
            "state), got an array"
        )
    if cell == "lstm_peephole":
        if w_peep is None:
            raise ValueError(
                "expected w_peep of shape (3*hidden_size,) for lstm_peephole, got None"
            )
        arrays["w_peep"] = as_float_array("w_peep", w_peep)
        check_shape("w_peep", arrays["w_peep"], (3 * H,), "[p_i, p_f, p_o]")
    elif w_peep is not None:
        raise ValueError(f"expected w_peep=None for cell {cell!r}, got an array")
    dtype = common_dtype(arrays)
    out = {name: contiguous(a, dtype) for name, a in arrays.items()}
    has_bias = "b_ih" in out
    if not has_bias:
        out["b_ih"] = out["b_hh"] = np.zeros(G * H, dtype)
    out.setdefault("h0", np.zeros((B, P), dtype))
    if is_lstm:
        out.setdefault("c0", np.zeros((B, H), dtype))
    out["w_peep"] = out.get("w_peep")
    out["W_hr"] = out.get("W_hr")
    out.update(
        lengths=check_lengths(lengths, T, B),
        has_bias=has_bias,
        dtype=dtype,
        T=T,
        B=B,
        I=I,
        H=H,
        P=P,
        G=G,
    )
    return out


def forward(
    cell: str,
    X: ArrayLike,
    h0: ArrayLike | None,
    W_ih: ArrayLike,
    W_hh: ArrayLike,
    b_ih: ArrayLike | None = None,
    b_hh: ArrayLike | None = None,
    *,
    c0: ArrayLike | None = None,
    w_peep: ArrayLike | None = None,
    W_hr: ArrayLike | None = None,
    lengths: ArrayLike | None = None,
    reverse: bool = False,
    n_threads: int | None = None,
    need_backward: bool = True,
) -> tuple[Array, Array, Array | None, ForwardState | None]:
    """Run one recurrent layer (one direction) over a padded time-major batch.

    Parameters
    ----------
    cell : one of :data:`CELLS`
    X : ndarray of shape (T, B, I), float32 or float64
    h0, c0 : ndarray of shape (B, H) or None (zeros); c0 only for LSTM cells
    W_ih : ndarray of shape (G*H, I);  W_hh : ndarray of shape (G*H, H)
    b_ih, b_hh : ndarray of shape (G*H,), or both None for no bias
    w_peep : ndarray of shape (3H,) for ``"lstm_peephole"`` only
    W_hr : ndarray of shape (P, H), LSTM cells only: project the state to P < H units,
        ``h_t = W_hr (o * tanh(c_t))`` (PyTorch's ``proj_size``); then W_hh is
        (G*H, P), h0 (B, P), and Y, h_n have P units
    lengths : int array of shape (B,) in [1, T], or None for all T
    reverse : process each sequence backwards within its length
    n_threads : OpenMP threads (default :func:`fastrnn.get_num_threads`)
    need_backward : False for inference (PyTorch's ``no_grad`` forward): nothing is kept
        for :func:`backward`, and ``state`` is None.  The LSTM kernels then skip saving
        their (T, B, 4H) gates and (T, B, H) cell states and the GRU kernels their
        (T, B, H) auxiliary values: less memory and memory traffic per step (the vanilla
        RNN saves nothing beyond Y anyway).  The outputs are the same bit for bit.

    Returns
    -------
    Y : (T, B, H) outputs, zero past each length ((T, B, P) with W_hr)
    h_n : (B, H) state after each sequence's last processed step ((B, P) with W_hr)
    c_n : (B, H) LSTM cell state, or None
    state : :class:`ForwardState` for :func:`backward` (and for tracing), or None when
        ``need_backward`` is False
    """
    p = _prepare(cell, X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_peep, lengths, W_hr)
    n_threads = _threads.check_n_threads(n_threads)
    T, B, H, P, G, dtype = p["T"], p["B"], p["H"], p["P"], p["G"], p["dtype"]
    # outputs are uninitialised: the kernels write every entry (zeros past each length)
    Y = _recycled((T, B, P), dtype)
    h_n = np.empty((B, P), dtype)
    c_n = gates = C = aux = M = None
    kernel = load_kernel(cell)
    if cell.startswith("rnn"):
        # fmt: off
        kernel.rnn_forward(
            p["X"], p["h0"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], p["lengths"],
            reverse, cell == "rnn_relu", Y, h_n, n_threads)
        # fmt: on
    elif cell.startswith("lstm"):
        peephole = cell == "lstm_peephole"
        w_peep_arr = p["w_peep"] if peephole else np.zeros(3 * H, dtype)
        c_n = np.empty((B, H), dtype)
        # inference: gates is only step 1a's workspace and C stays empty (see the kernel)
        gates = _recycled((T, B, G * H), dtype)
        C = _recycled((T, B, H) if need_backward else (0, 0, 0), dtype)
        projected = p["W_hr"] is not None
        W_hr_arr = p["W_hr"] if projected else np.zeros((0, 0), dtype)
        M = _recycled((T, B, H) if projected else (0, 0, 0), dtype)
        # fmt: off
        kernel.lstm_forward(
            p["X"], p["h0"], p["c0"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"],
            w_peep_arr, peephole, W_hr_arr, p["lengths"], reverse, Y, h_n, c_n, gates,
            C, M, n_threads)
        # fmt: on
        if not projected:
            M = None
    else:
        gates = _recycled((T, B, G * H), dtype)
        aux = _recycled((T, B, H) if need_backward else (0, 0, 0), dtype)
        # fmt: off
        kernel.gru_forward(
            p["X"], p["h0"], p["W_ih"], p["W_hh"], p["b_ih"], p["b_hh"], p["lengths"],
            reverse, _GRU_VARIANT[cell], Y, h_n, gates, aux, n_threads)
        # fmt: on
    if not need_backward:
        return Y, h_n, c_n, None
    state = ForwardState(
        cell=cell,
        X=p["X"],
        h0=p["h0"],
        c0=p.get("c0"),
        W_ih=p["W_ih"],
        W_hh=p["W_hh"],
        w_peep=p["w_peep"],
        has_bias=p["has_bias"],
        lengths=p["lengths"],
        reverse=bool(reverse),
        n_threads=n_threads,
        Y=Y,
        gates=gates,
        C=C,
        aux=aux,
        W_hr=p["W_hr"],
        M=M,
    )
    return Y, h_n, c_n, state


def _grad_input(
    name: str, value: ArrayLike | None, shape: tuple[int, ...], dtype: np.dtype
) -> Array:
    """An incoming gradient: zeros when None, else checked for shape and dtype."""
    if value is None:
        return np.zeros(shape, dtype)
    array = as_float_array(name, value)
    check_shape(name, array, shape)
    if array.dtype != dtype:
        raise TypeError(
            f"expected {name} to have dtype {dtype} like the forward pass, "
            f"got {array.dtype}"
        )
    return contiguous(array, dtype)


def backward(
    state: ForwardState,
    dY: ArrayLike | None,
    dh_n: ArrayLike | None = None,
    dc_n: ArrayLike | None = None,
    *,
    return_dH: bool = False,
    n_threads: int | None = None,
) -> Gradients:
    """Backpropagation through time for a :func:`forward` call.

    Parameters
    ----------
    state : the :class:`ForwardState` returned by :func:`forward`
    dY : (T, B, H) gradient of the loss with respect to Y, or None (zeros); P units
        instead of H here and in dh_n with a projection.
        Entries past a sequence's length are ignored (those outputs are constant zero).
    dh_n, dc_n : (B, H) gradients with respect to the final states, or None (zeros)
    return_dH : also return ``dH`` (T, B, H), the total dL/dh_t per step (tracing)
    n_threads : default: the forward call's thread count

    Returns
    -------
    :class:`Gradients` with dX (T, B, I), dh0 (B, H), dc0, dW_ih, dW_hh, db_ih, db_hh
    (None without bias), dw_peep (peephole LSTM only) and dW_hr (projection only).
    """
    if not isinstance(state, ForwardState):
        raise TypeError(
            f"expected a ForwardState from fastrnn.functional.forward, "
            f"got {type(state).__name__}"
        )
    cell = state.cell
    T, B, I = state.X.shape
    H, P = state.hidden_size, state.h0.shape[1]
    G = GATE_COUNT[cell]
    dtype = state.Y.dtype
    dY = _grad_input("dY", dY, (T, B, P), dtype)
    dh_n = _grad_input("dh_n", dh_n, (B, P), dtype)
    is_lstm = cell.startswith("lstm")
    if is_lstm:
        dc_n = _grad_input("dc_n", dc_n, (B, H), dtype)
    elif dc_n is not None:
        raise ValueError(f"expected dc_n=None for cell {cell!r}, got an array")
    n_threads = (
        state.n_threads if n_threads is None else _threads.check_n_threads(n_threads)
    )
    dX = _recycled((T, B, I), dtype)
    dh0 = np.empty((B, P), dtype)
    dW_ih = np.empty((G * H, I), dtype)
    dW_hh = np.empty((G * H, P), dtype)
    db_ih = np.empty(G * H, dtype)
    db_hh = np.empty(G * H, dtype)
    dc0 = dw_peep = dW_hr = None
    dA = _workspace("dA", (T, B, G * H), dtype)
    Hprev = _workspace("Hprev", (T, B, P), dtype)
    dH = np.zeros((T, B, P) if return_dH else (0, 0, 0), dtype)
    kernel = load_kernel(cell)
    if cell.startswith("rnn"):
        # fmt: off
        kernel.rnn_backward(
            state.X, state.h0, state.W_ih, state.W_hh, state.lengths, state.reverse,
            cell == "rnn_relu", state.Y, dY, dh_n, dX, dh0, dW_ih, dW_hh, db_ih, db_hh,
            dA, Hprev, dH, n_threads)
        # fmt: on
    elif is_lstm:
        peephole = cell == "lstm_peephole"
        w_peep = state.w_peep if peephole else np.zeros(3 * H, dtype)
        dc0 = np.empty((B, H), dtype)
        dw_peep_buf = np.empty(3 * H, dtype)
        projected = state.W_hr is not None
        W_hr = state.W_hr if projected else np.zeros((0, 0), dtype)
        M = state.M if projected else np.zeros((0, 0, 0), dtype)
        dW_hr_buf = np.empty(W_hr.shape, dtype)
        dHt = _workspace("dHt", (T, B, P) if projected else (0, 0, 0), dtype)
        # fmt: off
        kernel.lstm_backward(
            state.X, state.h0, state.c0, state.W_ih, state.W_hh, w_peep, peephole,
            W_hr, state.lengths, state.reverse, state.Y, state.gates, state.C, M, dY,
            dh_n, dc_n, dX, dh0, dc0, dW_ih, dW_hh, db_ih, db_hh, dw_peep_buf,
            dW_hr_buf, dA, Hprev, dHt, dH, n_threads)
        # fmt: on
        if peephole:
            dw_peep = dw_peep_buf
        if projected:
            dW_hr = dW_hr_buf
    else:
        dA_hh = _workspace("dA_hh", (T, B, G * H), dtype)
        RH = _workspace("RH", (T, B, H), dtype)
        # fmt: off
        kernel.gru_backward(
            state.X, state.h0, state.W_ih, state.W_hh, state.lengths, state.reverse,
            _GRU_VARIANT[cell], state.Y, state.gates, state.aux, dY, dh_n, dX, dh0,
            dW_ih, dW_hh, db_ih, db_hh, dA, dA_hh, Hprev, RH, dH, n_threads)
        # fmt: on
    if not state.has_bias:
        db_ih = db_hh = None
    return Gradients(
        dX=dX,
        dh0=dh0,
        dc0=dc0,
        dW_ih=dW_ih,
        dW_hh=dW_hh,
        db_ih=db_ih,
        db_hh=db_hh,
        dw_peep=dw_peep,
        dH=dH if return_dH else None,
        dW_hr=dW_hr,
    )


def rnn_forward(
    X,
    h0,
    W_ih,
    W_hh,
    b_ih=None,
    b_hh=None,
    *,
    nonlinearity="tanh",
    lengths=None,
    reverse=False,
    n_threads=None,
):
    """Vanilla RNN; ``nonlinearity`` is ``"tanh"`` or ``"relu"``.

    Returns ``(Y, h_n, state)``; see :func:`forward` for shapes.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(
            f"expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}"
        )
    Y, h_n, _, state = forward(
        f"rnn_{nonlinearity}",
        X,
        h0,
        W_ih,
        W_hh,
        b_ih,
        b_hh,
        lengths=lengths,
        reverse=reverse,
        n_threads=n_threads,
    )
    return Y, h_n, state


def lstm_forward(
    X,
    h0,
    c0,
    W_ih,
    W_hh,
    b_ih=None,
    b_hh=None,
    *,
    w_peep=None,
    W_hr=None,
    lengths=None,
    reverse=False,
    n_threads=None,
):
    """LSTM (gates i, f, g, o); pass ``w_peep`` (3H,) for peephole connections and
    ``W_hr`` (P, H) for a projected state.

    Returns ``(Y, h_n, c_n, state)``; see :func:`forward` for shapes.
    """
    cell = "lstm" if w_peep is None else "lstm_peephole"
    return forward(
        cell,
        X,
        h0,
        W_ih,
        W_hh,
        b_ih,
        b_hh,
        c0=c0,
        w_peep=w_peep,
        W_hr=W_hr,
        lengths=lengths,
        reverse=reverse,
        n_threads=n_threads,
    )


def gru_forward(
    X,
    h0,
    W_ih,
    W_hh,
    b_ih=None,
    b_hh=None,
    *,
    variant="pytorch",
    lengths=None,
    reverse=False,
    n_threads=None,
):
    """GRU; ``variant`` is ``"pytorch"`` (reset after the product), ``"cho"`` or
    ``"minimal"`` (update gate only, G=2).

    Returns ``(Y, h_n, state)``; see :func:`forward` for shapes.
    """
    cells = {"pytorch": "gru", "cho": "gru_cho", "minimal": "gru_minimal"}
    if variant not in cells:
        raise ValueError(f"expected variant in {tuple(cells)}, got {variant!r}")
    Y, h_n, _, state = forward(
        cells[variant],
        X,
        h0,
        W_ih,
        W_hh,
        b_ih,
        b_hh,
        lengths=lengths,
        reverse=reverse,
        n_threads=n_threads,
    )
    return Y, h_n, state
