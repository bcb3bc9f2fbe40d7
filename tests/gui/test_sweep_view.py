"""The sweep view (gui/views/sweep.py) and File > Open sweep of the explorer, offscreen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import Qt  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402

from fastrnn.distributed.results import write_sweep  # noqa: E402
from gui.app import MainWindow  # noqa: E402
from gui.protocol import synthetic_snapshot  # noqa: E402
from gui.views import ALL_VIEWS, SweepView  # noqa: E402
from gui.views.sweep import EMPTY_HINT, read_sweep  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LEFT = Qt.MouseButton.LeftButton
METRIC = "val_loss"
OPTIONS = ["cell", "hidden_size", "lr"]


def _trial(trial_id, rank, status, steps, losses, config, error=None) -> dict:
    history = [
        {"step": 100 * (i + 1), "seconds": 1.5 * (i + 1), METRIC: v, "val_acc": 0.1}
        for i, v in enumerate(losses)
    ]
    return {
        "trial_id": trial_id,
        "rank": rank,
        "status": status,
        "config": config,
        "metric": losses[-1] if losses else None,
        "steps": steps,
        "seconds": 1.5 * len(losses),
        "restarts": 0,
        "node": "127.0.0.1",
        "error": error,
        "history": history,
    }


#: Written in this (not the ranked) order: the view must sort by rank.
TRIALS = [
    _trial("t-02", 2, "TERMINATED", 200, [2.4, 2.2], {"lr": 0.03, "hidden_size": 32}),
    _trial(
        "t-11",
        3,
        "ERROR",
        0,
        [],
        {"lr": 0.3, "hidden_size": 128, "cell": "lstm"},
        error="RuntimeError: training diverged",
    ),
    _trial(
        "t-07",
        1,
        "TERMINATED",
        400,
        [2.1, 1.8, 1.6, 1.5],
        {"lr": 0.003, "hidden_size": 64, "cell": "lstm"},
    ),
]
RANKED = ["t-07", "t-02", "t-11"]


def make_sweep(folder: Path, trials: list[dict] = TRIALS) -> Path:
    write_sweep(
        folder,
        {
            "task": "lm",
            "metric": METRIC,
            "mode": "min",
            "spec": {"max_steps": 400},
            "best": {"trial_id": "t-07", "checkpoint": "best.st"},
            "trials": trials,
        },
    )
    return folder


def history(trial_id: str) -> tuple[np.ndarray, np.ndarray]:
    t = next(t for t in TRIALS if t["trial_id"] == trial_id)
    return (
        np.array([h["step"] for h in t["history"]], dtype=float),
        np.array([h[METRIC] for h in t["history"]]),
    )


def column(view: SweepView, col: int) -> list[str]:
    return [view.table.item(r, col).text() for r in range(view.table.rowCount())]


@pytest.fixture
def view(qtbot) -> SweepView:
    v = SweepView()
    qtbot.addWidget(v)
    v.resize(800, 600)
    v.show()
    qtbot.waitExposed(v)
    return v


def test_empty_state_then_load_draws_every_trial_with_history(view, tmp_path):
    assert view.stack.currentWidget() is view.hint and view.hint.text() == EMPTY_HINT
    assert view.sweep is None and view.curves == {}
    sweep = view.load(make_sweep(tmp_path / "sweep"))
    assert view.stack.currentIndex() == 1
    assert sweep.file == tmp_path / "sweep" / "sweep.json"
    # the ERROR trial has no evaluations: 2 curves for 3 trials, best first
    assert list(view.curves) == ["t-07", "t-02"]
    for trial_id, curve in view.curves.items():
        x, y = curve.getData()
        want_x, want_y = history(trial_id)
        np.testing.assert_array_equal(x, want_x)
        np.testing.assert_array_equal(y, want_y)
    # the table: rank order, metric name as a column, the searched options
    assert view.trial_ids == RANKED
    headers = [
        view.table.horizontalHeaderItem(c).text()
        for c in range(view.table.columnCount())
    ]
    assert headers == ["rank", "trial", METRIC, "steps", "status", *OPTIONS]
    assert column(view, 0) == ["1", "2", "3"]
    assert column(view, 1) == RANKED
    assert column(view, 2) == ["1.5000", "2.2000", "–"]
    assert column(view, 3) == ["400", "200", "0"]
    assert column(view, 4) == ["TERMINATED", "TERMINATED", "ERROR"]
    assert column(view, 5) == ["lstm", "–", "lstm"]  # t-02 did not search "cell"
    assert column(view, 7) == ["0.003", "0.03", "0.3"]
    assert "RuntimeError: training diverged" in view.table.item(2, 4).toolTip()
    # axes: step (linear) against the metric
    assert view.plot.getAxis("left").labelText == METRIC
    assert view.plot.getAxis("bottom").labelText == "step"
    assert view.plot.getAxis("bottom").logMode is False
    # best trial thicker; t-02 ran 200 of 400 steps: stopped early, dashed
    best, early = view.curve_pen("t-07"), view.curve_pen("t-02")
    assert best.widthF() > early.widthF()
    assert best.style() == Qt.PenStyle.SolidLine
    assert early.style() == Qt.PenStyle.CustomDashLine
    assert [t.stopped_early for t in sweep.trials] == [False, True, False]
    assert "1 failed, 1 stopped early" in view.header.text()


def test_selecting_a_row_highlights_that_curve(qtbot, view, tmp_path):
    view.load(make_sweep(tmp_path / "sweep"))
    assert view.highlighted is None
    base = {t: view.curve_pen(t).widthF() for t in view.curves}
    with qtbot.waitSignal(view.trial_highlighted) as signal:
        view.table.selectRow(1)
    assert signal.args == ["t-02"] and view.highlighted == "t-02"
    assert view.curve_pen("t-02").widthF() > base["t-02"]
    assert view.curve_pen("t-07").color().alpha() < 255  # the others fade
    assert view.curves["t-02"].zValue() > view.curves["t-07"].zValue()
    # a click on the best trial's row moves the highlight
    rect = view.table.visualItemRect(view.table.item(0, 1))
    qtbot.mouseClick(view.table.viewport(), LEFT, pos=rect.center())
    assert view.highlighted == "t-07"
    assert view.curve_pen("t-07").widthF() > base["t-07"]
    assert view.curve_pen("t-02").widthF() == base["t-02"]
    assert view.curve_pen("t-02").color().alpha() < 255
    # the ERROR row can be selected too (it has no curve)
    view.select_trial("t-11")
    assert view.highlighted == "t-11"
    assert all(view.curve_pen(t).color().alpha() < 255 for t in view.curves)
    view.select_trial(None)
    assert view.highlighted is None
    assert {t: view.curve_pen(t).widthF() for t in view.curves} == base
    assert all(view.curve_pen(t).color().alpha() == 255 for t in view.curves)
    with pytest.raises(ValueError, match="expected one of"):
        view.select_trial("t-99")


def test_bad_folders_raise_the_loader_errors_and_keep_the_view(view, tmp_path):
    view.load(make_sweep(tmp_path / "good"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="sweep.json"):
        view.load(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "sweep.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not a fastrnn sweep summary"):
        view.load(bad)
    # a trial without history: the message names the file and the trial
    summary = json.loads((tmp_path / "good" / "sweep.json").read_text())
    del summary["trials"][1]["history"]
    (bad / "sweep.json").write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad/sweep.json: trial 1 \(t-11\).*history"):
        read_sweep(bad)
    summary["trials"][1]["history"] = [{"step": 100, METRIC: "low"}]
    (bad / "sweep.json").write_text(json.dumps(summary), encoding="utf-8")
    with pytest.raises(ValueError, match="history entry 0: expected a number"):
        view.load(bad)
    assert view.trial_ids == RANKED and list(view.curves) == ["t-07", "t-02"]


def test_open_sweep_adds_one_tab_and_reports_errors(qtbot, tmp_path):
    win = MainWindow(redraw="always", poll_ms=10)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.open_sweep_action.text() == "Open sweep…"
    (tmp_path / "empty").mkdir()
    assert win.open_sweep(tmp_path / "empty") is False  # no exception
    assert win.status_label.text().startswith("cannot open sweep: ")
    assert "sweep.json" in win.status_label.text()
    assert any("cannot open sweep" in line for line in win.log_lines)
    assert win.sweep_view is None and win.tabs.count() == len(ALL_VIEWS)

    folder = make_sweep(tmp_path / "sweep")
    assert win.open_sweep(folder)
    assert win.tabs.count() == len(ALL_VIEWS) + 1
    assert win.tabs.currentWidget() is win.sweep_view
    assert win.tabs.tabText(win.tabs.currentIndex()) == "Sweep"
    assert win.sweep_view.trial_ids == RANKED
    assert win.open_sweep(folder)  # again: the same tab, refreshed
    assert win.tabs.count() == len(ALL_VIEWS) + 1
    # a failed open keeps the sweep that is shown
    assert not win.open_sweep(tmp_path / "empty")
    assert win.sweep_view.trial_ids == RANKED
    # redraws of training snapshots skip the sweep tab (it is not a snapshot view)
    win.latest = synthetic_snapshot("lstm", hidden_size=8, probe_len=10, n_steps=5)
    n = win.n_updates
    qtbot.waitUntil(lambda: win.n_updates >= n + 3, timeout=5000)
    paths = win.export_pngs(tmp_path / "export")
    assert [p.name for p in paths][-1] == f"{len(ALL_VIEWS) + 1:02d}_sweep.png"


def _run_gui(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", FASTRNN_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    return subprocess.run(
        [sys.executable, "-m", "gui", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sweep_option_in_offscreen_mode_saves_the_sweep_tab(corpus, tmp_path):
    folder = make_sweep(tmp_path / "sweep")
    shots = tmp_path / "shots"
    args = ["--corpus", corpus, "--shots", str(shots), "--steps", "1"]
    done = _run_gui(*args, "--sweep", str(folder))
    assert done.returncode == 0, done.stderr
    name = f"{len(ALL_VIEWS) + 1:02d}_sweep.png"
    assert name in done.stdout
    image = QImage(str(shots / name))
    assert image.width() > 300 and image.height() > 200
    ptr = image.convertToFormat(QImage.Format.Format_RGB32).constBits()
    ptr.setsize(image.width() * image.height() * 4)
    assert np.unique(np.frombuffer(ptr, np.uint32)).size > 20  # plot and table
    # an unreadable sweep folder fails the screenshots before any training
    failed = _run_gui(*args, "--sweep", str(tmp_path / "nowhere"))
    assert failed.returncode == 1
    assert "cannot open sweep" in failed.stderr


def test_fastrnn_statuses_are_trusted_over_step_counts(tmp_path: Path) -> None:
    """A DONE trial of a time-budgeted sweep ran to its end even with fewer steps;
    STOPPED is early whatever its steps; the budget may sit in the spec's [train]."""
    trials = [
        _trial("a", 1, "DONE", 500, [2.0, 1.5], {"cell": "gru"}),
        _trial("b", 2, "DONE", 380, [2.2, 1.7], {"cell": "lstm"}),
        _trial("c", 3, "STOPPED", 50, [2.5], {"cell": "gru"}),
    ]
    folder = tmp_path / "time"
    write_sweep(
        folder,
        {
            "task": "lm",
            "metric": METRIC,
            "mode": "min",
            "spec": {"train": {"time_budget": 300}},
            "best": {"trial_id": "a", "checkpoint": "best.st"},
            "trials": trials,
        },
    )
    sweep = read_sweep(folder)
    assert {t.trial_id: t.stopped_early for t in sweep.trials} == {
        "a": False,
        "b": False,
        "c": True,
    }
    trials[1]["status"] = "TERMINATED"  # a status that does not say: steps decide
    write_sweep(
        folder,
        {
            "task": "lm",
            "metric": METRIC,
            "mode": "min",
            "spec": {"train": {"max_steps": 500}},
            "best": {"trial_id": "a", "checkpoint": None},
            "trials": trials,
        },
    )
    assert [t.stopped_early for t in read_sweep(folder).trials] == [False, True, True]
