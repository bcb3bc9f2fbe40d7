"""The library's random number generator: one NumPy ``Generator`` for init and dropout.

Everything random in fastrnn (parameter initialisation, dropout masks) draws from
:func:`get_generator`, so ``manual_seed(s)`` makes a run reproducible. As in PyTorch,
the generator starts from a fixed seed (0) at import.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

_DEFAULT_SEED = 0
_generator = np.random.Generator(np.random.PCG64(_DEFAULT_SEED))
_seed = _DEFAULT_SEED


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library generator and return it.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"expected a non-negative integer seed, got {seed!r}")
    _seed = int(seed)
    _generator = np.random.Generator(np.random.PCG64(_seed))
    return _generator


def initial_seed() -> int:
    """The seed last passed to :func:`manual_seed` (0 at import)."""
    return _seed


def get_generator() -> np.random.Generator:
    """The current library generator (replaced by :func:`manual_seed`)."""
    return _generator


def get_rng_state() -> dict[str, Any]:
    """The generator state as a dict of plain ints and strings (JSON-friendly).

    Returns
    -------
    dict
        ``{"bit_generator": "PCG64", "state": {"state": int, "inc": int},
        "has_uint32": int, "uinteger": int}``
    """
    return copy.deepcopy(_generator.bit_generator.state)


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`.

    Raises
    ------
    ValueError
        If ``state`` is not a PCG64 state dict.
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name != "PCG64":
        raise ValueError(
            f"expected a PCG64 state dict from get_rng_state(), got "
            f"bit_generator={name!r}"
        )
    try:
        _generator.bit_generator.state = copy.deepcopy(state)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"invalid rng state: {err}") from err
