"""Multi-layer recurrent layers: ``RNN``, ``LSTM`` and ``GRU`` (PyTorch-shaped).

Notation: T steps, B batch, I input size, H hidden size, L layers, D directions
(2 if bidirectional else 1), G gates per cell.

Each layer and direction is ONE autograd node (:class:`fastrnn._recurrent_fn.Recurrent`)
that runs the whole sequence in a Cython kernel (:func:`fastrnn.functional.forward`)
and backpropagates through time in one kernel call; a bidirectional layer is two
nodes whose outputs are concatenated. Parameter names, shapes, gate order and init
are PyTorch's, so ``load_state_dict({k: v.numpy() for k, v in
torch_model.state_dict().items()})`` works and outputs match PyTorch.

Reference implementation equivalent to ``output, h_n = rnn(x, h0)`` (time-major)::

    for layer in range(L):
        outs = []
        for d in range(D):                       # d = 1 runs each sequence backwards
            Y, h_n[layer*D + d] = functional.forward(cell, x, h0[layer*D + d], ...)
            outs.append(Y)
        x = concat(outs, axis=-1)                # (T, B, D*H)
        if training and layer < L - 1:
            x = dropout(x, p)
    output = x
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn import _recurrent_fn, _threads
from fastrnn._shape_ops import cat, stack
from fastrnn.functional import GATE_COUNT
from fastrnn.nn import functional as F
from fastrnn.nn import init
from fastrnn.nn.module import Module, Parameter
from fastrnn.tensor import Tensor, get_default_dtype, no_grad

__all__ = ["GRU", "LSTM", "RNN", "RNNBase", "CELL_ALIASES", "recurrent_layer"]

DIRECTIONS = ("forward", "reverse")


def _as_input(name: str, value: Any, dtype: np.dtype) -> Tensor:
    """A floating Tensor of the model's dtype (ndarrays become constants)."""
    t = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
    if t.dtype != dtype:
        raise TypeError(
            f"expected {name} to have the model's dtype {dtype}, got {t.dtype} "
            f"(convert the input, or the model with .to(dtype))"
        )
    return t


def _as_lengths(lengths: Any) -> np.ndarray | None:
    """Lengths from a list, ndarray or Tensor as an int64 array (checked by the kernel)."""
    if lengths is None:
        return None
    array = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"expected integer lengths, got dtype {array.dtype}")
    return array.astype(np.int64)


def _check_positive(**sizes: Any) -> None:
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"expected {name} to be an int, got {value!r}")
        if value <= 0:
            raise ValueError(f"expected {name} > 0, got {value}")


def rnn_cell_name(nonlinearity: str) -> str:
    """Kernel cell name of a vanilla RNN layer or cell ("rnn_tanh" / "rnn_relu")."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(
            f"expected nonlinearity 'tanh' or 'relu', got {nonlinearity!r}"
        )
    return f"rnn_{nonlinearity}"


def gru_cell_name(reset_after: bool, variant: str | None) -> str:
    """Kernel cell name of a GRU layer or cell: "gru", "gru_cho" or "gru_minimal"."""
    if variant not in (None, "minimal"):
        raise ValueError(f"expected variant None or 'minimal', got {variant!r}")
    if variant == "minimal" and not reset_after:
        raise ValueError(
            "expected reset_after=True with variant='minimal' (the minimal GRU "
            "has no reset gate), got reset_after=False"
        )
    return "gru_minimal" if variant else ("gru" if reset_after else "gru_cho")


class RNNBase(Module):
    """Shared machinery of :class:`RNN`, :class:`LSTM` and :class:`GRU`.

    Parameters
    ----------
    cell : str
        A kernel cell of :mod:`fastrnn.functional` (``"lstm"``, ``"gru_cho"``, ...).
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
    dtype
        As in PyTorch; ``dtype`` is float32 (default) or float64.
    proj_size : int, default 0
        LSTM cells only: project each layer's state to P = proj_size < H units.

    Attributes
    ----------
    weight_ih_l{k}{_reverse} : Parameter of shape (G*H, I) for k = 0, else (G*H, D*P)
    weight_hh_l{k}{_reverse} : Parameter of shape (G*H, P)
    bias_ih_l{k}{_reverse}, bias_hh_l{k}{_reverse} : Parameter of shape (G*H,)
        (absent with ``bias=False``)
    weight_peep_l{k}{_reverse} : Parameter of shape (3H,) ``[p_i, p_f, p_o]``,
        peephole LSTMs only
    weight_hr_l{k}{_reverse} : Parameter of shape (P, H), with ``proj_size > 0`` only

    P is ``proj_size`` if it is set, else H.

    All are initialised U(-1/sqrt(H), 1/sqrt(H)) from :mod:`fastrnn.random`, as PyTorch.
    """

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: DTypeLike | None = None,
        proj_size: int = 0,
    ) -> None:
        super().__init__()
        if cell not in GATE_COUNT:
            raise ValueError(f"expected cell in {tuple(GATE_COUNT)}, got {cell!r}")
        _check_positive(
            input_size=input_size, hidden_size=hidden_size, num_layers=num_layers
        )
        if isinstance(proj_size, bool) or not isinstance(proj_size, (int, np.integer)):
            raise TypeError(f"expected proj_size to be an int, got {proj_size!r}")
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(
                f"expected 0 <= proj_size < hidden_size={hidden_size}, got {proj_size}"
            )
        if proj_size and not cell.startswith("lstm"):
            raise ValueError(
                f"expected proj_size=0 for cell {cell!r} (only LSTMs project their "
                f"state), got {proj_size}"
            )
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"expected dropout to be a float, got {dropout!r}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"expected dropout in [0, 1], got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout acts between recurrent layers, so non-zero dropout expects "
                f"num_layers greater than 1, got dropout={dropout} and num_layers=1",
                stacklevel=3,
            )
        dt = np.dtype(dtype or get_default_dtype())
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"expected dtype float32 or float64, got {dt}")
        self.cell = cell
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.proj_size = int(proj_size)
        D = 2 if bidirectional else 1
        H = self.hidden_size
        P = self.state_size
        G = GATE_COUNT[cell]
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else P * D
            for d in range(D):
                sfx = f"l{layer}{'_reverse' if d == 1 else ''}"
                shapes = {
                    f"weight_ih_{sfx}": (G * H, layer_input),
                    f"weight_hh_{sfx}": (G * H, P),
                }
                if self.bias:
                    shapes[f"bias_ih_{sfx}"] = (G * H,)
                    shapes[f"bias_hh_{sfx}"] = (G * H,)
                if cell == "lstm_peephole":
                    shapes[f"weight_peep_{sfx}"] = (3 * H,)
                if self.proj_size:
                    shapes[f"weight_hr_{sfx}"] = (P, H)
                for name, shape in shapes.items():
                    setattr(self, name, Parameter(np.empty(shape, dtype=dt)))
                self._all_weights.append(list(shapes))
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def is_lstm(self) -> bool:
        return self.cell.startswith("lstm")

    @property
    def state_size(self) -> int:
        """P, the units of h (and of each direction's output): proj_size or hidden_size."""
        return self.proj_size or self.hidden_size

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """Parameters per layer and direction, in PyTorch's order."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @no_grad()
    def reset_parameters(self) -> None:
        """Redraw every parameter from U(-1/sqrt(H), 1/sqrt(H)), as PyTorch."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _weights(self, k: int) -> tuple[Any, ...]:
        """(W_ih, W_hh, b_ih, b_hh, w_peep, W_hr) of layer-direction ``k`` (None if
        absent)."""
        layer, d = divmod(k, self.num_directions)
        sfx = f"l{layer}{'_reverse' if d == 1 else ''}"
        get = self._parameters.get
        return (
            get(f"weight_ih_{sfx}"),
            get(f"weight_hh_{sfx}"),
            get(f"bias_ih_{sfx}"),
            get(f"bias_hh_{sfx}"),
            get(f"weight_peep_{sfx}"),
            get(f"weight_hr_{sfx}"),
        )

    def _state_input(self, name: str, value: Any, batch: int | None) -> Tensor | None:
        """Check an initial state of shape (L*D, B, S) (or (L*D, S) unbatched), where S
        is P for h0 and H for c0."""
        if value is None:
            return None
        t = _as_input(name, value, self._dtype())
        LD = self.num_layers * self.num_directions
        size, what = (self.hidden_size, "hidden_size")
        if name == "h0" and self.proj_size:
            size, what = (self.proj_size, "proj_size")
        want = (LD, size) if batch is None else (LD, batch, size)
        if t.shape != want:
            raise ValueError(
                f"expected {name} of shape {want} (num_layers*num_directions, "
                f"{'' if batch is None else 'batch, '}{what}), got {t.shape}"
            )
        return t if batch is not None else t.unsqueeze(1)

    def _dtype(self) -> np.dtype:
        return self.weight_ih_l0.dtype

    def _run(
        self, input: Any, h0: Any, c0: Any, lengths: Any
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """The shared forward: returns (output, h_n, c_n or None)."""
        x = _as_input("input", input, self._dtype())
        if x.ndim not in (2, 3):
            raise ValueError(
                f"expected input of 3 dimensions ({'B, T' if self.batch_first else 'T, B'}"
                f", input_size) or 2 (unbatched), got shape {x.shape}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected input.shape[-1] == input_size={self.input_size}, "
                f"got shape {x.shape}"
            )
        batched = x.ndim == 3
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (T, B, I)
        B = x.shape[1] if batched else None
        h0t = self._state_input("h0", h0, B)
        c0t = self._state_input("c0", c0, B) if self.is_lstm else None
        lens = _as_lengths(lengths)
        if lens is not None and not batched:
            raise ValueError("expected lengths=None for unbatched (2-D) input")
        n_threads = _threads.get_num_threads()
        D = self.num_directions
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            outputs = []
            for d in range(D):
                k = layer * D + d
                out = _recurrent_fn.Recurrent.apply(
                    x,
                    None if h0t is None else h0t[k],
                    None if c0t is None else c0t[k],
                    *self._weights(k),
                    self.cell,
                    lens,
                    d == 1,
                    n_threads,
                    (self, layer, DIRECTIONS[d]),
                )
                outputs.append(out[0])
                h_n.append(out[1])
                if self.is_lstm:
                    c_n.append(out[2])
            x = outputs[0] if D == 1 else cat(outputs, dim=2)
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h = stack(h_n, 0)
        c = stack(c_n, 0) if self.is_lstm else None
        if not batched:
            x, h = x.squeeze(1), h.squeeze(1)
            c = c.squeeze(1) if c is not None else None
        elif self.batch_first:
            x = x.transpose(0, 1)
        return x, h, c

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


class RNN(RNNBase):
    r"""Multi-layer Elman RNN with tanh or ReLU non-linearity.

    .. math::
        h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    Parameters
    ----------
    input_size, hidden_size : int
    num_layers : int, default 1
    nonlinearity : ``"tanh"`` (default) or ``"relu"``
    bias : bool, default True
    batch_first : bool, default False
        Input and output are (B, T, .) instead of (T, B, .); states stay (L*D, B, H).
    dropout : float, default 0
        Dropout on the outputs of every layer but the last, in training mode only.
    bidirectional : bool, default False
    dtype : float32 (default) or float64

    Call
    ----
    ``output, h_n = rnn(input, h0=None, lengths=None)``

    input : Tensor or ndarray of shape (T, B, I) ((B, T, I) with batch_first), or
        (T, I) unbatched
    h0 : (L*D, B, H), or None for zeros
    lengths : (B,) ints (list, ndarray or Tensor) in [1, T], for padded batches:
        outputs past each length are zero, h_n is the state at each sequence's last
        valid step, and the reverse direction runs backwards within each length
        (PyTorch's ``pack_padded_sequence(enforce_sorted=False)`` semantics)
    output : (T, B, D*H) ((B, T, D*H) with batch_first)
    h_n : (L*D, B, H), index ``layer*D + direction`` as PyTorch

    Parameters are named and shaped as PyTorch's (see :class:`RNNBase`), all
    initialised U(-1/sqrt(H), 1/sqrt(H)).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(
            rnn_cell_name(nonlinearity),
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
        )
        self.nonlinearity = nonlinearity

    def forward(
        self, input: Any, hx: Any = None, lengths: ArrayLike | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None, lengths)
        return output, h_n

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class LSTM(RNNBase):
    r"""Multi-layer long short-term memory (LSTM) RNN, gates i, f, g, o (PyTorch).

    .. math::
        i_t = \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t = \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t = \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t = \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t = f_t c_{t-1} + i_t g_t, \qquad h_t = o_t \tanh(c_t)

    With ``peephole=True`` (Gers & Schmidhuber) diagonal peepholes
    ``weight_peep_l{k}{_reverse} = [p_i, p_f, p_o]`` of shape (3H,) add ``p_i c_{t-1}``
    to the i pre-activation, ``p_f c_{t-1}`` to f and ``p_o c_t`` to o; they are
    initialised U(-1/sqrt(H), 1/sqrt(H)) like the other parameters and registered
    after each layer-direction's biases. (PyTorch has no peephole LSTM.)

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
    dtype
        As :class:`RNN`.
    proj_size : int, default 0
        If > 0 (and < hidden_size), each layer's state is projected to P = proj_size
        units, as PyTorch: ``h_t = W_hr (o_t \tanh(c_t))`` with
        ``weight_hr_l{k}{_reverse}`` of shape (P, H); the recurrent product and the
        next layer then read P units instead of H (fewer weights and flops per step).
    peephole : bool, default False

    Call
    ----
    ``output, (h_n, c_n) = lstm(input, (h0, c0)=None, lengths=None)``; shapes as
    :class:`RNN` with P = proj_size (or H) units in h0, h_n and output (D*P), and
    ``c0``, ``c_n`` (L*D, B, H). Either of h0, c0 may be None (zeros).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        peephole: bool = False,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__(
            "lstm_peephole" if peephole else "lstm",
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
            proj_size,
        )
        self.peephole = bool(peephole)

    def forward(
        self, input: Any, hx: Any = None, lengths: ArrayLike | Tensor | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        h0 = c0 = None
        if hx is not None:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(
                    f"expected hx to be a tuple (h0, c0), got {type(hx).__name__}"
                )
            h0, c0 = hx
        output, h_n, c_n = self._run(input, h0, c0, lengths)
        assert c_n is not None
        return output, (h_n, c_n)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if self.peephole:
            s += ", peephole=True"
        return s


class GRU(RNNBase):
    r"""Multi-layer gated recurrent unit (GRU) RNN, gates r, z, n (PyTorch).

    .. math::
        r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t = \tanh(W_{in} x_t + b_{in} + r_t (W_{hn} h_{t-1} + b_{hn})) \\
        h_t = (1 - z_t) n_t + z_t h_{t-1}

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
    dtype
        As :class:`RNN`.
    reset_after : bool, default True
        True: PyTorch/cuDNN form above. False: Cho et al. (2014), the reset gate
        applies before the product, ``n_t = tanh(W_in x_t + b_in + W_hn (r_t h_{t-1})
        + b_hn)`` (same parameters and shapes).
    variant : None or ``"minimal"``
        ``"minimal"``: a GRU without reset gate (r = 1), gates z, n, so every weight
        has 2H rows instead of 3H. Combined with ``reset_after=False`` it is an error.

    Call
    ----
    ``output, h_n = gru(input, h0=None, lengths=None)``; shapes as :class:`RNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        reset_after: bool = True,
        variant: str | None = None,
        dtype: DTypeLike | None = None,
    ) -> None:
        cell = gru_cell_name(reset_after, variant)
        super().__init__(
            cell,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            dtype,
        )
        self.reset_after = bool(reset_after)
        self.variant = variant

    def forward(
        self, input: Any, hx: Any = None, lengths: ArrayLike | Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        output, h_n, _ = self._run(input, hx, None, lengths)
        return output, h_n

    def extra_repr(self) -> str:
        s = super().extra_repr()
        if not self.reset_after:
            s += ", reset_after=False"
        if self.variant is not None:
            s += f", variant={self.variant!r}"
        return s


#: Short names accepted wherever a cell is chosen by name (CLI, task models).
CELL_ALIASES: dict[str, str] = {
    "rnn": "rnn_tanh",
    "tanh": "rnn_tanh",
    "relu": "rnn_relu",
    "peephole": "lstm_peephole",
    "cho": "gru_cho",
    "minimal": "gru_minimal",
}


def recurrent_layer(
    cell: str, input_size: int, hidden_size: int, **kwargs: Any
) -> RNNBase:
    """Build the multi-layer recurrent module for a kernel cell name.

    Parameters
    ----------
    cell : str
        One of :data:`fastrnn.functional.CELLS` (``"rnn_tanh"``, ``"rnn_relu"``,
        ``"lstm"``, ``"lstm_peephole"``, ``"gru"``, ``"gru_cho"``,
        ``"gru_minimal"``) or an alias from :data:`CELL_ALIASES` (``"rnn"``, ...).
    input_size, hidden_size : int
    **kwargs
        ``num_layers``, ``bias``, ``batch_first``, ``dropout``, ``bidirectional``,
        ``dtype`` as for :class:`RNN` / :class:`LSTM` / :class:`GRU`.

    Returns
    -------
    RNN, LSTM or GRU
        With ``module.cell == canonical cell name``.

    >>> recurrent_layer("gru_cho", 8, 16, num_layers=2).cell
    'gru_cho'
    """
    name = CELL_ALIASES.get(cell, cell)
    if name in ("rnn_tanh", "rnn_relu"):
        return RNN(input_size, hidden_size, nonlinearity=name[4:], **kwargs)
    if name in ("lstm", "lstm_peephole"):
        return LSTM(input_size, hidden_size, peephole=name == "lstm_peephole", **kwargs)
    if name in ("gru", "gru_cho", "gru_minimal"):
        return GRU(
            input_size,
            hidden_size,
            reset_after=name != "gru_cho",
            variant="minimal" if name == "gru_minimal" else None,
            **kwargs,
        )
    choices = sorted({*GATE_COUNT, *CELL_ALIASES})
    raise ValueError(f"expected cell in {choices}, got {cell!r}")
