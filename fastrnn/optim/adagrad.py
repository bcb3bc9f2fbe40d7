"""``Adagrad``: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastrnn.optim.optimizer import Array, Optimizer, ParamsT, check_non_negative
from fastrnn.tensor import Tensor


class Adagrad(Optimizer):
    r"""Adagrad (Duchi et al., 2011), as ``torch.optim.Adagrad``.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        g = -g                          if maximize
        g = g + weight_decay * p        if weight_decay != 0
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                   (s starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Parameters
    ----------
    params : iterable of Tensor, (name, Tensor) pairs or dicts
        Parameters or parameter groups.
    lr : float
        Learning rate (default 1e-2).
    lr_decay : float
        Learning-rate decay per step (default 0).
    weight_decay : float
        L2 penalty (default 0).
    initial_accumulator_value : float
        Starting value of the sum of squares (default 0).
    eps : float
        Added to the denominator for stability (default 1e-10).
    maximize : bool
        Maximize the objective instead of minimizing it.

    State
    -----
    ``step`` (0-d float32 array) and ``sum`` (ndarray like the parameter), created
    for every parameter when its group is added, as in PyTorch.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_options(self, options: Mapping[str, Any]) -> None:
        for name in (
            "lr",
            "lr_decay",
            "weight_decay",
            "initial_accumulator_value",
            "eps",
        ):
            check_non_negative(name, options[name])

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[param]
        if not state:
            state["step"] = np.array(0.0, dtype=np.float32)
            state["sum"] = np.full_like(param.data, group["initial_accumulator_value"])
        return state

    def _update(self, param: Tensor, grad: Array, group: dict[str, Any]) -> None:
        p = param.data
        state = self._init_state(param, group)
        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        step = float(state["step"])
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p

        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"]
        s += grad * grad
        std = np.sqrt(s)
        std += group["eps"]
        p -= clr * (grad / std)
