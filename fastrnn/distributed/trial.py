"""One sweep trial: an ordinary ``train_lm`` / ``train_tagger`` run inside a Ray worker.

The trial reports its metrics after every evaluation (lm) or epoch (tagger) together
with a Tune checkpoint: a folder holding the fastrnn checkpoints (``last.st`` to resume,
``best.st`` the best model so far) and ``trial.json`` (the evaluation history, the
restart count and the pid of the worker that wrote it). A trial restarted after a
failure copies that folder back and resumes ``last.st``, so it continues step for step
and loses no history.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastrnn.distributed.spec import task_function

__all__ = ["run_trial"]

TRIAL_STATE = "trial.json"


def run_trial(
    config: dict[str, Any],
    *,
    task: str,
    data: dict[str, Any],
    train: dict[str, Any],
    threads: int,
) -> None:
    """Tune function trainable: train one configuration, reporting as it goes.

    ``config`` holds the sampled options; ``train`` the fixed ones; ``data`` the
    task's data paths. Runs with ``threads`` fastrnn threads (the trial's CPU share).
    """
    import ray
    from ray import tune

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="fastrnn-trial-"))
    state: dict[str, Any] = {"history": [], "restarts": 0, "seconds": 0.0}
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as saved:
            shutil.copytree(saved, work, dirs_exist_ok=True)
        state = json.loads((work / TRIAL_STATE).read_text(encoding="utf-8"))
        state["restarts"] += 1
    node = ray.get_runtime_context().get_node_id()
    options = {**train, **config}
    resume = work / "last.st" if checkpoint is not None else None
    # train_lm counts seconds per call, train_tagger across resumes: make both cumulative
    offset = state["seconds"] if task == "lm" else 0.0
    if resume is not None and task == "lm" and options.get("time_budget"):
        # what is left of the budget (a time-based lr schedule restarts over the rest)
        options["time_budget"] = max(1.0, options["time_budget"] - offset)

    def report(info: dict[str, Any]) -> None:
        entry = {**info, "seconds": round(offset + info["seconds"], 3)}
        state["history"].append(entry)
        state["seconds"] = entry["seconds"]
        state["pid"] = os.getpid()  # which process wrote this checkpoint (ops, tests)
        (work / TRIAL_STATE).write_text(json.dumps(state), encoding="utf-8")
        metrics = {
            **entry,
            "restarts": state["restarts"],
            "pid": os.getpid(),
            "node": node,
            "report_seconds": round(report_time[0], 3),  # Ray's share so far
        }
        tick = time.perf_counter()
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(work))
        report_time[0] += time.perf_counter() - tick

    report_time = [0.0]
    func = task_function(task)
    common = dict(threads=threads, out_dir=work, progress=False, resume=resume)
    try:
        if task == "lm":
            result = func(
                data.get("source"), log=None, on_eval=report, **common, **options
            )
        else:
            result = func(
                data["train"],
                data.get("eval"),
                column=data.get("column"),
                on_epoch=_tagger_report(report),
                **common,
                **options,
            )
        final = {
            key: result.get(key)
            for key in (
                "val_loss",
                "accuracy",
                "baseline_accuracy",
                "steps",
                "tokens_per_s",
            )
            if result.get(key) is not None
        }
        if not state["history"]:  # ended before its first evaluation: score the end
            metric = "val_loss" if task == "lm" else "val_accuracy"
            value = result.get(metric)
            entry = {"step": result["steps"], "seconds": result["seconds"]}
            if value is not None:
                entry.update({metric: value, f"best_{metric}": value})
            state["history"].append(entry)
        last = state["history"][-1]
        tune.report(
            {
                **last,
                **{f"final_{k}": v for k, v in final.items()},
                "finished": True,
                "restarts": state["restarts"],
                "pid": os.getpid(),
                "node": node,
                "work_seconds": round(time.perf_counter() - started, 3),
                "report_seconds": round(report_time[0], 3),
            },
            checkpoint=tune.Checkpoint.from_directory(work),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tagger_report(report: Any) -> Any:
    def on_epoch(info: dict[str, Any]) -> None:
        report({k: v for k, v in info.items() if v is not None})

    return on_epoch
