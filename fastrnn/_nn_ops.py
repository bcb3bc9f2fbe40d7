"""Fused layer ops: an affine map and an embedding lookup, one node each."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn._linalg import matmul
from fastrnn.tensor import Context, Function

Array = NDArray[Any]


class Linear(Function):
    """``y = x @ W.T + b`` for x (*, in), W (out, in), b (out,) or None -> y (*, out)."""

    @staticmethod
    def forward(ctx: Context, x: Array, W: Array, b: Array | None) -> Array:
        ctx.save(x, W, b is not None)
        x2 = x.reshape(-1, W.shape[1])  # (M, in)
        y = matmul(x2, W, trans_b=True).reshape(*x.shape[:-1], W.shape[0])  # (*, out)
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx: Context, dy: Array) -> tuple[Array | None, ...]:
        x, W, has_bias = ctx.saved
        nx, nW, nb = ctx.needs_input_grad
        dy2 = dy.reshape(-1, W.shape[0])  # (M, out)
        dx = matmul(dy2, W).reshape(x.shape) if nx else None  # (*, in)
        dW = matmul(dy2, x.reshape(-1, W.shape[1]), trans_a=True) if nW else None
        db = dy2.sum(axis=0) if nb and has_bias else None  # (out,)
        return dx, dW, db


class Embedding(Function):
    """``weight[indices]``; the padding row gets no gradient.

    indices (*) integers in [0, num), weight (num, dim) -> (*, dim).
    """

    @staticmethod
    def forward(
        ctx: Context, indices: Array, weight: Array, padding_idx: int | None
    ) -> Array:
        ctx.save(indices, weight.shape, weight.dtype, padding_idx)
        return weight[indices]

    @staticmethod
    def backward(ctx: Context, dy: Array) -> tuple[None, Array, None]:
        indices, shape, dtype, padding_idx = ctx.saved
        dW = np.zeros(shape, dtype=dtype)  # (num, dim)
        np.add.at(dW, indices.reshape(-1), dy.reshape(-1, shape[1]))
        if padding_idx is not None:
            dW[padding_idx] = 0
        return None, dW, None
