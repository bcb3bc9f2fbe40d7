"""``RMSprop``: gradients scaled by a running RMS, optionally centered and with momentum."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastrnn.optim.optimizer import Array, Optimizer, ParamsT, check_non_negative
from fastrnn.tensor import Tensor


class RMSprop(Optimizer):
    r"""RMSprop (Hinton), as ``torch.optim.RMSprop``.

    For each parameter ``p`` with gradient ``g``::

        g = -g                          if maximize
        g = g + weight_decay * p        if weight_decay != 0
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            a = alpha * a + (1 - alpha) * g
            denom = sqrt(v - a * a) + eps
        else:
            denom = sqrt(v) + eps
        if momentum > 0:
            b = momentum * b + g / denom
            p = p - lr * b
        else:
            p = p - lr * g / denom

    Parameters
    ----------
    params : iterable of Tensor, (name, Tensor) pairs or dicts
        Parameters or parameter groups.
    lr : float
        Learning rate (default 1e-2).
    alpha : float
        Smoothing constant of the running average (default 0.99).
    eps : float
        Added to the denominator for stability (default 1e-8).
    weight_decay : float
        L2 penalty (default 0).
    momentum : float
        Momentum factor (default 0).
    centered : bool
        Normalize by an estimate of the gradient's variance instead of its second
        moment.
    maximize : bool
        Maximize the objective instead of minimizing it.

    State
    -----
    ``step`` (0-d float32 array), ``square_avg``, ``momentum_buffer`` (when
    ``momentum > 0``) and ``grad_avg`` (when centered), ndarrays like the parameter.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_options(self, options: Mapping[str, Any]) -> None:
        for name in ("lr", "eps", "momentum", "weight_decay", "alpha"):
            check_non_negative(name, options[name])

    def _update(self, param: Tensor, grad: Array, group: dict[str, Any]) -> None:
        alpha, momentum = group["alpha"], group["momentum"]
        p = param.data
        state = self.state[param]
        if not state:
            state["step"] = np.array(0.0, dtype=np.float32)
            state["square_avg"] = np.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = np.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p)

        if group["maximize"]:
            grad = -grad
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p

        v = state["square_avg"]
        v *= alpha
        v += (1 - alpha) * (grad * grad)
        if group["centered"]:
            a = state["grad_avg"]
            a += (1 - alpha) * (grad - a)  # a.lerp_(grad, 1 - alpha)
            denom = np.sqrt(v - a * a)
        else:
            denom = np.sqrt(v)
        denom += group["eps"]

        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / denom
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (grad / denom)
