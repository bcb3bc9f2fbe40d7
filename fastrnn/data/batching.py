"""Turning id sequences into padded batches, TBPTT streams and minibatches.

All batch arrays are ``int64``.  "Time-major" means shape ``(T, B)``: time first,
batch second, the layout :mod:`fastrnn.nn` recurrent layers take by default.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fastrnn.data.vocab import _as_int_1d, _check_int

__all__ = ["iterate_minibatches", "pad_batch", "stream_batches", "train_val_split"]

T = TypeVar("T")


def pad_batch(
    sequences: Sequence[ArrayLike], pad_id: int = 0, time_major: bool = True
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Pad variable-length id sequences into one rectangular batch.

    Parameters
    ----------
    sequences : sequence of array_like of int
        ``B >= 1`` non-empty 1-D id sequences, ``sequences[b]`` of length ``L_b``.
    pad_id : int, default 0
        Fill value past each sequence's end (``Vocab.pad_id`` is 0 by default).
    time_major : bool, default True
        Return ``(T, B)`` if True, else ``(B, T)``.

    Returns
    -------
    padded : ndarray of int64, shape ``(T, B)`` (or ``(B, T)``)
        ``T = max(L_b)``; ``padded[t, b] = sequences[b][t]`` for ``t < L_b``,
        else ``pad_id``.
    lengths : ndarray of int64, shape ``(B,)``
        ``L_b``, suitable as the ``lengths`` argument of the recurrent layers.
    """
    pad_id = _check_int("pad_id", pad_id, -(2**63))
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
        if not isinstance(sequences, np.ndarray):
            raise TypeError(
                f"expected sequences to be a sequence of 1-D id arrays, "
                f"got {type(sequences).__name__}"
            )
    if len(sequences) == 0:
        raise ValueError("expected at least one sequence, got 0")
    arrays = []
    for b, seq in enumerate(sequences):
        array = _as_int_1d(f"sequences[{b}]", seq)
        if array.size == 0:
            raise ValueError(
                f"expected non-empty sequences, got an empty sequence at index {b}"
            )
        arrays.append(array)
    lengths = np.array([a.size for a in arrays], dtype=np.int64)
    padded = np.full((len(arrays), int(lengths.max())), pad_id, dtype=np.int64)
    for b, array in enumerate(arrays):
        padded[b, : array.size] = array
    if time_major:
        padded = np.ascontiguousarray(padded.T)
    return padded, lengths


def stream_batches(
    ids: ArrayLike, batch_size: int, seq_len: int, drop_last: bool = False
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Cut one long id stream into ``batch_size`` parallel streams for TBPTT.

    The stream is trimmed to ``N' = batch_size * S`` ids (``S = len(ids) //
    batch_size``) and cut into ``batch_size`` contiguous pieces: column ``b`` holds
    ``ids[b*S : (b+1)*S]``.  Consecutive windows of ``seq_len`` steps are then
    yielded in order, so column ``b`` of window ``k+1`` continues exactly where
    column ``b`` of window ``k`` stopped.  That is what truncated backprop through
    time needs: the hidden state left after window ``k`` (detached) is the correct
    initial state for window ``k+1``, batch entry by batch entry.

    Parameters
    ----------
    ids : array_like of int, shape ``(N,)``
        The token id stream; ``N >= 2 * batch_size``.
    batch_size : int
        Number of parallel streams ``B``.
    seq_len : int
        Window length ``L`` (BPTT truncation length).
    drop_last : bool, default False
        Drop a final window shorter than ``seq_len``.

    Yields
    ------
    inputs : ndarray of int64, shape ``(L, B)``
    targets : ndarray of int64, shape ``(L, B)``
        Next-token targets: ``targets[t, b]`` is the id that follows
        ``inputs[t, b]`` in stream ``b`` (so ``targets[t, b] == inputs[t+1, b]``).
        The last window may have ``L < seq_len`` unless ``drop_last``.

    Notes
    -----
    Arguments are checked when the function is called, not on the first ``next``.
    """
    array = _as_int_1d("ids", ids)
    batch_size = _check_int("batch_size", batch_size, 1)
    seq_len = _check_int("seq_len", seq_len, 1)
    per_stream = array.size // batch_size
    if per_stream < 2:
        raise ValueError(
            f"expected at least 2 * batch_size = {2 * batch_size} ids, got {array.size}"
        )
    # (S, B): column b is the contiguous stretch ids[b*S:(b+1)*S]
    streams = array[: per_stream * batch_size].reshape(batch_size, per_stream).T
    steps = per_stream - 1  # the last id of each stream is only ever a target

    def generate() -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
        for start in range(0, steps, seq_len):
            stop = min(start + seq_len, steps)
            if drop_last and stop - start < seq_len:
                return
            yield (
                np.ascontiguousarray(streams[start:stop]),
                np.ascontiguousarray(streams[start + 1 : stop + 1]),
            )

    return generate()


def train_val_split(
    ids: ArrayLike, val_fraction: float = 0.1
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Split an id stream into a training head and a validation tail.

    The split is not shuffled: the last ``round(N * val_fraction)`` ids are the
    validation set, which keeps contiguous text contiguous (no leakage across the
    boundary other than the one cut).

    Parameters
    ----------
    ids : array_like of int, shape ``(N,)``
    val_fraction : float, default 0.1
        In the open interval ``(0, 1)``.

    Returns
    -------
    train : ndarray of int64, shape ``(N - V,)``
    val : ndarray of int64, shape ``(V,)``
        Both non-empty; ``V = round(N * val_fraction)``.
    """
    array = _as_int_1d("ids", ids)
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)):
        raise TypeError(
            f"expected val_fraction to be a float, got {type(val_fraction).__name__}"
        )
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"expected val_fraction in (0, 1), got {val_fraction}")
    n = array.size
    n_val = round(n * val_fraction)
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"expected enough ids for a non-empty train and validation split at "
            f"val_fraction={val_fraction}, got {n} ids"
        )
    return array[: n - n_val].copy(), array[n - n_val :].copy()


def iterate_minibatches(
    items: Sequence[T],
    batch_size: int,
    shuffle: bool = False,
    seed: int | None = None,
    drop_last: bool = False,
) -> Iterator[list[T]]:
    """Yield ``items`` in lists of ``batch_size``.

    Parameters
    ----------
    items : sequence
        Anything with ``len`` and integer indexing (list, tuple, ndarray, ...).
    batch_size : int
        Items per batch; the last batch may be smaller unless ``drop_last``.
    shuffle : bool, default False
        Visit items in a random permutation.
    seed : int or None
        Seed for the permutation: the same seed gives the same batches.  ``None``
        draws fresh OS entropy (non-reproducible).
    drop_last : bool, default False
        Drop a final batch shorter than ``batch_size``.

    Yields
    ------
    list
        Up to ``batch_size`` items; every item appears exactly once per pass
        (except those dropped by ``drop_last``).
    """
    if isinstance(items, (str, bytes)) or not (
        isinstance(items, Sequence) or isinstance(items, np.ndarray)
    ):
        raise TypeError(f"expected items to be a sequence, got {type(items).__name__}")
    batch_size = _check_int("batch_size", batch_size, 1)
    if seed is not None:
        seed = _check_int("seed", seed, 0)
    n = len(items)
    order = np.random.default_rng(seed).permutation(n) if shuffle else np.arange(n)

    def generate() -> Iterator[list[T]]:
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            if drop_last and idx.size < batch_size:
                return
            yield [items[int(i)] for i in idx]

    return generate()
