"""Finite-difference gradient checks for float64 functions of named parameters.

Both checkers take a scalar function ``f(params) -> float``, the parameters as a
dict of float64 arrays, and the analytic gradients under the same names. They
perturb one parameter at a time with central differences,

    (f(p + eps v) - f(p - eps v)) / (2 eps)  ~  <grad, v>,

and raise ``AssertionError`` naming the parameter when the two disagree by more
than ``atol + rtol * |numeric|``.

* :func:`directional_check` uses a few random unit directions ``v`` per parameter
  (as jax's ``check_grads`` does), so its cost does not grow with the size.
* :func:`full_check` uses every coordinate direction, for small tensors.

A good way to build ``f`` for a layer with several outputs is a fixed random
projection of all of them, ``L = sum(R_Y * Y) + sum(R_h * h_n)``, so that every
output path is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Loss = Callable[[dict[str, Array]], float]


def directional_check(
    f: Loss,
    params: Mapping[str, Array],
    grads: Mapping[str, Array],
    *,
    n_directions: int = 3,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
    rng: np.random.Generator | int | None = 0,
) -> dict[str, float]:
    """Compare directional derivatives along random unit directions.

    Parameters
    ----------
    f : callable
        Maps a dict shaped like ``params`` to a float.
    params : dict of str to ndarray, dtype float64
        Point at which to check. Not modified.
    grads : dict of str to ndarray, dtype float64
        Analytic gradient of ``f`` at ``params``, same keys and shapes.
    n_directions : int
        Random directions per parameter.
    eps : float
        Step of the central difference.
    rtol, atol : float
        A direction fails when ``|<grad, v> - numeric| > atol + rtol * |numeric|``.
    rng : numpy.random.Generator, int or None, default 0
        Source of the directions (passed to ``np.random.default_rng``). The fixed
        default makes a check reproducible (a test that passes keeps passing);
        None draws fresh directions on every call.

    Returns
    -------
    dict of str to float
        Worst relative error ``|analytic - numeric| / max(|analytic|, |numeric|)``
        per parameter (0 where both vanish).

    Raises
    ------
    AssertionError
        If any direction fails; the message names the parameter.
    TypeError
        If a parameter or gradient is not float64.
    ValueError
        If ``grads`` does not match ``params`` in keys or shapes.
    """
    _check_inputs(params, grads)
    rng = np.random.default_rng(rng)

    def directions(p: Array) -> Iterator[tuple[str, Array]]:
        for k in range(n_directions):
            v = rng.standard_normal(p.shape)
            yield f"random direction {k}", v / np.linalg.norm(v)

    return _check(f, params, grads, directions, eps, rtol, atol)


def full_check(
    f: Loss,
    params: Mapping[str, Array],
    grads: Mapping[str, Array],
    *,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> dict[str, float]:
    """Compare every gradient entry with a central difference.

    Costs ``2 * size`` evaluations of ``f`` per parameter, so keep it for small
    tensors and use :func:`directional_check` otherwise. Parameters, return value
    and errors are as in :func:`directional_check`; the failure message also names
    the entry.
    """
    _check_inputs(params, grads)

    def directions(p: Array) -> Iterator[tuple[str, Array]]:
        for index in np.ndindex(p.shape):
            e = np.zeros(p.shape)
            e[index] = 1.0
            yield f"entry {index}", e

    return _check(f, params, grads, directions, eps, rtol, atol)


def _check_inputs(params: Mapping[str, Array], grads: Mapping[str, Array]) -> None:
    for kind, arrays in (("parameter", params), ("gradient", grads)):
        for name, a in arrays.items():
            if not isinstance(a, np.ndarray) or a.dtype != np.float64:
                dtype = getattr(a, "dtype", type(a).__name__)
                raise TypeError(
                    f"gradcheck needs float64 arrays; {kind} {name!r} has dtype {dtype}"
                )
    if set(params) != set(grads):
        raise ValueError(
            f"Expected gradients for {sorted(params)}, got {sorted(grads)}"
        )
    for name, p in params.items():
        if grads[name].shape != p.shape:
            raise ValueError(
                f"Expected gradient {name!r} of shape {p.shape}, "
                f"got {grads[name].shape}"
            )


def _check(
    f: Loss,
    params: Mapping[str, Array],
    grads: Mapping[str, Array],
    directions: Callable[[Array], Iterator[tuple[str, Array]]],
    eps: float,
    rtol: float,
    atol: float,
) -> dict[str, float]:
    """Shared loop: one parameter at a time, one direction at a time."""
    worst: dict[str, float] = {}
    for name, p in params.items():
        worst[name] = 0.0
        for label, v in directions(p):
            shifted = dict(params)
            shifted[name] = p + eps * v
            f_plus = float(f(shifted))
            shifted[name] = p - eps * v
            f_minus = float(f(shifted))
            numeric = (f_plus - f_minus) / (2.0 * eps)
            analytic = float(np.sum(grads[name] * v))

            error = abs(analytic - numeric)
            scale = max(abs(analytic), abs(numeric))
            worst[name] = max(worst[name], error / scale if scale > 0 else 0.0)
            if error > atol + rtol * abs(numeric):
                raise AssertionError(
                    f"Gradient check failed for parameter {name!r} ({label}): "
                    f"analytic {analytic:.10g}, numeric {numeric:.10g}, "
                    f"abs error {error:.3g} > atol + rtol*|numeric| = "
                    f"{atol + rtol * abs(numeric):.3g}"
                )
    return worst
