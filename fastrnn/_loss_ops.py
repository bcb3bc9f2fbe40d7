"""Fused loss ops: each loss is one node whose backward is written in closed form.

``reduction`` is ``"mean"``, ``"sum"`` or ``"none"`` everywhere; the incoming gradient
``g`` is a scalar for the first two and has the per-element loss shape for ``"none"``.
Inputs are validated by :mod:`fastrnn.nn.functional`, not here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn._ops import log_softmax_array, stable_sigmoid
from fastrnn.tensor import Context, Function

Array = NDArray[Any]


def _reduce(per: Array, reduction: str, count: Any = None) -> Array:
    if reduction == "none":
        return per
    total = per.sum()
    if reduction == "sum":
        return np.asarray(total, dtype=per.dtype)
    n = per.size if count is None else count
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 -> nan, as torch
        return np.asarray(total / per.dtype.type(n), dtype=per.dtype)


def _scale(g: Array, reduction: str, count: Any, dtype: np.dtype) -> Any:
    """The factor that turns per-element loss gradients into gradients of the output."""
    if reduction == "none":
        return g
    if reduction == "sum":
        return g
    with np.errstate(invalid="ignore", divide="ignore"):
        return g / dtype.type(count)


class CrossEntropy(Function):
    """Softmax cross-entropy with integer targets; classes along axis ``class_dim``.

    ``class_dim=1`` is PyTorch's (N, C, d1, ...) layout, ``-1`` the class-last
    (..., C) layout. Forward, with z the logits moved to (M, C) and t the targets
    (M,)::

        logp = log_softmax(z)                      # (M, C)
        per  = -(1 - eps) * logp[t] - eps * mean_c(logp)   # (M,), 0 where t == ignore
        mean = sum(per) / count(t != ignore)

    Backward: ``dz = (softmax(z) - (1 - eps) * onehot(t) - eps / C) * valid * g``.
    """

    @staticmethod
    def forward(
        ctx: Context,
        logits: Array,
        target: Array,
        class_dim: int,
        ignore_index: int,
        reduction: str,
        label_smoothing: float,
    ) -> Array:
        C = logits.shape[class_dim]
        z_moved = np.moveaxis(logits, class_dim, -1)  # (..., C)
        z = z_moved.reshape(-1, C)  # (M, C)
        t = target.reshape(-1)  # (M,)
        valid = t != ignore_index  # (M,)
        t_safe = np.where(valid, t, 0)
        logp = log_softmax_array(z, axis=-1)  # (M, C)
        eps = label_smoothing
        per = -logp[np.arange(t.size), t_safe]  # (M,) negative log-likelihood
        if eps > 0:
            per = (1 - eps) * per - eps * logp.mean(axis=-1)
        per = np.where(valid, per, 0).astype(logits.dtype)
        count = int(valid.sum())
        ctx.save(logp, t_safe, valid, count, z_moved.shape, class_dim, reduction, eps)
        if reduction == "none":
            return per.reshape(target.shape)
        return _reduce(per, reduction, count)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None, None, None, None, None]:
        logp, t_safe, valid, count, moved_shape, class_dim, reduction, eps = ctx.saved
        M, C = logp.shape
        dz = np.exp(logp)  # (M, C) softmax
        dz[np.arange(M), t_safe] -= 1 - eps
        if eps > 0:
            dz -= eps / C
        scale = _scale(g, reduction, count, logp.dtype)
        if reduction == "none":
            scale = np.reshape(scale, (M,))
        dz *= (valid * scale)[:, None]
        dlogits = np.moveaxis(dz.reshape(moved_shape), -1, class_dim)
        return dlogits, None, None, None, None, None


class MSE(Function):
    """``mean((x - y)^2)``; both inputs may need gradients."""

    @staticmethod
    def forward(ctx: Context, x: Array, y: Array, reduction: str) -> Array:
        diff = x - y
        ctx.save(diff, reduction)
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, Array, None]:
        diff, reduction = ctx.saved
        d = 2 * diff * _scale(g, reduction, diff.size, diff.dtype)
        return d, -d, None


def softplus_neg(x: Array) -> Array:
    """``log(1 + exp(-x))`` without overflow."""
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)


class BCEWithLogits(Function):
    """Binary cross-entropy on logits, stable for large ``|x|``.

    ``per = (1 - y) * x + l * log(1 + exp(-x))`` with ``l = 1 + (pos_weight - 1) * y``
    (``l = 1`` without pos_weight). ``dper/dx = (1 - y) - l * sigmoid(-x)``,
    ``dper/dy = -x + (pos_weight - 1) * log(1 + exp(-x))``.
    """

    @staticmethod
    def forward(
        ctx: Context, x: Array, y: Array, pos_weight: Array | None, reduction: str
    ) -> Array:
        sp = softplus_neg(x)
        if pos_weight is None:
            per = (1 - y) * x + sp
        else:
            per = (1 - y) * x + (1 + (pos_weight - 1) * y) * sp
        ctx.save(x, y, sp, pos_weight, reduction)
        return _reduce(per.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(
        ctx: Context, g: Array
    ) -> tuple[Array | None, Array | None, None, None]:
        x, y, sp, pos_weight, reduction = ctx.saved
        scale = _scale(g, reduction, x.size, x.dtype)
        nx, ny = ctx.needs_input_grad[:2]
        dx = dy = None
        if nx:
            weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
            dx = ((1 - y) - weight * stable_sigmoid(-x)) * scale
        if ny:
            dy = -x if pos_weight is None else -x + (pos_weight - 1) * sp
            dy = dy * scale
        return dx, dy, None, None
