"""Single-step recurrent cells: ``RNNCell``, ``LSTMCell`` and ``GRUCell`` (PyTorch-shaped).

Notation: B batch, I input size, H hidden size, G gates per cell.

A cell call is one step (T = 1) of the same whole-sequence kernels the layers use,
recorded as one autograd node (:class:`fastrnn._recurrent_fn.RecurrentStep`), so cells
and layers share the verified math. Use cells for decoder loops, sampling and custom
recurrences; use :class:`~fastrnn.nn.LSTM` etc. when the whole input is known.

Reference implementation equivalent to a layer, with an LSTMCell::

    h, c = h0, c0
    for t in range(T):
        h, c = cell(x[t], (h, c))
        outputs.append(h)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from fastrnn import _recurrent_fn, _threads
from fastrnn.functional import GATE_COUNT
from fastrnn.nn import init
from fastrnn.nn.module import Module, Parameter
from fastrnn.nn.rnn import _as_input, _check_positive, gru_cell_name, rnn_cell_name
from fastrnn.tensor import Tensor, get_default_dtype, no_grad

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """Shared machinery of the cells.

    Attributes
    ----------
    weight_ih : Parameter of shape (G*H, I)
    weight_hh : Parameter of shape (G*H, H)
    bias_ih, bias_hh : Parameter of shape (G*H,), or None with ``bias=False``
    weight_peep : Parameter of shape (3H,), peephole LSTMCell only

    All are initialised U(-1/sqrt(H), 1/sqrt(H)) from :mod:`fastrnn.random`, as PyTorch.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        _check_positive(input_size=input_size, hidden_size=hidden_size)
        dt = np.dtype(dtype or get_default_dtype())
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"expected dtype float32 or float64, got {dt}")
        self.cell = cell
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.bias = bool(bias)
        GH = GATE_COUNT[cell] * self.hidden_size
        self.weight_ih = Parameter(np.empty((GH, self.input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((GH, self.hidden_size), dtype=dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty(GH, dtype=dt))
            self.bias_hh = Parameter(np.empty(GH, dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        if cell == "lstm_peephole":
            self.weight_peep = Parameter(np.empty(3 * self.hidden_size, dtype=dt))
        self.reset_parameters()

    @property
    def is_lstm(self) -> bool:
        return self.cell.startswith("lstm")

    @no_grad()
    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _step(self, input: Any, h: Any, c: Any) -> Any:
        dtype = self.weight_ih.dtype
        x = _as_input("input", input, dtype)
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input of shape (batch, {self.input_size}) or "
                f"({self.input_size},), got {x.shape}"
            )
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        want = (x.shape[0], self.hidden_size)
        states = []
        for name, value in (("h", h), ("c", c)):
            if value is None:
                states.append(None)
                continue
            t = _as_input(name, value, dtype)
            if t.shape != (want if batched else want[1:]):
                raise ValueError(
                    f"expected {name} of shape {want if batched else want[1:]}, "
                    f"got {t.shape}"
                )
            states.append(t if batched else t.unsqueeze(0))
        out = _recurrent_fn.RecurrentStep.apply(
            x,
            states[0],
            states[1],
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            self._parameters.get("weight_peep"),
            self.cell,
            _threads.get_num_threads(),
        )
        if batched:
            return out
        if isinstance(out, tuple):
            return tuple(o.squeeze(0) for o in out)
        return out.squeeze(0)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell: :math:`h' = \tanh(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})`.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default True
    nonlinearity : ``"tanh"`` (default) or ``"relu"``
    dtype : float32 (default) or float64

    Call
    ----
    ``h' = cell(input, h=None)``: input (B, I) or (I,), h and h' (B, H) or (H,);
    ``h=None`` means zeros.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(
            rnn_cell_name(nonlinearity), input_size, hidden_size, bias, dtype
        )
        self.nonlinearity = nonlinearity

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        return self._step(input, hx, None)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class LSTMCell(RNNCellBase):
    r"""A long short-term memory cell, gates i, f, g, o (PyTorch).

    .. math::
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}), \quad
        f = \sigma(\dots), \quad g = \tanh(\dots), \quad o = \sigma(\dots) \\
        c' = f c + i g, \qquad h' = o \tanh(c')

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default True
    peephole : bool, default False
        Diagonal peepholes ``weight_peep = [p_i, p_f, p_o]`` (3H,) as in
        :class:`~fastrnn.nn.LSTM`; initialised like the other parameters.
    dtype : float32 (default) or float64

    Call
    ----
    ``h', c' = cell(input, (h, c)=None)``; either state may be None (zeros).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        peephole: bool = False,
        dtype: DTypeLike | None = None,
    ) -> None:
        cell = "lstm_peephole" if peephole else "lstm"
        super().__init__(cell, input_size, hidden_size, bias, dtype)
        self.peephole = bool(peephole)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        h = c = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(
                    f"expected hx to be a tuple (h, c), got {type(hx).__name__}"
                )
            h, c = hx
        return self._step(input, h, c)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.peephole:
            s += ", peephole=True"
        return s


class GRUCell(RNNCellBase):
    r"""A gated recurrent unit cell, gates r, z, n (PyTorch).

    .. math::
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}), \quad
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r (W_{hn} h + b_{hn})), \qquad
        h' = (1 - z) n + z h

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool, default True
    reset_after, variant
        As :class:`~fastrnn.nn.GRU`: ``reset_after=False`` is Cho et al.'s form,
        ``variant="minimal"`` the GRU without reset gate (weights of 2H rows).
    dtype : float32 (default) or float64

    Call
    ----
    ``h' = cell(input, h=None)``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        reset_after: bool = True,
        variant: str | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        cell = gru_cell_name(reset_after, variant)
        super().__init__(cell, input_size, hidden_size, bias, dtype)
        self.reset_after = bool(reset_after)
        self.variant = variant

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        return self._step(input, hx, None)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if not self.reset_after:
            s += ", reset_after=False"
        if self.variant is not None:
            s += f", variant={self.variant!r}"
        return s
