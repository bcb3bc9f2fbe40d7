"""Ray's own overhead per sweep trial: start, reporting, checkpointing.

Runs a sweep of ``--trials`` char-LM trials (the ``fastrnn train-lm`` default model,
``--trial-seconds`` of training each, ``--threads-per-trial`` threads, FIFO so every
trial runs to its end) on a local Ray, and splits each trial's wall time (trial start to
end as the Tune driver saw it) into the trial function's own run time (data, training,
evaluations, the final whole-split score, fastrnn checkpoints) and Ray's share:

    Ray overhead = (wall - work)      actor start/stop, scheduling, result delivery
                 + report             time inside tune.report (results + checkpoint upload)

and prints it as a fraction of the trial's training time. Ray's start-up (``ray.init``)
is paid once per sweep and printed separately.

    python benchmarks/bench_sweep.py [--trials 4] [--trial-seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_model, print_table, write_results  # noqa: E402

from fastrnn.distributed.spec import parse_spec  # noqa: E402
from fastrnn.distributed.sweep import sweep  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--trial-seconds", type=float, default=60.0)
    parser.add_argument("--threads-per-trial", type=int, default=1)
    parser.add_argument("--val-chars", type=int, default=30000)
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}")
    spec = parse_spec(
        {
            "task": "lm",
            "trials": 1,
            "threads_per_trial": args.threads_per_trial,
            "max_failures": 0,
            "train": {"time_budget": args.trial_seconds, "val_chars": args.val_chars},
            "search": {"seed": {"grid": list(range(args.trials))}},
            "scheduler": {"name": "fifo"},
        }
    )
    import ray

    tick = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False)
    init_seconds = time.perf_counter() - tick
    ray_cpus = ray.cluster_resources().get("CPU", 1)
    try:
        with tempfile.TemporaryDirectory() as out:
            summary = sweep(spec, out=out)
    finally:
        ray.shutdown()
    rows = []
    for t in summary["trials"]:
        train_s, wall, work, report = (
            t["seconds"],
            t["wall_seconds"],
            t["work_seconds"],
            t["report_seconds"],
        )
        overhead = wall - work + report
        rows.append(
            {
                "trial": t["trial_id"],
                "status": t["status"],
                "evals": len(t["history"]),
                "train_s": round(train_s, 1),
                "work_s": round(work, 1),
                "wall_s": round(wall, 1),
                "report_s": round(report, 2),
                "ray_overhead_s": round(overhead, 2),
                "overhead_pct": round(100 * overhead / train_s, 2),
            }
        )
    print_table(rows, list(rows[0]))
    # the whole sweep: wall time beyond the trials' own work spread over the slots
    slots = max(1, int(ray_cpus // args.threads_per_trial))
    work = sum(t["work_seconds"] for t in summary["trials"])
    train = sum(t["seconds"] for t in summary["trials"])
    sweep_overhead = summary["seconds"] - work / slots
    per_trial = sweep_overhead * slots / len(rows)
    print(
        f"ray.init: {init_seconds:.1f} s once per sweep; sweep wall "
        f"{summary['seconds']:.1f} s for {len(rows)} trials on {slots} slots, their "
        f"work {work:.1f} s (training {train:.1f} s); beyond the work: "
        f"{sweep_overhead:.1f} s = {per_trial:.2f} s per trial = "
        f"{100 * per_trial * len(rows) / train:.2f}% of training time"
    )
    meta = {
        "cpu": cpu_model(),
        "args": vars(args),
        "ray_init_s": init_seconds,
        "sweep_wall_s": summary["seconds"],
        "sweep_overhead_s": sweep_overhead,
        "sweep_overhead_per_trial_s": per_trial,
    }
    for path in write_results("sweep", rows, meta):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
