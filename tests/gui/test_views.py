"""Explorer views (gui/views) fed with synthetic snapshots, offscreen with pytest-qt."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

pytest.importorskip("PyQt6.QtWidgets")
pytest.importorskip("pyqtgraph")
pytest.importorskip("pytestqt")

from PyQt6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PyQt6.QtGui import QImage  # noqa: E402
from PyQt6.QtWidgets import QWidget  # noqa: E402

from gui.protocol import GATE_LABELS, Snapshot, synthetic_snapshot  # noqa: E402
from gui.views import (  # noqa: E402
    ALL_VIEWS,
    GateView,
    GradientFlowView,
    HiddenStateView,
    HistogramView,
    LossView,
    SampleView,
    grab_png,
)
from gui.views._common import (  # noqa: E402
    DIVERGING,
    SEQUENTIAL,
    CharAxis,
    display_char,
    nice_ceil,
    robust_max,
)
from gui.views.gates import saturation  # noqa: E402
from gui.views.gradient_flow import GRAD_FLOOR, clip_to_floor  # noqa: E402
from gui.views.loss import AppendScatter, thin_events  # noqa: E402
from gui.views.sample import activation_colors  # noqa: E402

CELLS = ["lstm", "gru", "gru_minimal", "rnn_tanh", "rnn_relu"]
H, P, N = 16, 24, 30  # hidden units, probe length, optimizer steps


def snapshot(cell: str = "lstm", **kw) -> Snapshot:
    kw.setdefault("hidden_size", H)
    kw.setdefault("probe_len", P)
    kw.setdefault("n_steps", N)
    return synthetic_snapshot(cell, **kw)


@pytest.fixture
def show(qtbot):
    """Create, show and expose a view; pytest-qt closes it at teardown."""

    def make(cls: type[QWidget], size: tuple[int, int] = (700, 450)) -> QWidget:
        view = cls()
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        qtbot.waitExposed(view)
        return view

    return make


def png_ok(path) -> bool:
    data = path.read_bytes()
    image = QImage(str(path))
    return (
        data[:8] == b"\x89PNG\r\n\x1a\n" and image.width() > 50 and image.height() > 50
    )


# ----------------------------------------------------------------- helpers
def test_display_char_makes_whitespace_visible():
    assert [display_char(c) for c in "a \n\t\x01"] == ["a", "␣", "⏎", "⇥", "·"]


def test_robust_max_and_nice_ceil():
    values = np.concatenate([np.linspace(0, 1, 1000), [1e6]])  # one outlier
    assert 0.98 < robust_max(values) < 1.01
    assert robust_max(np.zeros(5)) == 1.0
    assert robust_max(np.array([np.nan, np.inf])) == 1.0
    assert [
        nice_ceil(v) for v in (0.7, 1.0, 1.2, 2.5, 7.0, 9.1, 0.031)
    ] == pytest.approx([0.8, 1.0, 1.5, 3.0, 8.0, 10.0, 0.04])
    assert nice_ceil(0.0) == 1.0 and nice_ceil(float("nan")) == 1.0


def test_char_axis_thins_labels_when_crowded(qtbot):
    axis = CharAxis("bottom")
    axis.set_text("ab c\nd" * 10)  # 60 characters
    assert axis.chars[:6] == ["a", "b", "␣", "c", "⏎", "d"]
    levels = axis.tickValues(-0.5, 59.5, size=60 * axis.label_px * 1.1)
    assert levels[0][0] == 1.0 and levels[0][1] == [float(t) for t in range(60)]
    assert axis.tickStrings(levels[0][1][:5], 1.0, 1.0) == ["a", "b", "␣", "c", "⏎"]
    levels = axis.tickValues(-0.5, 59.5, size=60 * axis.label_px / 1.5)  # too short
    step, values = levels[0]  # 1.5 * 2.5 = 3.75 label widths apart -> every 5th
    assert step == 5.0 and values == [float(t) for t in range(0, 60, 5)]
    assert axis.tick_step(60, 60 * axis.label_px / 5) == 20  # 5 * 2.5 = 12.5 -> 20
    assert axis.tickStrings(values[:3], 1.0, step) == ["a", "d", "⏎"]
    assert axis.tickStrings(levels[1][1], 1.0, levels[1][0]) == []  # minor: unlabelled


def test_thin_events_keeps_first_event_per_bin_and_grows_by_appending():
    x = np.arange(0, 20_000, 3, dtype=np.float64)
    y = np.sin(x)
    tx, ty = thin_events(x, y, max_points=500)
    assert len(tx) <= 500 and tx[0] == 0.0
    np.testing.assert_array_equal(ty, np.sin(tx))
    small = x[:100]
    assert thin_events(small, small)[0] is small  # below the cap: untouched
    # while the bin width stays the same, a longer run only appends markers
    a, _ = thin_events(x[:5000], y[:5000], max_points=1000)
    b, _ = thin_events(x[:5200], y[:5200], max_points=1000)
    np.testing.assert_array_equal(b[: len(a) - 1], a[:-1])


def spy(item, method: str) -> list:
    """Record the keyword arguments of every call of ``item.method``."""
    calls = []
    original = getattr(item, method)

    def wrapper(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    setattr(item, method, wrapper)
    return calls


def test_append_scatter_adds_only_new_points(qtbot):
    import pyqtgraph as pg

    item = pg.ScatterPlotItem()
    scatter = AppendScatter(item)
    rebuilt, added = spy(item, "setData"), spy(item, "addPoints")
    scatter.set_points(np.arange(5.0), np.ones(5))
    scatter.set_points(np.arange(8.0), np.ones(8))
    assert len(rebuilt) == 1 and len(item.points()) == 8
    assert list(added[-1]["x"]) == [5.0, 6.0, 7.0]  # only the new points
    scatter.set_points(np.arange(8.0), np.ones(8))  # unchanged: nothing to do
    assert len(rebuilt) == 1 and len(added) == 2
    scatter.set_points(np.arange(3.0) + 0.5, np.ones(3))  # not an extension: replaced
    assert len(rebuilt) == 2
    assert [p.pos().x() for p in item.points()] == [0.5, 1.5, 2.5]


# -------------------------------------------------------------------- API
def test_view_list():
    assert [cls.__name__ for cls in ALL_VIEWS] == [
        "LossView",
        "HiddenStateView",
        "GateView",
        "GradientFlowView",
        "SampleView",
        "HistogramView",
    ]
    titles = [cls.title for cls in ALL_VIEWS]
    assert all(titles) and len(set(titles)) == len(titles)


def starting_snapshot() -> Snapshot:
    """What a worker may send before its first step: no history, probe or sample."""
    return dataclasses.replace(
        snapshot(),
        status="starting",
        step=0,
        steps=np.empty(0, np.int64),
        losses=np.empty(0, np.float32),
        grad_norms=np.empty(0, np.float32),
        clipped=np.empty(0, bool),
        val_steps=np.empty(0, np.int64),
        val_losses=np.empty(0, np.float32),
        probe_text="",
        probe=[],
        sample_text="",
        sample_h=[],
        histograms={},
    )


@pytest.mark.parametrize("cls", ALL_VIEWS, ids=lambda c: c.__name__)
def test_view_lifecycle(show, tmp_path, cls):
    """Empty snapshot, data, other sizes, bad input and PNG export, for every view."""
    view = show(cls, (500, 350))
    assert isinstance(view, QWidget)
    view.update_snapshot(starting_snapshot())  # nothing to draw yet: no error
    first = snapshot("lstm", hidden_size=12, probe_len=20, num_layers=2)
    view.update_snapshot(first)
    assert view.snapshot is first
    if isinstance(view, HiddenStateView):
        view.select_unit(1, 11)
    second = snapshot("lstm", hidden_size=20, probe_len=15, num_layers=1, n_steps=45)
    view.update_snapshot(second)
    if isinstance(view, HiddenStateView):
        assert view.image.image.shape == (20, 15)
        assert (view.layer, view.unit) == (0, 11) and view.layer_combo.count() == 1
    elif isinstance(view, GateView):
        assert all(p.image.image.shape == (20, 15) for p in view.panels.values())
    elif isinstance(view, LossView):
        assert len(view.train_curve.getData()[0]) == 45
    elif isinstance(view, GradientFlowView):
        assert [len(c.getData()[0]) for c in view.curves] == [15]
    elif isinstance(view, SampleView):
        assert len(view.char_colors) == len(second.sample_text)
    with pytest.raises(TypeError, match="expected a gui.protocol.Snapshot"):
        view.update_snapshot({"step": 1})
    path = tmp_path / "shots" / f"{cls.__name__}.png"
    assert view.export_png(path) == path and png_ok(path)
    view.update_snapshot(starting_snapshot())  # and back to nothing


def test_hidden_view_draws_when_shown(qtbot):
    view = HiddenStateView()
    qtbot.addWidget(view)
    snap = snapshot()
    view.update_snapshot(snap)  # hidden: only remembered
    assert view.panel.shape == (0, 0) and view.snapshot is snap
    view.show()
    qtbot.waitExposed(view)
    assert view.panel.shape == (H, P)


# ---------------------------------------------------------- hidden state
@pytest.mark.parametrize("cell", CELLS)
def test_hidden_state_heatmap(show, cell):
    view = show(HiddenStateView)
    snap = snapshot(cell)
    if cell == "rnn_relu":
        for layer in snap.probe:
            layer.h = np.abs(layer.h) * 2.5
    view.update_snapshot(snap)
    image = view.image.image
    assert image.shape == (H, P)
    np.testing.assert_array_equal(image, snap.probe[0].h.T)
    if cell == "rnn_relu":
        assert view.panel.cmap_name == SEQUENTIAL
        low, high = view.panel.levels
        assert low == 0.0 and 2.0 <= high <= 3.0
    else:
        assert view.panel.levels == (-1.0, 1.0) and view.panel.cmap_name == DIVERGING
    assert view.panel.char_axis.chars == [display_char(c) for c in snap.probe_text]
    assert view.show_c.isEnabled() == (cell == "lstm")
    assert [view.layer_combo.itemText(i) for i in range(2)] == ["layer 0", "layer 1"]

    view.layer_combo.setCurrentIndex(1)
    assert view.layer == 1
    np.testing.assert_array_equal(view.image.image, snap.probe[1].h.T)


def test_hidden_state_shows_lstm_cell_state(show):
    view = show(HiddenStateView)
    snap = snapshot("lstm")
    view.update_snapshot(snap)
    view.show_c.setChecked(True)
    np.testing.assert_array_equal(view.image.image, snap.probe[0].c.T)
    low, high = view.panel.levels
    assert low == -high and high >= robust_max(np.abs(snap.probe[0].c))
    view.update_snapshot(snapshot("gru"))  # no c_t: back to h_t, toggle disabled
    assert not view.show_c.isEnabled() and not view.show_c.isChecked()
    assert view.panel.levels == (-1.0, 1.0)


def test_select_unit_clamps_and_emits(show, qtbot):
    view = show(HiddenStateView)
    view.update_snapshot(snapshot())
    with qtbot.waitSignal(view.unit_selected) as blocker:
        view.select_unit(1, 99)
    assert blocker.args == [1, H - 1]
    assert (view.layer, view.unit) == (1, H - 1)
    assert view.highlight.isVisible()
    rect = view.highlight.rect()
    assert rect.top() == H - 1.5 and rect.width() == P
    assert view.unit_spin.value() == H - 1


def test_click_on_heatmap_row_selects_unit_and_colours_sample(show, qtbot):
    hidden = show(HiddenStateView, (800, 500))
    sample = show(SampleView)
    hidden.unit_selected.connect(sample.select_unit)
    snap = snapshot("lstm")
    hidden.update_snapshot(snap)
    sample.update_snapshot(snap)
    before = list(sample.char_colors)

    unit = 7
    scene_pos = hidden.panel.vb.mapViewToScene(QPointF(P / 2, unit))
    widget_pos = hidden.graphics.mapFromScene(scene_pos)
    with qtbot.waitSignal(hidden.unit_selected, timeout=2000) as blocker:
        qtbot.mouseClick(
            hidden.graphics.viewport(),
            Qt.MouseButton.LeftButton,
            pos=QPoint(widget_pos),
        )
    assert blocker.args == [0, unit]
    assert hidden.unit == unit and hidden.highlight.rect().center().y() == unit
    assert (sample.layer, sample.unit) == (0, unit)
    expected, _, _ = activation_colors(snap.sample_h[0][:, unit])
    assert sample.char_colors == expected != before


# ------------------------------------------------------------------ gates
@pytest.mark.parametrize("cell", CELLS)
def test_gate_view_panels(show, cell):
    view = show(GateView, (800, 600))
    snap = snapshot(cell)
    view.update_snapshot(snap)
    gates = GATE_LABELS[cell]
    if not gates:
        assert not view.has_gates and view.panels == {}
        assert view.no_gates.text() == "vanilla RNNs have no gates"
        assert view.no_gates.isVisible()
        return
    assert view.has_gates and view.gates == gates
    assert list(view.panels) == list(gates)
    for name, panel in view.panels.items():
        assert panel.image.image.shape == (H, P)
        np.testing.assert_array_equal(panel.image.image, snap.probe[0].gates[name].T)
        if name in ("g", "n"):
            assert panel.levels == (-1.0, 1.0) and panel.cmap_name == DIVERGING
        else:
            assert panel.levels == (0.0, 1.0) and panel.cmap_name == SEQUENTIAL
    sigmoid = [g for g in gates if g not in ("g", "n")]
    assert list(view.sat_curves) == sigmoid
    for name in sigmoid:
        values = snap.probe[0].gates[name]
        low_curve, high_curve = view.sat_curves[name]
        x, y = high_curve.getData()
        np.testing.assert_array_equal(x, np.arange(H))
        np.testing.assert_allclose(y, (values > 0.9).mean(axis=0))
        low = low_curve.getData()[1]  # drawn downwards
        np.testing.assert_allclose(low, -(values < 0.1).mean(axis=0))


def test_saturation_counts_per_unit():
    values = np.array([[0.05, 0.5], [0.95, 0.5], [0.95, 0.02], [0.5, 0.99]])
    low, high = saturation(values)
    np.testing.assert_allclose(low, [0.25, 0.25])
    np.testing.assert_allclose(high, [0.5, 0.25])


def test_gate_view_follows_cell_changes(show):
    view = show(GateView, (800, 600))
    view.update_snapshot(snapshot("lstm"))
    assert len(view.panels) == 4
    view.update_snapshot(snapshot("gru_minimal", hidden_size=9, probe_len=11))
    assert view.gates == ("z", "n") and len(view.panels) == 2
    assert view.panels["z"].image.image.shape == (9, 11)
    view.update_snapshot(snapshot("rnn_tanh"))
    assert not view.has_gates
    view.update_snapshot(snapshot("gru"))
    assert view.has_gates and view.gates == ("r", "z", "n")
    view.select_unit(1, 3)
    assert view.layer == 1 and view.unit_line.value() == 3


# ------------------------------------------------------------------- loss
def test_loss_view_curves_and_clipping(show):
    view = show(LossView)
    snap = snapshot()
    view.update_snapshot(snap)
    x, y = view.train_curve.getData()
    assert len(x) == len(y) == N
    np.testing.assert_allclose(y, snap.losses.astype(np.float64))
    assert len(view.val_points.points()) == len(snap.val_steps)
    assert len(view.grad_curve.getData()[1]) == N
    n_clipped = int(snap.clipped.sum())
    assert n_clipped > 0 and len(view.clip_points.points()) == n_clipped
    clip_x = sorted(p.pos().x() for p in view.clip_points.points())
    assert clip_x == [float(s) for s in snap.steps[snap.clipped]]
    assert view.clip_line.isVisible() and view.clip_line.value() == snap.clip
    assert f"clipped {n_clipped}/{N}" in view.status.text()

    view.log_grad.setChecked(True)
    assert view.clip_line.value() == pytest.approx(math.log10(snap.clip))
    assert len(view.clip_points.points()) == n_clipped

    view.update_snapshot(dataclasses.replace(snap, clip_mode="value"))
    assert not view.clip_line.isVisible()


def test_loss_view_growing_run_appends_markers(show):
    view = show(LossView)
    full = snapshot(n_steps=60)
    rebuilt = spy(view.clip_points, "setData")
    for n in (20, 40, 60):
        part = dataclasses.replace(
            full,
            steps=full.steps[:n],
            losses=full.losses[:n],
            grad_norms=full.grad_norms[:n],
            clipped=full.clipped[:n],
            val_steps=full.val_steps[full.val_steps <= n],
            val_losses=full.val_losses[full.val_steps <= n],
        )
        view.update_snapshot(part)
        assert len(view.train_curve.getData()[0]) == n
        assert len(view.clip_points.points()) == int(full.clipped[:n].sum())
    assert len(rebuilt) == 1  # the later snapshots only appended markers
    view.update_snapshot(dataclasses.replace(full, run_id=2))  # a new run: rebuilt
    assert len(rebuilt) == 2 and len(view.clip_points.points()) == full.clipped.sum()


# ---------------------------------------------------------- gradient flow
def test_gradient_flow_log_scale_and_floor(show):
    view = show(GradientFlowView)
    snap = snapshot("rnn_relu", num_layers=3)
    snap.probe[1].grad_h_norm[:5] = 0.0
    snap.probe[2].grad_h_norm[3] = np.nan
    view.update_snapshot(snap)
    assert len(view.curves) == 3
    assert view.plot.getPlotItem().getAxis("left").logMode
    assert view.plot.getPlotItem().getAxis("left").labelText == "||dL/dh_t||"
    assert view.plot.getPlotItem().getAxis("bottom").labelText == "time step t (probe)"
    for curve, layer in zip(view.curves, snap.probe, strict=True):
        x, y = curve.xData, curve.yData  # getData() would give log10(y)
        assert len(x) == P
        np.testing.assert_allclose(y, clip_to_floor(layer.grad_h_norm))
        assert np.all(np.isfinite(y)) and y.min() >= GRAD_FLOOR
        np.testing.assert_allclose(curve.getData()[1], np.log10(y))
    assert "n/a" not in view.ratio_label.text() and "layer 2" in view.ratio_label.text()
    view.update_snapshot(snapshot("gru", num_layers=1))
    assert len(view.curves) == 1


def test_clip_to_floor():
    out = clip_to_floor(np.array([0.0, -1.0, np.nan, np.inf, 2.5]))
    np.testing.assert_allclose(out, [GRAD_FLOOR, GRAD_FLOOR, GRAD_FLOOR, 1e30, 2.5])


# ----------------------------------------------------------------- sample
def test_sample_view_colours_every_character(show):
    view = show(SampleView)
    snap = snapshot()
    text = "a<b>&c\nd e"
    h = np.tile(np.linspace(-1, 1, len(text), dtype=np.float32)[:, None], (1, H))
    snap = dataclasses.replace(snap, sample_text=text, sample_h=[h, -h])
    view.update_snapshot(snap)
    assert len(view.char_colors) == len(text)
    assert view.html.count("<span") == len(text)
    assert ">&lt;</span>" in view.html and ">&amp;</span>" in view.html
    assert "<b>" not in view.html
    assert view.text.toPlainText() == "a<b>&c⏎\nd e"
    blue, red = view.char_colors[0], view.char_colors[-1]
    assert int(blue[5:7], 16) > int(blue[1:3], 16)  # -1: blue
    assert int(red[1:3], 16) > int(red[5:7], 16)  # +1: red
    assert "layer 0, unit 0" in view.label.text()

    view.select_unit(1, 2)  # layer 1 is -h: colours reverse
    assert view.char_colors[0] == red and view.char_colors[-1] == blue
    assert "layer 1, unit 2" in view.label.text()
    view.select_unit(5, 500)  # clamped to what the snapshot has
    assert view.unit_spin.value() == H - 1 and view.layer_combo.currentIndex() == 1


def test_sample_view_relu_uses_white_to_red(show):
    view = show(SampleView)
    snap = snapshot("rnn_relu")
    snap.sample_h = [np.abs(h) for h in snap.sample_h]
    view.update_snapshot(snap)
    assert "white 0 · red" in view.label.text()
    assert len(view.char_colors) == len(snap.sample_text)
    colors, _, (low, high) = activation_colors(snap.sample_h[0][:, 0], signed=False)
    assert view.char_colors == colors and low == 0.0 and high > 0.0


# -------------------------------------------------------------- histograms
def test_histogram_view(show):
    view = show(HistogramView)
    snap = snapshot()
    view.update_snapshot(snap)
    names = list(snap.histograms)
    assert [
        view.param_combo.itemText(i) for i in range(view.param_combo.count())
    ] == names
    assert view.parameter == names[0]
    wc, we, gc, ge = snap.histograms[names[0]]
    x, y = view.weight_curve.getData()
    assert len(x) == len(we) == 41 and len(y) == 40
    np.testing.assert_allclose(y, wc)
    np.testing.assert_allclose(view.grad_curve.getData()[0], ge)
    assert view.weight_plot.getAxis("bottom").labelText == "weight value"
    assert view.grad_plot.getAxis("left").labelText == "count"
    view.set_parameter(names[1])
    np.testing.assert_allclose(
        view.weight_curve.getData()[1], snap.histograms[names[1]][0]
    )
    view.update_snapshot(snapshot(seed=3))  # selection kept across snapshots
    assert view.parameter == names[1]
    with pytest.raises(ValueError, match="got 'nope'"):
        view.set_parameter("nope")


# ------------------------------------------------------------------ export
def test_export_of_a_hidden_view_and_grab_png(show, qtbot, tmp_path):
    hidden = HiddenStateView()  # never shown: export draws the pending snapshot
    qtbot.addWidget(hidden)
    hidden.update_snapshot(snapshot())
    assert png_ok(hidden.export_png(tmp_path / "hidden.png"))
    assert hidden.panel.shape == (H, P)
    assert png_ok(grab_png(show(LossView), tmp_path / "grab.png"))


def test_render_views_script(qtbot, tmp_path, capsys):
    from gui.render_views import main

    assert main([str(tmp_path), "--hidden", "8", "--probe", "12", "--steps", "20",
                 "--width", "400", "--height", "300"]) == 0  # fmt: skip
    written = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(written) == 11 and "gates_lstm.png" in written
    assert all(png_ok(tmp_path / name) for name in written)
    assert capsys.readouterr().out.count(".png") == 11


@pytest.mark.parametrize("cls", ALL_VIEWS)
def test_shown_views_cache_their_axes_and_still_redraw_ticks(show, cls) -> None:
    """Axes are pixmap-cached once shown; a new range still repaints their ticks."""
    import pyqtgraph as pg
    from PyQt6.QtWidgets import QGraphicsItem, QGraphicsView

    view = show(cls)
    view.update_snapshot(snapshot())
    axes = [
        item
        for gv in view.findChildren(QGraphicsView)
        for item in gv.scene().items()
        if isinstance(item, pg.AxisItem)
    ]
    if cls is SampleView:
        assert axes == []  # text only
        return
    assert axes
    cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert all(a.cacheMode() == cache for a in axes)


def test_cached_axis_repaints_when_its_range_changes(show, qtbot) -> None:
    import pyqtgraph as pg
    from PyQt6.QtWidgets import QGraphicsView

    view = show(LossView)

    def bottom_axis_pixels() -> QImage:
        for gv in view.findChildren(QGraphicsView):
            for item in gv.scene().items():
                if isinstance(item, pg.AxisItem) and item.orientation == "bottom":
                    rect = gv.mapFromScene(item.sceneBoundingRect()).boundingRect()
                    return gv.viewport().grab(rect).toImage()
        raise AssertionError("no bottom axis")

    view.update_snapshot(snapshot(n_steps=30))
    qtbot.wait(20)
    first = bottom_axis_pixels()
    view.update_snapshot(snapshot(n_steps=3000))  # x range 30 -> 3000 steps
    qtbot.wait(20)
    assert bottom_axis_pixels() != first  # new tick labels were painted


# ------------------------------------------------------- redraw cost (issue #8)
def _paint_counter(view: QWidget) -> list:
    """Paint events of the view's scroll-area viewports (graphics views, text box)."""
    from PyQt6.QtCore import QEvent, QObject
    from PyQt6.QtWidgets import QAbstractScrollArea

    class Counter(QObject):
        n = 0

        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                Counter.n += 1
            return False

    counter = Counter(view)
    for area in view.findChildren(QAbstractScrollArea):
        area.viewport().installEventFilter(counter)
    return [counter]


def test_same_content_compares_fields_not_array_contents():
    import copy
    import pickle

    from gui.views._common import same_content

    snap = snapshot()
    assert same_content(snap, snap) and same_content(snap, copy.copy(snap))
    assert not same_content(snap, dataclasses.replace(snap, clip_mode="value"))
    assert not same_content(snap, dataclasses.replace(snap, step=snap.step + 1))
    # equal values in new arrays (a snapshot from the worker) count as new data
    assert not same_content(snap, pickle.loads(pickle.dumps(snap)))


@pytest.mark.parametrize("cls", ALL_VIEWS, ids=lambda c: c.__name__)
def test_copy_of_shown_snapshot_repaints_without_reapplying(show, qtbot, cls):
    """The window's "always" mode passes copies: the items repaint, nothing is redone."""
    import copy

    view = show(cls)
    snap = snapshot()
    view.update_snapshot(snap)
    qtbot.wait(30)
    applied = spy(view, "_apply")
    counter = _paint_counter(view)[0]
    for _ in range(3):
        view.update_snapshot(copy.copy(snap))
        before = counter.n
        qtbot.waitUntil(lambda b=before: counter.n > b, timeout=2000)  # repainted
    assert applied == []
    view.update_snapshot(dataclasses.replace(snap, step=snap.step + 1))
    assert len(applied) == 1  # other content: applied


def test_plot_items_are_repainted_on_every_redraw(show, qtbot):
    from gui.views._common import repaint_plot_items

    view = show(LossView)
    view.update_snapshot(snapshot())
    qtbot.wait(30)
    painted = []
    original = type(view.train_curve.curve).paint

    def paint(item, *args):
        painted.append(item)
        return original(item, *args)

    try:
        type(view.train_curve.curve).paint = paint
        assert repaint_plot_items(view) >= 4  # curves, their children, markers, line
        qtbot.waitUntil(lambda: view.train_curve.curve in painted, timeout=2000)
        assert view.grad_curve.curve in painted
    finally:
        type(view.train_curve.curve).paint = original


def test_heatmap_skips_the_upload_of_equal_data(show, qtbot):
    from gui.views._common import HeatmapPanel

    view = show(HiddenStateView)
    panel: HeatmapPanel = view.panel
    snap = snapshot()
    view.update_snapshot(snap)
    qtbot.wait(30)
    uploads = spy(view.image, "setImage")
    same = dataclasses.replace(  # new arrays, equal values, later step
        snap, step=snap.step + 1, probe=[dataclasses.replace(p) for p in snap.probe]
    )
    for p in same.probe:
        p.h = p.h.copy()
    view.update_snapshot(same)
    assert uploads == [] and view.image.qimage is not None
    other = dataclasses.replace(snap, step=snap.step + 2, probe=snapshot(seed=5).probe)
    view.update_snapshot(other)
    assert len(uploads) == 1
    np.testing.assert_array_equal(view.image.image, other.probe[0].h.T)
    panel.clear()
    panel.set_data(other.probe[0].h.T.copy(), (-1.0, 1.0), DIVERGING)
    assert len(uploads) == 2  # after clear() the data is uploaded again


def test_heatmap_image_is_kept_in_the_native_format(show, qtbot):
    view = show(HiddenStateView)
    view.update_snapshot(snapshot())
    qtbot.wait(30)  # painted: the QImage was rendered
    image = view.image.qimage
    assert image.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert (image.width(), image.height()) == (P, H)


def test_hidden_state_title_gives_the_step_of_the_trace(show):
    view = show(HiddenStateView)
    view.update_snapshot(dataclasses.replace(snapshot(), step=40, probe_step=35))
    assert "step 35" in view.panel.plot.titleLabel.text


def test_unchanged_curves_are_not_rebuilt(show):
    """Gradient flow, histograms and gate saturation keep curves whose data is equal."""
    snap = snapshot()
    later = dataclasses.replace(snap, step=snap.step + 1)  # same probe & histograms
    flow = show(GradientFlowView)
    flow.update_snapshot(snap)
    calls = [spy(c, "setData") for c in flow.curves]
    flow.update_snapshot(later)
    assert calls == [[], []]
    hist = show(HistogramView)
    hist.update_snapshot(snap)
    weights = spy(hist.weight_curve, "setData")
    hist.update_snapshot(later)
    assert weights == []
    hist.set_parameter(list(snap.histograms)[1])  # another parameter: new data
    assert len(weights) == 1
    gates = show(GateView)
    gates.update_snapshot(snap)
    low, high = gates.sat_curves["i"]
    lows = spy(low, "setData")
    gates.update_snapshot(later)
    assert lows == []
    gates.update_snapshot(dataclasses.replace(later, probe=snapshot(seed=7).probe))
    assert len(lows) == 1
