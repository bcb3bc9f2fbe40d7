"""Input checks for the functional layer: every message reads "expected ..., got ...".

Bad input must never reach a kernel, so everything a kernel assumes (dtype, rank, shape,
C-contiguity, lengths in [1, T], non-empty batch) is checked here first.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike, NDArray

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_array(name: str, value: ArrayLike) -> NDArray[np.floating]:
    """``value`` as an ndarray of float32/float64 (no silent casts from int or bool)."""
    if value is None:
        raise TypeError(f"expected an array for {name}, got None")
    array = np.asarray(value)
    if array.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"expected {name} to have dtype float32 or float64, got {array.dtype}"
        )
    return array


def common_dtype(arrays: Mapping[str, NDArray[np.floating]]) -> np.dtype:
    """The one float dtype shared by all arrays; mixing float32 and float64 is an error."""
    dtypes = {name: a.dtype for name, a in arrays.items()}
    unique = set(dtypes.values())
    if len(unique) != 1:
        detail = ", ".join(f"{name} {dt}" for name, dt in dtypes.items())
        raise TypeError(
            f"expected all arrays to share one dtype (float32 or float64), got {detail}"
        )
    return unique.pop()


def check_shape(
    name: str, array: NDArray, shape: tuple[int | None, ...], meaning: str = ""
) -> None:
    """Check rank and shape; ``None`` in ``shape`` matches any size."""
    hint = f" {meaning}" if meaning else ""
    if array.ndim != len(shape):
        raise ValueError(
            f"expected {name} to have {len(shape)} dimensions{hint}, "
            f"got {array.ndim} (shape {array.shape})"
        )
    for got, want in zip(array.shape, shape, strict=True):
        if want is not None and got != want:
            wanted = tuple("?" if w is None else w for w in shape)
            raise ValueError(
                f"expected {name} of shape {wanted}{hint}, got {array.shape}"
            )


def contiguous(array: NDArray, dtype: np.dtype) -> NDArray:
    """C-contiguous copy only when needed."""
    return np.ascontiguousarray(array, dtype=dtype)


def check_lengths(lengths: ArrayLike | None, T: int, B: int) -> NDArray[np.int64]:
    """Sequence lengths as int64 (B,), each in [1, T]; ``None`` means all equal to T."""
    if lengths is None:
        return np.full(B, T, dtype=np.int64)
    array = np.asarray(lengths)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"expected lengths to be integers, got dtype {array.dtype}")
    if array.shape != (B,):
        raise ValueError(
            f"expected lengths of shape ({B},) (one per sequence), got {array.shape}"
        )
    if B and (array.min() < 1 or array.max() > T):
        bad = array[(array < 1) | (array > T)]
        raise ValueError(f"expected every length in [1, T={T}], got {bad[:5].tolist()}")
    return np.ascontiguousarray(array, dtype=np.int64)


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an ``int`` >= ``minimum`` (bools and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"expected {name} to be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return int(value)
