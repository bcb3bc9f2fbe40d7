"""fastrnn explorer: a PyQt6 + pyqtgraph window that trains a model live and shows its insides.

``python -m gui`` or ``fastrnn-gui``. Training runs in a spawned worker process
(:mod:`gui.worker`, no Qt) that sends :class:`gui.protocol.Snapshot` messages; the
window (:mod:`gui.app`) redraws its views (:mod:`gui.views`) from the newest one.
"""
