"""``sweep``: run a spec's trials on Ray Tune, rank them, write the sweep folder.

With ``address=None`` a local Ray sized to this machine is started (and shut down
afterwards); with an address (``"auto"``, ``"127.0.0.1:6379"``, ``"ray://host:10001"``)
the same spec runs on that cluster. Each trial gets ``threads_per_trial`` Ray CPUs and
sets fastrnn's thread count to the same number, so trials never oversubscribe a node.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from fastrnn.distributed.results import write_sweep
from fastrnn.distributed.spec import SweepSpec, load_spec
from fastrnn.distributed.trial import run_trial

__all__ = ["format_table", "ray_available", "sweep"]


def ray_available() -> bool:
    """Whether Ray Tune can be imported (the ``distributed`` extra is installed)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def _search_space(spec: SweepSpec) -> dict[str, Any]:
    from ray import tune

    make = {
        "choice": tune.choice,
        "grid": tune.grid_search,
        "uniform": lambda args: tune.uniform(*args),
        "loguniform": lambda args: tune.loguniform(*args),
        "randint": lambda args: tune.randint(args[0], args[1] + 1),  # inclusive
    }
    return {key: make[kind](args) for key, (kind, args) in spec.search.items()}


def _scheduler(spec: SweepSpec) -> Any:
    if spec.scheduler["name"] == "fifo":
        from ray.tune.schedulers import FIFOScheduler

        return FIFOScheduler()
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(
        time_attr="training_iteration",
        grace_period=spec.scheduler.get("grace_period", 1),
        reduction_factor=spec.scheduler.get("reduction_factor", 2),
        max_t=10**9,
    )


class _Timings:
    """Tune callback: wall time of each trial as the driver sees it (for overhead)."""

    def __init__(self) -> None:
        from ray.tune import Callback

        outer = self
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}

        class Hook(Callback):
            def on_trial_start(self, iteration, trials, trial, **info):  # noqa: ANN001
                outer.start.setdefault(trial.trial_id, time.perf_counter())

            def on_trial_complete(self, iteration, trials, trial, **info):  # noqa: ANN001
                outer.end[trial.trial_id] = time.perf_counter()

            on_trial_error = on_trial_complete

        self.hook = Hook()

    def wall(self, trial_id: str) -> float | None:
        if trial_id in self.start and trial_id in self.end:
            return round(self.end[trial_id] - self.start[trial_id], 3)
        return None


def sweep(
    spec: SweepSpec | str | os.PathLike[str],
    *,
    address: str | None = None,
    out: str | os.PathLike[str] = "sweep-results",
    verbose: bool = False,
) -> dict[str, Any]:
    """Run the sweep described by ``spec`` and write its results into ``out``.

    Parameters
    ----------
    spec : SweepSpec or path to a TOML spec (see :mod:`fastrnn.distributed.spec`)
    address : str, optional
        A Ray cluster to use; None starts a local one with this machine's CPUs.
    out : path
        The sweep folder (see :mod:`fastrnn.distributed.results`); Ray's own trial
        folders go to ``out/ray``.
    verbose : bool
        Ray Tune's progress output.

    Returns
    -------
    dict
        The summary written to ``out/sweep.json``: ranked ``trials``, ``best``,
        ``seconds`` and the spec.
    """
    if not ray_available():
        raise ImportError(
            "fastrnn sweeps need Ray Tune: pip install 'fastrnn[distributed]'"
        )
    import ray
    from ray import tune

    if not isinstance(spec, SweepSpec):
        spec = load_spec(spec)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    train = dict(spec.train)
    if (
        spec.task == "tagger"
        and "val_fraction" not in train
        and "val_fraction" not in spec.search
    ):
        train["val_fraction"] = (
            0.1  # the tagger's per-epoch metric needs a held-out split
        )
    started = time.perf_counter()
    connected_here = not ray.is_initialized()  # else: reuse the caller's Ray
    if connected_here and address is None:
        ray.init(
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=verbose,
            configure_logging=verbose,
        )
    elif connected_here:
        _check_reachable(address)
        ray.init(address=address, log_to_driver=verbose, configure_logging=verbose)
    try:
        timings = _Timings()
        trainable = tune.with_resources(
            tune.with_parameters(
                run_trial,
                task=spec.task,
                data=spec.data,
                train=train,
                threads=spec.threads_per_trial,
            ),
            {"cpu": spec.threads_per_trial},
        )
        tuner = tune.Tuner(
            trainable,
            param_space=_search_space(spec),
            tune_config=tune.TuneConfig(
                metric=spec.metric,
                mode=spec.mode,
                num_samples=spec.trials,
                scheduler=_scheduler(spec),
                search_alg=_searcher(spec),
                reuse_actors=False,
            ),
            run_config=tune.RunConfig(
                name="trials",
                storage_path=str(out / "ray"),
                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                callbacks=[timings.hook],
                verbose=1 if verbose else 0,
            ),
        )
        grid = tuner.fit()
        summary = _summarise(spec, grid, timings, out)
    finally:
        if connected_here:
            ray.shutdown()  # stops a local Ray we started; disconnects from a cluster
    summary["seconds"] = round(time.perf_counter() - started, 3)
    write_sweep(out, summary)
    return summary


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast (ConnectionError naming the address) when nothing listens at a
    ``HOST:PORT`` cluster address; Ray itself retries for minutes. ``auto`` and
    ``ray://`` addresses are left to Ray."""
    import socket

    if address == "auto" or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except (OSError, ValueError) as exc:
        raise ConnectionError(
            f"cannot reach a Ray cluster at {address} ({exc}); start one with "
            f"'ray start --head' or check the address"
        ) from None


def _searcher(spec: SweepSpec) -> Any:
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=spec.seed)


def _summarise(
    spec: SweepSpec, grid: Any, timings: _Timings, out: Path
) -> dict[str, Any]:
    sign = 1.0 if spec.mode == "min" else -1.0
    trials = []
    for result in grid:
        frame = result.metrics_dataframe
        rows = [] if frame is None else frame.to_dict("records")
        history = _history(rows, spec)
        values = [h[spec.metric] for h in history if spec.metric in h]
        best = min(values, key=lambda v: sign * v) if values else None
        last = rows[-1] if rows else {}
        trial_id = (result.metrics or {}).get("trial_id") or Path(result.path).name
        trials.append(
            {
                "trial_id": str(trial_id),
                "status": _status(result, last),
                "config": {k: _plain(result.config.get(k)) for k in spec.search},
                "metric": best,
                "final": {
                    k[6:]: _plain(v)
                    for k, v in last.items()
                    if k.startswith("final_") and _finite(v)
                },
                "steps": int(last.get("step", 0) or 0),
                "seconds": float(last.get("seconds", 0.0) or 0.0),
                "wall_seconds": timings.wall(str(trial_id)),
                "work_seconds": _plain(last.get("work_seconds")),
                "report_seconds": _plain(last.get("report_seconds")),
                "restarts": int(last.get("restarts", 0) or 0),
                "node": last.get("node"),
                "error": None
                if result.error is None
                else str(result.error).strip()[-500:],
                "history": history,
                "path": result.path,
                "_checkpoint": result.checkpoint,
            }
        )
    trials.sort(key=lambda t: (t["metric"] is None, sign * (t["metric"] or 0.0)))
    for rank, t in enumerate(trials, 1):
        t["rank"] = rank
    best = {"trial_id": None, "checkpoint": None}
    if trials and trials[0]["_checkpoint"] is not None:
        best["trial_id"] = trials[0]["trial_id"]
        with trials[0]["_checkpoint"].as_directory() as folder:
            name = "best.st" if spec.task == "lm" else _tagger_checkpoint_name()
            source = Path(folder) / name
            if source.is_file():
                shutil.copyfile(source, out / name)
                best["checkpoint"] = name
    for t in trials:
        del t["_checkpoint"]
    return {
        "task": spec.task,
        "metric": spec.metric,
        "mode": spec.mode,
        "spec": spec.as_dict(),
        "best": best,
        "trials": trials,
    }


def _tagger_checkpoint_name() -> str:
    from fastrnn.tasks.tagging import CHECKPOINT_NAME

    return CHECKPOINT_NAME


def _history(rows: list[dict[str, Any]], spec: SweepSpec) -> list[dict[str, Any]]:
    """One entry per evaluation, in step order; restarts never repeat a step."""
    keep = (
        "step",
        "seconds",
        "epoch",
        "train_loss",
        "val_loss",
        "best_val_loss",
        "val_accuracy",
        "best_val_accuracy",
        "tokens_per_s",
    )
    by_step: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not _finite(row.get("step")):
            continue  # the final row repeats the last evaluation (or is the only one)
        by_step[int(row["step"])] = {
            k: _plain(row[k]) for k in keep if k in row and _finite(row[k])
        }
    return [by_step[s] for s in sorted(by_step)]


def _status(result: Any, last: dict[str, Any]) -> str:
    """DONE (ran to its end), STOPPED (by the scheduler) or ERROR (out of retries)."""
    if result.error is not None:
        return "ERROR"
    return "DONE" if _plain(last.get("finished")) is True else "STOPPED"


def _finite(value: Any) -> bool:
    """A real number (pandas fills a metric a row lacks with NaN)."""
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value is not None and not isinstance(value, float)
    return math.isfinite(value)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def format_table(summary: dict[str, Any]) -> str:
    """The ranked trials as a text table (what ``fastrnn sweep`` prints)."""
    options = sorted({k for t in summary["trials"] for k in t["config"]})
    head = ["rank", summary["metric"], "steps", "time s", "status", *options]
    rows = []
    for t in summary["trials"]:
        metric = "-" if t["metric"] is None else f"{t['metric']:.4f}"
        rows.append(
            [
                str(t["rank"]),
                metric,
                str(t["steps"]),
                f"{t['seconds']:.1f}",
                t["status"],
            ]
            + [_short(t["config"].get(k)) for k in options]
        )
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))
        for r in [head, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
