"""Plot panels of the explorer, each a QWidget fed by a :class:`gui.protocol.Snapshot`.

Every view has a class attribute ``title`` (tab name), ``update_snapshot(snap)``
(updates the plot items it created once; cheap, call it from a QTimer with the newest
snapshot) and ``export_png(path)``. :class:`HiddenStateView` emits
``unit_selected(layer, unit)``; connect it to :meth:`SampleView.select_unit` and
:meth:`GateView.select_unit`.

:class:`SweepView` is the exception: it overlays the validation curves of a sweep
folder (``fastrnn sweep --out DIR``) and is filled by ``load(path)``, not by snapshots.
"""

from __future__ import annotations

from gui.views._common import grab_png
from gui.views.gates import GateView
from gui.views.gradient_flow import GradientFlowView
from gui.views.hidden_state import HiddenStateView
from gui.views.histograms import HistogramView
from gui.views.loss import LossView
from gui.views.sample import SampleView
from gui.views.sweep import SweepView

__all__ = [
    "ALL_VIEWS",
    "GateView",
    "GradientFlowView",
    "HiddenStateView",
    "HistogramView",
    "LossView",
    "SampleView",
    "SweepView",
    "grab_png",
]

#: The snapshot views in tab order (:class:`SweepView` is not one: it shows a sweep
#: folder, see :meth:`gui.app.MainWindow.open_sweep`).
ALL_VIEWS = [
    LossView,
    HiddenStateView,
    GateView,
    GradientFlowView,
    SampleView,
    HistogramView,
]
