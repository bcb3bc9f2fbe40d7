"""2-D matrix products on fastrnn's own threads (see fastrnn/_kernels/linalg.pyx).

``matmul(a, b, trans_a, trans_b)`` is ``op(a) @ op(b)`` for 2-D float32/float64 arrays
of one dtype, computed by BLIS on the kernels' OpenMP threads; anything else (other
ranks or dtypes, mixed dtypes) falls back to NumPy, so callers need no special cases.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fastrnn import _threads
from fastrnn._kernels import linalg as _linalg

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(
    a: NDArray, b: NDArray, *, trans_a: bool = False, trans_b: bool = False
) -> NDArray:
    """``op(a) @ op(b)`` where op transposes when asked; returns a new C-contiguous array."""
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.dtype not in _FLOATS:
        return np.matmul(a.T if trans_a else a, b.T if trans_b else b)
    M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
    Kb, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if K != Kb:
        raise ValueError(
            f"expected matching inner dimensions for a matrix product, got "
            f"{(M, K)} @ {(Kb, N)}"
        )
    out = np.empty((M, N), a.dtype)
    if K == 0:
        out.fill(0)
        return out
    _linalg.matmul_into(
        trans_a,
        trans_b,
        np.ascontiguousarray(a),
        np.ascontiguousarray(b),
        0.0,
        out,
        _threads.get_num_threads(),
    )
    return out
