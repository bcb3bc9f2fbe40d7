"""Sweep results on disk: the layout ``fastrnn sweep --out DIR`` writes, and its reader.

No Ray here: the explorer and ``fastrnn eval`` read a finished sweep folder without it.

Layout of a sweep folder::

    DIR/sweep.json    {"kind": "fastrnn.sweep", "version": 1, "task": "lm" | "tagger",
                       "metric": "val_loss", "mode": "min" | "max", "spec": {...},
                       "best": {"trial_id": str, "checkpoint": "best.st" | null},
                       "trials": [trial, ...]}      # ranked, best first
    DIR/trials.csv    one row per trial: rank, trial_id, status, metric, steps,
                      seconds, restarts, node, then one column per searched option
    DIR/history.csv   one row per evaluation: trial_id, step, seconds, metric columns
    DIR/best.st       the best trial's best model (``fastrnn sample`` / ``fastrnn eval``)

A *trial* is ``{"trial_id": str, "rank": int, "status": "DONE" | "STOPPED" | "ERROR",
"config": {option: value}, "metric": float | null, "final": {...}, "steps": int,
"seconds": float, "wall_seconds": float | null, "work_seconds": float | null,
"report_seconds": float | null, "restarts": int, "node": str | null,
"error": str | null, "path": str, "history": [{"step": int, "seconds": float,
<metric>: float, ...}, ...]}``:

- ``status``: DONE ran to its end, STOPPED was stopped early by the scheduler (ASHA),
  ERROR failed more often than ``max_failures``;
- ``metric``: the best value over its evaluations (what the ranking uses);
- ``final``: the task's own end-of-run results (lm: ``val_loss`` over the whole
  validation split of the best model; tagger: test ``accuracy``), DONE trials only;
- ``seconds``: training time; ``wall_seconds``: start to end as the driver saw it;
  ``work_seconds``: the trial function's own run time; ``report_seconds``: time inside
  Ray's ``report`` (results and checkpoint upload): Ray's overhead is
  ``wall - work + report``;
- ``history``: every evaluation of the trial in step order, across restarts;
- ``path``: Ray Tune's folder of the trial (its checkpoints, logs, errors).
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["SWEEP_KIND", "SWEEP_VERSION", "load_sweep", "write_sweep"]

SWEEP_KIND = "fastrnn.sweep"
SWEEP_VERSION = 1
SUMMARY_NAME = "sweep.json"


def load_sweep(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a sweep folder (or its ``sweep.json``) written by :func:`write_sweep`.

    Raises
    ------
    FileNotFoundError
        No ``sweep.json`` there.
    ValueError
        The file is not JSON or not a fastrnn sweep summary (message names the file).
    """
    p = Path(path)
    file = p / SUMMARY_NAME if p.is_dir() else p
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no sweep summary (expected {SUMMARY_NAME})")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: not a fastrnn sweep summary ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != SWEEP_KIND:
        raise ValueError(
            f"{file}: not a fastrnn sweep summary (kind != {SWEEP_KIND!r})"
        )
    if data.get("version") != SWEEP_VERSION:
        raise ValueError(
            f"{file}: expected sweep format version {SWEEP_VERSION}, "
            f"got {data.get('version')!r}"
        )
    if not isinstance(data.get("trials"), list):
        raise ValueError(f"{file}: expected a 'trials' list")
    return data


def write_sweep(out: str | os.PathLike[str], summary: dict[str, Any]) -> Path:
    """Write ``sweep.json``, ``trials.csv`` and ``history.csv`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"kind": SWEEP_KIND, "version": SWEEP_VERSION, **summary}
    tmp = out / (SUMMARY_NAME + ".tmp")
    tmp.write_text(json.dumps(summary, indent=1, default=_jsonable) + "\n", "utf-8")
    os.replace(tmp, out / SUMMARY_NAME)
    trials = summary["trials"]
    options = sorted({k for t in trials for k in t["config"]})
    with open(out / "trials.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        head = ["rank", "trial_id", "status", summary["metric"], "steps", "seconds"]
        w.writerow(head + ["restarts", "node", *options])
        for t in trials:
            w.writerow(
                [t["rank"], t["trial_id"], t["status"], t["metric"], t["steps"]]
                + [t["seconds"], t["restarts"], t["node"]]
                + [t["config"].get(k, "") for k in options]
            )
    keys = sorted({k for t in trials for h in t["history"] for k in h} - {"step"})
    with open(out / "history.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["trial_id", "step", *keys])
        for t in trials:
            for h in t["history"]:
                w.writerow([t["trial_id"], h["step"], *(h.get(k, "") for k in keys)])
    return out / SUMMARY_NAME


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return str(value)
