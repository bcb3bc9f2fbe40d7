"""Weight and gradient histograms of one parameter (picked in a combo box)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from gui.protocol import Snapshot
from gui.views._common import CURVE_COLORS, SnapshotView, label_plot, pen, settle

__all__ = ["HistogramView", "histogram_stats"]


def histogram_stats(counts: np.ndarray, edges: np.ndarray) -> tuple[float, float]:
    """Approximate (mean, std) of the values behind an ``np.histogram`` (bin centres)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if total <= 0:
        return 0.0, 0.0
    centres = 0.5 * (
        np.asarray(edges[:-1], np.float64) + np.asarray(edges[1:], np.float64)
    )
    mean = float((counts * centres).sum() / total)
    var = float((counts * (centres - mean) ** 2).sum() / total)
    return mean, var**0.5


class HistogramView(SnapshotView):
    """Histograms (40 bins, step curves) of a parameter's weights and gradients.

    The combo box lists the keys of ``snap.histograms``; the selection is kept across
    snapshots while the parameter exists. The line under the plots gives the
    approximate mean and standard deviation of both.
    """

    title = "Histograms"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._titled = ""
        #: (parameter, (weight counts, edges, gradient counts, edges)) on the plots
        self._shown: tuple[str, tuple[np.ndarray, ...]] | None = None

        self.param_combo = QComboBox()
        self.param_combo.setMinimumContentsLength(18)
        self.param_combo.currentTextChanged.connect(self._on_param_changed)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("parameter"))
        controls.addWidget(self.param_combo)
        controls.addStretch(1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.weight_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=0)
        label_plot(self.weight_plot, "weights", "weight value", "count")
        self.grad_plot: pg.PlotItem = self.graphics.addPlot(row=0, col=1)
        label_plot(self.grad_plot, "gradients", "gradient value", "count")
        self.weight_curve = self.weight_plot.plot(
            stepMode="center",
            fillLevel=0,
            pen=pen(CURVE_COLORS[0], 1.5),
            brush=pg.mkBrush(31, 119, 180, 90),
        )
        self.grad_curve = self.grad_plot.plot(
            stepMode="center",
            fillLevel=0,
            pen=pen(CURVE_COLORS[3], 1.5),
            brush=pg.mkBrush(214, 39, 40, 90),
        )
        self.stats = QLabel("no histograms yet")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)
        layout.addWidget(self.stats)

    @property
    def parameter(self) -> str:
        """Name of the parameter shown ("" if none)."""
        return self.param_combo.currentText()

    def set_parameter(self, name: str) -> None:
        """Show the parameter ``name`` (ValueError if the snapshot has no such key)."""
        index = self.param_combo.findText(name)
        if index < 0:
            raise ValueError(
                f"expected one of {[self.param_combo.itemText(i) for i in range(self.param_combo.count())]}, got {name!r}"
            )
        self.param_combo.setCurrentIndex(index)

    def _apply(self, snap: Snapshot) -> None:
        names = list(snap.histograms)
        if names != [
            self.param_combo.itemText(i) for i in range(self.param_combo.count())
        ]:
            current = self.param_combo.currentText()
            self.param_combo.blockSignals(True)
            self.param_combo.clear()
            self.param_combo.addItems(names)
            if current in names:
                self.param_combo.setCurrentIndex(names.index(current))
            self.param_combo.blockSignals(False)
        self._render()

    def _render(self) -> None:
        snap = self._snap
        name = self.param_combo.currentText()
        if snap is None or name not in snap.histograms:
            self.weight_curve.setData([], [])
            self.grad_curve.setData([], [])
            self._shown = None
            self.stats.setText("no histograms yet")
            return
        wc, we, gc, ge = snap.histograms[name]
        shown = self._shown
        if (
            shown is None
            or shown[0] != name
            or not all(map(np.array_equal, shown[1], (wc, we, gc, ge)))
        ):  # the histograms change only when the worker recomputes them
            self.weight_curve.setData(
                np.asarray(we, np.float64), np.asarray(wc, np.float64)
            )
            self.grad_curve.setData(
                np.asarray(ge, np.float64), np.asarray(gc, np.float64)
            )
            self._shown = (name, (wc, we, gc, ge))
            settle(self.weight_plot, self.grad_plot)
        w_mean, w_std = histogram_stats(wc, we)
        g_mean, g_std = histogram_stats(gc, ge)
        if name != self._titled:  # titles only change with the parameter
            self._titled = name
            self.weight_plot.setTitle(f"weights of {name}", size="11pt")
            self.grad_plot.setTitle(f"gradients of {name}", size="11pt")
        self.stats.setText(
            f"step {snap.step} — {name}: {int(np.sum(wc))} values; "
            f"weights mean {w_mean:.3g}, std {w_std:.3g}; "
            f"gradients mean {g_mean:.3g}, std {g_std:.3g}"
        )

    def _on_param_changed(self, _name: str) -> None:
        self._render()
