"""fastrnn kernels against PyTorch, side by side in one process.

For each cell and shape, float32, n threads for both libraries (2 and 1):
("lstm_proj" is an LSTM whose state is projected to P = H/4 units, torch's
``nn.LSTM(proj_size=H // 4)``; not in the default cell list)
forward only and forward+backward (dX and every weight gradient), median wall time.
Prints the CPU model, the BLAS, the machine's best sgemm rate at the per-step recurrent
GEMM shape (fastrnn's own GEMM or MKL through torch, whichever is faster),
each kernel's achieved GFLOP/s and its fraction of that rate, fastrnn's peak array memory,
and the ratio PyTorch time / fastrnn time (> 1 means fastrnn is faster).
Writes benchmarks/results/kernels.csv and kernels.json.

    python benchmarks/bench_kernels.py                 # everything (several minutes)
    python benchmarks/bench_kernels.py --shapes small --cells lstm --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    machine_info,
    median_time,
    print_table,
    write_results,
)

from fastrnn import functional as F  # noqa: E402

SHAPES = {  # name: (I, H, B, T)
    "small": (64, 128, 32, 100),
    "char-LM": (65, 256, 32, 128),
    "medium": (256, 512, 64, 100),
    "large": (512, 1024, 64, 100),
}
TORCH_MODULE = {
    "rnn_tanh": "RNN",
    "rnn_relu": "RNN",
    "lstm": "LSTM",
    "lstm_proj": "LSTM",
    "gru": "GRU",
}
#: Benchmark cells that are a kernel cell with a projected state: name -> (cell, H/P)
PROJECTED = {"lstm_proj": ("lstm", 4)}
CELL_CHOICES = (*F.CELLS, *PROJECTED)
DEFAULT_CELLS = ["rnn_tanh", "lstm", "gru", "lstm_peephole", "gru_cho", "gru_minimal"]


def kernel_cell(cell: str, H: int) -> tuple[str, int]:
    """(kernel cell, state units P) of a benchmark cell: P = H unless projected."""
    if cell in PROJECTED:
        base, ratio = PROJECTED[cell]
        return base, H // ratio
    return cell, H


def gemm_flops(cell: str, I: int, H: int, B: int, T: int) -> tuple[float, float]:
    """GEMM flops of forward and of forward+backward (backward = 2x forward GEMMs)."""
    base, P = kernel_cell(cell, H)
    G = F.GATE_COUNT[base]
    forward = 2.0 * T * B * (G * H * (I + P) + (P * H if P < H else 0))
    return forward, 3.0 * forward


def sgemm_rate(M: int, N: int, K: int, n_threads: int, torch=None) -> tuple[float, str]:
    """The machine's sgemm GFLOP/s at the per-step recurrent GEMM shape, and who ran it.

    Each kernel thread multiplies its own batch chunk of M / n_threads rows by W_hh^T
    (N = G*H, K = H) on one thread, all threads at once; the machine rate for that is
    the single-thread rate at the chunk shape times n_threads.  Measured with the
    kernels' own per-step product (fastrnn_sgemm.h / BLIS, sgemm_backend(), W_hh packed
    once as the kernels do) and, when torch is there, with MKL through torch.mm; the
    faster one is the reference.
    """
    from fastrnn._kernels import _info, linalg

    rows = max(1, M // n_threads)
    rng = np.random.default_rng(0)
    A = rng.standard_normal((rows, K), dtype=np.float32)
    W = rng.standard_normal((N, K), dtype=np.float32)
    out = np.empty((rows, N), np.float32)
    reps = max(1, int(2e8 // (2 * rows * N * K)))
    candidates = {
        f"fastrnn {_info.sgemm_backend()}": lambda: linalg.repeat_step_product(
            A, W, out, reps
        )
    }
    if torch is not None:
        tA, tW, tout = torch.from_numpy(A), torch.from_numpy(W), torch.from_numpy(out)
        candidates["mkl (torch.mm)"] = lambda: [
            torch.mm(tA, tW.T, out=tout) for _ in range(reps)
        ]
    best, who = 0.0, ""
    saved = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        for name, fn in candidates.items():
            t = median_time(fn, budget=0.5)
            rate = 2.0 * rows * N * K * reps / t * n_threads / 1e9
            if rate > best:
                best, who = rate, name
    finally:
        if torch is not None:
            torch.set_num_threads(saved)
    return best, who


def make_inputs(cell: str, I: int, H: int, B: int, T: int, rng) -> dict:
    cell, P = kernel_cell(cell, H)
    G = F.GATE_COUNT[cell]
    k = 1 / np.sqrt(H)

    def u(*shape):
        return rng.uniform(-k, k, size=shape).astype(np.float32)

    return {
        "X": rng.standard_normal((T, B, I), dtype=np.float32),
        "h0": np.zeros((B, P), np.float32),
        "c0": np.zeros((B, H), np.float32) if cell.startswith("lstm") else None,
        "W_ih": u(G * H, I),
        "W_hh": u(G * H, P),
        "b_ih": u(G * H),
        "b_hh": u(G * H),
        "w_peep": u(3 * H) if cell == "lstm_peephole" else None,
        "W_hr": u(P, H) if P < H else None,
        "dY": rng.standard_normal((T, B, P), dtype=np.float32),
    }


def time_fastrnn(cell: str, p: dict, n_threads: int, budget: float = 1.5) -> dict:
    cell = PROJECTED.get(cell, (cell,))[0]

    def fwd(need_backward: bool = False):
        # forward-only is inference, like torch's forward under no_grad below
        return F.forward(
            cell,
            p["X"],
            p["h0"],
            p["W_ih"],
            p["W_hh"],
            p["b_ih"],
            p["b_hh"],
            c0=p["c0"],
            w_peep=p["w_peep"],
            W_hr=p["W_hr"],
            n_threads=n_threads,
            need_backward=need_backward,
        )

    def fwd_bwd():
        *_, state = fwd(need_backward=True)
        return F.backward(state, p["dY"])

    tracemalloc.start()
    fwd_bwd()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "fwd": median_time(fwd, budget=budget),
        "fwd_bwd": median_time(fwd_bwd, budget=budget),
        "peak_mb": peak / 2**20,
    }


def time_torch(torch, cell: str, p: dict, I: int, H: int, budget: float = 1.5) -> dict:
    kind = TORCH_MODULE[cell]
    kwargs = {"nonlinearity": cell[4:]} if kind == "RNN" else {}
    if p["W_hr"] is not None:
        kwargs["proj_size"] = p["W_hr"].shape[0]
    layer = getattr(torch.nn, kind)(I, H, **kwargs)
    X = torch.from_numpy(p["X"])
    Xg = X.clone().requires_grad_()
    dY = torch.from_numpy(p["dY"])

    def fwd():
        with torch.no_grad():
            return layer(X)

    def fwd_bwd():
        layer.zero_grad(set_to_none=True)
        Xg.grad = None
        out, _ = layer(Xg)
        out.backward(dY)

    return {
        "fwd": median_time(fwd, budget=budget),
        "fwd_bwd": median_time(fwd_bwd, budget=budget),
    }


def interleaved(measure_a, measure_b, rounds: int) -> tuple[dict, dict]:
    """Time a and b alternately, `rounds` times each, and keep each key's median.

    This machine is a shared VM whose speed drifts by 10-20% over seconds; measured in
    one block each, a slow spell lands on one library only.  Alternating spreads it.
    """
    runs_a, runs_b = [], []
    for _ in range(rounds):
        runs_a.append(measure_a())
        if measure_b is not None:
            runs_b.append(measure_b())

    def medians(runs):
        return (
            {k: statistics.median(r[k] for r in runs) for k in runs[0]} if runs else {}
        )

    return medians(runs_a), medians(runs_b)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES)
    )
    parser.add_argument(
        "--cells", nargs="+", default=DEFAULT_CELLS, choices=CELL_CHOICES
    )
    parser.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    parser.add_argument("--no-torch", action="store_true", help="fastrnn only")
    parser.add_argument("--out", default="kernels", help="results file stem")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternate fastrnn and torch this many times per row (medians)",
    )
    args = parser.parse_args(argv)

    torch = None
    if not args.no_torch:
        import torch
    meta = machine_info()
    print(
        f"CPU: {meta['cpu']} ({meta['cpus']} CPUs)   kernels' float32 GEMM: "
        f"{meta['sgemm_backend']}   NumPy BLAS: {'; '.join(meta['blas'])}"
    )
    print(
        f"fastrnn {meta['fastrnn']} (OpenMP {meta['openmp']})   torch {meta['torch']}"
        "   float32, median wall time"
    )
    rows = []
    rng = np.random.default_rng(0)
    for n_threads in args.threads:
        if torch is not None:
            torch.set_num_threads(n_threads)
        for shape in args.shapes:
            I, H, B, T = SHAPES[shape]
            for cell in args.cells:
                base, P = kernel_cell(cell, H)
                G = F.GATE_COUNT[base]
                p = make_inputs(cell, I, H, B, T, rng)
                budget = 1.5 / args.rounds
                with_torch = torch is not None and cell in TORCH_MODULE
                ours, theirs = interleaved(
                    lambda: time_fastrnn(cell, p, n_threads, budget),
                    (lambda: time_torch(torch, cell, p, I, H, budget))
                    if with_torch
                    else None,
                    args.rounds,
                )
                flops_fwd, flops_fb = gemm_flops(cell, I, H, B, T)
                peak, peak_by = sgemm_rate(B, G * H, P, n_threads, torch)
                row = {
                    "threads": n_threads,
                    "shape": shape,
                    "cell": cell,
                    "I": I,
                    "H": H,
                    "B": B,
                    "T": T,
                    "fastrnn_fwd_ms": round(ours["fwd"] * 1e3, 2),
                    "fastrnn_fwdbwd_ms": round(ours["fwd_bwd"] * 1e3, 2),
                    "torch_fwd_ms": "",
                    "torch_fwdbwd_ms": "",
                    "ratio_fwd": "",
                    "ratio_fwdbwd": "",
                    "gflops_fwdbwd": round(flops_fb / ours["fwd_bwd"] / 1e9, 1),
                    "sgemm_gflops": round(peak, 1),
                    "sgemm_by": peak_by,
                    "frac_of_sgemm": round(flops_fb / ours["fwd_bwd"] / 1e9 / peak, 2),
                    "peak_mb": round(ours["peak_mb"], 1),
                }
                if with_torch:
                    row.update(
                        torch_fwd_ms=round(theirs["fwd"] * 1e3, 2),
                        torch_fwdbwd_ms=round(theirs["fwd_bwd"] * 1e3, 2),
                        ratio_fwd=round(theirs["fwd"] / ours["fwd"], 2),
                        ratio_fwdbwd=round(theirs["fwd_bwd"] / ours["fwd_bwd"], 2),
                    )
                rows.append(row)
                print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    print()
    print(f"CPU: {meta['cpu']}")
    print_table(
        rows,
        [
            "threads",
            "shape",
            "cell",
            "fastrnn_fwd_ms",
            "torch_fwd_ms",
            "ratio_fwd",
            "fastrnn_fwdbwd_ms",
            "torch_fwdbwd_ms",
            "ratio_fwdbwd",
            "gflops_fwdbwd",
            "sgemm_gflops",
            "sgemm_by",
            "frac_of_sgemm",
            "peak_mb",
        ],
    )
    csv_path, json_path = write_results(args.out, rows, meta)
    print(f"\nwrote {csv_path} and {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
