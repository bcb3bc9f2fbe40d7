"""``Forecaster``: a recurrent model of real-valued sequences, one step ahead.

Notation: T steps, B batch, F features per step, H hidden size, L layers.

Architecture: ``x (T, B, F) -> RNN/LSTM/GRU (L layers of H) -> Linear -> (T, B, F)``,
where output ``t`` predicts ``x[t + 1]``. Train it one step ahead (teacher forcing)
on ``inputs = x[:-1]``, ``targets = x[1:]`` with MSE; :meth:`Forecaster.forecast`
then predicts several steps by feeding each prediction back as the next input.

It fits :class:`fastrnn.train.Trainer` as is: ``model(inputs)`` returns
``(predictions, state)`` and the loss is ``nn.MSELoss()``, with full or truncated
BPTT (the state is carried between windows).

Scale the data first (e.g. to zero mean and unit variance): the output layer is
linear but the recurrent state is bounded.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from fastrnn import nn
from fastrnn.nn import functional as F
from fastrnn.tensor import Tensor, get_default_dtype, no_grad

__all__ = ["Forecaster"]

LAYERS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Forecaster(nn.Module):
    """One-step-ahead forecaster for real-valued sequences, with multi-step rollout.

    Parameters
    ----------
    input_size : int, default 1
        F, features per time step (predicted back in full).
    hidden_size : int, default 64
    num_layers : int, default 1
    cell : {"lstm", "gru", "rnn"}, default "lstm"
    dropout : float, default 0
        Between stacked layers and on the last layer's output, in training only.
    dtype : float32 (default) or float64

    Attributes
    ----------
    rnn : RNN/LSTM/GRU (F -> H, L layers)
    head : Linear (H -> F)
    """

    def __init__(
        self,
        input_size: int = 1,
        hidden_size: int = 64,
        num_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        if cell not in LAYERS:
            raise ValueError(f"expected cell in {tuple(LAYERS)}, got {cell!r}")
        if isinstance(dropout, bool) or not 0 <= dropout < 1:
            raise ValueError(f"expected dropout in [0, 1), got {dropout!r}")
        dt = np.dtype(dtype or get_default_dtype())
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.dropout = float(dropout)
        between = self.dropout if num_layers > 1 else 0.0
        self.rnn = LAYERS[cell](
            input_size, hidden_size, num_layers, dropout=between, dtype=dt
        )
        self.head = nn.Linear(hidden_size, input_size, dtype=dt)

    # ---------------------------------------------------------------- config
    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-able dict (see :meth:`from_config`)."""
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "dropout": self.dropout,
            "dtype": str(self.head.weight.dtype),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Forecaster:
        """A new (freshly initialised) model from :meth:`config` output."""
        if not isinstance(config, dict):
            raise TypeError(f"expected a config dict, got {type(config).__name__}")
        allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
        unknown = sorted(set(config) - allowed)
        if unknown:
            raise ValueError(
                f"expected config keys among {sorted(allowed)}, got unknown {unknown}"
            )
        return cls(**config)

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"

    # --------------------------------------------------------------- forward
    def _as_series(self, name: str, x: Any) -> tuple[Tensor, bool]:
        """A (T, B, F) Tensor of the model's dtype; (T, F) input is one series."""
        t = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
        if not np.issubdtype(t.dtype, np.floating):
            raise TypeError(f"expected a floating {name}, got dtype {t.dtype}")
        dtype = self.head.weight.dtype
        if t.dtype != dtype:
            t = t.to(dtype)
        if t.ndim not in (2, 3) or t.shape[-1] != self.input_size or t.shape[0] == 0:
            raise ValueError(
                f"expected {name} of shape (T >= 1, B, {self.input_size}) or "
                f"(T >= 1, {self.input_size}), got {t.shape}"
            )
        if t.ndim == 2:
            return t.unsqueeze(1), False
        return t, True

    def forward(self, x: Any, state: Any = None) -> tuple[Tensor, Any]:
        """Predict each next step.

        Parameters
        ----------
        x : Tensor or array of shape (T, B, F)
        state : the recurrent state returned by a previous call, optional
            ``h`` (L, B, H), or ``(h, c)`` for LSTMs.

        Returns
        -------
        predictions : Tensor of shape (T, B, F), row t predicting ``x[t + 1]``
        state : the recurrent state after the last step
        """
        series, batched = self._as_series("x", x)
        if not batched:
            raise ValueError(
                f"expected x of shape (T, B, {self.input_size}) (time-major), "
                f"got {tuple(series.squeeze(1).shape)}"
            )
        out, state = self.rnn(series, state)  # (T, B, H)
        out = F.dropout(out, self.dropout, self.training)
        return self.head(out), state

    @no_grad()
    def forecast(self, history: Any, steps: int) -> NDArray[Any]:
        """Predict ``steps`` future values, feeding each prediction back as input.

        Runs in evaluation mode (no dropout) and restores the previous mode.

        Parameters
        ----------
        history : array of shape (T, B, F) or (T, F), T >= 1
            The observed past (scaled as in training).
        steps : int >= 1

        Returns
        -------
        ndarray of shape (steps, B, F) (or (steps, F) for 2-D history)
            ``out[0]`` predicts the step after ``history[-1]``.
        """
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
            raise TypeError(f"expected steps to be an int, got {steps!r}")
        if steps < 1:
            raise ValueError(f"expected steps >= 1, got {steps}")
        series, batched = self._as_series("history", history)
        was_training = self.training
        self.eval()
        try:
            pred, state = self.forward(series)
            current = pred[-1:]  # (1, B, F)
            outputs = [current.data[0]]
            for _ in range(steps - 1):
                current, state = self.forward(current, state)
                outputs.append(current.data[0])
        finally:
            self.train(was_training)
        result = np.stack(outputs)  # (steps, B, F)
        return result if batched else result[:, 0]
