"""How a kernel's time loop is split over threads: by batch rows or by hidden units.

- "batch" (default): each thread runs the whole time loop for a contiguous chunk of the
  batch with single-threaded GEMMs; rows never interact, so there is no barrier per step,
  but every thread multiplies by *all* of W_hh at every step.
- "units": each thread owns a slice of the hidden units (its gate rows of W_hh) and runs
  every step for the whole batch, with one barrier per step (all of h_t feeds every unit
  of the next step).  Each thread then streams only its share of W_hh per step, for twice
  the rows.  Pays off once W_hh no longer fits a core's L2 cache: measured on an AVX-512
  Xeon (2 MB L2) at the 1024-unit LSTM shape, 294 vs 190 GFLOP/s for the per-step
  products; below that size the barrier costs more than it saves.

Kernels with a units-split loop: rnn.pyx, lstm.pyx (no projection) and gru.pyx (PyTorch
form).
"""

from __future__ import annotations

import os

#: W_hh bytes from which "auto" picks the units split (a core's L2 on the Xeons here)
UNITS_SPLIT_BYTES = 2 * 1024 * 1024
SPLITS = ("auto", "batch", "units")


def split_for(n_threads: int, n_units: int, weight_bytes: int, supported: bool) -> str:
    """ "batch" or "units" for a kernel call.

    FASTRNN_SPLIT=batch|units forces one (tests, benchmarks); "auto" (the default) picks
    units when W_hh has at least UNITS_SPLIT_BYTES.  One thread, fewer than two units
    per thread, or a kernel variant without a units loop (``supported`` False) always
    run the batch split.
    """
    mode = os.environ.get("FASTRNN_SPLIT", "auto")
    if mode not in SPLITS:
        raise ValueError(
            f"expected FASTRNN_SPLIT to be auto, batch or units, got {mode!r}"
        )
    if not supported or n_threads < 2 or n_units < 2 * n_threads or mode == "batch":
        return "batch"
    if mode == "units" or weight_bytes >= UNITS_SPLIT_BYTES:
        return "units"
    return "batch"
