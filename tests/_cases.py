"""Random inputs for the recurrent kernels, shared by the kernel and oracle tests."""

from __future__ import annotations

import numpy as np

from fastrnn import functional as F

PARAM_NAMES = ("X", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh", "w_peep")


def make_case(
    cell: str,
    T: int,
    B: int,
    I: int,
    H: int,
    rng: np.random.Generator,
    *,
    dtype=np.float64,
    lengths: str | None = None,
    scale: float = 0.5,
) -> dict:
    """Inputs and parameters for one layer; ``lengths`` is None, "random" or "ones".

    Random lengths always include a full-length row and, when B > 1, a length-1 row.
    """
    G = F.GATE_COUNT[cell]
    case = {
        "X": rng.standard_normal((T, B, I)),
        "h0": rng.standard_normal((B, H)) * scale,
        "W_ih": rng.standard_normal((G * H, I)) * scale / np.sqrt(I),
        "W_hh": rng.standard_normal((G * H, H)) * scale * 2 / np.sqrt(H),
        "b_ih": rng.standard_normal(G * H) * scale,
        "b_hh": rng.standard_normal(G * H) * scale,
        "c0": rng.standard_normal((B, H)) * scale if cell.startswith("lstm") else None,
        "w_peep": rng.standard_normal(3 * H) * scale
        if cell == "lstm_peephole"
        else None,
    }
    case = {k: None if v is None else v.astype(dtype) for k, v in case.items()}
    if lengths == "random":
        L = rng.integers(1, T + 1, size=B)
        L[0] = T
        if B > 1:
            L[-1] = 1
        case["lengths"] = L.astype(np.int64)
    elif lengths == "ones":
        case["lengths"] = np.ones(B, np.int64)
    else:
        case["lengths"] = None
    return case


def run_kernel(cell: str, case: dict, *, reverse: bool = False, n_threads: int = 1):
    """fastrnn.functional.forward on a case; returns (Y, h_n, c_n, state)."""
    return F.forward(
        cell,
        case["X"],
        case["h0"],
        case["W_ih"],
        case["W_hh"],
        case["b_ih"],
        case["b_hh"],
        c0=case["c0"],
        w_peep=case["w_peep"],
        lengths=case["lengths"],
        reverse=reverse,
        n_threads=n_threads,
    )


def loss_weights(cell: str, T: int, B: int, H: int, rng, dtype=np.float64) -> dict:
    """Random projections R so that L = sum(R_Y*Y) + sum(R_h*h_n) (+ sum(R_c*c_n))."""
    return {
        "dY": rng.standard_normal((T, B, H)).astype(dtype),
        "dh_n": rng.standard_normal((B, H)).astype(dtype),
        "dc_n": (
            rng.standard_normal((B, H)).astype(dtype)
            if cell.startswith("lstm")
            else None
        ),
    }
