"""``Adam`` and ``AdamW``: adaptive moment estimation, with L2 or decoupled decay."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from fastrnn import _threads
from fastrnn._kernels.optim import adam_update
from fastrnn.optim.optimizer import Array, Optimizer, ParamsT, check_non_negative
from fastrnn.tensor import Tensor

#: fused updates on (False: always the NumPy formula; tests compare the two)
FUSED = True


def _fusable(group: dict[str, Any], p: Array, *arrays: Array) -> bool:
    """The one-pass kernel covers plain Adam with an optional L2 penalty on contiguous
    float parameters (gradient and moments alike); the rest takes the NumPy formula."""
    return (
        FUSED
        and not group["amsgrad"]
        and not group["maximize"]
        and not (group["decoupled_weight_decay"] and group["weight_decay"] != 0)
        and p.dtype in (np.float32, np.float64)
        and all(a.dtype == p.dtype and a.flags.c_contiguous for a in (p, *arrays))
    )


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2014), as ``torch.optim.Adam``.

    For each parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

        g = -g                               if maximize
        p = p * (1 - lr * weight_decay)      if decoupled_weight_decay
        g = g + weight_decay * p             otherwise (L2 penalty)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                if amsgrad (used instead of v below)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - lr / (1 - beta1**t) * m / denom

    Parameters
    ----------
    params : iterable of Tensor, (name, Tensor) pairs or dicts
        Parameters or parameter groups.
    lr : float
        Learning rate (default 1e-3).
    betas : tuple of float
        Decay rates ``(beta1, beta2)`` of the moment estimates, each in [0, 1)
        (default (0.9, 0.999)).
    eps : float
        Added to the denominator for stability (default 1e-8).
    weight_decay : float
        L2 penalty, or decoupled decay rate when ``decoupled_weight_decay``
        (default 0).
    amsgrad : bool
        Use the running maximum of ``v`` (Reddi et al., 2018).
    maximize : bool
        Maximize the objective instead of minimizing it.
    decoupled_weight_decay : bool
        Decay the weights directly, as AdamW does (default False).

    State
    -----
    ``step`` (0-d float32 array), ``exp_avg``, ``exp_avg_sq`` and, with amsgrad,
    ``max_exp_avg_sq`` (ndarrays like the parameter).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _validate_options(self, options: Mapping[str, Any]) -> None:
        check_non_negative("lr", options["lr"])
        check_non_negative("eps", options["eps"])
        betas = options["betas"]
        if len(betas) != 2:
            raise ValueError(f"expected 2 betas, got {len(betas)}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"expected betas[{i}] in [0, 1), got {beta}")
        check_non_negative("weight_decay", options["weight_decay"])

    def _update(self, param: Tensor, grad: Array, group: dict[str, Any]) -> None:
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        p = param.data
        state = self.state[param]
        if not state:
            state["step"] = np.array(0.0, dtype=np.float32)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(p)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        state["step"] += 1
        step = float(state["step"])
        step_size = lr / (1 - beta1**step)
        bias2 = (1 - beta2**step) ** 0.5  # sqrt of the second moment's bias correction
        if _fusable(group, p, grad, m, v):
            adam_update(
                p.reshape(-1),
                grad.reshape(-1),
                m.reshape(-1),
                v.reshape(-1),
                step_size,
                bias2,
                beta1,
                beta2,
                eps,
                weight_decay,
                _threads.get_num_threads(),
            )
            return

        # the reference formula (and amsgrad, maximize, decoupled decay)
        if group["maximize"]:
            grad = -grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * weight_decay
            else:
                grad = grad + weight_decay * p

        m += (1 - beta1) * (grad - m)  # m.lerp_(grad, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            v = v_max

        denom = np.sqrt(v)
        denom /= bias2
        denom += eps
        p -= step_size * (m / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    Identical to ``Adam(..., decoupled_weight_decay=True)`` but with
    ``weight_decay=1e-2`` by default: each step first scales the parameters by
    ``1 - lr * weight_decay``, then applies the Adam update to the raw gradient.
    See :class:`Adam` for the parameters.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
