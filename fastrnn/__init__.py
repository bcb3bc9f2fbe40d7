"""fastrnn: Cython/OpenMP recurrent neural networks for the CPU."""

from fastrnn import functional
from fastrnn._threads import get_num_threads, openmp_enabled, set_num_threads

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "functional",
    "get_num_threads",
    "openmp_enabled",
    "set_num_threads",
]
