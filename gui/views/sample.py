"""Live sample text, each character coloured by one unit's activation (LSTMVis style)."""

from __future__ import annotations

import html

import numpy as np
from PyQt6.QtCore import pyqtSlot
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gui.protocol import Snapshot
from gui.views._common import (
    DIVERGING,
    SnapshotView,
    get_colormap,
    monospace_font,
    nice_ceil,
    robust_max,
)

__all__ = ["SampleView", "activation_colors"]

_N_COLORS = 256


def _palette(name: str, upper_half: bool) -> tuple[list[str], list[str]]:
    """Background and matching text colours (#rrggbb) of a colour map, 256 entries."""
    lut = get_colormap(name).getLookupTable(
        start=0.5 if upper_half else 0.0, stop=1.0, nPts=_N_COLORS, alpha=False
    )
    lut = np.asarray(lut, dtype=np.float64)
    luminance = (0.2126 * lut[:, 0] + 0.7152 * lut[:, 1] + 0.0722 * lut[:, 2]) / 255
    bg = ["#{:02x}{:02x}{:02x}".format(*map(int, rgb)) for rgb in lut]
    fg = ["#ffffff" if y < 0.45 else "#000000" for y in luminance]
    return bg, fg


_SIGNED = _palette(DIVERGING, upper_half=False)  # -1 blue, 0 white, +1 red
_POSITIVE = _palette(DIVERGING, upper_half=True)  # 0 white, max red (ReLU units)


def activation_colors(
    values: np.ndarray, signed: bool = True
) -> tuple[list[str], list[str], tuple[float, float]]:
    """Background and text colours for each activation in ``values`` (S,).

    ``signed``: levels [-1, 1] (tanh-bounded states, blue-white-red); otherwise
    [0, robust max rounded up by nice_ceil] (ReLU states, white-red). Returns ``(backgrounds, texts, levels)``.
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0)
    if signed:
        lo, hi = -1.0, 1.0
        bg, fg = _SIGNED
    else:
        lo, hi = 0.0, nice_ceil(robust_max(v))
        bg, fg = _POSITIVE
    idx = np.clip(((v - lo) / (hi - lo) * (_N_COLORS - 1)).round(), 0, _N_COLORS - 1)
    idx = idx.astype(np.intp)
    return [bg[i] for i in idx], [fg[i] for i in idx], (lo, hi)


_PRE_OPEN = (
    '<pre style="white-space: pre-wrap; margin: 0; '
    "font-family: 'DejaVu Sans Mono', monospace\">"
)


def _char_html(ch: str) -> str:
    if ch == "\n":
        return "⏎"  # the line break itself follows the span
    if ch == "\t":
        return "⇥"
    if not ch.isprintable() and ch != " ":
        return "·"
    return html.escape(ch, quote=False)


class SampleView(SnapshotView):
    """The latest generated sample with per-character background colours.

    Character k is coloured by ``snap.sample_h[layer][k, unit]``: blue (-1), white (0),
    red (+1) for tanh-bounded cells, white to red over [0, robust max] for ReLU RNNs.
    Newlines are drawn as '⏎' and then break the line. The selection comes from
    :meth:`select_unit` (connect :attr:`HiddenStateView.unit_selected` to it) or from
    the layer/unit controls of this view.
    """

    title = "Sample"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layer = 0
        self._unit = 0
        self._key: tuple | None = None  # what the current HTML shows
        #: Background colour of each sample character (len == len(sample_text)).
        self.char_colors: list[str] = []
        #: The HTML last given to the text box.
        self.html = ""

        self.layer_combo = QComboBox()
        self.layer_combo.currentIndexChanged.connect(self._on_controls)
        self.unit_spin = QSpinBox()
        self.unit_spin.setPrefix("unit ")
        self.unit_spin.setRange(0, 0)
        self.unit_spin.valueChanged.connect(self._on_controls)
        self.label = QLabel("no sample yet")
        controls = QHBoxLayout()
        controls.addWidget(QLabel("colour by"))
        controls.addWidget(self.layer_combo)
        controls.addWidget(self.unit_spin)
        controls.addWidget(self.label, 1)

        self.text = QTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(monospace_font(11))
        self.text.setLineWrapMode(QTextEdit.LineWrapMode.WidgetWidth)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.text, 1)

    # ------------------------------------------------------------------ API
    @property
    def layer(self) -> int:
        """Layer whose unit colours the text (clamped to the snapshot's layers)."""
        return self._effective()[0]

    @property
    def unit(self) -> int:
        """Unit that colours the text (clamped to the snapshot's hidden size)."""
        return self._effective()[1]

    def _apply(self, snap: Snapshot) -> None:
        n_layers = len(snap.sample_h)
        names = [f"layer {k}" for k in range(n_layers)]
        if names != [
            self.layer_combo.itemText(i) for i in range(self.layer_combo.count())
        ]:
            self.layer_combo.blockSignals(True)
            self.layer_combo.clear()
            self.layer_combo.addItems(names)
            self.layer_combo.blockSignals(False)
        self.unit_spin.blockSignals(True)
        self.unit_spin.setRange(0, max(0, snap.hidden_size - 1))
        self.unit_spin.blockSignals(False)
        self._sync_controls()
        self._render()

    def _repaint(self) -> None:
        """Repaint the coloured text (the document is unchanged)."""
        self.text.viewport().update()

    @pyqtSlot(int, int)
    def select_unit(self, layer: int, unit: int) -> None:
        """Colour the characters by ``unit`` of ``layer``."""
        self._layer, self._unit = max(0, int(layer)), max(0, int(unit))
        self._sync_controls()
        self._render()

    # ------------------------------------------------------------- internals
    def _effective(self) -> tuple[int, int]:
        snap = self._snap
        if snap is None:
            return self._layer, self._unit
        layer = min(self._layer, max(0, len(snap.sample_h) - 1))
        unit = min(self._unit, max(0, snap.hidden_size - 1))
        return layer, unit

    def _sync_controls(self) -> None:
        layer, unit = self._effective()
        for widget, value in ((self.layer_combo, layer), (self.unit_spin, unit)):
            widget.blockSignals(True)
            if isinstance(widget, QComboBox):
                if widget.count() > value:
                    widget.setCurrentIndex(value)
            else:
                widget.setValue(value)
            widget.blockSignals(False)

    def _render(self) -> None:
        snap = self._snap
        if snap is None:
            return
        text = snap.sample_text
        layer, unit = self._effective()
        column = None
        if layer < len(snap.sample_h):
            h = snap.sample_h[layer]
            if h.ndim == 2 and h.shape[0] >= len(text) and unit < h.shape[1]:
                column = np.asarray(h[: len(text), unit], dtype=np.float32)
        key = (
            text,
            layer,
            unit,
            snap.cell,
            None if column is None else column.tobytes(),
        )
        if key == self._key:
            return  # same sample, same unit: keep the document (and the scroll position)
        self._key = key
        if column is None:
            self.char_colors = ["#ffffff"] * len(text)
            fg = ["#000000"] * len(text)
            what = "no activations for this sample" if text else "no sample yet"
        else:
            signed = snap.cell != "rnn_relu"
            self.char_colors, fg, (lo, hi) = activation_colors(column, signed=signed)
            scale = (
                "blue −1 · white 0 · red +1" if signed else f"white 0 · red {hi:.3g}"
            )
            what = (
                f"layer {layer}, unit {unit} (h) — {scale} — T = {snap.temperature:g}"
            )
        self.label.setText(what)
        spans = []
        for ch, bg, col in zip(text, self.char_colors, fg, strict=True):
            spans.append(
                f'<span style="background-color:{bg}; color:{col}">{_char_html(ch)}</span>'
            )
            if ch == "\n":
                spans.append("\n")
        self.html = _PRE_OPEN + "".join(spans) + "</pre>"
        self.text.setHtml(self.html)

    def _on_controls(self, _value: int) -> None:
        self.select_unit(
            max(0, self.layer_combo.currentIndex()), self.unit_spin.value()
        )
