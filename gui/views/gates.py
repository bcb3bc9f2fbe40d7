"""Gate heatmaps (one per gate of the selected layer) and a gate-saturation plot."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, pyqtSlot
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.protocol import GATE_LABELS, Snapshot
from gui.views._common import (
    CURVE_COLORS,
    DIVERGING,
    SEQUENTIAL,
    HeatmapPanel,
    RowHighlight,
    SnapshotView,
    display_char,
    label_plot,
    pen,
    repaint_viewports,
    settle,
)

__all__ = ["AbsAxis", "GATE_TITLES", "GateView", "TANH_GATES", "saturation"]

#: Gates with a tanh non-linearity (values in [-1, 1]); all others are sigmoids.
TANH_GATES = frozenset({"g", "n"})

#: Long names shown as panel titles.
GATE_TITLES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "r": "reset gate r",
    "z": "update gate z",
    "n": "candidate n",
}

#: Thresholds of the saturation plot.
LOW, HIGH = 0.1, 0.9


def saturation(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit fractions of time steps with a gate value < 0.1 and > 0.9.

    Parameters
    ----------
    values : ndarray, shape (P, H)
        Post-activation gate values on the probe.

    Returns
    -------
    low, high : ndarray, shape (H,)
    """
    p = max(1, values.shape[0])
    low = np.count_nonzero(values < LOW, axis=0) / p
    high = np.count_nonzero(values > HIGH, axis=0) / p
    return low, high


class AbsAxis(pg.AxisItem):
    """Axis labelling each tick with its absolute value (for up/down mirrored plots)."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph name)
        return super().tickStrings([abs(v) for v in values], scale, spacing)


class GateView(SnapshotView):
    """One heatmap per gate of a layer (units x time) plus per-unit saturation curves.

    The grid adapts to the cell: 2 x 2 for the LSTM (i, f, g, o), one row for the GRU
    (r, z, n) and the minimal GRU (z, n). Sigmoid gates use levels [0, 1] (viridis),
    tanh candidates g/n [-1, 1] (blue-white-red). The saturation plot shows, for each
    sigmoid gate (one colour each) and unit, the fraction of probe steps with a value
    > 0.9 upwards and the fraction < 0.1 downwards (solid lines: dashed ones cost
    milliseconds per frame). Vanilla RNNs show the text "vanilla RNNs have no gates".
    """

    title = "Gates"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer = 0
        self._unit = 0
        self._gates: tuple[str, ...] | None = None
        self.panels: dict[str, HeatmapPanel] = {}
        self._highlights: dict[str, RowHighlight] = {}
        self.sat_curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        #: (low, high) fractions each saturation curve pair shows
        self._sat_shown: dict[str, tuple[np.ndarray, np.ndarray]] = {}

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("recurrent layer shown")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.summary = QLabel("no probe yet")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("layer"))
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.summary, 1)
        self.info = QLabel("")
        self.info.setToolTip("value under the mouse")
        controls.addWidget(self.info)

        self.graphics = pg.GraphicsLayoutWidget()
        self.sat_plot = pg.PlotWidget(axisItems={"left": AbsAxis("left")})
        label_plot(
            self.sat_plot.getPlotItem(),
            "gate saturation",
            "hidden unit",
            "fraction",
        )
        self.sat_plot.setYRange(-1.0, 1.0, padding=0.02)
        self.zero_line = pg.InfiniteLine(pos=0.0, angle=0, pen=pen("#000000", 1))
        self.sat_plot.addItem(self.zero_line, ignoreBounds=True)
        self.sat_plot.getPlotItem().getViewBox().enableAutoRange(y=False)
        self.sat_plot.setMouseEnabled(y=False)
        self.unit_line = pg.InfiniteLine(angle=90, pen=pen("#000000", 1, dashed=True))
        self.unit_line.setVisible(False)
        self.sat_plot.addItem(self.unit_line, ignoreBounds=True)

        content = QWidget()
        content_layout = QVBoxLayout(content)
        content_layout.setContentsMargins(0, 0, 0, 0)
        content_layout.addWidget(self.graphics, 3)
        content_layout.addWidget(self.sat_plot, 1)
        self.no_gates = QLabel("vanilla RNNs have no gates")
        self.no_gates.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.no_gates.font()
        font.setPointSize(font.pointSize() + 4)
        self.no_gates.setFont(font)
        self.stack = QStackedWidget()
        self.stack.addWidget(content)
        self.stack.addWidget(self.no_gates)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.stack, 1)

    # ------------------------------------------------------------------ API
    @property
    def layer(self) -> int:
        """Index of the layer shown."""
        return self._layer

    @property
    def gates(self) -> tuple[str, ...]:
        """Gate names currently shown (empty for vanilla RNNs or before any data)."""
        return self._gates or ()

    @property
    def has_gates(self) -> bool:
        """False when the "no gates" text is shown."""
        return self.stack.currentIndex() == 0

    def _apply(self, snap: Snapshot) -> None:
        names = [p.name for p in snap.probe]
        if names != [
            self.layer_combo.itemText(i) for i in range(self.layer_combo.count())
        ]:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            self._layer = min(self._layer, max(0, len(names) - 1))
            self.layer_combo.setCurrentIndex(self._layer if names else -1)
            self.layer_combo.blockSignals(False)
        self._render()

    def _repaint(self) -> None:
        """Repaint the whole plot area (measured cheaper than per-item updates here)."""
        repaint_viewports(self)

    def set_layer(self, layer: int) -> None:
        """Show layer ``layer`` (clamped)."""
        n = self.layer_combo.count()
        layer = min(max(0, int(layer)), max(0, n - 1))
        if n and self.layer_combo.currentIndex() != layer:
            self.layer_combo.setCurrentIndex(layer)  # re-renders via the signal
        else:
            self._layer = layer

    @pyqtSlot(int, int)
    def select_unit(self, layer: int, unit: int) -> None:
        """Show ``layer`` and mark ``unit`` in every heatmap and in the saturation plot."""
        self._unit = max(0, int(unit))
        self.set_layer(layer)
        self._place_marks()

    # ------------------------------------------------------------- internals
    def _build(self, gates: tuple[str, ...]) -> None:
        """Create the heatmap panels and saturation curves for a gate set (not per frame)."""
        self.graphics.clear()
        self.panels.clear()
        self._highlights.clear()
        for a, b in self.sat_curves.values():
            self.sat_plot.removeItem(a)
            self.sat_plot.removeItem(b)
        self.sat_curves.clear()
        self._sat_shown.clear()
        ncols = 2 if len(gates) == 4 else max(1, len(gates))
        for k, name in enumerate(gates):
            panel = HeatmapPanel(GATE_TITLES.get(name, name), "hidden unit", name)
            self.graphics.addItem(panel.plot, row=k // ncols, col=k % ncols)
            highlight = RowHighlight("#ff00ff" if name not in TANH_GATES else "#000000")
            panel.plot.addItem(highlight)
            self.panels[name] = panel
            self._highlights[name] = highlight
            panel.image.hovered.connect(
                lambda row, col, gate=name: self._on_hover(gate, row, col)
            )
        sigmoid = [g for g in gates if g not in TANH_GATES]
        keys = []
        for k, name in enumerate(sigmoid):
            color = CURVE_COLORS[k % len(CURVE_COLORS)]
            high = self.sat_plot.plot(pen=pen(color, 1))
            low = self.sat_plot.plot(pen=pen(color, 1))
            self.sat_curves[name] = (low, high)
            keys.append(f'<b style="color:{color}">{name}</b>')
        # the colour key lives in the title: a legend would hide the curves
        self.sat_plot.setTitle(
            f"gate saturation per unit: fraction of probe steps &gt; {HIGH} (up) "
            f"and &lt; {LOW} (down) for gates " + " ".join(keys),
            size="10pt",
        )
        self._gates = gates

    def _render(self) -> None:
        snap = self._snap
        if snap is None:
            return
        gates = tuple(GATE_LABELS.get(snap.cell, ()))
        if snap.probe:
            layer_gates = tuple(snap.probe[min(self._layer, len(snap.probe) - 1)].gates)
            gates = tuple(g for g in gates if g in layer_gates) + tuple(
                g for g in layer_gates if g not in gates
            )
        if not gates:
            self.stack.setCurrentIndex(1)
            self.summary.setText(f"{snap.cell}: no gates")
            if self._gates:
                self._build(())
            return
        self.stack.setCurrentIndex(0)
        if gates != self._gates:
            self._build(gates)
        if not snap.probe:
            for panel in self.panels.values():
                panel.clear()
            for low, high in self.sat_curves.values():
                low.setData([], [])
                high.setData([], [])
            self._sat_shown.clear()
            self.summary.setText("no probe yet")
            return
        probe = snap.probe[min(self._layer, len(snap.probe) - 1)]
        text = snap.probe_text
        parts = []
        changed = False
        for name, panel in self.panels.items():
            values = probe.gates[name]  # (P, H)
            data = np.ascontiguousarray(values.T, dtype=np.float32)  # (H, P)
            if name in TANH_GATES:
                panel.set_data(data, (-1.0, 1.0), DIVERGING, text=text[: data.shape[1]])
            else:
                panel.set_data(data, (0.0, 1.0), SEQUENTIAL, text=text[: data.shape[1]])
                low, high = saturation(values)
                shown = self._sat_shown.get(name)
                if shown is None or not (
                    np.array_equal(shown[0], low) and np.array_equal(shown[1], high)
                ):  # setData costs ~0.4 ms per curve: only for changed fractions
                    units = np.arange(low.shape[0], dtype=np.float64)
                    c_low, c_high = self.sat_curves[name]
                    c_low.setData(units, -low)  # drawn downwards
                    c_high.setData(units, high)
                    self._sat_shown[name] = (low, high)
                    changed = True
                parts.append(
                    f"{name}: {100 * high.mean():.0f}% > {HIGH}, "
                    f"{100 * low.mean():.0f}% < {LOW}"
                )
        self.summary.setText(
            f"{probe.name}, step {snap.step} — saturated steps: " + "; ".join(parts)
        )
        self._place_marks()
        if changed:
            settle(self.sat_plot)

    def _place_marks(self) -> None:
        for name, panel in self.panels.items():
            rows, cols = panel.shape
            if rows and cols:
                self._highlights[name].show_row(min(self._unit, rows - 1), cols)
        self.unit_line.setValue(self._unit)
        self.unit_line.setVisible(bool(self.panels))

    def _on_hover(self, gate: str, row: int, col: int) -> None:
        snap = self._snap
        if snap is None or not snap.probe or row < 0 or col < 0:
            self.info.setText("")
            return
        values = snap.probe[min(self._layer, len(snap.probe) - 1)].gates.get(gate)
        if values is None or col >= values.shape[0] or row >= values.shape[1]:
            return
        ch = display_char(snap.probe_text[col]) if col < len(snap.probe_text) else ""
        self.info.setText(
            f"{gate}: unit {row}, t = {col} ('{ch}') = {values[col, row]:.3f}"
        )

    def _on_layer_changed(self, index: int) -> None:
        if index >= 0 and index != self._layer:
            self._layer = index
            self._render()
