"""Shared pieces of the explorer views: theme, colour maps, plot factories, PNG export.

Importing this module sets pyqtgraph's global options once: row-major images (arrays
are indexed ``[row, col]`` = ``[unit, time step]``), no antialiasing (speed), and a light
theme (white background, black text) that every view uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPen, QShowEvent
from PyQt6.QtWidgets import QGraphicsItem, QGraphicsRectItem, QGraphicsView, QWidget

from gui.protocol import Snapshot

pg.setConfigOptions(
    imageAxisOrder="row-major", antialias=False, background="w", foreground="k"
)

__all__ = [
    "CURVE_COLORS",
    "DIVERGING",
    "SEQUENTIAL",
    "CharAxis",
    "ClickableImage",
    "HeatmapPanel",
    "RowHighlight",
    "SnapshotView",
    "display_char",
    "get_colormap",
    "grab_png",
    "label_plot",
    "make_plot",
    "monospace_font",
    "nice_ceil",
    "pen",
    "repaint_plot_items",
    "repaint_viewports",
    "robust_max",
    "same_content",
    "settle",
]

#: Colour map for values in [-1, 1] (tanh states, g/n gates): blue - white - red.
DIVERGING = "CET-D1"
#: Colour map for values in [0, 1] (sigmoid gates) or [0, max] (ReLU states).
SEQUENTIAL = "viridis"

#: Categorical colours for curves (readable on white), cycled by index.
CURVE_COLORS = (
    "#1f77b4",  # blue
    "#ff7f0e",  # orange
    "#2ca02c",  # green
    "#d62728",  # red
    "#9467bd",  # purple
    "#8c564b",  # brown
    "#e377c2",  # pink
    "#17becf",  # cyan
)

#: Display form of characters that would be invisible as axis ticks or text.
_SPECIAL_CHARS = {"\n": "⏎", " ": "␣", "\t": "⇥", "\r": "␍"}


def display_char(ch: str) -> str:
    """Visible stand-in for one character: newline -> '⏎', space -> '␣', tab -> '⇥'.

    Other control characters become '·'; everything else is returned unchanged.
    """
    if ch in _SPECIAL_CHARS:
        return _SPECIAL_CHARS[ch]
    if not ch.isprintable():
        return "·"
    return ch


@cache
def get_colormap(name: str) -> pg.ColorMap:
    """A pyqtgraph colour map by name (cached; the objects are shared and not mutated)."""
    return pg.colormap.get(name)


def pen(color: str, width: float = 1.5, dashed: bool = False) -> QPen:
    """A cosmetic pen (width in screen pixels) for curves and markers."""
    p = pg.mkPen(color, width=width)
    p.setCosmetic(True)
    if dashed:
        p.setDashPattern([4.0, 3.0])
    return p


def monospace_font(point_size: int = 10) -> QFont:
    """DejaVu Sans Mono (falls back to any fixed-pitch font)."""
    font = QFont("DejaVu Sans Mono", point_size)
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setFixedPitch(True)
    return font


def robust_max(values: np.ndarray, q: float = 99.0) -> float:
    """The ``q``-th percentile of the finite entries of ``values`` (> 0; 1.0 if none).

    Used as the upper colour level of unbounded non-negative data (ReLU states) and of
    ``|c_t|``, so that one outlier does not wash out the whole heatmap.
    """
    a = np.asarray(values, dtype=np.float32).ravel()
    a = a[np.isfinite(a)]
    if a.size == 0:
        return 1.0
    k = min(a.size - 1, int(math.ceil(q / 100.0 * (a.size - 1))))
    top = float(np.partition(a, k)[k])
    if not top > 0.0:
        top = float(a.max())
    return top if top > 0.0 else 1.0


def nice_ceil(value: float) -> float:
    """The smallest of 1, 1.5, 2, 3, 4, 5, 6, 8 (times a power of ten) >= ``value``.

    Colour levels computed from data are rounded up with this, so that they (and the
    colour bar's axis) change only now and then instead of on every frame.
    """
    if not value > 0.0 or not math.isfinite(value):
        return 1.0
    exp = math.floor(math.log10(value))
    for mant in (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        top = mant * 10.0**exp
        if top >= value * (1 - 1e-12):
            return top
    return 10.0 ** (exp + 1)


def label_plot(
    plot: pg.PlotItem, title: str | None, x: str | None, y: str | None
) -> pg.PlotItem:
    """Set the title, axis labels and a light grid of a PlotItem; returns it."""
    if title is not None:
        plot.setTitle(title, size="11pt")
    if x is not None:
        plot.setLabel("bottom", x)
    if y is not None:
        plot.setLabel("left", y)
    plot.showGrid(x=True, y=True, alpha=0.25)
    # major ticks only: minor ticks (and their grid lines) cost several ms per redraw
    # whenever the range changes, i.e. on every frame of a growing run
    # (setTickDensity gives back some of the labels the minor level had)
    for name in ("left", "bottom"):
        plot.getAxis(name).setStyle(maxTickLevel=0)
        plot.getAxis(name).setTickDensity(1.6)
    return plot


def make_plot(
    title: str | None = None,
    x: str | None = None,
    y: str | None = None,
    parent: QWidget | None = None,
    **kwargs,
) -> pg.PlotWidget:
    """A PlotWidget with title, axis labels and grid; ``kwargs`` go to PlotWidget."""
    widget = pg.PlotWidget(parent=parent, **kwargs)
    label_plot(widget.getPlotItem(), title, x, y)
    return widget


def settle(*plots: pg.PlotItem | pg.PlotWidget) -> None:
    """Apply the plots' pending auto-range now, before Qt paints.

    Otherwise pyqtgraph computes the new range inside the paint, the axes change
    during that paint and the whole view is painted a second time.
    """
    for plot in plots:
        plot.getViewBox().prepareForPaint()


def cache_axes(widget: QWidget) -> int:
    """Cache every pyqtgraph axis under ``widget`` as a pixmap; returns how many.

    An axis repaints its ticks and labels (text: the dearest part of a frame in
    software rendering) whenever anything in its plot changes; cached, it is blitted
    until its own range or labels change (pyqtgraph then calls ``update``, which
    invalidates the cache). Measured on a frame of the loss view: 8.4 -> 5.3 ms CPU.
    """
    n = 0
    for item in _scene_items(widget):
        if isinstance(item, pg.AxisItem) and item.cacheMode() != _AXIS_CACHE:
            item.setCacheMode(_AXIS_CACHE)
            n += 1
    return n


def _scene_items(widget: QWidget) -> Iterator[QGraphicsItem]:
    """Every item of every graphics scene shown under ``widget``."""
    for view in widget.findChildren(QGraphicsView):
        scene = view.scene()
        if scene is not None:
            yield from scene.items()


_AXIS_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
_NATIVE_FORMAT = QImage.Format.Format_ARGB32_Premultiplied


def same_content(a: Snapshot, b: Snapshot) -> bool:
    """True when ``b`` holds exactly the data of ``a`` (say, ``copy.copy(a)``).

    Arrays, lists and dicts must be the same objects (snapshots are immutable once
    received; a new snapshot from the worker has new ones), other fields equal.
    Never compares array contents, so it costs microseconds.
    """
    if a is b:
        return True
    for name in _SNAPSHOT_FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        if x is y:
            continue
        if isinstance(x, _CONTAINERS) or isinstance(y, _CONTAINERS) or x != y:
            return False
    return True


_SNAPSHOT_FIELDS = tuple(f.name for f in dataclasses.fields(Snapshot))
_CONTAINERS = (np.ndarray, list, dict, tuple)


def repaint_plot_items(widget: QWidget) -> int:
    """Schedule a repaint of every item shown in a pyqtgraph ViewBox under ``widget``.

    The items' children (a PlotDataItem's curve and scatter) included; returns how
    many items were marked. The items paint from their caches (no data
    re-upload), so this is the cheapest honest redraw of unchanged data.
    """
    n = 0
    for item in _scene_items(widget):
        if isinstance(item, pg.ViewBox):
            for added in item.addedItems:
                added.update()
                n += 1
                for child in added.childItems():
                    child.update()
                    n += 1
    return n


def repaint_viewports(widget: QWidget) -> int:
    """Schedule a full repaint of every graphics view under ``widget``; returns how many.

    Cheaper than :func:`repaint_plot_items` for views of a few large items (the
    heatmaps: no per-item dirty-region bookkeeping, which calls back into Python).
    """
    views = widget.findChildren(QGraphicsView)
    for view in views:
        view.viewport().update()
    return len(views)


def grab_png(widget: QWidget, path: str | Path) -> Path:
    """Render ``widget`` (with its children) into a PNG file and return the path.

    Works offscreen and for widgets that were never shown (Qt lays them out first).
    Raises ``OSError`` when the image cannot be written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not widget.isVisible():
        widget.ensurePolished()
        layout = widget.layout()
        if layout is not None:
            layout.activate()
    pixmap = widget.grab()
    if pixmap.isNull():
        raise OSError(f"could not render {type(widget).__name__} (empty pixmap)")
    if not pixmap.save(str(path), "PNG"):
        raise OSError(f"could not write PNG to {path}")
    return path


class CharAxis(pg.AxisItem):
    """Axis whose ticks are the characters of a text, one per integer position.

    Character ``t`` sits at x = t (image columns are centred on integers, see
    :class:`HeatmapPanel`). Invisible characters use :func:`display_char`. When the
    axis is too short for every character, only every k-th one is labelled
    (k in 2, 5, 10, 20, 50, ...; spaced so that they do not read as words).
    """

    def __init__(self, orientation: str = "bottom", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self._text = ""
        self._chars: list[str] = []
        self._major_step = 1.0
        self._metrics = QFontMetricsF(self.font())
        #: Room one tick label needs along the axis, in pixels: the mean advance of
        #: the text's glyphs plus 1 px (labels then read like slightly spaced text).
        self.label_px = self._metrics.averageCharWidth() + 1.0

    def set_text(self, text: str) -> None:
        """Use the characters of ``text`` as tick labels."""
        if text == self._text:
            return
        self._text = text
        self._chars = [display_char(c) for c in text]
        if self._chars:
            advance = self._metrics.horizontalAdvance
            widths = {c: advance(c) for c in set(self._chars)}
            self.label_px = sum(widths[c] for c in self._chars) / len(self._chars) + 1.0
        self.picture = None  # force pyqtgraph to regenerate the ticks
        self.update()

    @property
    def chars(self) -> list[str]:
        """The displayed characters, one per position."""
        return list(self._chars)

    def tick_step(self, n_visible: float, size: float) -> int:
        """Label every k-th character (k in 1, 2, 5, 10, 20, ...) so labels fit.

        Every character is labelled when they fit; otherwise the labels are kept at
        least 2.5 label widths apart, so that thinned labels do not line up into
        made-up words.
        """
        if size <= 0 or n_visible <= 0:
            return 1
        need = n_visible * self.label_px / size
        if need <= 1.0:
            return 1
        need *= 2.5
        magnitude = 1
        while True:
            for mult in (1, 2, 5):
                if mult * magnitude >= need:
                    return mult * magnitude
            magnitude *= 10

    def tickValues(self, minVal: float, maxVal: float, size: float):  # noqa: N802
        n = len(self._chars)
        lo = max(0, math.ceil(min(minVal, maxVal)))
        hi = min(n - 1, math.floor(max(minVal, maxVal)))
        if n == 0 or hi < lo:
            return []
        step = self.tick_step(hi - lo + 1, size)
        self._major_step = float(step)
        major = [float(v) for v in range(math.ceil(lo / step) * step, hi + 1, step)]
        levels = [(float(step), major)]
        if 1 < step <= 10:  # unlabelled ticks at the other characters
            levels.append((1.0, [float(v) for v in range(lo, hi + 1) if v % step]))
        return levels

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        if spacing != self._major_step:
            return []  # minor level: no labels
        n = len(self._chars)
        return [self._chars[i] if 0 <= (i := int(round(v))) < n else "" for v in values]


class ClickableImage(pg.ImageItem):
    """An ImageItem that reports left clicks and hovering as (row, col) pixel indices.

    It also keeps its colour-mapped QImage in the raster engine's native format
    (premultiplied ARGB32). pyqtgraph makes an 8-bit indexed image from a LUT, which
    Qt converts on every paint: scaled up to a heatmap's size that took ~3.3 ms per
    frame (Hidden state tab, offscreen), converted once per data change ~1.1 ms.
    """

    clicked = pyqtSignal(int, int)
    hovered = pyqtSignal(int, int)  # (-1, -1) when the mouse leaves

    def render(self) -> None:
        super().render()
        qimage = self.qimage
        if qimage is not None and qimage.format() != _NATIVE_FORMAT:
            self.qimage = qimage.convertToFormat(_NATIVE_FORMAT)

    def _pixel(self, pos) -> tuple[int, int] | None:
        img = self.image
        if img is None:
            return None
        row, col = int(math.floor(pos.y())), int(math.floor(pos.x()))
        if 0 <= row < img.shape[0] and 0 <= col < img.shape[1]:
            return row, col
        return None

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph name)
        if ev.button() == pg.QtCore.Qt.MouseButton.LeftButton:
            hit = self._pixel(ev.pos())
            if hit is not None:
                ev.accept()
                self.clicked.emit(*hit)
                return
        super().mouseClickEvent(ev)

    def hoverEvent(self, ev) -> None:  # noqa: N802 (pyqtgraph name)
        if ev.isExit():
            self.hovered.emit(-1, -1)
            return
        ev.acceptClicks(pg.QtCore.Qt.MouseButton.LeftButton)
        hit = self._pixel(ev.pos())
        self.hovered.emit(*(hit if hit is not None else (-1, -1)))


class HeatmapPanel:
    """A PlotItem showing a (rows, cols) array as an image with a colour bar.

    Pixel ``[r, c]`` is centred on (x=c, y=r); row 0 is at the top. The bottom axis is
    a :class:`CharAxis` (time steps labelled with the input characters), the top axis
    shows the time index. Items are created once; :meth:`set_data` only calls
    ``setImage`` (and resets the view range when the shape changes).

    Parameters
    ----------
    title : str
        Plot title.
    ylabel : str
        Label of the row axis (e.g. "hidden unit").
    bar_label : str
        Label of the colour bar.
    """

    def __init__(self, title: str, ylabel: str, bar_label: str = "") -> None:
        self.char_axis = CharAxis("bottom")
        self.plot = pg.PlotItem(axisItems={"bottom": self.char_axis})
        label_plot(self.plot, title, None, ylabel)
        self.plot.showGrid(x=False, y=False)
        self.plot.setLabel("bottom", "input character (time step t)")
        self.plot.showAxis("top")
        self.plot.getAxis("top").setStyle(tickLength=-4)
        self.plot.invertY(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.vb: pg.ViewBox = self.plot.getViewBox()
        self.vb.disableAutoRange()
        self.image = ClickableImage(np.zeros((1, 1), np.float32))
        self.plot.addItem(self.image)
        self._cmap_name = DIVERGING
        self._levels = (-1.0, 1.0)
        self.colorbar = pg.ColorBarItem(
            values=self._levels,
            colorMap=get_colormap(self._cmap_name),
            label=bar_label or None,
            interactive=False,
            width=14,
            colorMapMenu=False,
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        self._shape: tuple[int, int] = (0, 0)
        self._data: np.ndarray | None = None  # what the image shows
        self._title = title

    def set_title(self, title: str) -> None:
        """Set the plot title (a no-op when unchanged: a new title relays the plot out)."""
        if title != self._title:
            self._title = title
            self.plot.setTitle(title, size="11pt")

    def set_data(
        self,
        data: np.ndarray,
        levels: tuple[float, float],
        cmap: str,
        text: str | None = None,
    ) -> None:
        """Show ``data`` (rows, cols) with fixed colour ``levels`` and colour map name.

        ``text`` (one character per column) labels the bottom axis. Data equal to
        what is shown is not uploaded again (the colour-mapped image is kept; the
        item is only repainted).
        """
        if cmap != self._cmap_name:
            self._cmap_name = cmap
            self.colorbar.setColorMap(get_colormap(cmap))
        levels = (float(levels[0]), float(levels[1]))
        if levels != self._levels:
            self._levels = levels
            self.colorbar.setLevels(levels)
        shown = self._data
        if (
            shown is not None
            and shown.shape == data.shape
            and shown.dtype == data.dtype
            and np.array_equal(shown, data)
        ):
            self.image.update()
        else:
            self.image.setImage(data, autoLevels=False, levels=self._levels)
            self._data = data
        shape = (int(data.shape[0]), int(data.shape[1]))
        if shape != self._shape:
            self._shape = shape
            rows, cols = shape
            self.image.setRect(QRectF(-0.5, -0.5, cols, rows))
            self.reset_range()
        if text is not None:
            self.char_axis.set_text(text)

    def clear(self) -> None:
        """Show nothing (no probe yet)."""
        self.image.clear()
        self._data = None
        self._shape = (0, 0)
        self.char_axis.set_text("")

    def reset_range(self) -> None:
        """Show the whole image."""
        rows, cols = self._shape
        if rows and cols:
            self.vb.setLimits(
                xMin=-0.5 - cols * 0.05,
                xMax=cols - 0.5 + cols * 0.05,
                yMin=-0.5 - rows * 0.05,
                yMax=rows - 0.5 + rows * 0.05,
            )
            self.vb.setRange(
                xRange=(-0.5, cols - 0.5), yRange=(-0.5, rows - 0.5), padding=0
            )

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the data shown; (0, 0) when empty."""
        return self._shape

    @property
    def levels(self) -> tuple[float, float]:
        """Colour levels (low, high)."""
        return self._levels

    @property
    def cmap_name(self) -> str:
        """Name of the colour map in use."""
        return self._cmap_name


class RowHighlight(QGraphicsRectItem):
    """An outline around one row (or column) of a :class:`HeatmapPanel` image."""

    def __init__(self, color: str = "#000000") -> None:
        super().__init__()
        p = QPen(QColor(color))
        p.setWidthF(2.0)
        p.setCosmetic(True)
        self.setPen(p)
        self.setZValue(10)
        self.setVisible(False)

    def show_row(self, row: int, n_cols: int) -> None:
        self.setRect(QRectF(-0.5, row - 0.5, n_cols, 1.0))
        self.setVisible(True)

    def show_col(self, col: int, n_rows: int) -> None:
        self.setRect(QRectF(col - 0.5, -0.5, 1.0, n_rows))
        self.setVisible(True)


class SnapshotView(QWidget):
    """Base class of the views: ``update_snapshot`` draws only while the view is visible.

    A hidden view (say, a tab in the background) just remembers the newest snapshot
    (O(1)); it draws it when it is shown (``showEvent``), when :meth:`flush` is called
    or before :meth:`export_png`. Subclasses implement :meth:`_apply`, which updates
    the existing plot items from a snapshot.

    A snapshot with the same content as the one shown (:func:`same_content`, e.g.
    the copies the window's "always" redraw mode passes) is not applied again: the
    plot items are only repainted (:meth:`_repaint`) from what they computed.
    """

    #: Name of the view (tab or dock title).
    title: str = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._snap: Snapshot | None = None  # drawn
        self._pending: Snapshot | None = None  # received while hidden

    @property
    def snapshot(self) -> Snapshot | None:
        """The newest snapshot received (drawn or pending)."""
        return self._pending if self._pending is not None else self._snap

    def update_snapshot(self, snap: Snapshot) -> None:
        """Show ``snap`` (deferred while the view is hidden; no-op if already shown)."""
        if not isinstance(snap, Snapshot):
            raise TypeError(
                f"expected a gui.protocol.Snapshot, got {type(snap).__name__}"
            )
        if snap is self._snap:
            self._pending = None
            return
        if not self.isVisible():
            self._pending = snap
            return
        self._pending = None
        previous, self._snap = self._snap, snap
        if previous is not None and same_content(previous, snap):
            self._repaint()  # e.g. a copy of the shown snapshot (redraw "always")
            return
        self._apply(snap)  # may skip unchanged parts; every plot item is repainted
        cache_axes(self)  # views add plots on new data (the gates view per cell)
        self._repaint()

    def flush(self) -> None:
        """Draw the snapshot received while hidden, if any."""
        if self._pending is not None:
            snap, self._pending = self._pending, None
            self._snap = snap
            self._apply(snap)
            cache_axes(self)

    def export_png(self, path: str | Path) -> Path:
        """Save the view (its controls and plots, as on screen) as a PNG; returns the path."""
        self.flush()
        return grab_png(self, path)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt name)
        super().showEvent(event)
        cache_axes(self)
        self.flush()

    def _apply(self, snap: Snapshot) -> None:
        raise NotImplementedError

    def _repaint(self) -> None:
        """Repaint the plot items from the data they hold (the snapshot is unchanged).

        The items keep what they computed from the data (LUT-mapped images, curve
        paths), so this costs only the painting. Views that are not pyqtgraph plots
        override it.
        """
        repaint_plot_items(self)
