"""The exploding / vanishing gradient demo: a ReLU vanilla RNN and ||dL/dh_t|| over t.

A vanilla ReLU RNN ``h_t = relu(W_ih x_t + W_hh h_{t-1})`` with a square recurrent
matrix drawn N(0, sigma2 / H) multiplies a backpropagated gradient by about
``sqrt(sigma2 / 2)`` per step (ReLU passes half of the units), so sigma2 = 2 is
critical:

* sigma2 = 3.0: ``||dL/dh_t||`` grows by ~1.22x per step back from the loss
  (exploding gradients; the forward states grow too);
* sigma2 = 1.5: it shrinks by ~0.87x per step (vanishing gradients: the first
  steps get almost no learning signal).

The loss is computed at the last step only, ``L = mean_b (w . h_T[b] + c - y_b)^2``,
so ``dL/dh_t`` for ``t < T - 1`` arrives purely through time. The norms come from
:func:`fastrnn.trace` (``grad_h_norm``, filled by the kernel's backward pass).

Everything returns plain NumPy arrays, floats and dicts (no Qt, no Tensors), so the
explorer can plot them directly::

    from fastrnn.tasks.gradient_flow import compare_inits, clipping_effect
    flows = compare_inits()                   # {3.0: {...}, 1.5: {...}}
    flows[3.0]["grad_norm"]                   # (T,) mean over the batch
    clip = clipping_effect()                  # losses and norms with/without clipping

Notation: T steps, B batch, I input size, H hidden size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

import fastrnn
from fastrnn import nn, optim
from fastrnn._validation import check_int as _check_int
from fastrnn.nn.utils.clip_grad import clip_grad_norm_, get_total_norm
from fastrnn.random import manual_seed
from fastrnn.tensor import Tensor, no_grad

__all__ = [
    "EXPLODING_SIGMA2",
    "VANISHING_SIGMA2",
    "ReluRNNRegressor",
    "clipping_effect",
    "compare_inits",
    "demo_batch",
    "gradient_flow",
    "log_growth",
]

Array = NDArray[Any]

#: Recurrent init variance (times 1/H) that makes gradients explode.
EXPLODING_SIGMA2 = 3.0
#: Recurrent init variance (times 1/H) that makes gradients vanish.
VANISHING_SIGMA2 = 1.5


class ReluRNNRegressor(nn.Module):
    """``nn.RNN(nonlinearity="relu")`` -> Linear(H, 1) on the last step.

    The recurrent matrix is drawn N(0, sigma2 / H) with
    :func:`fastrnn.nn.init.scaled_normal_`, the input matrix keeps PyTorch's
    U(-1/sqrt(H), 1/sqrt(H)) and the recurrent biases are zero, so ``sigma2``
    alone sets the per-step gain.

    Parameters
    ----------
    input_size, hidden_size : int
    sigma2 : float
        Variance of the recurrent weights times H.
    dtype : float64 (default; the exploding states overflow float32 sooner) or float32

    Call
    ----
    ``pred = model(x)`` with x (T, B, I) -> pred (B,)
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        sigma2: float,
        dtype: DTypeLike = np.float64,
    ) -> None:
        super().__init__()
        self.sigma2 = float(sigma2)
        self.rnn = nn.RNN(input_size, hidden_size, nonlinearity="relu", dtype=dtype)
        self.head = nn.Linear(hidden_size, 1, dtype=dtype)
        with no_grad():
            nn.init.scaled_normal_(self.rnn.weight_hh_l0, self.sigma2)
            nn.init.zeros_(self.rnn.bias_ih_l0)
            nn.init.zeros_(self.rnn.bias_hh_l0)

    def forward(self, x: Tensor | Array) -> Tensor:
        output, _ = self.rnn(x)  # (T, B, H)
        return self.head(output[-1]).reshape(-1)  # (B,): the loss sees h_T only


def demo_batch(
    T: int, batch: int, input_size: int, seed: int = 0, dtype: DTypeLike = np.float64
) -> tuple[Array, Array]:
    """Inputs x ~ N(0, 1) of shape (T, B, I) and targets y ~ N(0, 1) of shape (B,)."""
    T = _check_int("T", T, 1)
    batch = _check_int("batch", batch, 1)
    input_size = _check_int("input_size", input_size, 1)
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((T, batch, input_size)).astype(dtype)
    y = gen.standard_normal(batch).astype(dtype)
    return x, y


def log_growth(norms: Array) -> float:
    """Per-step factor by which a norm grows going BACK in time from the loss.

    Fits ``ln norm_t = a + s t`` by least squares over the finite, positive
    entries and returns ``exp(-s)``: > 1 for exploding gradients, < 1 for
    vanishing ones (theory for the ReLU demo: ``sqrt(sigma2 / 2)``).

    Parameters
    ----------
    norms : array of shape (T,)
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1:
        raise ValueError(f"expected a 1-D array of norms, got shape {norms.shape}")
    t = np.arange(norms.size)
    ok = np.isfinite(norms) & (norms > 0)
    if ok.sum() < 2:
        raise ValueError(
            f"expected at least 2 finite positive norms to fit, got {int(ok.sum())}"
        )
    slope = np.polyfit(t[ok], np.log(norms[ok]), 1)[0]
    return float(math.exp(-slope))


def gradient_flow(
    sigma2: float,
    T: int = 60,
    hidden_size: int = 128,
    input_size: int = 4,
    batch: int = 16,
    seed: int = 0,
    dtype: DTypeLike = np.float64,
) -> dict[str, Any]:
    """One forward/backward pass of the ReLU RNN; ||dL/dh_t|| and ||h_t|| over t.

    Parameters
    ----------
    sigma2 : float
        Recurrent init variance times H (3.0 explodes, 1.5 vanishes).
    T, hidden_size, input_size, batch : int
    seed : int
        Seeds the weights and the batch (the same seed gives the same numbers).
    dtype : float64 (default) or float32

    Returns
    -------
    dict
        ``t`` (T,) step indices; ``grad_h_norm`` (T, B) ``||dL/dh_t||`` per
        sequence; ``grad_norm`` (T,) its mean over the batch; ``h_norm`` (T,) mean
        ``||h_t||``; ``growth`` per-step backward growth factor
        (:func:`log_growth` of ``grad_norm``); ``theory`` ``sqrt(sigma2 / 2)``;
        ``loss`` the initial loss; ``param_grad_norm`` global norm of the
        parameter gradients; ``sigma2``.
    """
    T = _check_int("T", T, 2)
    hidden_size = _check_int("hidden_size", hidden_size, 1)
    manual_seed(seed)
    model = ReluRNNRegressor(input_size, hidden_size, sigma2, dtype)
    x, y = demo_batch(T, batch, input_size, seed, dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        with fastrnn.trace(model) as tr:
            loss = nn.MSELoss()(model(x), y)
            loss.backward()
    rec = tr[("rnn", 0, "forward")]
    assert rec.grad_h_norm is not None  # filled by backward
    grad_norm = rec.grad_h_norm.mean(axis=1)  # (T,)
    return {
        "sigma2": float(sigma2),
        "t": np.arange(T),
        "grad_h_norm": rec.grad_h_norm,
        "grad_norm": grad_norm,
        "h_norm": np.linalg.norm(rec.h, axis=-1).mean(axis=1),
        "growth": log_growth(grad_norm),
        "theory": math.sqrt(sigma2 / 2.0),
        "loss": float(loss.item()),
        "param_grad_norm": get_total_norm(
            p.grad for p in model.parameters() if p.grad is not None
        ),
    }


def compare_inits(
    sigma2s: tuple[float, ...] = (EXPLODING_SIGMA2, VANISHING_SIGMA2),
    **kwargs: Any,
) -> dict[float, dict[str, Any]]:
    """:func:`gradient_flow` for each init variance (same seed and data for all)."""
    return {float(s): gradient_flow(s, **kwargs) for s in sigma2s}


def clipping_effect(
    sigma2: float = EXPLODING_SIGMA2,
    max_norm: float = 1.0,
    steps: int = 10,
    lr: float = 0.01,
    T: int = 30,
    hidden_size: int = 64,
    input_size: int = 4,
    batch: int = 16,
    seed: int = 0,
    dtype: DTypeLike = np.float64,
) -> dict[str, Any]:
    """A few SGD steps on one batch, without and with global gradient-norm clipping.

    Both runs start from the same weights (same ``seed``) and see the same batch.

    Parameters
    ----------
    sigma2 : float
        Recurrent init variance times H (default 3.0: exploding).
    max_norm : float
        Clipping threshold of the global gradient norm.
    steps : int
        SGD steps per run.
    lr : float
        Plain SGD learning rate (plain SGD shows the raw gradient's effect; Adam
        would normalise it away).
    T, hidden_size, input_size, batch, seed, dtype
        As :func:`gradient_flow`.

    Returns
    -------
    dict
        ``{"max_norm": float, "lr": float, "unclipped": run, "clipped": run}`` where
        each ``run`` holds (steps,) arrays: ``loss`` (before each update; inf or
        NaN once a run has diverged), ``norm_before`` and ``norm_after`` (global
        gradient norm before and after clipping; equal without clipping), and
        ``final_loss`` (after the last update).
    """
    steps = _check_int("steps", steps, 1)
    if not max_norm > 0:
        raise ValueError(f"expected max_norm > 0, got {max_norm}")
    if not lr > 0:
        raise ValueError(f"expected lr > 0, got {lr}")
    x, y = demo_batch(T, batch, input_size, seed, dtype)
    loss_fn = nn.MSELoss()
    runs: dict[str, Any] = {"max_norm": float(max_norm), "lr": float(lr)}
    for name, clip in (("unclipped", None), ("clipped", max_norm)):
        manual_seed(seed)
        model = ReluRNNRegressor(input_size, hidden_size, sigma2, dtype)
        opt = optim.SGD(model.parameters(), lr=lr)
        losses, before, after = [], [], []
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(steps):
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                params = list(model.parameters())
                if clip is None:
                    norm = get_total_norm(p.grad for p in params if p.grad is not None)
                else:
                    norm = clip_grad_norm_(params, clip)
                losses.append(float(loss.item()))
                before.append(norm)
                after.append(
                    get_total_norm(p.grad for p in params if p.grad is not None)
                )
                opt.step()
            with no_grad():
                final = float(loss_fn(model(x), y).item())
        runs[name] = {
            "loss": np.array(losses),
            "norm_before": np.array(before),
            "norm_after": np.array(after),
            "final_loss": final,
        }
    return runs
