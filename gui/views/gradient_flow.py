"""Gradient flow through time: ||dL/dh_t|| against t on a log scale, per layer."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.protocol import Snapshot
from gui.views._common import CURVE_COLORS, SnapshotView, make_plot, pen, settle

__all__ = ["GRAD_FLOOR", "GradientFlowView", "clip_to_floor"]

#: Smallest value plotted (zeros and underflow are drawn here on the log axis).
GRAD_FLOOR = 1e-12
#: Largest value plotted (inf from an exploding run is drawn here).
GRAD_CEIL = 1e30


def clip_to_floor(values: np.ndarray, floor: float = GRAD_FLOOR) -> np.ndarray:
    """``values`` as float64 with NaN/<= floor -> floor and inf -> 1e30 (log-safe)."""
    v = np.asarray(values, dtype=np.float64)
    v = np.nan_to_num(v, nan=floor, posinf=GRAD_CEIL, neginf=floor)
    return np.clip(v, floor, GRAD_CEIL)


def _ratio(first: float, last: float) -> str:
    if not (np.isfinite(first) and np.isfinite(last)):
        return "non-finite"
    if last == 0.0:
        return "n/a (last is 0)"
    return f"{first / last:.2e}"


class GradientFlowView(SnapshotView):
    """||dL/dh_t|| on the probe (loss: mean next-character cross-entropy) against t.

    One curve per layer, log y axis. Vanishing gradients show as curves that fall
    towards t = 0 (earlier steps), exploding ones as curves that rise. The line under
    the plot gives, per layer, the ratio ||dL/dh_0|| / ||dL/dh_{P-1}||.
    """

    title = "Gradient flow"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = make_plot(
            "gradient flow through time on the probe",
            "time step t (probe)",
            "||dL/dh_t||",
        )
        self.plot.setLogMode(x=False, y=True)
        self.legend = self.plot.addLegend(
            offset=(-5, -5), brush=pg.mkBrush(255, 255, 255, 200)
        )
        self.curves: list[pg.PlotDataItem] = []
        self._shown: list[np.ndarray | None] = []  # grad_h_norm each curve shows
        self.ratio_label = QLabel("no probe yet")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.ratio_label)

    def _apply(self, snap: Snapshot) -> None:
        names = [p.name for p in snap.probe]
        if names != [c.name() for c in self.curves]:
            for curve in self.curves:
                self.plot.removeItem(curve)
            self.legend.clear()
            self.curves = [
                self.plot.plot(
                    pen=pen(CURVE_COLORS[k % len(CURVE_COLORS)], 2), name=name
                )
                for k, name in enumerate(names)
            ]
            self._shown = [None] * len(self.curves)
        parts = []
        changed = False
        for k, (curve, probe) in enumerate(zip(self.curves, snap.probe, strict=True)):
            raw = np.asarray(probe.grad_h_norm, dtype=np.float64)
            shown = self._shown[k]
            if shown is None or not np.array_equal(shown, raw):  # else keep the path
                x = np.arange(raw.shape[0], dtype=np.float64)
                curve.setData(x, clip_to_floor(raw))
                self._shown[k] = raw
                changed = True
            if raw.shape[0]:
                parts.append(f"{probe.name}: {_ratio(raw[0], raw[-1])}")
        if parts:
            self.ratio_label.setText(
                f"step {snap.step} — ||dL/dh_0|| / ||dL/dh_(P-1)||:  "
                + ",  ".join(parts)
            )
        else:
            self.ratio_label.setText("no probe yet")
        if changed:
            settle(self.plot)
