"""A small tape autograd over NumPy arrays: ``Tensor``, ``Function`` and grad mode.

Design
------
* A :class:`Tensor` wraps one ndarray (``.data``). Floating tensors may require
  gradients; integer and bool tensors are plain data (token ids, targets, masks).
* Every differentiable operation is a :class:`Function` subclass whose ``forward``
  and ``backward`` work on ndarrays. ``Fn.apply(*args)`` runs ``forward`` and, when
  some Tensor argument requires a gradient and grad mode is on, records ONE node that
  remembers the ``ctx`` and the inputs. Ops are coarse (a whole LSTM layer can be one
  node), so the Python overhead per node does not matter.
* ``loss.backward()`` sorts the NODES reachable from ``loss`` topologically and calls
  each node's ``backward`` exactly once, with the gradients of all its outputs.
  Leaf gradients are summed into ``leaf.grad`` (accumulating across calls, as in
  PyTorch, until zeroed); gradients of non-leaf tensors are not kept.
* The graph is not freed by ``backward``: it lives as long as its output tensors do,
  so calling ``backward`` twice through the same graph is allowed.

Dtypes: python floats become float32 (the default dtype), ndarrays keep their dtype
(float64 stays float64), python ints become int64. Operations between a floating
Tensor and a python scalar or ndarray keep the Tensor's dtype; two floating Tensors
of different dtypes promote as NumPy does; gradients always arrive in the dtype of
the tensor they belong to.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

Array = NDArray[Any]
Hook = Callable[[Array], "Array | None"]

# ==========================================================================
# Grad mode and default dtype
# ==========================================================================

_state = threading.local()
_default_dtype: np.dtype = np.dtype(np.float32)


def is_grad_enabled() -> bool:
    """Whether operations currently record a graph (thread-local, default True)."""
    return getattr(_state, "grad_enabled", True)


def set_grad_enabled(mode: bool) -> None:
    """Turn graph recording on or off for the current thread."""
    _state.grad_enabled = bool(mode)


class _GradMode:
    """Context manager and decorator that sets grad mode and restores it after."""

    mode: ClassVar[bool]

    def __enter__(self) -> None:
        self._previous = is_grad_enabled()
        set_grad_enabled(self.mode)

    def __exit__(self, *exc: object) -> None:
        set_grad_enabled(self._previous)

    def __call__(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        import functools

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Record no graph inside the block (or the decorated function).

    Examples
    --------
    >>> with no_grad():
    ...     y = x * 2          # y.requires_grad is False
    """

    mode = False


class enable_grad(_GradMode):  # noqa: N801 (PyTorch's name)
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


def get_default_dtype() -> np.dtype:
    """The dtype of tensors built from python floats (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(dtype: DTypeLike) -> None:
    """Set the default floating dtype: float32 or float64."""
    global _default_dtype
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"expected float32 or float64 as default dtype, got {dt}")
    _default_dtype = dt


def _is_float(dtype: np.dtype) -> bool:
    return np.issubdtype(dtype, np.floating)


def _to_array(data: Any, dtype: DTypeLike | None, copy: bool) -> Array:
    """Convert ``data`` to an ndarray following the dtype rules of the module."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        array = np.array(data, dtype=dtype, copy=copy)
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data, copy=copy)
    else:
        array = np.array(data)
        if array.dtype == np.float64:  # python floats: default dtype
            array = array.astype(_default_dtype)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"expected real numbers (bool, int or float), got dtype {array.dtype}"
        )
    return array


# ==========================================================================
# Graph nodes and the custom-function API
# ==========================================================================


class Context:
    """Per-call scratch space shared by ``forward`` and ``backward``.

    Attributes
    ----------
    needs_input_grad : tuple of bool
        One entry per positional argument of ``forward``: True when that argument is
        a Tensor that requires a gradient (and grad mode is on).
    saved : tuple
        What ``save`` stored. Any other attribute can be set freely too.
    """

    needs_input_grad: tuple[bool, ...]
    saved: tuple[Any, ...]

    def __init__(self) -> None:
        self.saved = ()

    def save(self, *values: Any) -> None:
        """Keep ``values`` (usually ndarrays) for ``backward`` as ``ctx.saved``."""
        self.saved = values

    save_for_backward = save


class Node:
    """One recorded call of a :class:`Function`: the unit the backward pass visits."""

    __slots__ = ("fn", "ctx", "inputs", "n_outputs", "hooks")

    def __init__(
        self,
        fn: type[Function],
        ctx: Context,
        inputs: tuple[Tensor | None, ...],
        n_outputs: int,
    ) -> None:
        self.fn = fn  # the Function subclass
        self.ctx = ctx
        self.inputs = inputs  # per positional arg: the Tensor if it needs grad
        self.n_outputs = n_outputs
        self.hooks: dict[int, list[Hook]] | None = None  # output index -> hooks

    @property
    def name(self) -> str:
        return f"{self.fn.__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"

    def parents(self) -> Iterator[Node]:
        for t in self.inputs:
            if t is not None and t._node is not None:
                yield t._node

    def run_backward(self, grad_outputs: list[Array | None]) -> tuple[Any, ...]:
        """Call the Function's backward and check what it returns."""
        if self.hooks:
            for index, hooks in self.hooks.items():
                if grad_outputs[index] is not None:
                    grad_outputs[index] = _run_hooks(hooks, grad_outputs[index])
        result = self.fn.backward(self.ctx, *grad_outputs)
        if not isinstance(result, tuple):
            result = (result,)
        if len(result) != len(self.inputs):
            raise TypeError(
                f"{self.fn.__name__}.backward returned {len(result)} gradient(s), "
                f"expected {len(self.inputs)} (one per positional input of forward)"
            )
        grads: list[Array | None] = []
        for k, (t, g) in enumerate(zip(self.inputs, result, strict=True)):
            if t is None or g is None:
                grads.append(None)
                continue
            g = np.asarray(g)
            if g.shape != t.data.shape:
                raise ValueError(
                    f"{self.fn.__name__}.backward: expected gradient of shape "
                    f"{t.data.shape} for input {k}, got {g.shape}"
                )
            if g.dtype != t.data.dtype:
                g = g.astype(t.data.dtype)
            grads.append(g)
        return tuple(grads)


def _run_hooks(hooks: list[Hook], grad: Array) -> Array:
    for hook in hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = np.asarray(replaced)
    return grad


class Function:
    """Base class for differentiable operations (the custom-node API).

    Subclass it and write two static methods that work on ndarrays::

        class Affine(Function):
            @staticmethod
            def forward(ctx, x, w):              # Tensor args arrive as ndarrays
                ctx.save(x, w)
                return x @ w                     # an ndarray, or a TUPLE of ndarrays

            @staticmethod
            def backward(ctx, g):                # one grad per output of forward
                x, w = ctx.saved
                return g @ w.T, x.T @ g          # one grad (or None) per input

        y = Affine.apply(x, w)                   # Tensor (a tuple for several outputs)

    Contract
    --------
    * ``forward(ctx, *args)`` gets every Tensor argument as its ndarray (``.data``);
      other arguments (ints, None, arrays, strings...) pass through unchanged. It runs
      under :class:`no_grad`. It returns one ndarray, or a tuple of ndarrays for
      several outputs; ``apply`` then returns one Tensor or a tuple of Tensors.
      Outputs with a non-floating dtype (e.g. indices) never require gradients.
    * ``backward(ctx, *grad_outputs)`` gets one gradient per output, each of the
      output's shape and dtype, or **None for an output that received no gradient**
      (it was unused, or every path from it to the loss was cut). It is called only
      if at least one of them is not None, and exactly once per backward pass. It
      must not modify the gradients in place.
    * It returns one gradient per positional argument of ``forward``, as a tuple
      (or a single array when ``forward`` has one argument): an ndarray of that
      input's shape, or None. Entries for non-Tensor arguments and for inputs with
      ``ctx.needs_input_grad[k] == False`` are ignored (return None to save work).
      A wrong count raises TypeError, a wrong shape ValueError; the dtype is cast.
    * ``ctx.needs_input_grad`` (tuple of bool per argument), ``ctx.save(*values)``
      / ``ctx.saved``, and any attribute set on ``ctx`` carry state to backward.
    """

    @staticmethod
    def forward(ctx: Context, *args: Any) -> Array | tuple[Array, ...]:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grad_outputs: Array | None) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run ``forward`` on ``args`` and record the node when a gradient is needed."""
        ctx = Context()
        grad_on = is_grad_enabled()
        needs = tuple(
            grad_on and isinstance(a, Tensor) and a.requires_grad for a in args
        )
        ctx.needs_input_grad = needs
        raw = tuple(a.data if isinstance(a, Tensor) else a for a in args)
        previous = is_grad_enabled()
        set_grad_enabled(False)
        try:
            out = cls.forward(ctx, *raw)
        finally:
            set_grad_enabled(previous)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        node = None
        if any(needs):
            inputs = tuple(a if n else None for a, n in zip(args, needs, strict=True))
            node = Node(cls, ctx, inputs, len(outs))
        results = []
        for k, o in enumerate(outs):
            if not isinstance(o, (np.ndarray, np.generic)):
                raise TypeError(
                    f"{cls.__name__}.forward: expected ndarray outputs, "
                    f"got {type(o).__name__} for output {k}"
                )
            array = np.asarray(o)
            owner = node if node is not None and _is_float(array.dtype) else None
            results.append(Tensor._wrap(array, owner, k))
        return tuple(results) if multi else results[0]


# ==========================================================================
# Tensor
# ==========================================================================


class Tensor:
    """An ndarray with an optional gradient and a link to the node that made it.

    Parameters
    ----------
    data : array_like or Tensor
        The values. An ndarray of the requested dtype is used without a copy;
        see the module docstring for the dtype rules.
    dtype : dtype, optional
        Convert to this dtype.
    requires_grad : bool
        Track operations on this (leaf) tensor; only floating dtypes may.

    Attributes
    ----------
    data : ndarray
        The values (replaceable, e.g. by optimizers or ``Module.to``).
    grad : ndarray or None
        Accumulated gradient of a leaf, same shape and dtype as ``data``.
    """

    __slots__ = ("data", "grad", "_requires_grad", "_node", "_index", "_hooks")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected ops
    __hash__ = object.__hash__  # __eq__ is elementwise

    def __init__(
        self,
        data: ArrayLike | Tensor,
        dtype: DTypeLike | None = None,
        requires_grad: bool = False,
    ) -> None:
        self.data: Array = _to_array(data, dtype, copy=False)
        self.grad: Array | None = None
        self._node: Node | None = None
        self._index = 0
        self._hooks: list[Hook] | None = None
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _wrap(cls, data: Array, node: Node | None, index: int = 0) -> Tensor:
        """Internal constructor: no conversion, optional creator node."""
        t = Tensor.__new__(Tensor)
        t.data = data
        t.grad = None
        t._node = node
        t._index = index
        t._hooks = None
        t._requires_grad = node is not None
        return t

    # ----------------------------------------------------------------- graph
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._node is not None:
            raise RuntimeError(
                "requires_grad can only be changed on leaf tensors; "
                "use .detach() to get a leaf"
            )
        if flag and not _is_float(self.data.dtype):
            raise TypeError(
                f"only floating tensors can require gradients, got dtype "
                f"{self.data.dtype}"
            )
        self._requires_grad = bool(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        self.requires_grad = flag
        return self

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self) -> Node | None:
        return self._node

    def detach(self) -> Tensor:
        """A leaf sharing the same data, cut from the graph."""
        return Tensor._wrap(self.data, None)

    def register_hook(self, hook: Hook) -> None:
        """Call ``hook(grad)`` when this tensor's gradient is computed.

        ``hook`` may return a replacement gradient (or None to keep it). For a leaf
        the hook sees the total gradient of one backward pass before accumulation.
        """
        if not self._requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that does not require grad"
            )
        if self._node is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
        else:
            if self._node.hooks is None:
                self._node.hooks = {}
            self._node.hooks.setdefault(self._index, []).append(hook)

    def backward(self, grad: ArrayLike | Tensor | None = None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Parameters
        ----------
        grad : array_like, optional
            Gradient with respect to this tensor, same shape. May be omitted only
            when the tensor holds a single element (a loss).
        """
        if not self._requires_grad:
            raise RuntimeError(
                "expected a tensor that requires grad, got one that does not "
                "(no input required grad, or it was computed under no_grad)"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"grad can be omitted only for a single-element tensor, "
                    f"got shape {self.data.shape}; pass grad="
                )
            g = np.ones(self.data.shape, dtype=self.data.dtype)
        else:
            g = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
            if g.shape != self.data.shape:
                raise ValueError(
                    f"expected grad of shape {self.data.shape}, got {g.shape}"
                )
            g = g.astype(self.data.dtype)
        _run_backward(self, g)

    # ------------------------------------------------------------- ndarray-ish
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or one of its entries (PyTorch's ``size``)."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def numpy(self) -> Array:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(
        self, dtype: DTypeLike | None = None, copy: bool | None = None
    ) -> Array:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self) -> float | int | bool:
        if self.data.size != 1:
            raise ValueError(
                f"expected a single-element tensor for item(), got shape {self.shape}"
            )
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = [f"dtype={self.data.dtype}"]
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    # ------------------------------------------------------------ differentiable
    # Each method wraps a Function from fastrnn._ops or fastrnn._shape_ops, where
    # the op's forward and backward live side by side.

    def __add__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Add, self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Add, other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Sub, self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Sub, other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Mul, self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Mul, other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Div, self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.Div, other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.MatMul, self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.binary(_ops.MatMul, other, self)

    matmul = __matmul__

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pow__(self, exponent: float) -> Tensor:
        """``self ** exponent`` for a python-number exponent."""
        return _ops.power(self, exponent)

    pow = __pow__

    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return _ops.Relu.apply(self)

    def softmax(self, dim: int = -1) -> Tensor:
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int = -1) -> Tensor:
        return _ops.log_softmax(self, dim)

    def sum(
        self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False
    ) -> Tensor:
        return _ops.Sum.apply(self, dim, keepdim)

    def mean(
        self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False
    ) -> Tensor:
        return _ops.Mean.apply(self, dim, keepdim)

    def amax(
        self, dim: int | tuple[int, ...] | None = None, keepdim: bool = False
    ) -> Tensor:
        """Maximum over ``dim``; tied maxima share the gradient equally."""
        return _ops.Amax.apply(self, dim, keepdim)

    def to(self, dtype: DTypeLike) -> Tensor:
        """Convert the dtype (differentiable for floating targets; self if unchanged)."""
        return _ops.to_dtype(self, dtype)

    def float(self) -> Tensor:
        return _ops.to_dtype(self, np.float32)

    def double(self) -> Tensor:
        return _ops.to_dtype(self, np.float64)

    def long(self) -> Tensor:
        return _ops.to_dtype(self, np.int64)

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        """Same data in a new shape (one entry may be -1); ``view`` is an alias."""
        return _shape_ops.reshape(self, *shape)

    view = reshape

    def permute(self, *dims: int | Sequence[int]) -> Tensor:
        return _shape_ops.permute(self, *dims)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _shape_ops.transpose(self, dim0, dim1)

    @property
    def T(self) -> Tensor:  # noqa: N802 (PyTorch's name)
        """All axes reversed (a matrix transpose for 2-D tensors)."""
        return _shape_ops.Permute.apply(self, tuple(reversed(range(self.ndim))))

    def unsqueeze(self, dim: int) -> Tensor:
        return _shape_ops.unsqueeze(self, dim)

    def squeeze(self, dim: int | None = None) -> Tensor:
        return _shape_ops.squeeze(self, dim)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _shape_ops.flatten(self, start_dim, end_dim)

    def __getitem__(self, index: Any) -> Tensor:
        """Basic slicing and integer/bool array (or Tensor) indexing."""
        return _shape_ops.getitem(self, index)

    # --------------------------------------------------------- not differentiable
    def __lt__(self, other: Any) -> Tensor:
        return _ops.compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.compare(np.greater_equal, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.compare(np.not_equal, self, other)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return Tensor._wrap(
            np.asarray(np.argmax(self.data, axis=dim, keepdims=keepdim)), None
        )


# ==========================================================================
# The backward pass
# ==========================================================================


def _topological_order(root: Node) -> list[Node]:
    """Nodes reachable from ``root``, each after every node that consumes it."""
    order: list[Node] = []
    seen = {root}
    stack = [(root, root.parents())]
    while stack:  # iterative post-order DFS (graphs can be deeper than recursion)
        node, parents = stack[-1]
        for parent in parents:
            if parent not in seen:
                seen.add(parent)
                stack.append((parent, parent.parents()))
                break
        else:
            stack.pop()
            order.append(node)
    order.reverse()
    return order


def _run_backward(root: Tensor, grad: Array) -> None:
    leaf_grads: dict[int, tuple[Tensor, Array]] = {}
    if root._node is None:
        leaf_grads[id(root)] = (root, grad)
    else:
        pending: dict[Node, list[Array | None]] = {}
        pending[root._node] = [None] * root._node.n_outputs
        pending[root._node][root._index] = grad
        for node in _topological_order(root._node):
            grad_outputs = pending.pop(node, None)
            if grad_outputs is None or all(g is None for g in grad_outputs):
                continue
            grad_inputs = node.run_backward(grad_outputs)
            for t, g in zip(node.inputs, grad_inputs, strict=True):
                if t is None or g is None:
                    continue
                if t._node is None:
                    old = leaf_grads.get(id(t))
                    leaf_grads[id(t)] = (t, g if old is None else old[1] + g)
                else:
                    slots = pending.setdefault(t._node, [None] * t._node.n_outputs)
                    old_g = slots[t._index]
                    slots[t._index] = g if old_g is None else old_g + g
    for t, g in leaf_grads.values():
        if t._hooks:
            g = _run_hooks(t._hooks, g)
        if t.grad is None:
            t.grad = np.array(g, dtype=t.data.dtype, copy=True)
        else:
            t.grad = t.grad + g


# ==========================================================================
# Constructors
# ==========================================================================


def tensor(
    data: ArrayLike | Tensor,
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A new leaf Tensor holding a COPY of ``data``.

    Python floats give the default dtype (float32), ndarrays keep their dtype
    (float64 stays float64), python ints give int64.
    """
    return Tensor(_to_array(data, dtype, copy=True), requires_grad=requires_grad)


def zeros(
    *shape: int | Sequence[int],
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A leaf of zeros, default dtype float32."""
    return Tensor(
        np.zeros(_shape(shape), dtype=dtype or _default_dtype),
        requires_grad=requires_grad,
    )


def ones(
    *shape: int | Sequence[int],
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """A leaf of ones, default dtype float32."""
    return Tensor(
        np.ones(_shape(shape), dtype=dtype or _default_dtype),
        requires_grad=requires_grad,
    )


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


# The ops are defined on top of Function and Tensor, so they are imported last.
from fastrnn import _ops, _shape_ops  # noqa: E402
