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
    static int omp_get_num_threads(void) { return 1; }
    static int omp_get_max_threads(void) { return 1; }
    #endif
    /* Every thread of the team waits here (an orphaned barrier: it binds to the parallel
     * region the caller runs in); nothing without OpenMP. */
    static inline void fr_omp_barrier(void) {
    #ifdef _OPENMP
    #pragma omp barrier
    #endif
    }
    """
    int FASTRNN_OPENMP
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_threads() noexcept nogil
    int omp_get_max_threads() noexcept nogil
    void fr_omp_barrier() noexcept nogil
