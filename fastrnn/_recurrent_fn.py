"""One autograd node per recurrent layer and direction: the coarse recurrent op.

:class:`Recurrent` wraps :func:`fastrnn.functional.forward` and
:func:`fastrnn.functional.backward`, so a whole layer (all time steps, one direction)
is one node of the tape; ``nn.RNN``/``nn.LSTM``/``nn.GRU`` call it once per layer and
direction and the cells call it with ``T = 1``.

Tracing hook
------------
``_active_tracer`` is the one module-level switch of the glass box: ``None`` when no
``fastrnn.trace`` block is open (the node then checks this variable and does nothing
else), otherwise the open :class:`fastrnn.trace.Tracer`.  When it is set, forward hands
the kernel's :class:`~fastrnn.functional.ForwardState` to ``tracer.record(site, state)``,
which returns a record (or None for layers it does not watch); the node keeps that
record and its backward asks the kernel for ``dH`` (T, B, H) to fill ``grad_h_norm``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from numpy.typing import NDArray

from fastrnn import functional
from fastrnn.tensor import Context, Function

if TYPE_CHECKING:
    from fastrnn.trace import Tracer

Array = NDArray[Any]

#: The open tracer, or None when tracing is off (set only by ``fastrnn.trace``).
_active_tracer: Tracer | None = None


class Recurrent(Function):
    """``(Y, h_n[, c_n]) = recurrent(X, h0, c0, W_ih, W_hh, b_ih, b_hh, w_peep, ...)``.

    Positional arguments (Tensors, ndarrays or None where optional)::

        X (T, B, I); h0, c0 (B, H) or None (zeros; c0 for LSTM cells only);
        W_ih (G*H, I); W_hh (G*H, H); b_ih, b_hh (G*H,) or None; w_peep (3H,) or None;
        W_hr (P, H) or None (an LSTM's state projection: then h0, W_hh's columns,
        Y and h_n have P units); cell (str, a key of functional.CELLS); lengths (B,) int64 or None;
        reverse (bool); n_threads (int); site (anything hashable the tracer
        understands, e.g. ``(module, layer, direction)``, or None for "never trace").

    Returns ``(Y, h_n)`` for RNN and GRU cells and ``(Y, h_n, c_n)`` for LSTM cells.
    """

    @staticmethod
    def forward(
        ctx: Context,
        X: Array,
        h0: Array | None,
        c0: Array | None,
        W_ih: Array,
        W_hh: Array,
        b_ih: Array | None,
        b_hh: Array | None,
        w_peep: Array | None,
        W_hr: Array | None,
        cell: str,
        lengths: Array | None,
        reverse: bool,
        n_threads: int,
        site: Any,
    ) -> tuple[Array, ...]:
        tracer = _active_tracer
        traced = tracer is not None and site is not None
        # nothing to differentiate (no_grad, eval, generation): the inference kernels
        need_backward = traced or any(ctx.needs_input_grad)
        Y, h_n, c_n, state = functional.forward(
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
            need_backward=need_backward,
        )
        ctx.state = state
        ctx.record = None
        if traced:
            ctx.record = tracer.record(site, state)
        if c_n is None:
            return Y, h_n
        return Y, h_n, c_n

    @staticmethod
    def backward(
        ctx: Context,
        dY: Array | None,
        dh_n: Array | None,
        dc_n: Array | None = None,
    ) -> tuple[Array | None, ...]:
        record = ctx.record
        if record is None:
            grads = functional.backward(ctx.state, dY, dh_n, dc_n)
        else:
            grads = functional.backward(ctx.state, dY, dh_n, dc_n, return_dH=True)
            record.set_grad_h(grads.dH)
        return (
            grads.dX,
            grads.dh0,
            grads.dc0,
            grads.dW_ih,
            grads.dW_hh,
            grads.db_ih,
            grads.db_hh,
            grads.dw_peep,
            grads.dW_hr,
            None,
            None,
            None,
            None,
            None,
        )


class RecurrentStep(Function):
    """One time step of a cell: ``h' = step(x, h, c, W_ih, ...)`` (``(h', c')`` for LSTMs).

    The same kernels as :class:`Recurrent` with T = 1, so the cells share the verified
    whole-sequence math. Positional arguments::

        x (B, I); h, c (B, H) or None (zeros; c for LSTM cells only);
        W_ih, W_hh, b_ih, b_hh, w_peep as in Recurrent; cell (str); n_threads (int).

    Cells are not traced (``fastrnn.trace`` records whole layers).
    """

    @staticmethod
    def forward(
        ctx: Context,
        x: Array,
        h: Array | None,
        c: Array | None,
        W_ih: Array,
        W_hh: Array,
        b_ih: Array | None,
        b_hh: Array | None,
        w_peep: Array | None,
        cell: str,
        n_threads: int,
    ) -> Array | tuple[Array, Array]:
        _, h_n, c_n, state = functional.forward(
            cell,
            x[None],
            h,
            W_ih,
            W_hh,
            b_ih,
            b_hh,
            c0=c,
            w_peep=w_peep,
            n_threads=n_threads,
            need_backward=any(ctx.needs_input_grad),
        )
        ctx.state = state
        return h_n if c_n is None else (h_n, c_n)

    @staticmethod
    def backward(ctx: Context, dh: Array | None, dc: Array | None = None) -> tuple:
        grads = functional.backward(ctx.state, None, dh, dc)
        return (
            grads.dX[0],
            grads.dh0,
            grads.dc0,
            grads.dW_ih,
            grads.dW_hh,
            grads.db_ih,
            grads.db_hh,
            grads.dw_peep,
            None,
            None,
        )
