"""The explorer window with a real worker process, offscreen (pytest-qt)."""

from __future__ import annotations

import multiprocessing
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from _gui_cases import tiny  # noqa: E402
from PyQt6.QtCore import Qt  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from fastrnn.data import load_text  # noqa: E402
from gui.__main__ import take_screenshots  # noqa: E402
from gui.app import MainWindow, install_excepthook  # noqa: E402
from gui.protocol import CELL_CHOICES, RunConfig  # noqa: E402
from gui.setup_panel import SetupPanel  # noqa: E402
from gui.views import ALL_VIEWS, GateView, HiddenStateView, SampleView  # noqa: E402

WAIT_MS = 30_000  # the machine may be busy; a spawn imports numpy and fastrnn
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def window(qtbot, corpus):
    threads_before = threading.active_count()
    win = MainWindow(tiny(corpus))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    # join the worker before pytest-qt closes the widget (also after a failure)
    win.stop_worker(timeout=10)
    assert not win.is_running()
    assert multiprocessing.active_children() == []
    assert threading.active_count() == threads_before


def test_start_pause_single_step_live_lr_stop(qtbot, window):
    win = window
    assert [type(v) for v in win.views] == ALL_VIEWS
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == [
        v.title for v in ALL_VIEWS
    ]
    qtbot.mouseClick(win.start_button, LEFT)
    assert win.is_running() and not win.start_button.isEnabled()
    assert not win.setup_panel.hidden_size.isEnabled()  # locked while running
    assert win.setup_panel.lr.isEnabled()  # live
    qtbot.waitUntil(
        lambda: win.n_updates >= 5 and win.latest.step >= 3, timeout=WAIT_MS
    )
    assert win.frames.frames >= 1  # the loss view was painted
    assert win.step_label.text() == f"step {win.latest.step}"

    qtbot.mouseClick(win.pause_button, LEFT)
    qtbot.waitUntil(lambda: win.status == "paused", timeout=WAIT_MS)
    assert win.pause_button.text() == "Resume"
    k = win.latest.step
    qtbot.mouseClick(win.step_button, LEFT)
    qtbot.waitUntil(lambda: win.latest.step != k, timeout=WAIT_MS)
    qtbot.wait(300)
    assert (win.latest.step, win.status) == (k + 1, "paused")  # exactly one step

    win.setup_panel.lr.setValue(0.0125)  # a live spin box: sends "set"
    qtbot.waitUntil(lambda: win.latest.lr == 0.0125, timeout=WAIT_MS)
    assert any("lr = 0.0125" in line for line in win.log_lines)

    qtbot.mouseClick(win.pause_button, LEFT)  # resume
    qtbot.waitUntil(lambda: win.latest.step > k + 3, timeout=WAIT_MS)
    handle = win.handle
    qtbot.mouseClick(win.stop_button, LEFT)
    qtbot.waitUntil(lambda: not win.is_running(), timeout=WAIT_MS)
    assert win.latest.status == "stopped"
    assert win.status_label.text() == f"stopped at step {win.latest.step}"
    assert handle.exitcode == 0 and not handle.terminated
    assert win.start_button.isEnabled() and win.setup_panel.hidden_size.isEnabled()
    # the views hold the run's data
    hidden = win.view(HiddenStateView)
    win.tabs.setCurrentWidget(hidden)
    assert hidden._snap is win.latest


def test_worker_exception_is_shown_and_app_survives(qtbot, window, corpus):
    win = window
    win.setup_panel.set_config(tiny(corpus, fail_at_step=2))
    assert win.setup_panel.config().fail_at_step == 2
    win.start()
    qtbot.waitUntil(lambda: win.last_error is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not win.is_running(), timeout=WAIT_MS)
    assert "fail_at_step: forced failure after step 2" in win.last_error
    assert win.status_label.text().startswith("worker failed: RuntimeError")
    assert any("Traceback" in line for line in win.log_lines)
    # the app goes on: a new run starts and streams
    assert win.start(tiny(corpus))
    qtbot.waitUntil(lambda: win.latest is not None, timeout=WAIT_MS)
    assert win.last_error is None and win.latest.run_id == win.run_id


def test_closing_mid_run_leaves_no_process_or_thread(qtbot, corpus):
    threads_before = threading.active_count()
    win = MainWindow(tiny(corpus))
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: win.n_snapshots >= 3, timeout=WAIT_MS)
    handle = win.handle
    win.close()  # closeEvent stops and joins the worker
    assert not win.is_running()
    assert multiprocessing.active_children() == []
    assert handle.exitcode == 0 and not handle.terminated  # stopped by itself
    assert threading.active_count() == threads_before


def test_screenshot_mode_writes_one_png_per_view(qtbot, corpus, tmp_path):
    win = MainWindow(tiny(corpus))
    qtbot.addWidget(win)
    win.show()
    win.start()
    try:
        paths = take_screenshots(win, QApplication.instance(), tmp_path, 3, 60)
        exported = win.export_pngs(tmp_path / "export")
    finally:
        win.stop_worker()
    names = [p.name for p in paths]
    assert len(names) == len(ALL_VIEWS) + 1 and names[-1] == "window.png"
    assert names[0] == "01_loss.png" and names[1] == "02_hidden_state.png"
    assert [p.name[:2] for p in exported] == [f"{i + 1:02d}" for i in range(6)]
    for path in [*paths, *exported]:
        image = QImage(str(path))
        assert not image.isNull() and image.width() > 300 and image.height() > 200
        # not a blank image: many distinct colours (plots, text)
        ptr = image.convertToFormat(QImage.Format.Format_RGB32).constBits()
        ptr.setsize(image.width() * image.height() * 4)
        pixels = np.frombuffer(ptr, np.uint32)[::5]
        assert np.unique(pixels).size > 20, path.name
    assert win.latest.step >= 3 and win.latest.sample_step == win.latest.step


def test_inspect_a_checkpoint_and_change_the_probe(qtbot, window, corpus, tmp_path):
    import fastrnn as fr
    from fastrnn.data import Vocab
    from fastrnn.models.language_model import LanguageModel

    fr.manual_seed(1)
    model = LanguageModel(
        vocab=Vocab.build(load_text(corpus)),
        hidden_size=10,
        num_layers=1,
        embedding_dim=4,
        cell="gru_minimal",
    )
    model.save(tmp_path / "m.st")
    win = window
    assert win.load_checkpoint(tmp_path / "m.st")
    qtbot.waitUntil(lambda: win.status == "inspecting", timeout=WAIT_MS)
    assert not win.pause_button.isEnabled() and win.stop_button.isEnabled()
    panel = win.setup_panel  # shows the checkpoint's architecture
    assert (panel.cell.currentData(), panel.hidden_size.value()) == ("gru_minimal", 10)
    win.setup_panel.probe_text.setText("Now is the winter")
    qtbot.mouseClick(win.setup_panel.probe_button, LEFT)
    qtbot.waitUntil(
        lambda: win.latest.probe_text == "Now is the winte", timeout=WAIT_MS
    )
    assert win.latest.probe[0].h.shape == (16, 10)
    assert tuple(win.latest.probe[0].gates) == ("z", "n")
    win.save_checkpoint(tmp_path / "again.st")
    qtbot.waitUntil(lambda: (tmp_path / "again.st").exists(), timeout=WAIT_MS)


def test_hidden_unit_selection_reaches_sample_and_gates(qtbot, window):
    hidden = window.view(HiddenStateView)
    with qtbot.waitSignal(hidden.unit_selected):
        hidden.unit_selected.emit(1, 7)
    assert window.view(SampleView).unit == 7 and window.view(SampleView).layer == 1
    assert window.view(GateView) is not None


def test_setup_panel_round_trip_and_demo(qtbot):
    panel = SetupPanel()
    qtbot.addWidget(panel)
    assert [panel.cell.itemData(i) for i in range(panel.cell.count())] == list(
        CELL_CHOICES
    )
    cfg = RunConfig(
        corpus="/data/x.txt",
        cell="gru_cho",
        hidden_size=48,
        num_layers=3,
        embedding_dim=20,
        dropout=0.25,
        optimizer="rmsprop",
        lr=0.0005,
        clip_mode="value",
        clip=0.5,
        seq_len=40,
        batch_size=8,
        seed=7,
        temperature=1.2,
        recurrent_init="normal",
        init_sigma2=2.0,
        probe_text="hello world",
        probe_len=50,
        sample_len=120,
        threads=2,
        max_steps=99,
        windows="random",
        snapshot_budget=0.2,
        worker_nice=3,
    )
    panel.set_config(cfg)
    assert panel.config() == cfg
    assert not panel.bidirectional.isEnabled() and panel.bidirectional.toolTip()
    changes = []
    panel.live_changed.connect(changes.append)
    panel.temperature.setValue(0.3)
    panel.clip_mode.setCurrentIndex(panel.clip_mode.findData("norm"))
    assert changes == [{"temperature": 0.3}, {"clip_mode": "norm"}]
    with qtbot.waitSignal(panel.demo_requested) as signal:
        qtbot.mouseClick(panel.vanish_button, LEFT)
    assert signal.args == [1.5]
    demo = panel.config()
    assert (demo.cell, demo.recurrent_init, demo.init_sigma2) == (
        "rnn_relu",
        "normal",
        1.5,
    )


def test_excepthook_reports_into_the_window(qtbot, corpus):
    win = MainWindow(tiny(corpus))
    qtbot.addWidget(win)
    saved = sys.excepthook
    try:
        install_excepthook(win)
        try:
            raise KeyError("boom")
        except KeyError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = saved
    assert win.status_label.text() == "internal error: KeyError: 'boom'"
    assert any("Traceback" in line for line in win.log_lines)


def test_bad_form_value_is_refused_without_a_process(qtbot, corpus):
    win = MainWindow(tiny(corpus))
    qtbot.addWidget(win)
    assert not win.start(tiny(corpus, clip_mode="soft"))
    assert not win.is_running() and multiprocessing.active_children() == []
    assert win.status_label.text().startswith("cannot start: expected clip_mode")


def test_module_entry_point_is_cheap_to_import():
    # the spawned worker re-imports gui.__main__ as __mp_main__: no Qt at import
    import subprocess

    code = (
        "import sys, gui.__main__; "
        "assert not [m for m in sys.modules if m.startswith('PyQt')]"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)
