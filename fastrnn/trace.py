"""The glass box: record hidden states, gates and ||dL/dh_t|| of recurrent layers.

Usage::

    with fastrnn.trace(model) as tr:
        loss = criterion(model(x), y)
        loss.backward()
    rec = tr[("lstm", 0, "forward")]      # or tr[LayerKey("lstm", 0, "forward")]
    rec.h            # (T, B, H) hidden states h_t, time-major, zero past each length
    rec.c            # (T, B, H) LSTM cell states c_t (None for RNN/GRU)
    rec.gates["f"]   # (T, B, H) post-activation forget gate (LSTM: i, f, g, o;
                     #   GRU: r, z, n; minimal GRU: z, n; vanilla RNN: none)
    rec.lengths      # (B,) sequence lengths (all T without ``lengths=``)
    rec.grad_h_norm  # (T, B) ||dL/dh_t|| over units, after backward (else None)

Keys are :class:`LayerKey` ``(module, layer, direction)`` named tuples: ``module`` is
the dotted name of the ``nn.RNN``/``nn.LSTM``/``nn.GRU`` inside the traced model
(``"encoder.rnn"``), or the lower-case class name (``"lstm"``, ``"gru"``, ``"rnn"``)
when the traced model is itself the recurrent layer; ``layer`` counts from 0;
``direction`` is ``"forward"`` or ``"reverse"``. Arrays are always time-major and
indexed by real time, also for ``batch_first`` models and the reverse direction.

``grad_h_norm[t, b]`` is the norm of the TOTAL gradient of the loss with respect to
h_t (through the outputs, later steps and upper layers), from the kernel's backward
(:func:`fastrnn.functional.backward` with ``return_dH=True``); it is filled when the
backward pass runs, also after the ``with`` block has closed.

Every array is a copy, so later training steps never change a record. A layer called
several times inside one block (truncated BPTT chunks, a step-wise decoder) has one
record per call in :attr:`Tracer.calls`; ``tr[key]`` is the latest. Cells
(``nn.LSTMCell`` ...) are not traced.

Cost: when no block is open, each layer's autograd node checks a single module-level
variable (``fastrnn._recurrent_fn._active_tracer is None``) and nothing else; no array
is copied and backward does not compute ``dH``. One tracer is active per process; a
nested block replaces the outer one until it closes.

Note: ``fastrnn.trace`` is this function in the package namespace; import the classes
with ``from fastrnn.trace import Tracer, LayerTrace, LayerKey``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fastrnn import _recurrent_fn
from fastrnn.functional import ForwardState
from fastrnn.nn.module import Module
from fastrnn.nn.rnn import RNNBase

__all__ = ["LayerKey", "LayerTrace", "Tracer", "trace"]

Array = NDArray[np.floating]


class LayerKey(NamedTuple):
    """Which layer a record belongs to; compares equal to a plain tuple."""

    module: str
    layer: int
    direction: str


def _copy(array: Array) -> Array:
    """The one place records copy arrays (so tests can count copies)."""
    return np.array(array, copy=True)


@dataclass(eq=False)
class LayerTrace:
    """What one call of one layer-direction did (see the module docstring)."""

    key: LayerKey
    cell: str
    h: Array
    c: Array | None
    gates: dict[str, Array]
    lengths: NDArray[np.int64]
    grad_h_norm: Array | None = field(default=None)

    def gate(self, name: str) -> Array:
        """One gate's (T, B, H) post-activation values by name."""
        if name not in self.gates:
            raise KeyError(
                f"expected one of {tuple(self.gates)} for cell {self.cell!r}, "
                f"got {name!r}"
            )
        return self.gates[name]

    def set_grad_h(self, dH: Array) -> None:
        """Store ||dH_t|| over units from the kernel's (T, B, H) ``dH``."""
        self.grad_h_norm = np.linalg.norm(dH, axis=-1)


class Tracer:
    """Context manager collecting :class:`LayerTrace` records for a model's layers.

    Parameters
    ----------
    model : Module
        A model containing at least one ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` (or one
        of those itself). Only its own recurrent layers are recorded.
    """

    def __init__(self, model: Module) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"expected a fastrnn Module, got {type(model).__name__}")
        self._names: dict[int, str] = {}
        for name, module in model.named_modules():
            if isinstance(module, RNNBase):
                self._names[id(module)] = name or type(module).__name__.lower()
        if not self._names:
            raise ValueError(
                f"expected a model containing nn.RNN, nn.LSTM or nn.GRU layers, got "
                f"{type(model).__name__} without any"
            )
        self._model = model
        self._previous: Tracer | None = None
        self._open = False
        self.calls: list[LayerTrace] = []
        self._latest: dict[LayerKey, LayerTrace] = {}

    # ------------------------------------------------------------ recording
    def record(self, site: Any, state: ForwardState) -> LayerTrace | None:
        """Called by the layer's autograd node with the kernel's forward state."""
        module, layer, direction = site
        name = self._names.get(id(module))
        if name is None:
            return None
        key = LayerKey(name, layer, direction)
        rec = LayerTrace(
            key=key,
            cell=state.cell,
            h=_copy(state.Y),
            c=None if state.C is None else _copy(state.C),
            gates={g: _copy(state.gate(g)) for g in state.gate_names},
            lengths=_copy(state.lengths),
        )
        self.calls.append(rec)
        self._latest[key] = rec
        return rec

    def __enter__(self) -> Tracer:
        if self._open:
            raise RuntimeError("this tracer is already open")
        self._previous = _recurrent_fn._active_tracer
        _recurrent_fn._active_tracer = self
        self._open = True
        return self

    def __exit__(self, *exc: object) -> None:
        _recurrent_fn._active_tracer = self._previous
        self._previous = None
        self._open = False

    # -------------------------------------------------------------- mapping
    def __getitem__(self, key: tuple[str, int, str]) -> LayerTrace:
        try:
            return self._latest[LayerKey(*key)]
        except (KeyError, TypeError):
            raise KeyError(
                f"expected one of the recorded keys {list(self._latest)}, got {key!r}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and key in self._latest

    def __iter__(self) -> Iterator[LayerKey]:
        return iter(self._latest)

    def __len__(self) -> int:
        return len(self._latest)

    def keys(self) -> list[LayerKey]:
        return list(self._latest)

    def items(self) -> list[tuple[LayerKey, LayerTrace]]:
        return list(self._latest.items())

    def __repr__(self) -> str:
        return f"Tracer({type(self._model).__name__}, keys={self.keys()})"


def trace(model: Module) -> Tracer:
    """Record every recurrent layer of ``model`` inside a ``with`` block.

    Returns a :class:`Tracer`; see the module docstring for what it holds.
    """
    return Tracer(model)
