"""Hyperparameter sweeps on Ray Tune (``pip install 'fastrnn[distributed]'``).

Importing this package does not import Ray; :func:`sweep` does, when called.
"""

from fastrnn.distributed.results import load_sweep, write_sweep

__all__ = ["load_sweep", "write_sweep"]
