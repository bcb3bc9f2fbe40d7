"""Loss curves (training and validation) and the gradient norm with clipping events."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from gui.protocol import Snapshot
from gui.views._common import CURVE_COLORS, SnapshotView, label_plot, pen, settle

__all__ = ["AppendScatter", "LossView", "thin_events"]

_BLUE, _ORANGE, _GREEN, _RED = CURVE_COLORS[:4]

#: At most about this many clipping / validation markers are drawn (see thin_events).
MAX_MARKERS = 1500
#: Longer histories are drawn with pyqtgraph's view-dependent peak downsampling
#: (measured: 100k steps 52 -> 27 ms per redraw; below ~20k it costs more than it saves).
DOWNSAMPLE_ABOVE = 20_000


def thin_events(
    x: np.ndarray, y: np.ndarray, max_points: int = MAX_MARKERS
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first event per bin of 2**k steps so that at most ~``max_points`` remain.

    ``x`` (k,) are increasing step numbers. The bins are fixed multiples of a power of
    two, so while the run grows the thinned set only gains points at its end (and
    changes completely only when the bin width doubles): :class:`AppendScatter` then
    adds just the new markers.
    """
    if x.shape[0] <= max_points:
        return x, y
    width = 1
    top = int(x[-1])
    while top // width + 1 > max_points:
        width *= 2
    bins = x.astype(np.int64) // width
    keep = np.empty(bins.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(bins[1:], bins[:-1], out=keep[1:])
    return x[keep], y[keep]


class AppendScatter:
    """A ScatterPlotItem fed with growing point sets: when the new set extends the
    shown one, only the new points are added (``ScatterPlotItem.setData`` costs about
    5 µs per point, too much to redo for every frame of a long run).
    """

    def __init__(self, item: pg.ScatterPlotItem) -> None:
        self.item = item
        self.x = np.empty(0, dtype=np.float64)
        self.y = np.empty(0, dtype=np.float64)

    def set_points(self, x: np.ndarray, y: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n = self.x.shape[0]
        if (
            0 < n <= x.shape[0]
            and np.array_equal(x[:n], self.x)
            and np.array_equal(y[:n], self.y, equal_nan=True)
        ):
            if x.shape[0] > n:
                self.item.addPoints(x=x[n:], y=y[n:])
        else:
            self.item.setData(x=x, y=y)
        self.x, self.y = x, y

    def reset(self) -> None:
        self.item.clear()
        self.x = self.y = np.empty(0, dtype=np.float64)


class LossView(SnapshotView):
    """Training loss (curve) and validation loss (markers) against the step, and below
    the gradient norm before clipping with clipped steps marked (red crosses) and the
    clip threshold (dashed line, only when ``clip_mode == "norm"``).

    The two plots share the x axis. "log y" switches the gradient-norm axis to a log
    scale (useful for exploding runs).
    """

    title = "Loss"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._run_id: int | None = None
        self._clip_shown: bool | None = None
        self._downsampling = False

        self.status = QLabel("no data yet")
        self.log_grad = QCheckBox("log y (gradient norm)")
        self.log_grad.toggled.connect(self._on_log_toggled)
        header = QHBoxLayout()
        header.addWidget(self.status, 1)
        header.addWidget(self.log_grad)

        self.graphics = pg.GraphicsLayoutWidget()
        self.loss_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        label_plot(self.loss_plot, "loss", "step", "loss (nats/char)")
        self.loss_legend = self.loss_plot.addLegend(
            offset=(-5, 5), brush=pg.mkBrush(255, 255, 255, 200)
        )
        self.train_curve = self.loss_plot.plot(pen=pen(_BLUE, 1), name="training")
        self.val_points = pg.ScatterPlotItem(
            symbol="o",
            size=7,
            pen=pg.mkPen("#000000"),
            brush=pg.mkBrush(_ORANGE),
            name="validation",
        )
        self.loss_plot.addItem(self.val_points)
        self._val = AppendScatter(self.val_points)

        self.grad_plot: pg.PlotItem = self.graphics.addPlot(row=1, col=0)
        label_plot(
            self.grad_plot, "gradient norm (before clipping)", "step", "gradient norm"
        )
        self.grad_plot.setXLink(self.loss_plot)
        self.grad_legend = self.grad_plot.addLegend(
            offset=(-5, 5), brush=pg.mkBrush(255, 255, 255, 200)
        )
        self.grad_curve = self.grad_plot.plot(pen=pen(_GREEN, 1), name="gradient norm")
        self.clip_points = pg.ScatterPlotItem(
            symbol="x",
            size=8,
            pen=pg.mkPen(_RED),
            brush=pg.mkBrush(_RED),
            name="clipped",
        )
        self.grad_plot.addItem(self.clip_points)
        self._clip = AppendScatter(self.clip_points)
        self.clip_line = pg.InfiniteLine(angle=0, pen=pen("#000000", 1.5, dashed=True))
        self.clip_line.setVisible(False)
        self.grad_plot.addItem(self.clip_line, ignoreBounds=False)
        # legend sample for the threshold line (not drawn in the plot itself)
        self._clip_legend_sample = pg.PlotDataItem(pen=pen("#000000", 1.5, dashed=True))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.graphics, 1)

    def _apply(self, snap: Snapshot) -> None:
        if snap.run_id != self._run_id:  # new run: fit the view again
            self._run_id = snap.run_id
            self.loss_plot.enableAutoRange()
            self.grad_plot.enableAutoRange()
            self._val.reset()
            self._clip.reset()
        steps = np.asarray(snap.steps, dtype=np.float64)
        self._set_downsampling(steps.shape[0] > DOWNSAMPLE_ABOVE)
        self.train_curve.setData(steps, np.asarray(snap.losses, dtype=np.float64))
        self._val.set_points(
            *thin_events(
                np.asarray(snap.val_steps, dtype=np.float64),
                np.asarray(snap.val_losses, dtype=np.float64),
            )
        )
        norms = np.asarray(snap.grad_norms, dtype=np.float64)
        log = self.log_grad.isChecked()
        if log:  # the curve takes log10 itself (log mode); the scatter item does not
            norms = np.maximum(np.nan_to_num(norms, nan=1e-12, posinf=1e30), 1e-12)
        self.grad_curve.setData(steps, norms)
        clipped = np.asarray(snap.clipped, dtype=bool)
        n = min(clipped.shape[0], steps.shape[0], norms.shape[0])
        mask = clipped[:n]
        cx, cy = thin_events(steps[:n][mask], norms[:n][mask])
        self._clip.set_points(cx, np.log10(cy) if log else cy)
        self._show_clip(snap.clip_mode == "norm" and snap.clip > 0, snap.clip)
        self.status.setText(self._status_text(snap, int(mask.sum())))
        settle(self.loss_plot, self.grad_plot)

    # ------------------------------------------------------------- internals
    def _set_downsampling(self, on: bool) -> None:
        if on != self._downsampling:
            self._downsampling = on
            for curve in (self.train_curve, self.grad_curve):
                curve.setDownsampling(auto=on, method="peak")
                curve.setClipToView(on)

    def _show_clip(self, show: bool, clip: float) -> None:
        if show:
            self.clip_line.setValue(
                math.log10(clip) if self.log_grad.isChecked() else clip
            )
        self.clip_line.setVisible(show)
        if show != self._clip_shown:
            self._clip_shown = show
            if show:
                self.grad_legend.addItem(self._clip_legend_sample, "clip threshold")
            else:
                self.grad_legend.removeItem(self._clip_legend_sample)

    @staticmethod
    def _status_text(snap: Snapshot, n_clipped: int) -> str:
        parts = [f"step {snap.step}", snap.status]
        if len(snap.losses):
            parts.append(f"loss {float(snap.losses[-1]):.3f}")
        if len(snap.val_losses):
            parts.append(f"val {float(snap.val_losses[-1]):.3f}")
        if len(snap.grad_norms):
            parts.append(f"|g| {float(snap.grad_norms[-1]):.3g}")
        parts.append(
            f"clipped {n_clipped}/{len(snap.clipped)} ({snap.clip_mode} {snap.clip:g})"
        )
        parts.append(f"lr {snap.lr:.3g}")
        parts.append(f"{snap.tokens_per_s:,.0f} chars/s")
        return "  ·  ".join(parts)

    def _on_log_toggled(self, checked: bool) -> None:
        self.grad_plot.setLogMode(x=False, y=checked)
        self._clip.reset()
        self.grad_plot.enableAutoRange()
        if self._snap is not None:
            self._apply(self._snap)
