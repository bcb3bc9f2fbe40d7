"""Render every explorer view from synthetic snapshots into PNG files (for looking at).

Usage::

    QT_QPA_PLATFORM=offscreen python -m gui.render_views OUT_DIR [--hidden 64]
        [--probe 80] [--steps 300] [--width 1000] [--height 650]

``--bench`` also times ``update_snapshot`` (and update + repaint) per view at
H=256, P=100 and prints a table. Writes one PNG per view and cell type (``loss.png``, ``hidden_lstm.png``,
``hidden_lstm_c.png``, ``hidden_rnn_relu.png``, ``gates_lstm.png``, ``gates_gru.png``,
``gates_gru_minimal.png``, ``gates_rnn_tanh.png``, ``gradient_flow.png``,
``sample.png``, ``histograms.png``) and prints the paths. Works without a display
(offscreen is the default platform here).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PyQt6.QtWidgets import QApplication, QWidget  # noqa: E402

from gui.protocol import Snapshot, synthetic_snapshot  # noqa: E402
from gui.views import (  # noqa: E402
    GateView,
    GradientFlowView,
    HiddenStateView,
    HistogramView,
    LossView,
    SampleView,
)


def _render(
    view: QWidget, path: Path, size: tuple[int, int], app: QApplication
) -> Path:
    view.resize(*size)
    view.show()
    app.processEvents()
    view.export_png(path)
    view.close()
    return path


def render_all(
    out_dir: str | Path,
    hidden: int = 64,
    probe: int = 80,
    steps: int = 300,
    size: tuple[int, int] = (1000, 650),
) -> list[Path]:
    """Render all views into ``out_dir``; returns the written PNG paths."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def snap(cell: str = "lstm", **kw):
        kw.setdefault("hidden_size", hidden)
        kw.setdefault("probe_len", probe)
        kw.setdefault("n_steps", steps)
        return synthetic_snapshot(cell, **kw)

    written = []
    view = LossView()
    view.update_snapshot(snap())
    written.append(_render(view, out / "loss.png", size, app))

    for cell, c_t in (("lstm", False), ("lstm", True), ("rnn_relu", False)):
        view = HiddenStateView()
        s = snap(cell)
        if cell == "rnn_relu":  # make the states look like ReLU outputs
            for p in s.probe:
                p.h = abs(p.h) * 3.0
        view.update_snapshot(s)
        view.show_c.setChecked(c_t)
        view.select_unit(0, 5)
        name = f"hidden_{cell}{'_c' if c_t else ''}.png"
        written.append(_render(view, out / name, size, app))

    for cell in ("lstm", "gru", "gru_minimal", "rnn_tanh"):
        view = GateView()
        view.update_snapshot(snap(cell))
        view.select_unit(0, 5)
        written.append(_render(view, out / f"gates_{cell}.png", size, app))

    view = GradientFlowView()
    s = snap("rnn_relu", num_layers=3)
    s.probe[2].grad_h_norm[:10] = (
        0.0  # zeros must land on the floor, not break the plot
    )
    view.update_snapshot(s)
    written.append(_render(view, out / "gradient_flow.png", size, app))

    view = SampleView()
    view.update_snapshot(snap())
    view.select_unit(1, 3)
    written.append(_render(view, out / "sample.png", (700, 300), app))

    view = HistogramView()
    view.update_snapshot(snap())
    written.append(_render(view, out / "histograms.png", (1000, 450), app))
    return written


def growing_run(
    cell: str, hidden: int, probe: int, steps: int, count: int, every: int = 5
) -> list[Snapshot]:
    """``count`` snapshots of one synthetic run: snapshot k has ``steps + k * every``
    optimizer steps (histories grow like a real run's) and probe states and sample
    activations from seed ``k % 2`` (so every image changes between frames)."""
    full = synthetic_snapshot(cell, hidden, 2, probe, steps + count * every, seed=0)
    alt = [synthetic_snapshot(cell, hidden, 2, probe, 1, seed=s) for s in range(2)]
    out = []
    for k in range(count):
        n = steps + k * every
        nv = int(np.searchsorted(full.val_steps, n, side="right"))
        out.append(
            dataclasses.replace(
                full,
                step=n,
                steps=full.steps[:n],
                losses=full.losses[:n],
                grad_norms=full.grad_norms[:n],
                clipped=full.clipped[:n],
                val_steps=full.val_steps[:nv],
                val_losses=full.val_losses[:nv],
                probe=alt[k % 2].probe,
                sample_h=alt[k % 2].sample_h,
            )
        )
    return out


def bench(
    hidden: int = 256,
    probe: int = 100,
    steps: int = 2000,
    repeats: int = 30,
    size: tuple[int, int] = (1000, 650),
) -> dict[str, tuple[float, float]]:
    """Time each view at ``hidden`` units x ``probe`` characters, 2 layers.

    Each shown view gets ``repeats`` snapshots of a growing run (see
    :func:`growing_run`); a full redraw is forced with ``QWidget.grab()`` (renders every child into a
    pixmap; an on-screen repaint of the same widget does the same drawing). Times are
    CPU seconds of the GUI thread (``time.thread_time``), so other processes on a
    busy machine do not inflate them. Returns view name -> (ms per
    ``update_snapshot``, ms per ``update_snapshot`` + full redraw).
    """
    app = QApplication.instance() or QApplication(sys.argv[:1])
    snaps = {
        cell: growing_run(cell, hidden, probe, steps, repeats + 4)
        for cell in ("lstm", "gru", "rnn_relu")
    }
    cases = [
        ("LossView", LossView, "lstm"),
        ("HiddenStateView (lstm)", HiddenStateView, "lstm"),
        ("HiddenStateView (rnn_relu)", HiddenStateView, "rnn_relu"),
        ("GateView (lstm, 4 gates)", GateView, "lstm"),
        ("GateView (gru, 3 gates)", GateView, "gru"),
        ("GradientFlowView", GradientFlowView, "lstm"),
        ("SampleView", SampleView, "lstm"),
        ("HistogramView", HistogramView, "lstm"),
    ]
    results = {}
    clock = time.thread_time
    for name, cls, cell in cases:
        view = cls()
        view.resize(*size)
        view.show()
        app.processEvents()
        run = snaps[cell]
        for k in range(4):  # warm-up (first paint, caches)
            view.update_snapshot(run[k])
            view.grab()
        t_update = t_frame = 0.0
        for k in range(repeats):
            if isinstance(view, SampleView):  # new colours each time: no cache hit
                view.select_unit(0, k % hidden)
            t0 = clock()
            view.update_snapshot(run[4 + k])
            t1 = clock()
            view.grab()
            t2 = clock()
            t_update += t1 - t0
            t_frame += t2 - t0
        view.close()
        app.processEvents()
        results[name] = (1e3 * t_update / repeats, 1e3 * t_frame / repeats)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--probe", type=int, default=80)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--height", type=int, default=650)
    parser.add_argument(
        "--bench",
        action="store_true",
        help="also time update_snapshot per view at H=256, P=100 (n=2000 steps)",
    )
    args = parser.parse_args(argv)
    for path in render_all(
        args.out_dir, args.hidden, args.probe, args.steps, (args.width, args.height)
    ):
        print(path)
    if args.bench:
        print(
            f"{'view (H=256, P=100, 2 layers)':32} {'update ms':>10} {'+redraw ms':>11}"
        )
        for name, (t_up, t_frame) in bench(size=(args.width, args.height)).items():
            print(f"{name:32} {t_up:10.2f} {t_frame:11.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
