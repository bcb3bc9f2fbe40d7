"""Thread settings shared by every kernel call.

``n_threads`` is one parameter threaded through every kernel (scikit-learn's rule).
The kernels parallelise with OpenMP themselves and call a single-threaded BLIS from
inside their threads, so no BLAS thread pool competes with them for the cores.
"""

from __future__ import annotations

import os

from fastrnn._kernels import _info

_num_threads: int | None = None


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Threads the kernels use when a call does not pass ``n_threads``.

    Order: ``set_num_threads(n)``, then the ``FASTRNN_NUM_THREADS`` environment variable,
    then the number of CPUs this process may run on.
    """
    if _num_threads is not None:
        return _num_threads
    env = os.environ.get("FASTRNN_NUM_THREADS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ValueError(
                f"expected FASTRNN_NUM_THREADS to be a positive integer, got {env!r}"
            ) from None
        if value < 1:
            raise ValueError(
                f"expected FASTRNN_NUM_THREADS to be a positive integer, got {env!r}"
            )
        return value
    return _available_cpus()


def set_num_threads(n: int | None) -> None:
    """Set the default kernel thread count (``None`` restores the automatic default)."""
    global _num_threads
    if n is not None:
        n = check_n_threads(n)
    _num_threads = n


def check_n_threads(n_threads: int | None) -> int:
    """Validate an ``n_threads`` argument; ``None`` means :func:`get_num_threads`."""
    if n_threads is None:
        return get_num_threads()
    if isinstance(n_threads, bool) or not isinstance(n_threads, int):
        raise TypeError(f"expected n_threads to be an int or None, got {n_threads!r}")
    if n_threads < 1:
        raise ValueError(f"expected n_threads >= 1, got {n_threads}")
    return n_threads


def openmp_enabled() -> bool:
    """True when the kernels were built with OpenMP."""
    return _info.openmp_enabled()
