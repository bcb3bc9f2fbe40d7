"""Differentiable arithmetic, elementwise, reduction and matmul ops.

Each op is one :class:`~fastrnn.tensor.Function`, its ``backward`` right under its
``forward``. Binary ops broadcast like NumPy; their backward sums the gradient back
to each operand's shape (:func:`unbroadcast`). The Tensor methods
and operators call these.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn._linalg import matmul
from fastrnn.tensor import Context, Function, Tensor, _is_float, get_default_dtype

Array = NDArray[Any]
Dim = int | tuple[int, ...] | None


def unbroadcast(g: Array, shape: tuple[int, ...]) -> Array:
    """Sum ``g`` over the axes that broadcasting added or stretched to get ``shape``."""
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if stretched:
        g = g.sum(axis=stretched, keepdims=True)
    return g.reshape(shape)


def _axes(dim: Dim, ndim: int) -> tuple[int, ...]:
    """Normalised, sorted reduction axes (``None`` means all)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = []
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(
                f"expected dim in [{-ndim}, {ndim - 1}], got {d} (tensor has "
                f"{ndim} dimensions)"
            )
        out.append(d % max(ndim, 1))
    return tuple(sorted(set(out)))


def _expand_to(
    g: Array, shape: tuple[int, ...], axes: tuple[int, ...], keepdim: bool
) -> Array:
    """Broadcast a reduction's gradient back to the input shape (a fresh array)."""
    if not keepdim and shape:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape).copy()


# ==========================================================================
# Operand coercion for binary ops
# ==========================================================================


def _binary_operands(a: Any, b: Any) -> tuple[Any, Any]:
    """Tensors stay Tensors; constants become ndarrays of the right dtype.

    A constant (python scalar, ndarray) next to a floating Tensor takes the Tensor's
    dtype; an integer Tensor next to a floating one takes the floating dtype; two
    floating Tensors promote as in NumPy (inside the op).
    """
    xa = a.data if isinstance(a, Tensor) else np.asarray(a)
    xb = b.data if isinstance(b, Tensor) else np.asarray(b)
    fa, fb = _is_float(xa.dtype), _is_float(xb.dtype)
    if fa and fb:
        if isinstance(a, Tensor) and isinstance(b, Tensor):
            return a, b
        target = xa.dtype if isinstance(a, Tensor) else xb.dtype
    elif fa:
        target = xa.dtype
    elif fb:
        target = xb.dtype
        if not isinstance(b, Tensor) and isinstance(a, Tensor):
            target = get_default_dtype()  # int tensor with a python float
    else:
        return a, b
    return _cast_operand(a, xa, target), _cast_operand(b, xb, target)


def _cast_operand(x: Any, array: Array, target: np.dtype) -> Any:
    if array.dtype == target:
        return x if isinstance(x, Tensor) else array
    if isinstance(x, Tensor) and x.requires_grad:
        return x  # floating with grad: let NumPy promote inside the op
    return array.astype(target)


# ==========================================================================
# Arithmetic
# ==========================================================================


class Add(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array | None, Array | None]:
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array | None, Array | None]:
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.save(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (
            unbroadcast(g * b, np.shape(a)) if na else None,
            unbroadcast(g * a, np.shape(b)) if nb else None,
        )


class Div(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.save(a, b)
        return np.divide(a, b)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        na, nb = ctx.needs_input_grad
        return (
            unbroadcast(g / b, np.shape(a)) if na else None,
            unbroadcast(-g * a / (b * b), np.shape(b)) if nb else None,
        )


class Neg(Function):
    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        return np.negative(a)

    @staticmethod
    def backward(ctx: Context, g: Array) -> Array:
        return -g


class Pow(Function):
    """``a ** p`` for a python-number exponent ``p``."""

    @staticmethod
    def forward(ctx: Context, a: Array, p: float) -> Array:
        ctx.save(a, p)
        return np.power(a, a.dtype.type(p))

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        a, p = ctx.saved
        return g * p * np.power(a, a.dtype.type(p - 1)), None


class MatMul(Function):
    """``a @ b`` with NumPy's rules: batched over leading axes, 1-D operands promoted."""

    @staticmethod
    def forward(ctx: Context, a: Array, b: Array) -> Array:
        ctx.save(a, b)
        if a.ndim == 2 and b.ndim == 2:  # on fastrnn's threads (fastrnn/_linalg.py)
            return matmul(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array | None, Array | None]:
        a, b = ctx.saved
        a2 = a[None, :] if a.ndim == 1 else a  # (..., n, k)
        b2 = b[:, None] if b.ndim == 1 else b  # (..., k, m)
        g2 = np.expand_dims(g, -1) if b.ndim == 1 else g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)  # g2: (..., n, m)
        na, nb = ctx.needs_input_grad
        da = db = None
        if a.ndim == 2 and b.ndim == 2:
            da = matmul(g, b, trans_b=True) if na else None
            db = matmul(a, g, trans_a=True) if nb else None
            return da, db
        if na:
            da = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape)
        if nb:
            db = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape).reshape(b.shape)
        return da, db


class Cast(Function):
    """Differentiable dtype conversion; the gradient is cast back."""

    @staticmethod
    def forward(ctx: Context, a: Array, dtype: np.dtype) -> Array:
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        return g.astype(ctx.dtype), None


# ==========================================================================
# Elementwise functions (derivatives from the saved outputs where possible)
# ==========================================================================


class Exp(Function):
    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        y = np.exp(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Array) -> Array:
        (y,) = ctx.saved
        return g * y


class Log(Function):
    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        ctx.save(a)
        return np.log(a)

    @staticmethod
    def backward(ctx: Context, g: Array) -> Array:
        (a,) = ctx.saved
        return g / a


class Tanh(Function):
    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        y = np.tanh(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Array) -> Array:
        (y,) = ctx.saved
        return g * (1 - y * y)


def stable_sigmoid(a: Array) -> Array:
    """``1 / (1 + exp(-a))`` without overflow for large ``|a|``; keeps the dtype."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        y = stable_sigmoid(a)
        ctx.save(y)
        return y

    @staticmethod
    def backward(ctx: Context, g: Array) -> Array:
        (y,) = ctx.saved
        return g * y * (1 - y)


class Relu(Function):
    @staticmethod
    def forward(ctx: Context, a: Array) -> Array:
        mask = a > 0
        ctx.save(mask)
        return np.where(mask, a, a.dtype.type(0))

    @staticmethod
    def backward(ctx: Context, g: Array) -> Array:
        (mask,) = ctx.saved
        return g * mask


def log_softmax_array(a: Array, axis: int) -> Array:
    """Numerically stable ``log softmax`` along ``axis`` (shift by the max)."""
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


class Softmax(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, dim: int) -> Array:
        y = np.exp(log_softmax_array(a, dim))
        ctx.save(y, dim)
        return y

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        y, dim = ctx.saved
        return y * (g - (g * y).sum(axis=dim, keepdims=True)), None


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, dim: int) -> Array:
        out = log_softmax_array(a, dim)
        ctx.save(out, dim)
        return out

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None]:
        out, dim = ctx.saved
        return g - np.exp(out) * g.sum(axis=dim, keepdims=True), None


# ==========================================================================
# Reductions
# ==========================================================================


class Sum(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, dim: Dim, keepdim: bool) -> Array:
        axes = _axes(dim, a.ndim)
        ctx.save(a.shape, axes, keepdim)
        return np.asarray(a.sum(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None, None]:
        shape, axes, keepdim = ctx.saved
        return _expand_to(g, shape, axes, keepdim), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx: Context, a: Array, dim: Dim, keepdim: bool) -> Array:
        axes = _axes(dim, a.ndim)
        ctx.save(a.shape, axes, keepdim)
        return np.asarray(a.mean(axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None, None]:
        shape, axes, keepdim = ctx.saved
        count = int(np.prod([shape[i] for i in axes])) if shape else 1
        return _expand_to(g / count, shape, axes, keepdim), None, None


class Amax(Function):
    """Maximum over ``dim``; ties share the gradient equally (as torch.amax)."""

    @staticmethod
    def forward(ctx: Context, a: Array, dim: Dim, keepdim: bool) -> Array:
        axes = _axes(dim, a.ndim)
        m = a.max(axis=axes, keepdims=True)
        mask = a == m
        share = (mask / mask.sum(axis=axes, keepdims=True)).astype(a.dtype)
        ctx.save(a.shape, axes, keepdim, share)
        return np.asarray(m if keepdim else m.squeeze(axis=axes) if a.ndim else m)

    @staticmethod
    def backward(ctx: Context, g: Array) -> tuple[Array, None, None]:
        shape, axes, keepdim, share = ctx.saved
        return _expand_to(g, shape, axes, keepdim) * share, None, None


# ==========================================================================
# Functional forms and Tensor methods
# ==========================================================================


def as_tensor(x: Any) -> Tensor:
    """``x`` itself if it is a Tensor, else a new constant Tensor."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _dim_arg(dim: int, ndim: int) -> int:
    return _axes(dim, ndim)[0]


def exp(x: Tensor) -> Tensor:
    return Exp.apply(as_tensor(x))


def log(x: Tensor) -> Tensor:
    return Log.apply(as_tensor(x))


def tanh(x: Tensor) -> Tensor:
    return Tanh.apply(as_tensor(x))


def sigmoid(x: Tensor) -> Tensor:
    return Sigmoid.apply(as_tensor(x))


def relu(x: Tensor) -> Tensor:
    return Relu.apply(as_tensor(x))


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``, computed stably."""
    x = as_tensor(x)
    return Softmax.apply(x, _dim_arg(dim, x.ndim))


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    """``x - logsumexp(x, dim)``, computed stably."""
    x = as_tensor(x)
    return LogSoftmax.apply(x, _dim_arg(dim, x.ndim))


def compare(op: Any, a: Tensor, other: Any) -> Tensor:
    """Elementwise comparison: a bool Tensor outside the graph."""
    other = other.data if isinstance(other, Tensor) else other
    return Tensor._wrap(np.asarray(op(a.data, other)), None)


def binary(fn: type[Function], a: Any, b: Any) -> Tensor:
    """Apply a binary Function after the dtype rules of ``_binary_operands``."""
    return fn.apply(*_binary_operands(a, b))


def power(a: Tensor, p: Any) -> Tensor:
    if isinstance(p, Tensor) or not np.isscalar(p):
        raise TypeError(f"expected a python number as exponent, got {type(p).__name__}")
    return Pow.apply(a, float(p))


def to_dtype(a: Tensor, dtype: Any) -> Tensor:
    dtype = np.dtype(dtype)
    if dtype == a.dtype:
        return a
    if not _is_float(dtype) and a.requires_grad:
        return Tensor._wrap(a.data.astype(dtype), None)
    return Cast.apply(a, dtype)
