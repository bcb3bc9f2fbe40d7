# cython: language_level=3
"""Scalar activations and their derivatives written in terms of the saved *output*.

sigmoid'(x) = y (1 - y),  tanh'(x) = 1 - y^2,  relu'(x) = [y > 0].
The float versions go through fastrnn_math.h (vectorisable, ~1 ulp); double uses libm.
"""
from cython cimport floating

cdef extern from "fastrnn_math.h" nogil:
    float fr_sigmoidf(float x) noexcept
    float fr_tanhf(float x) noexcept
    double fr_sigmoid(double x) noexcept
    double fr_tanh(double x) noexcept
    unsigned int fr_ftz_enter() noexcept
    void fr_ftz_exit(unsigned int saved) noexcept


cdef inline floating sigmoid(floating x) noexcept nogil:
    if floating is float:
        return fr_sigmoidf(x)
    else:
        return fr_sigmoid(x)


cdef inline floating tanh_(floating x) noexcept nogil:
    if floating is float:
        return fr_tanhf(x)
    else:
        return fr_tanh(x)


cdef inline floating relu(floating x) noexcept nogil:
    return x if x > 0 else 0


cdef inline floating dsigmoid(floating y) noexcept nogil:
    return y * (1 - y)


cdef inline floating dtanh(floating y) noexcept nogil:
    return 1 - y * y


cdef inline floating drelu(floating y) noexcept nogil:
    return 1 if y > 0 else 0
