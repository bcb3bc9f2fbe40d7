"""The validation curves of a hyperparameter sweep (``fastrnn sweep --out DIR``), overlaid.

A sweep folder is read with :func:`fastrnn.distributed.results.load_sweep` (no Ray is
imported) and checked trial by trial by :func:`read_sweep`. :class:`SweepView` draws
one curve per trial that has evaluations (x = step, y = the sweep's metric), one colour
per trial; the best trial is drawn thicker, trials that stopped before the full budget
(an early-stopping scheduler) are dashed and the last evaluation of a trial that failed
is marked with a red cross. A table below lists the trials best first (rank, trial id,
metric, steps, status and the searched options); selecting a row, or clicking a curve,
highlights that trial's curve and fades the others.

Unlike the other views it is not fed by training snapshots: call :meth:`SweepView.load`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor, QPen
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from fastrnn.distributed.results import SUMMARY_NAME, load_sweep
from gui.views._common import CURVE_COLORS, grab_png, label_plot, settle

__all__ = [
    "EMPTY_HINT",
    "EARLY_STOP_STATUSES",
    "Sweep",
    "SweepTrial",
    "SweepView",
    "read_sweep",
    "trial_colors",
]

#: What the view shows before a sweep is loaded.
EMPTY_HINT = "Open a sweep folder (File > Open sweep...)"
#: Statuses that always mean "stopped early by the scheduler" (compared upper-case).
#: Ray Tune itself reports such trials as TERMINATED: see :attr:`SweepTrial.stopped_early`.
EARLY_STOP_STATUSES = frozenset({"STOPPED", "EARLY_STOPPED", "PRUNED"})
#: Statuses of trials that have not finished (never drawn dashed).
_UNFINISHED = frozenset({"RUNNING", "PENDING", "PAUSED"})
_ERROR_COLOR = "#b00020"
#: Pen widths (screen pixels) of ordinary, best and highlighted curves.
_WIDTH, _BEST_WIDTH, _HIGHLIGHT_EXTRA = 1.5, 3.0, 2.0
#: Alpha (0-255) of the other curves while one is highlighted.
_FADED_ALPHA = 70


@dataclass(frozen=True)
class SweepTrial:
    """One trial of a sweep, as the view draws it.

    Attributes
    ----------
    trial_id : str
    rank : int or None
        1 = best (None: the file gives no rank).
    status : str
        Ray Tune's status, e.g. ``"TERMINATED"`` or ``"ERROR"``.
    metric : float or None
        The trial's final (reported) value of the sweep's metric.
    steps : int
        Optimizer steps the trial ran.
    config : dict
        The searched options (option -> value).
    error : str or None
        The error message of a failed trial.
    x : np.ndarray
        (k,) float64 steps of the trial's k evaluations, in history order.
    y : np.ndarray
        (k,) float64 metric at each evaluation (NaN where the entry has none).
    stopped_early : bool
        The trial ended before the sweep's full budget: its status is one of
        :data:`EARLY_STOP_STATUSES`, or (for a status that does not say, such as
        Ray's TERMINATED; never DONE, ERROR or running) it ran fewer steps than the
        budget (``spec["max_steps"]`` when the sweep's spec has it, else the most steps
        any trial ran). ``fastrnn sweep`` writes DONE / STOPPED / ERROR.
    """

    trial_id: str
    rank: int | None
    status: str
    metric: float | None
    steps: int
    config: dict[str, Any]
    error: str | None
    x: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    stopped_early: bool = False

    @property
    def failed(self) -> bool:
        """True when the trial ended with an error."""
        return self.status.upper() == "ERROR"


@dataclass(frozen=True)
class Sweep:
    """A sweep summary checked for drawing (see :func:`read_sweep`).

    Attributes
    ----------
    file : Path
        The ``sweep.json`` read.
    metric : str
        Name of the metric, e.g. ``"val_loss"``.
    mode : str
        ``"min"`` or ``"max"``.
    task : str or None
    best_id : str or None
        Trial id of the best trial.
    trials : list of SweepTrial
        Display order: the best trial first, then by rank (unranked last, in file order).
    options : list of str
        The searched options over all trials, sorted (the table's last columns).
    """

    file: Path
    metric: str
    mode: str
    task: str | None
    best_id: str | None
    trials: list[SweepTrial]
    options: list[str]


def read_sweep(path: str | os.PathLike[str]) -> Sweep:
    """Read a sweep folder (or its ``sweep.json``) and check every trial.

    Raises
    ------
    FileNotFoundError
        No ``sweep.json`` there (from :func:`load_sweep`).
    ValueError
        Not a sweep summary, or a trial that does not follow the documented format
        (the message names the file and the trial).
    """
    data = load_sweep(path)
    p = Path(path)
    file = p / SUMMARY_NAME if p.is_dir() else p
    metric = data.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"{file}: expected 'metric' to be a name, got {metric!r}")
    mode = data.get("mode", "min")
    if mode not in ("min", "max"):
        raise ValueError(f"{file}: expected 'mode' 'min' or 'max', got {mode!r}")
    best = data.get("best") or {}
    if not isinstance(best, dict):
        raise ValueError(f"{file}: expected 'best' to be an object, got {best!r}")
    best_id = None if best.get("trial_id") is None else str(best["trial_id"])
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    train = spec.get("train") if isinstance(spec.get("train"), dict) else {}
    budget = spec.get("max_steps", train.get("max_steps"))  # fastrnn: [train]
    if not _is_int(budget) or budget <= 0:
        budget = None

    raw = [_read_trial(t, i, metric, file) for i, t in enumerate(data["trials"])]
    ids = [r["trial_id"] for r in raw]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"{file}: trial id {dup!r} appears more than once")
    if budget is None:
        budget = max((r["steps"] for r in raw), default=0)
    trials = []
    for r in raw:
        status = r["status"].upper()
        early = status in EARLY_STOP_STATUSES or (
            status not in ("DONE", "ERROR")  # DONE: ran to its own end (time budget)
            and status not in _UNFINISHED
            and r["steps"] < budget
        )
        trials.append(SweepTrial(**r, stopped_early=early))
    if best_id is None:
        ranked = [t for t in trials if t.rank is not None]
        best_id = min(ranked, key=lambda t: t.rank).trial_id if ranked else None
    order = sorted(
        range(len(trials)),
        key=lambda i: (
            trials[i].trial_id != best_id,
            trials[i].rank is None,
            trials[i].rank or 0,
            i,
        ),
    )
    options = sorted({k for t in trials for k in t.config})
    task = data.get("task")
    return Sweep(
        file=file,
        metric=metric,
        mode=mode,
        task=None if task is None else str(task),
        best_id=best_id,
        trials=[trials[i] for i in order],
        options=options,
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_trial(trial: Any, index: int, metric: str, file: Path) -> dict[str, Any]:
    """The fields of ``trials[index]`` with the metric history as two arrays."""
    where = f"{file}: trial {index}"
    if not isinstance(trial, dict):
        raise ValueError(f"{where}: expected an object, got {type(trial).__name__}")
    if trial.get("trial_id") is None:
        raise ValueError(f"{where}: expected a 'trial_id' entry")
    trial_id = str(trial["trial_id"])
    where = f"{file}: trial {index} ({trial_id})"
    for key in ("status", "config", "history"):
        if key not in trial:
            raise ValueError(f"{where}: expected a {key!r} entry")
    status = trial["status"]
    if not isinstance(status, str):
        raise ValueError(f"{where}: expected 'status' text, got {status!r}")
    config = trial["config"]
    if not isinstance(config, dict):
        raise ValueError(f"{where}: expected 'config' object, got {config!r}")
    rank = trial.get("rank")
    if rank is not None and not _is_int(rank):
        raise ValueError(f"{where}: expected an integer 'rank', got {rank!r}")
    value = trial.get("metric")
    if value is not None and not _is_number(value):
        raise ValueError(f"{where}: expected a number 'metric', got {value!r}")
    history = trial["history"]
    if not isinstance(history, list):
        raise ValueError(f"{where}: expected a 'history' list, got {history!r}")
    x = np.empty(len(history), dtype=np.float64)
    y = np.full(len(history), np.nan, dtype=np.float64)
    for j, entry in enumerate(history):
        if not isinstance(entry, dict) or not _is_number(entry.get("step")):
            raise ValueError(
                f"{where}: history entry {j}: expected an object with a 'step' "
                f"number, got {entry!r}"
            )
        x[j] = entry["step"]
        v = entry.get(metric)
        if v is not None:
            if not _is_number(v):
                raise ValueError(
                    f"{where}: history entry {j}: expected a number {metric!r}, "
                    f"got {v!r}"
                )
            y[j] = v
    steps = trial.get("steps")
    if steps is None:
        steps = int(x[-1]) if x.size else 0
    elif not _is_int(steps) or steps < 0:
        raise ValueError(f"{where}: expected 'steps' >= 0, got {steps!r}")
    error = trial.get("error")
    return {
        "trial_id": trial_id,
        "rank": rank,
        "status": status,
        "metric": None if value is None else float(value),
        "steps": int(steps),
        "config": dict(config),
        "error": None if error is None else str(error),
        "x": x,
        "y": y,
    }


def trial_colors(n: int) -> list[QColor]:
    """``n`` distinct curve colours: the categorical palette, or evenly spaced hues."""
    if n <= len(CURVE_COLORS):
        return [QColor(c) for c in CURVE_COLORS[:n]]
    return [pg.intColor(i, hues=n, values=1, maxValue=210) for i in range(n)]


def _format(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


class SweepView(QWidget):
    """Every trial's validation curve of one sweep, with a table of the trials.

    Attributes (for scripts and tests)
    ----------------------------------
    sweep : Sweep or None
        The sweep shown (None before :meth:`load`).
    curves : dict of str to pg.PlotDataItem
        One curve per trial with a non-empty history, by trial id, best first.
    table : QTableWidget
        One row per trial in :attr:`Sweep.trials` order; columns rank, trial, the
        metric, steps, status, then one per searched option.
    plot : pg.PlotItem
        x = step, y = the sweep's metric.
    """

    #: Tab title.
    title = "Sweep"
    #: Emitted with the trial id when a trial is highlighted ("" when none is).
    trial_highlighted = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sweep: Sweep | None = None
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._colors: dict[str, QColor] = {}
        self._row_ids: list[str] = []
        self._highlighted: str | None = None

        self.hint = QLabel(EMPTY_HINT)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.header = QLabel("")
        self.header.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )

        self.graphics = pg.PlotWidget()
        self.plot: pg.PlotItem = self.graphics.getPlotItem()
        label_plot(self.plot, "validation curves", "step", "metric")
        self.plot.setLogMode(x=False, y=False)
        self.error_marks = pg.ScatterPlotItem(
            symbol="x", size=11, pen=pg.mkPen(_ERROR_COLOR, width=2), brush=None
        )

        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(self.header)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.graphics)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        content_layout.addWidget(splitter, 1)

        self.stack = QStackedWidget()
        self.stack.addWidget(self.hint)
        self.stack.addWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)

    # ------------------------------------------------------------------ public
    def load(self, path: str | os.PathLike[str]) -> Sweep:
        """Read the sweep folder ``path`` and draw it (replacing what was shown).

        Raises the reader's ``FileNotFoundError`` / ``ValueError`` (see
        :func:`read_sweep`); the view is unchanged then.
        """
        sweep = read_sweep(path)
        self._show(sweep)
        return sweep

    @property
    def trial_ids(self) -> list[str]:
        """Trial ids in table order (best first)."""
        return list(self._row_ids)

    @property
    def highlighted(self) -> str | None:
        """The highlighted trial's id (None when no row is selected)."""
        return self._highlighted

    def select_trial(self, trial_id: str | None) -> None:
        """Select the table row of ``trial_id`` (highlighting it); None clears it."""
        if trial_id is None:
            self.table.clearSelection()
            return
        if trial_id not in self._row_ids:
            raise ValueError(f"expected one of {self._row_ids}, got {trial_id!r}")
        self.table.selectRow(self._row_ids.index(trial_id))

    def curve_pen(self, trial_id: str) -> QPen:
        """The pen the curve of ``trial_id`` is drawn with now."""
        return self.curves[trial_id].opts["pen"]

    def export_png(self, path: str | Path) -> Path:
        """Save the view (plot and table, as on screen) as a PNG; returns the path."""
        return grab_png(self, path)

    # ------------------------------------------------------------------ drawing
    def _show(self, sweep: Sweep) -> None:
        self.sweep = sweep
        self._highlighted = None
        self.plot.clear()
        self.curves.clear()
        colors = trial_colors(len(sweep.trials))
        self._colors = {
            t.trial_id: c for t, c in zip(sweep.trials, colors, strict=True)
        }
        self._row_ids = [t.trial_id for t in sweep.trials]

        ex, ey = [], []
        for z, trial in enumerate(reversed(sweep.trials)):  # the best on top
            if trial.x.size == 0:
                continue
            curve = pg.PlotDataItem(trial.x, trial.y, connect="finite")
            if np.isfinite(trial.y).sum() < 2:  # a lone point draws no line
                curve.setSymbol("o")
                curve.setSymbolPen(None)
            curve.setZValue(z)
            curve.setCurveClickable(True, width=8)
            curve.sigClicked.connect(self._on_curve_clicked)
            curve.trial_id = trial.trial_id  # type: ignore[attr-defined]
            self.plot.addItem(curve)
            self.curves[trial.trial_id] = curve
            finite = np.flatnonzero(np.isfinite(trial.y))
            if trial.failed and finite.size:
                ex.append(trial.x[finite[-1]])
                ey.append(trial.y[finite[-1]])
        self.curves = {t: self.curves[t] for t in self._row_ids if t in self.curves}
        self.error_marks.setData(x=ex, y=ey)
        self.error_marks.setZValue(len(sweep.trials) + 10)
        self.plot.addItem(self.error_marks)
        self._restyle()

        self.plot.setTitle(f"validation {sweep.metric} per trial", size="11pt")
        self.plot.setLabel("left", sweep.metric)
        self.plot.setLabel("bottom", "step")
        self.plot.enableAutoRange()
        self._fill_table(sweep)
        self.header.setText(self._header_text(sweep))
        self.stack.setCurrentIndex(1)
        settle(self.plot)

    def _fill_table(self, sweep: Sweep) -> None:
        table = self.table
        table.blockSignals(True)
        table.clearSelection()
        columns = ["rank", "trial", sweep.metric, "steps", "status", *sweep.options]
        table.clear()
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels(columns)
        table.setRowCount(len(sweep.trials))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for row, t in enumerate(sweep.trials):
            metric = "–" if t.metric is None else f"{t.metric:.4f}"
            cells = [_format(t.rank), t.trial_id, metric, str(t.steps), t.status]
            cells += [_format(t.config.get(k)) for k in sweep.options]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col in (0, 2, 3) or (
                    col >= 5 and _is_number(t.config.get(sweep.options[col - 5]))
                ):
                    item.setTextAlignment(right)
                table.setItem(row, col, item)
            trial_item = table.item(row, 1)
            trial_item.setData(Qt.ItemDataRole.DecorationRole, self._colors[t.trial_id])
            if t.trial_id == sweep.best_id:
                font = trial_item.font()
                font.setBold(True)
                trial_item.setFont(font)
            status_item = table.item(row, 4)
            notes = []
            if t.failed:
                status_item.setForeground(QColor(_ERROR_COLOR))
                notes.append(t.error or "failed")
            if t.stopped_early:
                notes.append(f"stopped early (dashed) after {t.steps} steps")
            if not t.x.size:
                notes.append("no evaluations: not drawn")
            if notes:
                status_item.setToolTip("\n".join(notes))
        table.resizeColumnsToContents()
        table.blockSignals(False)

    def _header_text(self, sweep: Sweep) -> str:
        n_failed = sum(t.failed for t in sweep.trials)
        n_early = sum(t.stopped_early for t in sweep.trials)
        parts = [str(sweep.file.parent)]
        if sweep.task:
            parts.append(f"task {sweep.task}")
        parts.append(f"{sweep.metric} ({sweep.mode})")
        counts = f"{len(sweep.trials)} trials"
        extra = [f"{n_failed} failed"] if n_failed else []
        extra += [f"{n_early} stopped early"] if n_early else []
        parts.append(counts + (f" ({', '.join(extra)})" if extra else ""))
        best = next((t for t in sweep.trials if t.trial_id == sweep.best_id), None)
        if best is not None:
            value = "–" if best.metric is None else f"{best.metric:.4f}"
            parts.append(f"best {best.trial_id}: {value}")
        return "  ·  ".join(parts)

    def _restyle(self) -> None:
        """Set every curve's pen from best / highlighted / stopped-early state."""
        assert self.sweep is not None
        hi = self._highlighted
        n = len(self.sweep.trials)
        for z, trial in enumerate(reversed(self.sweep.trials)):
            curve = self.curves.get(trial.trial_id)
            if curve is None:
                continue
            color = QColor(self._colors[trial.trial_id])
            width = _BEST_WIDTH if trial.trial_id == self.sweep.best_id else _WIDTH
            if trial.trial_id == hi:
                width += _HIGHLIGHT_EXTRA
                curve.setZValue(n + 5)
            else:
                curve.setZValue(z)
                if hi is not None:
                    color.setAlpha(_FADED_ALPHA)
            p = pg.mkPen(color, width=width)
            p.setCosmetic(True)
            if trial.stopped_early:
                p.setDashPattern([4.0, 3.0])
            curve.setPen(p)
            if curve.opts["symbol"] is not None:
                curve.setSymbolBrush(color)
                curve.setSymbolSize(7 + 2 * (trial.trial_id == hi))

    # ------------------------------------------------------------------ slots
    def _on_selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        trial_id = self._row_ids[rows[0].row()] if rows else None
        if trial_id != self._highlighted:
            self._highlighted = trial_id
            self._restyle()
            self.trial_highlighted.emit(trial_id or "")

    def _on_curve_clicked(self, curve: pg.PlotDataItem, _event: Any) -> None:
        self.select_trial(curve.trial_id)
