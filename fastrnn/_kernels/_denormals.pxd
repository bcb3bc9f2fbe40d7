# cython: language_level=3
"""Denormal flushing for the kernels' threads (fastrnn_math.h).

The activations themselves (sigmoid, tanh, relu and their derivatives from saved
outputs) live in C, in fastrnn_math.h and fastrnn_gates_impl.h, where gcc vectorises them.
"""

cdef extern from "fastrnn_math.h" nogil:
    unsigned int fr_ftz_enter() noexcept
    void fr_ftz_exit(unsigned int saved) noexcept
