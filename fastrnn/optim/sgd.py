"""``SGD``: stochastic gradient descent with momentum, dampening and Nesterov."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastrnn.optim.optimizer import Array, Optimizer, ParamsT, check_non_negative
from fastrnn.tensor import Tensor


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    For each parameter ``p`` with gradient ``g``::

        g = -g                          if maximize
        g = g + weight_decay * p        if weight_decay != 0
        if momentum != 0:
            b = g                                   on the first step
            b = momentum * b + (1 - dampening) * g  afterwards
            g = g + momentum * b        if nesterov else  g = b
        p = p - lr * g

    Parameters
    ----------
    params : iterable of Tensor, (name, Tensor) pairs or dicts
        Parameters or parameter groups.
    lr : float
        Learning rate (default 1e-3).
    momentum : float
        Momentum factor (default 0).
    dampening : float
        Dampening of the momentum (default 0).
    weight_decay : float
        L2 penalty added to the gradient (default 0).
    nesterov : bool
        Nesterov momentum; needs ``momentum > 0`` and ``dampening == 0``.
    maximize : bool
        Maximize the objective instead of minimizing it.

    State
    -----
    ``momentum_buffer`` : ndarray like the parameter (only when ``momentum != 0``).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate_options(self, options: Mapping[str, Any]) -> None:
        check_non_negative("lr", options["lr"])
        check_non_negative("momentum", options["momentum"])
        check_non_negative("weight_decay", options["weight_decay"])
        if options["nesterov"] and (
            options["momentum"] <= 0 or options["dampening"] != 0
        ):
            raise ValueError(
                "expected momentum > 0 and dampening == 0 with nesterov=True, got "
                f"momentum={options['momentum']}, dampening={options['dampening']}"
            )

    def _update(self, param: Tensor, grad: Array, group: dict[str, Any]) -> None:
        momentum = group["momentum"]
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param.data
        if momentum != 0:
            state = self.state[param]
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(grad, dtype=param.data.dtype)
            else:
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        param.data -= group["lr"] * grad
