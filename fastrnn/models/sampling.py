"""Choosing the next token from logits: temperature, top-k, top-p, inverse-CDF sampling.

This is the *definition* of fastrnn's sampling rule. The fused Cython generator
(:mod:`fastrnn._kernels.generate`) implements the same rule step for step, so both give
identical tokens for the same uniforms.

For one row of logits ``z`` (V,) and one uniform ``u`` in [0, 1):

1. ``temperature == 0``: the first index of ``max(z)`` (greedy; ``u`` unused).
2. ``z = z / temperature`` in float64.
3. top-k (``0 < k < V``): keep entries ``>= `` the k-th largest value (ties kept).
4. ``p = exp(z - max z)`` over kept entries (0 elsewhere), normalised by its sum.
   ``exp`` is the C library's (:func:`libm_exp`), not ``np.exp``.
5. top-p (``0 < p_top < 1``): sort kept tokens by probability, descending, ties by
   smaller id first; keep the shortest prefix whose cumulative probability reaches
   ``p_top`` (at least one token); others get probability 0.
6. ``c = cumsum(p)`` in id order; the token is the first id with ``c[id] > u * c[V-1]``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["check_sampling_args", "libm_exp", "sample_from_logits"]


def libm_exp(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """exp of a float64 vector with the C library's ``exp``, element by element.

    The fused generator calls the C library's exp; ``np.exp`` picks a SIMD version by CPU
    (on AVX-512 CPUs its float64 exp differs from the C library's in the last bit), and
    the sampling rule has to give the same bits as the kernel on every CPU.
    """
    return np.fromiter(map(math.exp, x.tolist()), dtype=np.float64, count=x.size)


def check_sampling_args(
    temperature: float, top_k: int | None, top_p: float | None
) -> tuple[float, int, float]:
    """Validate sampling options; returns ``(temperature, top_k or 0, top_p or 1.0)``."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"expected temperature to be a float, got {temperature!r}")
    if not (temperature >= 0 and np.isfinite(temperature)):
        raise ValueError(f"expected temperature >= 0, got {temperature}")
    k = 0 if top_k is None else top_k
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"expected top_k to be None or an int >= 0, got {top_k!r}")
    p = 1.0 if top_p is None else top_p
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"expected top_p in (0, 1], got {top_p!r}")
    return float(temperature), int(k), float(p)


def sample_from_logits(
    logits: NDArray[np.floating],
    uniforms: NDArray[np.float64],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> NDArray[np.int64]:
    """Draw one token per row of ``logits`` with the rule in the module docstring.

    Parameters
    ----------
    logits : ndarray, shape (B, V)
    uniforms : ndarray of float64, shape (B,)
        Values in [0, 1), one per row (e.g. ``rng.random(B)``).
    temperature, top_k, top_p
        As in :meth:`fastrnn.models.LanguageModel.generate`.

    Returns
    -------
    ndarray of int64, shape (B,)
    """
    temperature, k, top_p_ = check_sampling_args(temperature, top_k, top_p)
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2:
        raise ValueError(f"expected logits of shape (B, V), got {z.shape}")
    B, V = z.shape
    out = np.empty(B, dtype=np.int64)
    for b in range(B):
        row = z[b]
        if temperature == 0:
            out[b] = int(np.argmax(row))
            continue
        row = row / temperature
        keep = np.ones(V, dtype=bool)
        if 0 < k < V:
            kth = np.partition(row, V - k)[V - k]
            keep = row >= kth
        p = np.where(keep, libm_exp(row - row[keep].max()), 0.0)
        p /= p.sum()
        if top_p_ < 1.0:
            order = np.lexsort((np.arange(V), -p))  # by -p, then by id
            reach = np.cumsum(p[order])
            n = int(np.searchsorted(reach, top_p_, side="left")) + 1
            mask = np.zeros(V, dtype=bool)
            mask[order[: min(n, V)]] = True
            p = np.where(mask, p, 0.0)
        cdf = np.cumsum(p)
        token = int(np.searchsorted(cdf, uniforms[b] * cdf[-1], side="right"))
        out[b] = min(token, V - 1)
    return out
