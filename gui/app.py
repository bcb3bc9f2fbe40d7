"""The explorer window: run controls, live views, status bar; training in a worker process.

:class:`MainWindow` starts a :class:`gui.worker.WorkerHandle` (a spawned process, no
Qt) for the run set up in the :class:`gui.setup_panel.SetupPanel` and polls its
snapshot queue on a QTimer (every ``POLL_MS``). It keeps only the newest snapshot of
the current run (a run id drops stale ones) and redraws the visible view from it, at
most once per tick; a view that becomes visible is brought up to date when its tab
is selected. Worker errors go to the status bar and the log panel, never abort the
app; closing the window stops and joins the worker.

File > Open sweep... (or :meth:`MainWindow.open_sweep`) adds a "Sweep" tab, a
:class:`gui.views.SweepView` of a ``fastrnn sweep`` results folder; it does not take
part in the snapshot redraws.

Run it with ``python -m gui`` (see :mod:`gui.__main__`).
"""

from __future__ import annotations

import copy
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal, pyqtSlot
from PyQt6.QtGui import QAction, QCloseEvent, QColor
from PyQt6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.protocol import RunConfig, Snapshot
from gui.setup_panel import SetupPanel
from gui.worker import WorkerHandle

__all__ = [
    "POLL_MS",
    "FrameCounter",
    "MainWindow",
    "create_app",
    "install_excepthook",
]

#: Interval of the poll-and-redraw timer (25 Hz: above the 20 Hz snapshot rate).
POLL_MS = 40
#: Seconds the window waits for a stopping worker before terminating it.
STOP_TIMEOUT_S = 5.0
_ERROR_COLOR = "#b00020"


class FrameCounter(QObject):
    """Counts painted frames of the widgets it filters (an event filter).

    Every widget repainted in one pass of the event loop belongs to the same frame:
    the first Paint event opens a frame and a zero-time timer closes it.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frames = 0
        self._open = False

    def watch(self, widget: QWidget) -> None:
        """Count paints of ``widget``'s scroll areas / graphics views (or itself)."""
        areas = widget.findChildren(QAbstractScrollArea)
        targets = [a.viewport() for a in areas] or [widget]
        for target in targets:
            target.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint and not self._open:
            self._open = True
            self.frames += 1
            QTimer.singleShot(0, self._close)
        return False

    def _close(self) -> None:
        self._open = False


class MainWindow(QMainWindow):
    """The explorer (see the module docstring).

    Parameters
    ----------
    config : RunConfig, optional
        Initial values of the setup form.
    redraw : "on_data" or "always"
        Redraw the visible view only when a new snapshot arrived (default), or on
        every timer tick from the newest snapshot (a worst case, for benchmarks).
    poll_ms : int
        Timer interval.

    Attributes (for scripts and tests)
    ----------------------------------
    latest : Snapshot or None
        Newest snapshot of the current run (None before the first).
    n_snapshots : int
        Snapshots received from the current run.
    n_updates : int
        Redraws (``update_snapshot`` calls from the timer).
    frames : FrameCounter
        Painted frames of the views (``frames.frames``).
    last_error : str or None
        The traceback of the last worker error.
    sweep_view : SweepView or None
        The "Sweep" tab, created by the first successful :meth:`open_sweep`.
    """

    #: Emitted with every accepted snapshot of the current run.
    snapshot_received = pyqtSignal(object)

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        redraw: str = "on_data",
        poll_ms: int = POLL_MS,
    ) -> None:
        super().__init__()
        if redraw not in ("on_data", "always"):
            raise ValueError(f"expected redraw 'on_data' or 'always', got {redraw!r}")
        from gui.views import ALL_VIEWS, GateView, HiddenStateView, SampleView

        self.setWindowTitle("fastrnn explorer")
        self.resize(1400, 900)
        self.redraw_mode = redraw
        self.run_id = 0
        self.latest: Snapshot | None = None
        self.n_snapshots = 0
        self.n_updates = 0
        self.last_error: str | None = None
        self.log_lines: list[str] = []
        self._handle: WorkerHandle | None = None
        self._stopping_since: float | None = None
        self._dirty = False
        self._drawn: dict[int, int] = {}  # id(view) -> n_snapshots it shows
        self._fps = 0.0
        self._fps_mark = (time.perf_counter(), 0)
        self.sweep_view: Any = None  # gui.views.SweepView, made by open_sweep

        # ---- controls
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        self.save_button = QPushButton("Save checkpoint…")
        self.load_button = QPushButton("Load checkpoint…")
        self.export_button = QPushButton("Export PNGs…")
        self.start_button.setToolTip("train a new model with the settings on the left")
        self.pause_button.setToolTip("pause / resume training")
        self.step_button.setToolTip("run exactly one training step, then pause")
        self.stop_button.setToolTip("end the run (the worker process exits)")
        self.save_button.setToolTip("save the model (and optimizer) of the run")
        self.load_button.setToolTip(
            "show a saved language model's states and gates on the probe text, "
            "without training"
        )
        self.export_button.setToolTip("save every view as a PNG into a folder")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.pause_button.clicked.connect(self.toggle_pause)
        self.step_button.clicked.connect(self.single_step)
        self.stop_button.clicked.connect(self.request_stop)
        self.save_button.clicked.connect(self._on_save_clicked)
        self.load_button.clicked.connect(self._on_load_clicked)
        self.export_button.clicked.connect(self._on_export_clicked)
        self.open_sweep_action = QAction("Open sweep…", self)
        self.open_sweep_action.setToolTip(
            "overlay the validation curves of a 'fastrnn sweep' results folder"
        )
        self.open_sweep_action.triggered.connect(self._on_open_sweep_clicked)
        self.menuBar().addMenu("&File").addAction(self.open_sweep_action)
        self.sweep_button = QPushButton("Open sweep…")
        self.sweep_button.setToolTip(self.open_sweep_action.toolTip())
        self.sweep_button.clicked.connect(self.open_sweep_action.trigger)
        bar = QHBoxLayout()
        for b in (self.start_button, self.pause_button, self.step_button):
            bar.addWidget(b)
        bar.addWidget(self.stop_button)
        bar.addSpacing(24)
        for b in (self.save_button, self.load_button, self.export_button):
            bar.addWidget(b)
        bar.addSpacing(24)
        bar.addWidget(self.sweep_button)
        bar.addStretch(1)

        # ---- setup panel (left) and views (tabs)
        self.setup_panel = SetupPanel(config)
        self.setup_panel.live_changed.connect(self._on_live_changed)
        self.setup_panel.probe_requested.connect(self.apply_probe)
        self.setup_panel.demo_requested.connect(self._on_demo)
        scroll = QScrollArea()
        scroll.setWidget(self.setup_panel)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.setup_panel.sizeHint().width() + 24)

        self.tabs = QTabWidget()
        self.views = [cls() for cls in ALL_VIEWS]
        for view in self.views:
            self.tabs.addTab(view, view.title)
        self.tabs.currentChanged.connect(self._on_tab_changed)
        hidden = self.view(HiddenStateView)
        for target in (SampleView, GateView):
            hidden.unit_selected.connect(self.view(target).select_unit)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(bar)
        right_layout.addWidget(self.tabs, 1)
        splitter = QSplitter()
        splitter.addWidget(scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)

        # ---- log panel
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(2000)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("log")
        self.log_dock.setWidget(self.log_view)
        self.log_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.resizeDocks([self.log_dock], [110], Qt.Orientation.Vertical)

        # ---- status bar
        self.status_label = QLabel("idle")
        self.step_label = QLabel("step –")
        self.loss_label = QLabel("loss –")
        self.speed_label = QLabel("– tokens/s")
        self.fps_label = QLabel("– fps")
        sb = self.statusBar()
        sb.addWidget(self.status_label, 1)
        for w in (self.step_label, self.loss_label, self.speed_label, self.fps_label):
            w.setMinimumWidth(90)
            sb.addPermanentWidget(w)

        self.frames = FrameCounter(self)
        for view in self.views:
            self.frames.watch(view)
        self.timer = QTimer(self)
        self.timer.setInterval(int(poll_ms))
        self.timer.timeout.connect(self._tick)
        self.timer.start()
        self._sync_buttons()
        self.log("ready: set up a run on the left and press Start")

    # ------------------------------------------------------------------ helpers
    def view(self, cls: type) -> Any:
        """The view instance of class ``cls``."""
        for v in self.views:
            if isinstance(v, cls):
                return v
        raise KeyError(f"expected one of {[type(v).__name__ for v in self.views]}")

    def log(self, text: str, error: bool = False) -> None:
        """Append a line (or lines) to the log panel."""
        stamp = time.strftime("%H:%M:%S")
        for line in text.rstrip().splitlines() or [""]:
            self.log_lines.append(line)
            if error:
                color = QColor(_ERROR_COLOR).name()
                self.log_view.appendHtml(
                    f'<span style="color:{color}">{stamp} {_escape(line)}</span>'
                )
            else:
                self.log_view.appendPlainText(f"{stamp} {line}")

    def is_running(self) -> bool:
        """True while a worker process exists (training, paused or inspecting)."""
        return self._handle is not None

    @property
    def status(self) -> str:
        """The run's state: idle, starting, stopping or the newest snapshot's status."""
        if self._handle is None:
            return "idle"
        if self._stopping_since is not None:
            return "stopping"
        return self.latest.status if self.latest is not None else "starting"

    @property
    def handle(self) -> WorkerHandle | None:
        return self._handle

    @property
    def fps(self) -> float:
        """Painted frames per second over the last second or so."""
        return self._fps

    # ------------------------------------------------------------------ run control
    def start(self, config: RunConfig | None = None) -> bool:
        """Start a worker for ``config`` (default: the setup form). False if refused."""
        if self._handle is not None:
            self.log("a run is already going: stop it first", error=True)
            return False
        config = self.setup_panel.config() if config is None else config
        self.run_id += 1
        try:
            handle = WorkerHandle(config, self.run_id)
        except (TypeError, ValueError) as err:
            self._show_error(f"cannot start: {err}")
            return False
        self.latest = None
        self.n_snapshots = 0
        self._drawn.clear()
        self.last_error = None
        self._handle = handle.start()
        what = (
            f"inspecting {config.checkpoint}"
            if config.mode == "inspect"
            else f"run {self.run_id}: {config.cell} H={config.hidden_size} "
            f"L={config.num_layers} on {config.corpus or 'tiny Shakespeare'}"
        )
        self.log(f"started {what} (worker pid {self._handle.process.pid})")
        self.status_label.setStyleSheet("")
        self.status_label.setText("starting…")
        self._sync_buttons()
        return True

    def send(self, kind: str, value: Any = None) -> bool:
        """Send a command to the running worker (False when there is none)."""
        if self._handle is None or self._stopping_since is not None:
            return False
        return self._handle.send(kind, value)

    @pyqtSlot()
    def toggle_pause(self) -> None:
        if self.status == "paused":
            self.resume()
        else:
            self.pause()

    @pyqtSlot()
    def pause(self) -> None:
        self.send("pause")

    @pyqtSlot()
    def resume(self) -> None:
        self.send("resume")

    @pyqtSlot()
    def single_step(self) -> None:
        """One training step, then pause (starts a paused run when idle)."""
        if self._handle is None:
            config = self.setup_panel.config()
            config.start_paused = True
            if not self.start(config):
                return
        self.send("step")

    @pyqtSlot()
    def request_stop(self) -> None:
        """Ask the worker to stop without blocking; the timer joins it."""
        if self._handle is None or self._stopping_since is not None:
            return
        self._handle.send("stop")
        self._stopping_since = time.monotonic()
        self.status_label.setText("stopping…")
        self._sync_buttons()

    @pyqtSlot()
    def stop_worker(self, timeout: float = STOP_TIMEOUT_S) -> bool:
        """Stop and join the worker now (blocking; idempotent). True if it ended cleanly."""
        handle = self._handle
        if handle is None:
            return True
        clean = handle.stop(timeout)
        self._finish(handle, clean)
        return clean

    def _finish(self, handle: WorkerHandle, clean: bool) -> None:
        """The worker has ended: take its last snapshots, then forget it."""
        for snap in handle.poll():
            self._receive(snap)
        self._handle = None
        self._stopping_since = None
        self.run_id += 1  # anything still addressed to the old run is stale
        code = handle.exitcode
        if not clean:
            self.log(f"worker did not stop within {STOP_TIMEOUT_S} s: terminated")
        elif code not in (0, None) and self.last_error is None:
            self._show_error(f"worker exited with code {code}")
        if self.last_error is None:
            self.status_label.setStyleSheet("")
            step = "" if self.latest is None else f" at step {self.latest.step}"
            self.status_label.setText(f"stopped{step}")
            self.log(f"worker stopped{step}")
        self._dirty = True
        self._sync_buttons()

    def send_set(self, **values: Any) -> bool:
        """Change lr / clip / clip_mode / temperature of the running worker."""
        return self.send("set", values)

    @pyqtSlot(str)
    def apply_probe(self, text: str) -> None:
        """Trace the running (or inspected) model on ``text``."""
        if not self.send("probe", text):
            self.log("probe text will be used when the next run starts")

    def save_checkpoint(self, path: str | os.PathLike[str]) -> bool:
        """Ask the worker to save its model to ``path`` (the log confirms)."""
        return self.send("save", os.fspath(path))

    def load_checkpoint(self, path: str | os.PathLike[str]) -> bool:
        """Show a saved language model on the probe text, without training."""
        if self._handle is not None:
            self.stop_worker()
        config = replace(
            self.setup_panel.config(), mode="inspect", checkpoint=os.fspath(path)
        )
        return self.start(config)

    def export_pngs(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Bring every view up to date and save it as ``folder/NN_title.png``.

        The sweep view, when a sweep is open, comes last.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        sweep = [] if self.sweep_view is None else [self.sweep_view]
        views = [*self.views, *sweep]
        for i, view in enumerate(views):
            self._update_view(view)
            name = view.title.lower().replace(" ", "_")
            path = folder / f"{i + 1:02d}_{name}.png"
            view.export_png(path)
            paths.append(path)
        return paths

    def open_sweep(self, path: str | os.PathLike[str]) -> bool:
        """Show the sweep folder ``path`` in the "Sweep" tab (added or refreshed) and
        select that tab. False (the error in the status bar and log) when it cannot
        be read; a sweep shown before stays.
        """
        from gui.views import SweepView

        view = self.sweep_view if self.sweep_view is not None else SweepView()
        try:
            sweep = view.load(path)
        except (OSError, ValueError) as err:
            self._show_error(f"cannot open sweep: {err}")
            if view is not self.sweep_view:
                view.deleteLater()
            return False
        if self.sweep_view is None:
            self.sweep_view = view
            self.tabs.addTab(view, view.title)
        self.tabs.setCurrentWidget(view)
        best = f", best {sweep.best_id}" if sweep.best_id is not None else ""
        self.log(
            f"opened sweep {sweep.file.parent}: {len(sweep.trials)} trials, "
            f"metric {sweep.metric}{best}"
        )
        return True

    # ------------------------------------------------------------------ timer
    @pyqtSlot()
    def _tick(self) -> None:
        handle = self._handle
        if handle is not None:
            for snap in handle.poll():
                self._receive(snap)
            if self._stopping_since is not None:
                if not handle.process.is_alive():
                    self._finish(handle, handle.stop(0.5))
                elif time.monotonic() - self._stopping_since > STOP_TIMEOUT_S:
                    self._finish(handle, handle.stop(0.0))
            elif not handle.process.is_alive():  # ended by itself (error, crash)
                self._finish(handle, handle.stop(0.5))
        if self.latest is not None and (self._dirty or self.redraw_mode == "always"):
            self._redraw()
        now = time.perf_counter()
        t0, f0 = self._fps_mark
        if now - t0 >= 1.0:
            self._fps = (self.frames.frames - f0) / (now - t0)
            self._fps_mark = (now, self.frames.frames)
            self.fps_label.setText(f"{self._fps:.0f} fps")

    def _receive(self, snap: Snapshot) -> None:
        if snap.run_id != self.run_id:
            return  # from a run that was stopped: stale
        if snap.message:
            problem = snap.status == "error" or snap.message.startswith(
                ("training diverged", "command ")
            )
            self.log(snap.message, error=problem)
        if snap.status == "error":
            self.last_error = snap.message
            last = snap.message.strip().splitlines()[-1] if snap.message else "?"
            self._show_error(f"worker failed: {last}")
            return
        self.n_snapshots += 1
        if self.n_snapshots == 1 and self._handle is not None:
            config = self._handle.config
            if config.checkpoint is not None:  # the checkpoint's architecture won
                self.setup_panel.show_model(
                    snap.cell, snap.hidden_size, snap.num_layers
                )
                self.log(
                    f"model from {config.checkpoint}: {snap.cell}, "
                    f"{snap.num_layers} x {snap.hidden_size} units"
                )
        self.latest = snap
        self._dirty = True
        if snap.message.startswith("training diverged"):
            self.status_label.setStyleSheet(f"color: {_ERROR_COLOR}")
        self.snapshot_received.emit(snap)
        self._sync_buttons()

    def _redraw(self) -> None:
        view = self.tabs.currentWidget()
        if view is self.sweep_view:  # not a snapshot view
            pass
        elif self.redraw_mode == "always":
            # a copy defeats the views' identity check: the view repaints its plot
            # items (from what they computed, when the content is the same)
            view.update_snapshot(copy.copy(self.latest))
            self._drawn[id(view)] = self.n_snapshots
        else:
            self._update_view(view)
        self.n_updates += 1
        self._dirty = False
        self._update_status()

    def _update_view(self, view: QWidget) -> None:
        if view is self.sweep_view:  # not a snapshot view
            return
        if self.latest is not None and self._drawn.get(id(view)) != self.n_snapshots:
            view.update_snapshot(self.latest)
            self._drawn[id(view)] = self.n_snapshots

    def _update_status(self) -> None:
        snap = self.latest
        if snap is None:
            return
        busy = self._handle is not None and self._stopping_since is None
        if busy and self.last_error is None:
            text = snap.status
            if snap.status == "running" and snap.overhead > 0:
                text += f" (snapshots {100 * snap.overhead:.0f}% of time)"
            if not snap.message.startswith("training diverged"):
                self.status_label.setStyleSheet("")
            self.status_label.setText(text)
        self.step_label.setText(f"step {snap.step}")
        loss = f"loss {float(snap.losses[-1]):.3f}" if len(snap.losses) else "loss –"
        self.loss_label.setText(loss)
        self.speed_label.setText(f"{snap.tokens_per_s:,.0f} tokens/s")

    @pyqtSlot(int)
    def _on_tab_changed(self, _index: int) -> None:
        view = self.tabs.currentWidget()
        if view is not None:
            self._update_view(view)

    # ------------------------------------------------------------------ UI state
    def _sync_buttons(self) -> None:
        status = self.status
        alive = self._handle is not None and self._stopping_since is None
        training = status in ("running", "paused", "starting")
        inspect = self._handle is not None and self._handle.config.mode == "inspect"
        self.start_button.setEnabled(self._handle is None)
        self.pause_button.setEnabled(alive and training and not inspect)
        self.pause_button.setText("Resume" if status == "paused" else "Pause")
        self.step_button.setEnabled(
            self._handle is None or (alive and training and not inspect)
        )
        self.stop_button.setEnabled(alive)
        self.save_button.setEnabled(alive and status != "starting")
        self.setup_panel.set_running(self._handle is not None)

    def _show_error(self, text: str) -> None:
        self.status_label.setStyleSheet(f"color: {_ERROR_COLOR}")
        self.status_label.setText(text)
        self.log(text, error=True)
        self.log_dock.raise_()

    # ------------------------------------------------------------------ slots
    @pyqtSlot()
    def _on_start_clicked(self) -> None:
        self.start()

    @pyqtSlot(dict)
    def _on_live_changed(self, change: dict) -> None:
        if self.send("set", change):
            self.log("live: " + ", ".join(f"{k} = {v}" for k, v in change.items()))

    @pyqtSlot(float)
    def _on_demo(self, sigma2: float) -> None:
        if self._handle is not None:
            self.stop_worker()
        self.log(f"exploding/vanishing demo: ReLU RNN, recurrent init N(0, {sigma2}/H)")
        from gui.views import GradientFlowView

        if self.start():
            self.tabs.setCurrentWidget(self.view(GradientFlowView))

    @pyqtSlot()
    def _on_save_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save checkpoint", str(Path.cwd() / "model.st"), "Checkpoints (*.st)"
        )
        if path:
            self.save_checkpoint(path)

    @pyqtSlot()
    def _on_load_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load checkpoint", str(Path.cwd()), "Checkpoints (*.st);;All (*)"
        )
        if path:
            self.load_checkpoint(path)

    @pyqtSlot()
    def _on_export_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export PNGs into", str(Path.cwd())
        )
        if folder:
            try:
                paths = self.export_pngs(folder)
            except OSError as err:
                self._show_error(f"export failed: {err}")
                return
            self.log(f"exported {len(paths)} PNGs to {folder}")

    @pyqtSlot()
    def _on_open_sweep_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open sweep folder (with sweep.json)", str(Path.cwd())
        )
        if folder:
            self.open_sweep(folder)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt name)
        self.timer.stop()
        self.stop_worker()
        super().closeEvent(event)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def install_excepthook(window: MainWindow | None = None) -> None:
    """Report exceptions that escape Qt slots instead of letting PyQt6 abort.

    The traceback goes to stderr and, when ``window`` is given, to its log panel and
    status bar.
    """

    def hook(
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(text)
        if window is not None:
            try:
                window._show_error(f"internal error: {exc_type.__name__}: {exc}")
                window.log(text, error=True)
            except RuntimeError:  # the window is already deleted
                pass

    sys.excepthook = hook


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1] if argv is None else argv)
        app.setApplicationName("fastrnn explorer")
    return app
