"""Plot panels of the explorer, each a QWidget fed by a :class:`gui.protocol.Snapshot`.

Every view has a class attribute ``title`` (tab name), ``update_snapshot(snap)``
(updates the plot items it created once; cheap, call it from a QTimer with the newest
snapshot) and ``export_png(path)``. :class:`HiddenStateView` emits
``unit_selected(layer, unit)``; connect it to :meth:`SampleView.select_unit` and
:meth:`GateView.select_unit`.
"""

from __future__ import annotations

from gui.views._common import grab_png
from gui.views.gates import GateView
from gui.views.gradient_flow import GradientFlowView
from gui.views.hidden_state import HiddenStateView
from gui.views.histograms import HistogramView
from gui.views.loss import LossView
from gui.views.sample import SampleView

__all__ = [
    "ALL_VIEWS",
    "GateView",
    "GradientFlowView",
    "HiddenStateView",
    "HistogramView",
    "LossView",
    "SampleView",
    "grab_png",
]

#: The view classes in tab order.
ALL_VIEWS = [
    LossView,
    HiddenStateView,
    GateView,
    GradientFlowView,
    SampleView,
    HistogramView,
]
