"""Random inputs for the recurrent kernels, shared by the kernel and oracle tests."""

from __future__ import annotations

import numpy as np

from fastrnn import functional as F

PARAM_NAMES = ("X", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh", "w_peep", "W_hr")
#: Kernel variants the tests cover: every cell, and the LSTMs with a projected state
#: ("+proj": W_hr of shape (P, H) with P = proj_units(H)).
VARIANTS = (*F.CELLS, "lstm+proj", "lstm_peephole+proj")


def split_variant(variant: str) -> tuple[str, bool]:
    """("lstm", True) for "lstm+proj"; (cell, False) for a plain cell name."""
    cell, _, proj = variant.partition("+")
    return cell, proj == "proj"


def proj_units(H: int) -> int:
    """P, the projected state size the tests use for a cell of H units (P < H)."""
    assert H >= 2, "a projection needs hidden_size >= 2"
    return max(1, H // 2)


def state_units(variant: str, H: int) -> int:
    """Units of h0, Y and h_n: P for a projected variant, else H."""
    return proj_units(H) if split_variant(variant)[1] else H


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

    ``cell`` is one of :data:`VARIANTS`. Random lengths always include a full-length row
    and, when B > 1, a length-1 row.
    """
    cell, projected = split_variant(cell)
    G = F.GATE_COUNT[cell]
    P = proj_units(H) if projected else H
    case = {
        "X": rng.standard_normal((T, B, I)),
        "h0": rng.standard_normal((B, P)) * scale,
        "W_ih": rng.standard_normal((G * H, I)) * scale / np.sqrt(I),
        "W_hh": rng.standard_normal((G * H, P)) * scale * 2 / np.sqrt(P),
        "b_ih": rng.standard_normal(G * H) * scale,
        "b_hh": rng.standard_normal(G * H) * scale,
        "c0": rng.standard_normal((B, H)) * scale if cell.startswith("lstm") else None,
        "w_peep": rng.standard_normal(3 * H) * scale
        if cell == "lstm_peephole"
        else None,
        "W_hr": rng.standard_normal((P, H)) * scale * 2 / np.sqrt(H)
        if projected
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


def run_kernel(
    cell: str,
    case: dict,
    *,
    reverse: bool = False,
    n_threads: int = 1,
    need_backward: bool = True,
):
    """fastrnn.functional.forward on a case; returns (Y, h_n, c_n, state)."""
    return F.forward(
        split_variant(cell)[0],
        case["X"],
        case["h0"],
        case["W_ih"],
        case["W_hh"],
        case["b_ih"],
        case["b_hh"],
        c0=case["c0"],
        w_peep=case["w_peep"],
        W_hr=case.get("W_hr"),
        lengths=case["lengths"],
        reverse=reverse,
        n_threads=n_threads,
        need_backward=need_backward,
    )


def loss_weights(cell: str, T: int, B: int, H: int, rng, dtype=np.float64) -> dict:
    """Random projections R so that L = sum(R_Y*Y) + sum(R_h*h_n) (+ sum(R_c*c_n)).

    ``H`` is the cell size; for a "+proj" variant R_Y and R_h have P units.
    """
    P = state_units(cell, H)
    return {
        "dY": rng.standard_normal((T, B, P)).astype(dtype),
        "dh_n": rng.standard_normal((B, P)).astype(dtype),
        "dc_n": (
            rng.standard_normal((B, H)).astype(dtype)
            if cell.startswith("lstm")
            else None
        ),
    }
