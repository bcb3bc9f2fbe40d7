"""Differentiable shape ops: reshape, permute/transpose, indexing, cat and stack.

Each op is one :class:`~fastrnn.tensor.Function` with its backward under its forward;
the Tensor methods call these.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn.tensor import Context, Function, Tensor

Array = NDArray[Any]


class Reshape(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, shape: tuple[int, ...]) -> Array:
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        return g.reshape(ctx.shape), None


class Permute(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, dims: tuple[int, ...]) -> Array:
        ctx.dims = dims
        return np.transpose(a, dims)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        return np.transpose(g, np.argsort(ctx.dims)), None


def _is_basic(index: Any) -> bool:
    """True for ints, slices, None and Ellipsis only (no repeated elements)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(
        p is None or p is Ellipsis or isinstance(p, (slice, int, np.integer))
        for p in parts
    )


class GetItem(Function):
    """``a[index]``: basic slicing and integer/bool array indexing.

    Backward scatters the gradient into zeros; repeated integer indices add up
    (``np.add.at``).
    """

    @staticmethod
    def forward(ctx: Context, a: Array, index: Any) -> Array:
        ctx.save(a.shape, a.dtype, index)
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        shape, dtype, index = ctx.saved
        out = np.zeros(shape, dtype=dtype)
        if _is_basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out, None


class Cat(Function):
    """Concatenate along ``dim``; arguments are ``(dim, *arrays)``."""

    @staticmethod
    def forward(ctx: Context, dim: int, *arrays: Array) -> Array:
        ctx.dim = dim
        ctx.splits = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Any, ...]:
        return (None, *np.split(g, ctx.splits, axis=ctx.dim))


class Stack(Function):
    """Stack along a new axis ``dim``; arguments are ``(dim, *arrays)``."""

    @staticmethod
    def forward(ctx: Context, dim: int, *arrays: Array) -> Array:
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Any, ...]:
        n = g.shape[ctx.dim]
        return (None, *(np.take(g, k, axis=ctx.dim) for k in range(n)))


def _unify(tensors: Sequence[Any], what: str) -> list[Tensor]:
    if len(tensors) == 0:
        raise ValueError(f"expected at least one tensor to {what}, got none")
    ts = [t if isinstance(t, Tensor) else Tensor(t) for t in tensors]
    dtype = np.result_type(*(t.dtype for t in ts))
    return [t if t.dtype == dtype else t.to(dtype) for t in ts]


def _norm_dim(dim: int, ndim: int) -> int:
    if not -ndim <= dim < ndim:
        raise IndexError(f"expected dim in [{-ndim}, {ndim - 1}], got {dim}")
    return dim % ndim


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate tensors of equal shape except along ``dim``."""
    ts = _unify(tensors, "cat")
    return Cat.apply(_norm_dim(dim, max(ts[0].ndim, 1)), *ts)


concat = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack tensors of equal shape along a new axis ``dim``."""
    ts = _unify(tensors, "stack")
    return Stack.apply(_norm_dim(dim, ts[0].ndim + 1), *ts)


def _shape_args(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(self: Tensor, *shape: Any) -> Tensor:
    """Same data in a new shape (one entry may be -1)."""
    return Reshape.apply(self, _shape_args(shape))


def permute(self: Tensor, *dims: Any) -> Tensor:
    dims_t = tuple(_norm_dim(d, self.ndim) for d in _shape_args(dims))
    if sorted(dims_t) != list(range(self.ndim)):
        raise ValueError(
            f"expected a permutation of {self.ndim} dims, got {_shape_args(dims)}"
        )
    return Permute.apply(self, dims_t)


def transpose(self: Tensor, dim0: int, dim1: int) -> Tensor:
    dims = list(range(self.ndim))
    d0, d1 = _norm_dim(dim0, self.ndim), _norm_dim(dim1, self.ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(self, tuple(dims))


def unsqueeze(self: Tensor, dim: int) -> Tensor:
    d = _norm_dim(dim, self.ndim + 1)
    return Reshape.apply(self, self.shape[:d] + (1,) + self.shape[d:])


def squeeze(self: Tensor, dim: int | None = None) -> Tensor:
    if dim is None:
        shape = tuple(n for n in self.shape if n != 1)
    else:
        d = _norm_dim(dim, self.ndim)
        shape = (
            self.shape if self.shape[d] != 1 else self.shape[:d] + self.shape[d + 1 :]
        )
    return Reshape.apply(self, shape)


def flatten(self: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    if self.ndim == 0:
        return Reshape.apply(self, (1,))
    s, e = _norm_dim(start_dim, self.ndim), _norm_dim(end_dim, self.ndim)
    return Reshape.apply(self, self.shape[:s] + (-1,) + self.shape[e + 1 :])


def getitem(self: Tensor, index: Any) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = np.asarray(index)
    return GetItem.apply(self, index)
