# cython: language_level=3
"""OpenMP shim: real omp functions when built with -fopenmp, serial fallbacks otherwise."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTRNN_OPENMP 1
    #else
    #define FASTRNN_OPENMP 0
    static int omp_get_thread_num(void) { return 0; }
    static int omp_get_max_threads(void) { return 1; }
    #endif
    """
    int FASTRNN_OPENMP
    int omp_get_thread_num() noexcept nogil
    int omp_get_max_threads() noexcept nogil
