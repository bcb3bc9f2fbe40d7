"""Does the explorer window slow training down, and does it keep drawing at >= 20 fps?

Trains a char-LSTM (2 layers x 256 units, batch 32, TBPTT 128, Adam, norm clipping, the
bundled tiny Shakespeare) in the explorer's worker process for a fixed time, in three
setups, and reports the training tokens/s of each and the window's painted frames/s:

(a) headless: the worker alone; a dummy reader in this process consumes the
    snapshots on a 40 ms timer (as the window does), nothing is drawn;
(b) window, redraw "on_data": the real MainWindow offscreen, redrawing the visible
    view whenever a snapshot arrived (the default);
(c) window, redraw "always": the visible view is redrawn from the newest snapshot on
    every 40 ms tick (25 Hz) even without new data: the worst case, and what the
    >= 20 fps acceptance is about.

The visible tab rotates every 2 s (loss, hidden state, gates, gradient flow, sample,
histograms). The three setups run in turn, ``--repeats`` rounds (so that a change of
the machine's load hits all of them); the ratios are of the means. Acceptance: >= 20
painted frames/s in (c) and >= 85% of the headless throughput in (b) and (c).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--seconds 20]
        [--repeats 2] [--threads N] [--hidden 256] [--seq-len 128] [--batch-size 32]
        [--worker-nice 5] [--only abc]

Timings on a shared machine are noisy: the load average is printed before and after
every phase.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # the gui package

# Only cheap imports here: the spawned worker re-imports this file as __mp_main__.
from _common import cpu_model  # noqa: E402

POLL_S = 0.04  # the window's timer (gui.app.POLL_MS)
TAB_PERIOD_S = 2.0


def _load() -> str:
    return "load avg " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _throughput(first, last) -> float:
    """Training tokens per second of running time between two snapshots."""
    dt = last.elapsed - first.elapsed
    return (last.tokens - first.tokens) / dt if dt > 0 else float("nan")


def _wait_warm(poll, deadline: float, min_step: int = 2):
    """Poll until a snapshot with step >= min_step arrives (model set up, warm)."""
    while time.monotonic() < deadline:
        for snap in poll():
            if snap.status == "error":
                raise RuntimeError(snap.message)
            if snap.step >= min_step:
                return snap
        time.sleep(POLL_S)
    raise TimeoutError("the worker did not reach step 2 in time")


def run_headless(config, seconds: float) -> dict:
    """(a): the worker with a dummy snapshot reader, no window."""
    from gui.worker import start_worker

    handle = start_worker(config)
    try:
        first = _wait_warm(handle.poll, time.monotonic() + 300)
        last, n = first, 0
        c0 = time.process_time()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for snap in handle.poll():  # consume like the window: keep the newest
                last, n = snap, n + 1
            time.sleep(POLL_S)
        cpu = (time.process_time() - c0) / seconds
    finally:
        handle.stop()
    return {
        "tokens_per_s": _throughput(first, last),
        "steps": last.step - first.step,
        "snapshots": n,
        "overhead": last.overhead,
        "job_costs": last.job_costs,
        "fps": float("nan"),
        "gui_cpu": cpu,  # the reader's CPU share
    }


def run_window(config, seconds: float, redraw: str) -> dict:
    """(b)/(c): the explorer window offscreen, redrawing on its QTimer."""
    from PyQt6.QtCore import QTimer

    from gui.app import MainWindow, create_app

    app = create_app()
    win = MainWindow(config, redraw=redraw)
    win.show()
    for _ in range(5):
        app.processEvents()
    win.start()
    try:
        deadline = time.monotonic() + 300
        while win.latest is None or win.latest.step < 2:
            app.processEvents()
            time.sleep(0.005)
            if win.last_error or time.monotonic() > deadline:
                raise RuntimeError(win.last_error or "no step 2 in time")
        first = win.latest
        frames0, updates0, snaps0 = win.frames.frames, win.n_updates, win.n_snapshots
        rotate = QTimer()
        rotate.timeout.connect(
            lambda: win.tabs.setCurrentIndex((win.tabs.currentIndex() + 1) % 6)
        )
        rotate.start(int(TAB_PERIOD_S * 1000))
        t0, c0 = time.perf_counter(), time.process_time()
        QTimer.singleShot(int(seconds * 1000), app.quit)
        app.exec()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        rotate.stop()
        last = win.latest
        result = {
            "tokens_per_s": _throughput(first, last),
            "steps": last.step - first.step,
            "snapshots": win.n_snapshots - snaps0,
            "overhead": last.overhead,
            "job_costs": last.job_costs,
            "fps": (win.frames.frames - frames0) / dt,
            "redraws_per_s": (win.n_updates - updates0) / dt,
            "gui_cpu": cpu / dt,
            "ms_per_frame": 1000 * cpu / max(1, win.frames.frames - frames0),
        }
    finally:
        win.stop_worker()
        win.close()
        win.deleteLater()
        app.processEvents()
    return result


def main() -> int:
    from gui.protocol import RunConfig

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0, help="per setup")
    p.add_argument("--threads", type=int, default=None, help="default: all cores")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2, help="rounds of a, b, c")
    p.add_argument(
        "--worker-nice",
        type=int,
        default=RunConfig.worker_nice,
        help="niceness added to the worker process (RunConfig.worker_nice)",
    )
    p.add_argument(
        "--only", default="abc", help="setups to run, e.g. 'ac' (default: all)"
    )
    args = p.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"  # this process is the GUI (the worker gets its own)

    from gui.worker import worker_env

    config = RunConfig(
        cell="lstm",
        hidden_size=args.hidden,
        num_layers=args.layers,
        embedding_dim=64,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        optimizer="adam",
        lr=3e-3,
        clip_mode="norm",
        clip=1.0,
        threads=args.threads,
        worker_nice=args.worker_nice,
    )
    threads = worker_env(config)["FASTRNN_NUM_THREADS"]
    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; worker threads {threads}"
    )
    print(
        f"char-LSTM: {config.num_layers} layers x {config.hidden_size} units, "
        f"embedding {config.embedding_dim}, batch {config.batch_size}, TBPTT "
        f"{config.seq_len} ({config.batch_size * config.seq_len} tokens/step), "
        f"{config.optimizer} lr {config.lr}, clip {config.clip_mode} {config.clip}; "
        f"bundled tiny Shakespeare; {args.seconds:g} s per setup; snapshot budget "
        f"{config.snapshot_budget:.0%}"
    )
    setups = {
        "a: headless": lambda: run_headless(config, args.seconds),
        "b: window on_data": lambda: run_window(config, args.seconds, "on_data"),
        "c: window always": lambda: run_window(config, args.seconds, "always"),
    }
    setups = {k: v for k, v in setups.items() if k[0] in args.only}
    if "a: headless" not in setups:
        p.error("--only must include 'a' (the other setups are ratios to it)")
    runs: dict[str, list[dict]] = {name: [] for name in setups}
    for rep in range(args.repeats):  # interleaved, so that load drifts hit all three
        for name, fn in setups.items():
            before = _load()
            r = fn()
            runs[name].append(r)
            costs = ", ".join(
                f"{k} {1000 * v:.0f} ms" for k, v in r["job_costs"].items()
            )
            print(
                f"[{rep + 1}] {name:18s} {r['tokens_per_s']:7.0f} tokens/s "
                f"{r['steps']:4d} steps {r['snapshots']:4d} snapshots  fps "
                f"{r['fps']:5.1f}  GUI CPU {100 * r.get('gui_cpu', 0):3.0f}% "
                f"({r.get('ms_per_frame', float('nan')):4.1f} ms/frame)  "
                f"snapshot work {100 * r['overhead']:.1f}% ({costs})  "
                f"[{before} -> {_load()}]",
                flush=True,
            )

    def mean(name: str, key: str) -> float:
        return sum(r[key] for r in runs[name]) / len(runs[name])

    base = mean("a: headless", "tokens_per_s")
    print(f"\nheadless: {base:.0f} tokens/s (mean of {args.repeats})")
    ok = True
    for name in ("b: window on_data", "c: window always"):
        if name not in runs:
            ok = False
            continue
        ratio = mean(name, "tokens_per_s") / base
        ok &= ratio >= 0.85
        print(
            f"{name:18s} {mean(name, 'tokens_per_s'):.0f} tokens/s = "
            f"{100 * ratio:5.1f}% of headless; {mean(name, 'fps'):.1f} painted "
            f"frames/s ({mean(name, 'redraws_per_s'):.1f} redraws/s); GUI process "
            f"CPU {100 * mean(name, 'gui_cpu'):.0f}% of one core "
            f"({mean(name, 'ms_per_frame'):.1f} ms per painted frame)"
        )
    fps_ok = "c: window always" in runs and mean("c: window always", "fps") >= 20.0
    print(
        "acceptance (>= 20 fps in c, >= 85% of headless throughput in b and c): "
        f"{'met' if ok and fps_ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
