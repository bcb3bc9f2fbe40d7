"""Shared helpers for the benchmarks: machine description, timing, table output."""

from __future__ import annotations

import csv
import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def cpu_model() -> str:
    """lscpu's model name (the CPU differs from machine to machine: print it always)."""
    try:
        out = subprocess.run(
            ["lscpu"], capture_output=True, text=True, check=True
        ).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    from threadpoolctl import threadpool_info

    import fastrnn
    from fastrnn._kernels import _info

    blas = sorted(
        {
            f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    info = {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "fastrnn": fastrnn.__version__,
        "openmp": fastrnn.openmp_enabled(),
        "packed_sgemm": _info.packed_sgemm_enabled(),
        "sgemm_backend": _info.sgemm_backend(),
        "blas": blas,
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def median_time(
    fn: Callable[[], object], *, min_runs: int = 3, budget: float = 1.5, warmup: int = 1
) -> float:
    """Median wall time of ``fn()`` in seconds, over >= min_runs runs within ~budget s."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or (
        time.perf_counter() - start < budget and len(times) < 50
    ):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_results(name: str, rows: list[dict], meta: dict) -> tuple[Path, Path]:
    """Write rows as CSV and JSON: ``name`` is a file stem under benchmarks/results/, or
    a path (with a directory part) used as given."""
    stem = Path(name) if Path(name).parent != Path(".") else RESULTS / name
    stem.parent.mkdir(parents=True, exist_ok=True)
    csv_path = stem.with_name(stem.name + ".csv")
    json_path = stem.with_name(stem.name + ".json")
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    json_path.write_text(json.dumps({"machine": meta, "rows": rows}, indent=2))
    return csv_path, json_path


def print_table(rows: list[dict], columns: list[str]) -> None:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print(
            "  ".join(
                str(r.get(c, "")).rjust(w) for c, w in zip(columns, widths, strict=True)
            )
        )
