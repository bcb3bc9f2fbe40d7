"""Which BLAS for the kernels? Single-thread GEMM rate at the recurrence's shapes.

The kernels multiply a batch chunk of hidden states by W_hh^T once per time step:
C (M, N) = A (M, K) @ W (N, K)^T with M = rows per thread, N = G*H, K = H.  This times
that product, float32, one thread, for each backend that installs with pip:

  openblas  scipy.linalg.blas.sgemm (scipy's bundled OpenBLAS)
  blis      blis.py.gemm (cython-blis, what fastrnn's _blas.pxd calls)
  mkl       torch.mm (MKL inside PyTorch; optional)
  fastrnn   fastrnn's own float32 GEMM (fastrnn_sgemm.h; what sgemm_backend() names),
            through linalg.matmul_into: it packs W on every call here, which the
            kernels do once per call for the per-step product

    python benchmarks/bench_gemm.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_info, median_time, print_table, write_results  # noqa: E402

SHAPES = [  # (M, N, K): per-thread rows with 2 threads, 4H gate columns, H
    (16, 512, 128),
    (16, 1024, 256),
    (32, 2048, 512),
    (32, 4096, 1024),
]


def rate(fn, M: int, N: int, K: int) -> float:
    reps = max(3, int(2e8 // (2 * M * N * K)))
    t = median_time(lambda: [fn() for _ in range(reps)], budget=0.5)
    return round(2.0 * M * N * K * reps / t / 1e9, 1)


def main() -> int:
    import blis.py
    from scipy.linalg.blas import sgemm
    from threadpoolctl import threadpool_limits

    from fastrnn._kernels import _info, linalg

    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        torch = None
    meta = machine_info()
    print(f"CPU: {meta['cpu']}   single-thread sgemm GFLOP/s, C = A @ W^T")
    rows = []
    rng = np.random.default_rng(0)
    for M, N, K in SHAPES:
        A = rng.standard_normal((M, K), dtype=np.float32)
        W = rng.standard_normal((N, K), dtype=np.float32)
        out = np.empty((M, N), np.float32)
        Af, Wf = np.asfortranarray(A), np.asfortranarray(W)
        row = {"M": M, "N": N, "K": K}
        with threadpool_limits(limits=1, user_api="blas"):
            row["openblas"] = rate(lambda: sgemm(1.0, Af, Wf, trans_b=True), M, N, K)
        row["blis"] = rate(lambda: blis.py.gemm(A, W, trans2=True, out=out), M, N, K)
        row[f"fastrnn ({_info.sgemm_backend()})"] = rate(
            lambda: linalg.matmul_into(False, True, A, W, np.float32(0), out, 1),
            M,
            N,
            K,
        )
        if torch is not None:
            tA, tW, tout = (
                torch.from_numpy(A),
                torch.from_numpy(W),
                torch.from_numpy(out),
            )
            row["mkl"] = rate(lambda: torch.mm(tA, tW.t(), out=tout), M, N, K)
        rows.append(row)
    print_table(rows, list(rows[0]))
    write_results("gemm", rows, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
