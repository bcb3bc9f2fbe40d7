"""``Module`` and ``Parameter``: PyTorch's containers of trainable state.

Assigning a :class:`Parameter` or a :class:`Module` to an attribute registers it, in
assignment order. Names in ``named_parameters`` and ``state_dict`` are dotted paths
("0.weight", "encoder.embedding.weight"), identical to PyTorch's for the same
structure, so state dicts move between the two as NumPy arrays.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from fastrnn.tensor import Tensor, get_default_dtype

Array = NDArray[Any]


class Parameter(Tensor):
    """A leaf Tensor that a Module registers as trainable (``requires_grad=True``).

    Parameters
    ----------
    data : array_like or Tensor
        The initial values; ndarrays and Tensors are used without a copy and keep
        their dtype, python lists become the default dtype.
    requires_grad : bool
    """

    __slots__ = ()

    def __init__(self, data: ArrayLike | Tensor, requires_grad: bool = True) -> None:
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictKeyError(KeyError, ValueError):
    """Missing or unexpected keys in ``load_state_dict`` (a KeyError and a ValueError)."""

    def __str__(self) -> str:
        return str(self.args[0])


class Module:
    """Base class of all layers and models.

    Subclasses set Parameters and sub-Modules as attributes in ``__init__`` (after
    calling ``super().__init__()``) and implement ``forward``; calling the module
    calls ``forward``.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ registration
    def _registries(self) -> tuple[dict[str, Any], ...]:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() call"
            )
        return self._parameters, self._buffers, self._modules

    def __setattr__(self, name: str, value: Any) -> None:
        params, buffers, modules = self._registries()
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"expected a Parameter or None for parameter {name!r}, got "
                    f"{type(value).__name__}"
                )
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"expected a Module or None for submodule {name!r}, got "
                    f"{type(value).__name__}"
                )
            modules[name] = None
        elif name in buffers:
            buffers[name] = None if value is None else _as_buffer(value)
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails.
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def __delattr__(self, name: str) -> None:
        for registry in self._registries():
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def _discard(self, name: str) -> None:
        if name in self.__dict__:
            object.__delattr__(self, name)
        for registry in self._registries():
            registry.pop(name, None)
        self._non_persistent.discard(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or a None placeholder, e.g. for ``bias=False``)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"expected a Parameter or None for {name!r}, got {type(param).__name__}"
            )
        _check_name(name)
        self._discard(name)
        self._parameters[name] = param

    def register_buffer(
        self, name: str, tensor: Tensor | ArrayLike | None, persistent: bool = True
    ) -> None:
        """Register non-trainable state (in ``state_dict`` unless not persistent)."""
        _check_name(name)
        self._discard(name)
        self._buffers[name] = None if tensor is None else _as_buffer(tensor)
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a submodule under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"expected a Module or None for {name!r}, got {type(module).__name__}"
            )
        _check_name(name)
        self._discard(name)
        self._modules[name] = module

    register_module = add_module

    # ---------------------------------------------------------------- iteration
    def named_modules(
        self, prefix: str = "", memo: set[int] | None = None
    ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, each once, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(
                    f"{prefix}.{name}" if prefix else name, memo
                )

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(
        self, registry: str, prefix: str, recurse: bool
    ) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, Parameter)`` in registration order; shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------- modes, grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active) on this module and all below it."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode (``train(False)``)."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None, or to zeros)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad = requires_grad
        return self

    # ------------------------------------------------------------------- dtype
    def to(self, dtype: DTypeLike) -> Module:
        """Convert floating parameters, their gradients and buffers to ``dtype``."""
        dt = np.dtype(dtype)
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"expected dtype float32 or float64, got {dt}")
        for t in [*self.parameters(), *self.buffers()]:
            if np.issubdtype(t.data.dtype, np.floating):
                t.data = t.data.astype(dt)
                if t.grad is not None:
                    t.grad = t.grad.astype(dt)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # -------------------------------------------------------------- state dicts
    def _state_items(self) -> Iterator[tuple[str, Tensor]]:
        """Persistent state in PyTorch's order: own params, own buffers, children."""
        for prefix, module in self.named_modules():
            own = [
                *module._parameters.items(),
                *(
                    (n, b)
                    for n, b in module._buffers.items()
                    if n not in module._non_persistent
                ),
            ]
            for name, value in own:
                if value is not None:
                    yield (f"{prefix}.{name}" if prefix else name), value

    def state_dict(self) -> OrderedDict[str, Array]:
        """Copies of all parameters and persistent buffers, by dotted name."""
        return OrderedDict((k, v.data.copy()) for k, v in self._state_items())

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, in place.

        Values may be anything ``np.asarray`` accepts (ndarrays, fastrnn Tensors,
        CPU torch tensors); they are cast to each parameter's dtype. Nothing is
        changed unless every present key has the right shape.

        Raises
        ------
        StateDictKeyError (a KeyError and a ValueError)
            If ``strict`` and keys are missing or unexpected; lists both.
        ValueError
            If a value's shape differs from its parameter's.
        """
        own = dict(self._state_items())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise StateDictKeyError(
                f"Error loading state_dict into {type(self).__name__}: "
                f"missing keys {missing}, unexpected keys {unexpected}"
            )
        arrays: dict[str, Array] = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if array.shape != target.data.shape:
                raise ValueError(
                    f"expected shape {target.data.shape} for {key!r}, got {array.shape}"
                )
            arrays[key] = array
        for key, array in arrays.items():
            np.copyto(own[key].data, array, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # -------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            text = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {text}")
        head = type(self).__name__ + "("
        if not lines:
            return head + ")"
        if len(lines) == 1 and not self._modules:
            return head + lines[0] + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        return sorted(
            set(super().__dir__())
            | set(self._parameters)
            | set(self._buffers)
            | set(self._modules)
        )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"expected a non-empty name without '.', got {name!r}")


def _as_buffer(value: Tensor | ArrayLike) -> Tensor:
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if array.dtype == np.float64 and not isinstance(value, np.ndarray):
        array = array.astype(get_default_dtype())
    return Tensor(array)
