"""``SequenceClassifier``: many-to-one classification of padded sequences.

Notation: T steps, B batch, V vocabulary, E embedding size, I input features,
H hidden size, D directions (2 if bidirectional else 1), C classes.

Architecture::

    ids (T, B) -> Embedding -> (T, B, E)    or raw features (T, B, I)
      -> RNN / LSTM / GRU stack (lengths=...)  -> output (T, B, D*H), h_n (L*D, B, H)
      -> pooling over the VALID steps of each sequence -> (B, D*H)
      -> Dropout -> Linear -> logits (B, C)

Pooling (padding never leaks into the result):

* ``"last"``: each sequence's state at its last valid step, ``output[len_b - 1, b]``.
  Bidirectional: the forward direction's last state concatenated with the reverse
  direction's state at step 0 (where the reverse pass, run within each length,
  ends): ``[output[len_b - 1, b, :H], output[0, b, H:]]``. Taken from ``h_n``.
* ``"mean"``: ``sum_{t < len_b} output[t, b] / len_b``.
* ``"max"``: ``max_{t < len_b} output[t, b]`` per feature (ties share the gradient).

Save and restore with the config::

    fastrnn.save({"config": clf.config(), "model": clf.state_dict()}, "clf.st")
    ckpt = fastrnn.load("clf.st")
    clf = SequenceClassifier.from_config(ckpt["config"])
    clf.load_state_dict(ckpt["model"])
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from fastrnn import nn
from fastrnn._ops import softmax
from fastrnn._shape_ops import cat
from fastrnn._validation import check_int as _check_int
from fastrnn.tensor import Tensor, get_default_dtype, no_grad

__all__ = ["CELLS", "POOLINGS", "SequenceClassifier"]

#: Recurrent cells by name (``"rnn"`` is the tanh Elman RNN).
CELLS = ("rnn", "rnn_relu", "lstm", "gru")
#: Pooling modes over the valid steps.
POOLINGS = ("last", "mean", "max")


class SequenceClassifier(nn.Module):
    """Embedding (or raw features) -> recurrent stack -> pooling -> Linear.

    Parameters
    ----------
    num_classes : int
        C >= 2 (use two classes for binary tasks; logits are (B, C)).
    vocab_size : int, optional
        V: the input is token ids and an ``nn.Embedding(V, embedding_dim)`` is used.
    input_size : int, optional
        I: the input is float features (T, B, I) fed to the recurrent stack
        directly. Give exactly one of ``vocab_size`` and ``input_size``.
    embedding_dim : int, default 64
        E (token input only).
    hidden_size : int, default 128
    num_layers : int, default 1
    cell : {"lstm", "gru", "rnn", "rnn_relu"}, default "lstm"
    bidirectional : bool, default False
    pooling : {"last", "mean", "max"}, default "last"
        See the module docstring.
    dropout : float, default 0.0
        Dropout between recurrent layers and on the pooled features (training only).
    padding_idx : int or None, default 0
        Embedding row of the padding id (``Vocab.pad_id``); kept at zero.
    batch_first : bool, default False
        Inputs are (B, T[, I]) instead of time-major (T, B[, I]).
    dtype : float32 (default) or float64

    Call
    ----
    ``logits = clf(inputs, lengths=None)``

    inputs : int array or Tensor (T, B) of ids, or float (T, B, I) features
        (batch-first with ``batch_first=True``), padded past each length
        (any padding values: they never change the result).
    lengths : (B,) ints in [1, T], or None for all T.
    logits : Tensor (B, C)
    """

    def __init__(
        self,
        num_classes: int,
        vocab_size: int | None = None,
        input_size: int | None = None,
        embedding_dim: int = 64,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        pooling: str = "last",
        dropout: float = 0.0,
        padding_idx: int | None = 0,
        batch_first: bool = False,
        dtype: DTypeLike | None = None,
    ) -> None:
        super().__init__()
        if (vocab_size is None) == (input_size is None):
            raise ValueError(
                "expected exactly one of vocab_size (token ids) and input_size (raw "
                f"features), got vocab_size={vocab_size!r}, input_size={input_size!r}"
            )
        if cell not in CELLS:
            raise ValueError(f"expected cell in {CELLS}, got {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"expected pooling in {POOLINGS}, got {pooling!r}")
        num_classes = _check_int("num_classes", num_classes, 2)
        hidden_size = _check_int("hidden_size", hidden_size, 1)
        num_layers = _check_int("num_layers", num_layers, 1)
        embedding_dim = _check_int("embedding_dim", embedding_dim, 1)
        if vocab_size is not None:
            vocab_size = _check_int("vocab_size", vocab_size, 1)
        else:
            input_size = _check_int("input_size", input_size, 1)
        dt = np.dtype(dtype or get_default_dtype())
        self.num_classes = num_classes
        self.vocab_size = vocab_size
        self.input_size = input_size
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.cell = cell
        self.bidirectional = bool(bidirectional)
        self.pooling = pooling
        self.dropout = float(dropout)
        self.padding_idx = padding_idx
        self.batch_first = bool(batch_first)
        if vocab_size is not None:
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx, dt)
            rnn_input = embedding_dim
        else:
            assert input_size is not None
            rnn_input = input_size
        rnn_dropout = self.dropout if num_layers > 1 else 0.0
        common = {
            "num_layers": num_layers,
            "dropout": rnn_dropout,
            "bidirectional": self.bidirectional,
            "dtype": dt,
        }
        if cell == "lstm":
            self.rnn: nn.RNNBase = nn.LSTM(rnn_input, hidden_size, **common)
        elif cell == "gru":
            self.rnn = nn.GRU(rnn_input, hidden_size, **common)
        else:
            nonlinearity = "relu" if cell == "rnn_relu" else "tanh"
            self.rnn = nn.RNN(
                rnn_input, hidden_size, nonlinearity=nonlinearity, **common
            )
        D = 2 if self.bidirectional else 1
        self.drop = nn.Dropout(self.dropout)
        self.head = nn.Linear(D * hidden_size, num_classes, dtype=dt)

    @property
    def dtype(self) -> np.dtype:
        """The parameters' dtype (follows ``.to()``/``.double()``)."""
        return self.head.weight.dtype

    # ------------------------------------------------------------- forward
    def _time_major(self, inputs: Any) -> Tensor | NDArray[Any]:
        """Token ids as a (T, B) int array, or features as a (T, B, I) Tensor."""
        if self.vocab_size is not None:
            ids = np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs)
            if ids.dtype == np.bool_ or not np.issubdtype(ids.dtype, np.integer):
                raise TypeError(
                    f"expected integer token ids (vocab_size={self.vocab_size}), "
                    f"got dtype {ids.dtype}"
                )
            if ids.ndim != 2:
                raise ValueError(
                    f"expected token ids of shape "
                    f"{'(B, T)' if self.batch_first else '(T, B)'}, got {ids.shape}"
                )
            return ids.T if self.batch_first else ids
        x = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
        if x.ndim != 3 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"expected features of shape "
                f"{'(B, T, ' if self.batch_first else '(T, B, '}{self.input_size}), "
                f"got {x.shape}"
            )
        return x.transpose(0, 1) if self.batch_first else x

    @staticmethod
    def _lengths(lengths: Any, T: int, B: int) -> NDArray[np.int64]:
        if lengths is None:
            return np.full(B, T, dtype=np.int64)
        lens = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
        if lens.dtype == np.bool_ or not np.issubdtype(lens.dtype, np.integer):
            raise TypeError(f"expected integer lengths, got dtype {lens.dtype}")
        if lens.shape != (B,):
            raise ValueError(f"expected lengths of shape ({B},), got {lens.shape}")
        if lens.size and (lens.min() < 1 or lens.max() > T):
            raise ValueError(
                f"expected lengths in [1, {T}] (T = padded length), got values in "
                f"[{lens.min()}, {lens.max()}]"
            )
        return lens.astype(np.int64)

    def features(self, inputs: Any, lengths: ArrayLike | None = None) -> Tensor:
        """The pooled sequence representation (B, D*H), before dropout and head."""
        x = self._time_major(inputs)
        T, B = x.shape[0], x.shape[1]
        lens = self._lengths(lengths, T, B)
        if self.vocab_size is not None:
            x = self.embedding(x)  # (T, B, E)
        output, state = self.rnn(x, lengths=lens)  # (T, B, D*H)
        if self.pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # (L*D, B, H)
            if not self.bidirectional:
                return h_n[-1]  # (B, H)
            return cat([h_n[-2], h_n[-1]], dim=-1)  # (B, 2H): forward, reverse
        valid = np.arange(T)[:, None] < lens[None, :]  # (T, B)
        if self.pooling == "mean":
            mask = valid[:, :, None].astype(self.dtype)  # (T, B, 1)
            total = (output * mask).sum(dim=0)  # (B, D*H)
            return total / lens[:, None].astype(self.dtype)
        # max: padded steps become -inf so they never win
        neg = np.where(valid, 0.0, -np.inf)[:, :, None].astype(self.dtype)
        return (output + neg).amax(dim=0)  # (B, D*H)

    def forward(self, inputs: Any, lengths: ArrayLike | None = None) -> Tensor:
        return self.head(self.drop(self.features(inputs, lengths)))  # (B, C)

    # ----------------------------------------------------------- inference
    def _eval_logits(self, inputs: Any, lengths: ArrayLike | None) -> Tensor:
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                return self.forward(inputs, lengths)
        finally:
            self.train(was_training)

    def predict(
        self, inputs: Any, lengths: ArrayLike | None = None
    ) -> NDArray[np.int64]:
        """Class ids (B,) of the highest logit, in eval mode without gradients."""
        return self._eval_logits(inputs, lengths).numpy().argmax(-1).astype(np.int64)

    def predict_proba(
        self, inputs: Any, lengths: ArrayLike | None = None
    ) -> NDArray[Any]:
        """Class probabilities (B, C) (softmax of the logits), in eval mode."""
        return softmax(self._eval_logits(inputs, lengths), dim=-1).numpy()

    # -------------------------------------------------------------- config
    def config(self) -> dict[str, Any]:
        """The constructor arguments as a JSON-friendly dict (see :meth:`from_config`)."""
        return {
            "num_classes": self.num_classes,
            "vocab_size": self.vocab_size,
            "input_size": self.input_size,
            "embedding_dim": self.embedding_dim,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "cell": self.cell,
            "bidirectional": self.bidirectional,
            "pooling": self.pooling,
            "dropout": self.dropout,
            "padding_idx": self.padding_idx,
            "batch_first": self.batch_first,
            "dtype": self.dtype.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SequenceClassifier:
        """A new (freshly initialised) classifier from :meth:`config` output."""
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
        return f"pooling={self.pooling!r}, num_classes={self.num_classes}"
