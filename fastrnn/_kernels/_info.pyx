# cython: language_level=3
"""Build information: whether the kernels were compiled with OpenMP."""
from fastrnn._kernels._openmp cimport FASTRNN_OPENMP, omp_get_max_threads


def openmp_enabled() -> bool:
    """True when the kernels were compiled with OpenMP (prange runs in parallel)."""
    return bool(FASTRNN_OPENMP)


def openmp_max_threads() -> int:
    """omp_get_max_threads() as seen by the kernels (1 without OpenMP)."""
    return omp_get_max_threads()


cdef extern from "fastrnn_sgemm.h" nogil:
    int fr_sgemm_packed_available() noexcept


def packed_sgemm_enabled() -> bool:
    """True when float32 per-step products use the packed AVX2/FMA micro-kernel
    (fastrnn_sgemm.h) rather than BLIS; FASTRNN_NO_PACKED_SGEMM=1 turns it off."""
    return bool(fr_sgemm_packed_available())
