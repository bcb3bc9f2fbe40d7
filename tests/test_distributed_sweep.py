"""Sweeps on a local Ray (2 CPUs): ranking, results folder, equivalence, kill and resume.

These tests need the ``distributed`` extra (Ray Tune); ``make test`` installs it and in
CI (``CI=true``) a missing Ray fails the run instead of skipping.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastrnn.cli import main
from fastrnn.distributed import load_sweep
from fastrnn.distributed.spec import parse_spec
from fastrnn.tasks.language_modeling import train_lm

TINY = {
    "hidden": 16,
    "layers": 1,
    "seq_len": 16,
    "batch_size": 4,
    "embedding_dim": 8,
    "val_chars": 2000,
    "max_steps": 40,
    "eval_every": 10,
}


@pytest.fixture(scope="module")
def local_ray(ray: Any) -> Iterator[Any]:
    """One local Ray with 2 CPUs for the module (sweeps reuse a running Ray)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


def direct_run(options: dict[str, Any]) -> dict[str, Any]:
    """The same configuration through ``train_lm`` (what ``fastrnn train-lm`` calls)."""
    return train_lm(**options, threads=1, progress=False, log=None)


def test_sweep_cli_ranks_trials_and_matches_a_direct_run(
    local_ray: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "spec.toml"
    fixed = "\n".join(f"{k} = {v}" for k, v in TINY.items())
    spec.write_text(
        'task = "lm"\ntrials = 2\nthreads_per_trial = 1\n'
        f"[train]\n{fixed}\n"
        "[search]\nlr = { grid = [0.003, 0.02] }\ncell = { choice = ['lstm', 'gru'] }\n"
        "[scheduler]\nname = 'asha'\ngrace_period = 2\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    trials = summary["trials"]
    assert len(trials) == 4 and [t["rank"] for t in trials] == [1, 2, 3, 4]
    metrics = [t["metric"] for t in trials]
    assert metrics == sorted(metrics)
    for t in trials:
        steps = [h["step"] for h in t["history"]]
        assert steps == list(range(10, 10 * len(steps) + 1, 10))  # no gaps, no repeats
        assert t["metric"] == min(h["val_loss"] for h in t["history"])
        assert t["status"] in ("DONE", "STOPPED") and t["restarts"] == 0
    done = [t for t in trials if t["status"] == "DONE"]
    assert trials[0]["status"] == "DONE" and all(t["steps"] == 40 for t in done)
    # the results folder: summary, tables, the best checkpoint usable by the CLI
    assert load_sweep(out)["trials"] == trials
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("rank,trial_id,status,val_loss")
    assert len((out / "history.csv").read_text().splitlines()) == 1 + sum(
        len(t["history"]) for t in trials
    )
    assert summary["best"] == {
        "trial_id": trials[0]["trial_id"],
        "checkpoint": "best.st",
    }
    assert main(["sample", str(out / "best.st"), "--length", "20", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out.splitlines()[-1])["text"]) >= 20
    # the same seed and config through train_lm directly: the same losses, bit for bit
    best = trials[0]
    direct = direct_run({**TINY, **best["config"]})
    assert [[h["step"], h["val_loss"]] for h in best["history"]] == direct[
        "val_history"
    ]
    assert best["final"]["val_loss"] == direct["val_loss"]


def _trial_pid(out: Path, timeout: float = 60.0) -> int:
    """The worker running the (only) trial, once Tune has registered a checkpoint.

    A function trial blocks in ``report`` until the driver asks for its next result,
    so when the third checkpoint exists the driver holds at least the first.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for state in (out / "ray").glob("trials/*/checkpoint_000002/trial.json"):
            try:
                return int(json.loads(state.read_text(encoding="utf-8"))["pid"])
            except (ValueError, KeyError):
                pass  # still being written
        time.sleep(0.01)
    raise AssertionError("the trial saved no checkpoint within the timeout")


def test_killed_trial_resumes_from_its_checkpoint_without_losing_history(
    local_ray: Any, tmp_path: Path
) -> None:
    from fastrnn.distributed.sweep import sweep

    fixed = {
        "hidden": 48,
        "layers": 1,
        "seq_len": 32,
        "batch_size": 8,
        "embedding_dim": 16,
        "val_chars": 3000,
        "max_steps": 400,
        "eval_every": 25,
        "seed": 3,
    }
    spec = parse_spec(
        {
            "task": "lm",
            "trials": 1,
            "max_failures": 2,
            "train": fixed,
            "search": {"cell": {"choice": ["lstm"]}},
            "scheduler": {"name": "fifo"},
        }
    )
    out = tmp_path / "out"
    box: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: box.update(summary=sweep(spec, out=out)))
    runner.start()
    try:
        os.kill(_trial_pid(out), signal.SIGKILL)  # the worker dies mid-run
    finally:
        runner.join(timeout=300)
    (trial,) = box["summary"]["trials"]
    assert trial["status"] == "DONE" and trial["restarts"] == 1
    steps = [h["step"] for h in trial["history"]]
    assert steps == list(range(25, 401, 25))  # every evaluation, once
    seconds = [h["seconds"] for h in trial["history"]]
    assert seconds == sorted(seconds)  # training time carried across the restart
    direct = direct_run({**fixed, "cell": "lstm"})
    assert [[h["step"], h["val_loss"]] for h in trial["history"]] == direct[
        "val_history"
    ]
    assert trial["final"]["val_loss"] == direct["val_loss"]


def test_trial_ending_before_its_first_evaluation_is_scored_at_the_end(
    local_ray: Any, tmp_path: Path
) -> None:
    from fastrnn.distributed.sweep import sweep

    fixed = {**TINY, "max_steps": 5, "eval_every": 100}  # never evaluates periodically
    spec = parse_spec(
        {"task": "lm", "train": fixed, "search": {"cell": {"choice": ["gru"]}}}
    )
    (trial,) = sweep(spec, out=tmp_path / "out")["trials"]
    assert trial["status"] == "DONE" and trial["steps"] == 5
    assert trial["metric"] == trial["final"]["val_loss"]  # the whole-split score
    assert [h["step"] for h in trial["history"]] == [5]
