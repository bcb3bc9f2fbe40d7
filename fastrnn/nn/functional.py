"""Functional forms of the layers and losses (``torch.nn.functional``-shaped).

Every function takes Tensors (ndarrays and scalars become constants), validates shapes
and dtypes with "expected ..., got ..." messages, and records one graph node.

This is not :mod:`fastrnn.functional`, which is the recurrent-kernel layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastrnn import _loss_ops, _nn_ops
from fastrnn._ops import as_tensor, log_softmax, relu, sigmoid, softmax, tanh
from fastrnn.random import get_generator
from fastrnn.tensor import Tensor

__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "embedding",
    "linear",
    "log_softmax",
    "mse_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"expected reduction in {_REDUCTIONS}, got {reduction!r}")


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``.

    Parameters
    ----------
    input : Tensor of shape (*, in_features)
    weight : Tensor of shape (out_features, in_features)
    bias : Tensor of shape (out_features,) or None

    Returns
    -------
    Tensor of shape (*, out_features), the dtype of ``weight``.
    """
    x, W = as_tensor(input), as_tensor(weight)
    if W.ndim != 2:
        raise ValueError(f"expected a 2-D weight, got shape {W.shape}")
    if x.ndim < 1 or x.shape[-1] != W.shape[1]:
        raise ValueError(f"expected input of shape (*, {W.shape[1]}), got {x.shape}")
    if x.dtype != W.dtype:
        raise TypeError(
            f"expected input of dtype {W.dtype} (the weight's), got {x.dtype}; "
            f"convert with .to() or the module with .to()/.double()"
        )
    if bias is not None:
        bias = as_tensor(bias)
        if bias.shape != (W.shape[0],):
            raise ValueError(
                f"expected bias of shape ({W.shape[0]},), got {bias.shape}"
            )
    return _nn_ops.Linear.apply(x, W, bias)


def embedding(
    input: Tensor | Any, weight: Tensor, padding_idx: int | None = None
) -> Tensor:
    """Rows of ``weight`` picked by integer ``input``.

    Parameters
    ----------
    input : Tensor or array of integers, shape (*), values in [0, num_embeddings)
    weight : Tensor of shape (num_embeddings, embedding_dim)
    padding_idx : int, optional
        This row receives no gradient.

    Returns
    -------
    Tensor of shape (*, embedding_dim)
    """
    indices = np.asarray(input.data if isinstance(input, Tensor) else input)
    W = as_tensor(weight)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"expected integer indices, got dtype {indices.dtype}")
    num = W.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= num):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"expected indices in [0, {num}), got {bad}")
    if padding_idx is not None:
        padding_idx = _normalise_padding_idx(padding_idx, num)
    return _nn_ops.Embedding.apply(indices, W, padding_idx)


def _normalise_padding_idx(padding_idx: int, num: int) -> int:
    if not -num <= padding_idx < num:
        raise ValueError(f"expected padding_idx in [{-num}, {num}), got {padding_idx}")
    return padding_idx % num


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest
    by ``1 / (1 - p)``. Identity when ``training`` is False or ``p == 0``.

    The mask is drawn from :func:`fastrnn.random.get_generator` (reproducible
    from ``fastrnn.manual_seed``).
    """
    _check_p(p)
    x = as_tensor(input)
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros(x.shape, dtype=x.dtype)
    keep = get_generator().random(x.shape) >= p
    return x * (keep / (1 - p)).astype(x.dtype)


def _check_p(p: float) -> None:
    if not 0 <= p <= 1:
        raise ValueError(f"expected dropout probability in [0, 1], got {p}")


def cross_entropy(
    input: Tensor,
    target: Tensor | Any,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    class_dim: int | None = None,
) -> Tensor:
    """Softmax cross-entropy with class-index targets, fused into one node.

    Layout, by default as PyTorch: ``input`` (N, C) with ``target`` (N,), or
    ``input`` (N, C, d1, ..., dk) with ``target`` (N, d1, ..., dk), or unbatched
    ``input`` (C,) with a scalar target. For class-last logits, e.g. (B, T, C) from
    a sequence model with targets (B, T), pass ``class_dim=-1`` (a fastrnn
    extension; the same as ``cross_entropy(logits.reshape(-1, C),
    targets.reshape(-1))``). Class-probability targets and class weights are not
    supported.

    Parameters
    ----------
    input : Tensor, floating, logits
    target : Tensor or array of integers in [0, C) or equal to ``ignore_index``
    ignore_index : int
        Targets equal to it contribute neither loss nor gradient; ``"mean"`` divides
        by the number of the other targets (nan if there are none, as PyTorch).
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns the per-target loss, shape of ``target``.
    label_smoothing : float in [0, 1]
        Mixes the one-hot target with the uniform distribution (as PyTorch).
    class_dim : int, optional
        The axis of ``input`` holding the classes: 1 (0 for 1-D input) by default,
        as PyTorch; the target has ``input``'s shape without this axis.
    """
    x = as_tensor(input)
    t = np.asarray(target.data if isinstance(target, Tensor) else target)
    _check_reduction(reduction)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected floating logits, got dtype {x.dtype}")
    if t.dtype.kind not in "iu":
        raise TypeError(f"expected integer class targets, got dtype {t.dtype}")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"expected label_smoothing in [0, 1], got {label_smoothing}")
    if x.ndim == 0:
        raise ValueError("expected logits of shape (N, C, *) or (C,), got a scalar")
    if class_dim is None:
        axis = 0 if x.ndim == 1 else 1
    elif -x.ndim <= class_dim < x.ndim:
        axis = class_dim % x.ndim
    else:
        raise IndexError(
            f"expected class_dim in [{-x.ndim}, {x.ndim - 1}], got {class_dim}"
        )
    C = x.shape[axis]
    expected = x.shape[:axis] + x.shape[axis + 1 :]
    if t.shape != expected:
        hint = ""
        if class_dim is None and x.ndim > 2 and t.shape == x.shape[:-1]:
            hint = (
                " (PyTorch layout (N, C, *); for class-last logits pass class_dim=-1)"
            )
        raise ValueError(
            f"expected target of shape {expected} for logits of shape {x.shape}"
            f"{hint}, got {t.shape}"
        )
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bad.any():
        raise IndexError(
            f"expected targets in [0, {C}) or ignore_index={ignore_index}, "
            f"got {t[bad].flat[0]}"
        )
    return _loss_ops.CrossEntropy.apply(
        x, t, axis, int(ignore_index), reduction, float(label_smoothing)
    )


def _same_shape_target(x: Tensor, target: Any, name: str) -> Tensor | Any:
    y = target if isinstance(target, Tensor) else np.asarray(target, dtype=x.dtype)
    if y.shape != x.shape:
        raise ValueError(
            f"expected {name} target of the input's shape {x.shape}, got {y.shape}"
        )
    if isinstance(y, Tensor) and y.dtype != x.dtype:
        y = y.to(x.dtype)
    return y


def mse_loss(input: Tensor, target: Tensor | Any, reduction: str = "mean") -> Tensor:
    """Mean squared error; ``target`` must have the input's shape (no broadcasting)."""
    _check_reduction(reduction)
    x = as_tensor(input)
    return _loss_ops.MSE.apply(x, _same_shape_target(x, target, "mse_loss"), reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor | Any,
    reduction: str = "mean",
    pos_weight: Tensor | Any | None = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable node.

    Parameters
    ----------
    input : Tensor, logits of any shape
    target : Tensor or array of the same shape, values in [0, 1]
    reduction : {"mean", "sum", "none"}
    pos_weight : array broadcastable to ``input`` (e.g. shape (C,)), optional
        Weight of the positive term, as PyTorch (a constant here).
    """
    _check_reduction(reduction)
    x = as_tensor(input)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"expected floating logits, got dtype {x.dtype}")
    y = _same_shape_target(x, target, "binary_cross_entropy_with_logits")
    pw = None
    if pos_weight is not None:
        pw = np.asarray(
            pos_weight.data if isinstance(pos_weight, Tensor) else pos_weight,
            dtype=x.dtype,
        )
        try:
            np.broadcast_shapes(pw.shape, x.shape)
        except ValueError:
            raise ValueError(
                f"expected pos_weight broadcastable to {x.shape}, got {pw.shape}"
            ) from None
    return _loss_ops.BCEWithLogits.apply(x, y, pw, reduction)
