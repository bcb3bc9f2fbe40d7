"""Gradient clipping: ``clip_grad_norm_`` (global norm) and ``clip_grad_value_``.

Both work in place on ``param.grad`` (ndarrays) and skip parameters whose grad is
None, as ``torch.nn.utils`` does. Call them between ``loss.backward()`` and
``optimizer.step()``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn.tensor import Tensor

Array = NDArray[Any]
TensorOrTensors = Tensor | Iterable[Tensor]


def _grads(parameters: TensorOrTensors) -> list[Array]:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def get_total_norm(
    tensors: Iterable[Array], norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> float:
    """The ``norm_type``-norm of all arrays together, as if concatenated.

    Parameters
    ----------
    tensors : iterable of ndarray
        Gradients (any shapes).
    norm_type : float
        Order of the norm: ``2.0``, ``1.0``, ``inf`` (max of absolute values) or any
        other p (``sum(|x|**p) ** (1/p)``). The string ``"inf"`` is accepted.
    error_if_nonfinite : bool
        Raise ``RuntimeError`` if the norm is NaN or infinite.

    Returns
    -------
    float
        The norm; 0.0 for no arrays.
    """
    norm_type = float(norm_type)
    arrays = list(tensors)
    if not arrays:
        return 0.0
    # per-array norms, then the norm of those norms: the norm of the concatenation
    norms = np.array([np.linalg.norm(np.ravel(g), ord=norm_type) for g in arrays])
    total = float(np.linalg.norm(norms, ord=norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"expected a finite total norm of order {norm_type} of the gradients, got "
            f"{total} (some gradient holds NaN or inf), so it cannot be clipped; pass "
            "error_if_nonfinite=False to scale by the non-finite norm anyway"
        )
    return total


def clip_grads_with_norm_(
    parameters: TensorOrTensors, max_norm: float, total_norm: float
) -> None:
    """Scale the gradients by ``max_norm / (total_norm + 1e-6)`` if that is below 1.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
    max_norm : float
        Largest allowed norm.
    total_norm : float
        The norm of all gradients, e.g. from :func:`get_total_norm`.
    """
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if not coef >= 1.0:  # also scales when the norm is NaN, as PyTorch does
        with np.errstate(invalid="ignore"):  # inf * 0 -> NaN, like PyTorch
            for g in _grads(parameters):
                g *= coef


def clip_grad_norm_(
    parameters: TensorOrTensors,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Clip the gradients' global norm to ``max_norm``, in place.

    The norm is taken over all gradients together, as if concatenated into one
    vector. When ``max_norm / (total + 1e-6) < 1`` every gradient is multiplied by
    that factor (so the new norm is just below ``max_norm``); otherwise nothing
    changes.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``grad`` is clipped; those with ``grad`` None are skipped.
    max_norm : float
        Largest allowed norm.
    norm_type : float
        Order of the norm: 2.0 (default), 1.0, ``inf``, or any p.
    error_if_nonfinite : bool
        Raise ``RuntimeError`` when the total norm is NaN or infinite instead of
        scaling (which would turn gradients into NaN or zeros).

    Returns
    -------
    float
        The total norm *before* clipping (useful for logging explosions).
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        parameters = list(parameters)  # iterated twice
    grads = _grads(parameters)
    if not grads:
        return 0.0
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total)
    return total


def clip_grad_value_(parameters: TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        Parameters whose ``grad`` is clipped; those with ``grad`` None are skipped.
    clip_value : float
        Bound of the absolute value of each entry (NaN entries stay NaN).
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
