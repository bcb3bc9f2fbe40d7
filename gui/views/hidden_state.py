"""Hidden-state heatmap: one layer's h_t (units x time) on the probe text."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import pyqtSignal, pyqtSlot
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.protocol import LayerProbe, Snapshot
from gui.views._common import (
    DIVERGING,
    SEQUENTIAL,
    HeatmapPanel,
    RowHighlight,
    SnapshotView,
    display_char,
    nice_ceil,
    repaint_viewports,
    robust_max,
)

__all__ = ["HiddenStateView", "state_levels"]


def state_levels(
    cell: str, values: np.ndarray, cell_state: bool = False
) -> tuple[tuple[float, float], str]:
    """Colour levels and colour-map name for a block of states.

    tanh-bounded hidden states get the fixed levels (-1, 1) on a diverging map; ReLU
    states (0, m) on a sequential map; LSTM cell states ``c_t`` (unbounded, signed)
    symmetric levels (-m, m). m is the 99th percentile of the values (of ``|c|``),
    rounded up by :func:`nice_ceil` so that the levels do not flicker between frames.
    """
    if cell_state:
        m = nice_ceil(robust_max(np.abs(values)))
        return (-m, m), DIVERGING
    if cell == "rnn_relu":
        return (0.0, nice_ceil(robust_max(values))), SEQUENTIAL
    return (-1.0, 1.0), DIVERGING


class HiddenStateView(SnapshotView):
    """Heatmap of one layer's hidden states h_t (rows: units, columns: probe characters).

    The bottom axis shows the probe characters ('⏎' for newline, '␣' for space), the
    top axis the time index. A combo box picks the layer, "show c_t" switches to the
    LSTM cell state. Clicking a row selects that unit: the row is outlined and
    :attr:`unit_selected` (layer, unit) is emitted (connect it to
    :meth:`SampleView.select_unit`). Hovering shows the value under the mouse.
    """

    title = "Hidden state"

    #: (layer, unit) whenever the selected unit changes (click, spin box, select_unit).
    unit_selected = pyqtSignal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer = 0
        self._unit = 0
        self._data: np.ndarray | None = None  # (H, P) currently shown

        self.layer_combo = QComboBox()
        self.layer_combo.setToolTip("recurrent layer shown")
        self.layer_combo.currentIndexChanged.connect(self._on_layer_changed)
        self.show_c = QCheckBox("show c_t")
        self.show_c.setToolTip("show the LSTM cell state c_t instead of h_t")
        self.show_c.setEnabled(False)
        self.show_c.toggled.connect(self._on_show_c)
        self.unit_spin = QSpinBox()
        self.unit_spin.setPrefix("unit ")
        self.unit_spin.setRange(0, 0)
        self.unit_spin.setToolTip("selected unit (or click a row of the heatmap)")
        self.unit_spin.valueChanged.connect(self._on_unit_spin)
        self.info = QLabel("no probe yet")
        self.info.setMinimumWidth(200)

        controls = QHBoxLayout()
        controls.addWidget(QLabel("layer"))
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.show_c)
        controls.addWidget(self.unit_spin)
        controls.addWidget(self.info, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.panel = HeatmapPanel("hidden state h_t", "hidden unit", "h")
        self.graphics.addItem(self.panel.plot)
        self.highlight = RowHighlight("#000000")
        self.panel.plot.addItem(self.highlight)
        self.panel.image.clicked.connect(self._on_image_clicked)
        self.panel.image.hovered.connect(self._on_hover)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.graphics, 1)

    # ------------------------------------------------------------------ API
    @property
    def layer(self) -> int:
        """Index of the layer shown."""
        return self._layer

    @property
    def unit(self) -> int:
        """Index of the selected unit."""
        return self._unit

    @property
    def image(self) -> pg.ImageItem:
        """The heatmap item (its ``image`` is the (H, P) array shown)."""
        return self.panel.image

    def _apply(self, snap: Snapshot) -> None:
        self._sync_controls(snap)
        self._render()

    def _repaint(self) -> None:
        """Repaint the whole plot area (measured cheaper than per-item updates here)."""
        repaint_viewports(self)

    @pyqtSlot(int, int)
    def select_unit(self, layer: int, unit: int) -> None:
        """Select ``unit`` of ``layer`` (clamped to the snapshot's sizes)."""
        self._set_selection(layer, unit)

    # ------------------------------------------------------------- internals
    def _probe(self) -> LayerProbe | None:
        snap = self._snap
        if snap is None or not snap.probe:
            return None
        return snap.probe[min(self._layer, len(snap.probe) - 1)]

    def _sync_controls(self, snap: Snapshot) -> None:
        names = [p.name for p in snap.probe]
        if names != [
            self.layer_combo.itemText(i) for i in range(self.layer_combo.count())
        ]:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            self.layer_combo.blockSignals(False)
        has_c = any(p.c is not None for p in snap.probe)
        self.show_c.setEnabled(has_c)
        if not has_c and self.show_c.isChecked():
            self.show_c.blockSignals(True)
            self.show_c.setChecked(False)
            self.show_c.blockSignals(False)
        self.unit_spin.blockSignals(True)
        self.unit_spin.setRange(0, max(0, snap.hidden_size - 1))
        self.unit_spin.blockSignals(False)
        # keep the selection valid for the new sizes
        self._set_selection(self._layer, self._unit, render=False)

    def _clamp(self, layer: int, unit: int) -> tuple[int, int]:
        snap = self._snap
        if snap is None:
            return max(0, layer), max(0, unit)
        layer = min(max(0, layer), max(0, len(snap.probe) - 1))
        unit = min(max(0, unit), max(0, snap.hidden_size - 1))
        return layer, unit

    def _set_selection(self, layer: int, unit: int, render: bool = True) -> None:
        layer, unit = self._clamp(int(layer), int(unit))
        changed = (layer, unit) != (self._layer, self._unit)
        layer_changed = layer != self._layer
        self._layer, self._unit = layer, unit
        if (
            self.layer_combo.count() > layer
            and self.layer_combo.currentIndex() != layer
        ):
            self.layer_combo.blockSignals(True)
            self.layer_combo.setCurrentIndex(layer)
            self.layer_combo.blockSignals(False)
        if self.unit_spin.value() != unit:
            self.unit_spin.blockSignals(True)
            self.unit_spin.setValue(unit)
            self.unit_spin.blockSignals(False)
        if render:
            if layer_changed:
                self._render()
            else:
                self._place_highlight()
        if changed:
            self.unit_selected.emit(layer, unit)

    def _place_highlight(self) -> None:
        rows, cols = self.panel.shape
        if rows and cols:
            self.highlight.show_row(min(self._unit, rows - 1), cols)
        else:
            self.highlight.setVisible(False)

    def _render(self) -> None:
        snap, probe = self._snap, self._probe()
        if snap is None or probe is None:
            self.panel.clear()
            self._data = None
            self.highlight.setVisible(False)
            self.info.setText("no probe yet")
            return
        use_c = self.show_c.isChecked() and probe.c is not None
        states = probe.c if use_c else probe.h  # (P, H)
        data = np.ascontiguousarray(states.T, dtype=np.float32)  # (H, P)
        levels, cmap = state_levels(snap.cell, data, cell_state=use_c)
        self.panel.set_data(data, levels, cmap, text=snap.probe_text[: data.shape[1]])
        name = "cell state c_t" if use_c else "hidden state h_t"
        step = snap.probe_step if snap.probe_step >= 0 else snap.step  # of the trace
        self.panel.set_title(f"{probe.name}: {name} (units × time), step {step}")
        self.panel.colorbar.getAxis("left").setLabel("c" if use_c else "h")
        self._data = data
        self._place_highlight()
        self.info.setText(f"{data.shape[0]} units × {data.shape[1]} characters")

    # ----------------------------------------------------------------- slots
    def _on_layer_changed(self, index: int) -> None:
        if index >= 0:
            self._set_selection(index, self._unit)

    def _on_unit_spin(self, value: int) -> None:
        self._set_selection(self._layer, value)

    def _on_show_c(self, _checked: bool) -> None:
        self._render()

    def _on_image_clicked(self, row: int, _col: int) -> None:
        self._set_selection(self._layer, row)

    def _on_hover(self, row: int, col: int) -> None:
        data, snap = self._data, self._snap
        if data is None or snap is None or row < 0 or col < 0:
            return
        if row >= data.shape[0] or col >= data.shape[1]:
            return
        ch = snap.probe_text[col] if col < len(snap.probe_text) else ""
        name = "c" if self.show_c.isChecked() else "h"
        self.info.setText(
            f"unit {row}, t = {col} ('{display_char(ch)}'): {name} = {data[row, col]:+.3f}"
        )
