"""``Optimizer``: the base class of all optimizers, with PyTorch's structure.

An optimizer holds ``param_groups``, a list of dicts. Each group has a ``"params"``
list of :class:`~fastrnn.tensor.Tensor` and one value per option (``"lr"``,
``"weight_decay"``, ...); options missing from a group take the constructor's
defaults. Per-parameter buffers live in ``state[param]`` (a dict of ndarrays).

``state_dict()`` has PyTorch's layout, with parameters replaced by their index in
the concatenation of all groups' ``"params"``::

    {"state": {0: {"step": array(3.), "exp_avg": array([...])}, ...},
     "param_groups": [{"lr": 0.001, ..., "params": [0, 1, 2]}, ...]}

Every value in ``"state"`` is an ndarray and every group value is a plain python
scalar, bool, tuple or list, so a checkpoint can store the state as arrays and the
groups as JSON. ``load_state_dict`` also accepts string indices ("0", "1", ...), as
JSON writes them.

Subclasses implement ``_update(param, grad, group)``, which changes ``param.data``
in place (so references to the array stay valid) and keeps its buffers in
``self.state[param]``. The base ``step`` calls it for every parameter whose
``grad`` is not None.
"""

from __future__ import annotations

import copy
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from itertools import chain
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn.tensor import Tensor, enable_grad

Array = NDArray[Any]
ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]] | Iterable[tuple[str, Tensor]]


def check_non_negative(name: str, value: float) -> None:
    """Raise ``ValueError`` unless ``0 <= value`` (NaN fails too)."""
    if not 0.0 <= value:
        raise ValueError(f"expected {name} >= 0, got {value}")


class Optimizer:
    """Base class of all optimizers.

    Parameters
    ----------
    params : iterable of Tensor, of (name, Tensor) pairs, or of dicts
        The parameters to optimize, or parameter groups: dicts with a ``"params"``
        entry and per-group options that override ``defaults``.
    defaults : dict
        The default value of every option.

    Attributes
    ----------
    param_groups : list of dict
    state : defaultdict of Tensor to dict
        Per-parameter buffers, created lazily on the first step with a gradient.
    defaults : dict
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self._validate_options(defaults)
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "expected an iterable of Tensors or dicts as params, got a single "
                "Tensor (wrap it in a list)"
            )
        groups = list(params)
        if not groups:
            raise ValueError("expected a non-empty parameter list, got an empty one")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def _validate_options(self, options: Mapping[str, Any]) -> None:
        """Check option values; subclasses raise ``ValueError`` for bad ones."""

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (e.g. a new layer).

        Parameters
        ----------
        param_group : dict
            ``{"params": [...], "lr": ..., ...}``; options not given take the
            optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(
                f"expected a dict as param_group, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError("expected a 'params' entry in param_group, got none")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                "expected an ordered collection of parameters (a list), got a set, "
                "whose order changes between runs"
            )
        else:
            params = list(params)

        named = [isinstance(p, tuple) for p in params]
        group = dict(param_group)
        if any(named):
            if not all(named):
                raise ValueError(
                    "expected all params of a group to be named (name, Tensor) pairs "
                    "or all to be Tensors, got a mix"
                )
            group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        group["params"] = params

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"expected Tensors as optimizer params, got {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    "expected leaf Tensors as optimizer params, got a non-leaf "
                    "Tensor (the result of an operation)"
                )

        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._validate_options(group)

        if len({id(p) for p in params}) != len(params):
            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters",
                UserWarning,
                stacklevel=2,
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(id(p) for p in params):
            raise ValueError(
                "expected every parameter in at most one parameter group, got "
                "some in more than one"
            )
        if self.param_groups and ("param_names" in group) != (
            "param_names" in self.param_groups[0]
        ):
            raise ValueError(
                "expected all parameter groups to be named or all to be unnamed, "
                "got a mix"
            )
        self.param_groups.append(group)

    # -------------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters.

        Parameters
        ----------
        set_to_none : bool
            Set ``grad`` to None (the default, as in PyTorch) instead of filling it
            with zeros; optimizers then skip those parameters.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, once.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (called with grad mode on,
            before the update).

        Returns
        -------
        The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, p.grad, group)
        return loss

    def _update(self, param: Tensor, grad: Array, group: dict[str, Any]) -> None:
        """Update ``param.data`` in place from ``grad`` with ``group``'s options."""
        raise NotImplementedError(f"{type(self).__name__} does not define _update()")

    # -------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as ``{"state": ..., "param_groups": ...}``.

        Parameters are replaced by their index across all groups. Arrays and group
        values are copies (PyTorch returns references), so the result is a snapshot
        that later steps do not change.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy_value(v) for k, v in s.items()}
            for p, s in self.state.items()
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (e.g. after a JSON round trip).

        Groups must match in number and size; the current parameters are kept and
        their options and buffers replaced. Floating arrays are cast to each
        parameter's dtype, except ``"step"``.
        """
        if "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(
                "expected a state dict with 'state' and 'param_groups' entries, got "
                f"keys {sorted(state_dict)}"
            )
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"expected {len(self.param_groups)} parameter groups in the state "
                f"dict, got {len(saved_groups)}"
            )
        for i, (group, saved) in enumerate(
            zip(self.param_groups, saved_groups, strict=True)
        ):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"expected {len(group['params'])} parameters in parameter group "
                    f"{i} of the state dict, got {len(saved['params'])}"
                )
        by_index = {
            int(i): p
            for i, p in zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in self.param_groups),
                strict=True,
            )
        }

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            i = int(key)
            if i not in by_index:
                raise ValueError(
                    f"expected state only for parameter indices "
                    f"{sorted(by_index)}, got index {key!r}"
                )
            p = by_index[i]
            state[p] = {name: _cast_value(p, name, v) for name, v in values.items()}

        for group, saved in zip(self.param_groups, saved_groups, strict=True):
            new = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            for name, default in self.defaults.items():
                new.setdefault(name, default)
            if "param_names" in group and "param_names" not in new:
                new["param_names"] = group["param_names"]
            new["params"] = group["params"]
            group.clear()  # in place, so references to the group dicts stay valid
            group.update(new)
        self.state = state

    # -------------------------------------------------------------------- repr
    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(value: Any) -> Any:
    return value.copy() if isinstance(value, np.ndarray) else copy.deepcopy(value)


def _cast_value(param: Tensor, name: str, value: Any) -> Any:
    """A copy of a loaded state value; floating arrays take the param's dtype."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if not isinstance(value, np.ndarray):
        if name == "step" or isinstance(value, (list, float, int)):
            value = np.asarray(value)
        else:
            return copy.deepcopy(value)
    if name == "step":
        return np.array(value, dtype=np.float32)
    if np.issubdtype(value.dtype, np.floating):
        return np.array(value, dtype=param.data.dtype)
    return value.copy()
