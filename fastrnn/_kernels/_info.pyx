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
    int fr_sgemm_isa() noexcept


def packed_sgemm_enabled() -> bool:
    """True when float32 per-step products use the packed AVX2/FMA micro-kernel
    (fastrnn_sgemm.h) rather than BLIS; FASTRNN_NO_PACKED_SGEMM=1 turns it off."""
    return bool(fr_sgemm_packed_available())


def sgemm_backend() -> str:
    """Which float32 GEMM the kernels use on this CPU (fastrnn_sgemm.h):

    "amx"     every float32 GEMM on the AMX tile unit (bf16 pieces, float32 accuracy)
    "avx512"  every float32 GEMM through fastrnn's blocked AVX-512 GEMM
    "avx2"    per-step products through the AVX2/FMA micro-kernel, the rest through BLIS
    "blis"    BLIS everywhere (FASTRNN_NO_PACKED_SGEMM=1, or no AVX2)
    FASTRNN_NO_AMX=1 caps it at "avx512", FASTRNN_NO_AVX512=1 at "avx2".
    """
    return ("blis", "avx2", "avx512", "amx")[fr_sgemm_isa()]


cdef extern from "fastrnn_gates.h" nogil:
    """
    static int fr_lstm_gates_avx512(void) {
    #if FR_HAVE_AVX512_GATES
        return fr_avx512_gates();
    #else
        return 0;
    #endif
    }
    """
    int fr_lstm_gates_avx512() noexcept


def lstm_gate_loop() -> str:
    """Which loop computes the float32 LSTM forward gates (fastrnn_gates_avx512.h):
    "avx512" (intrinsics, on AVX-512F CPUs) or "generic" (compiler-vectorised C);
    FASTRNN_GENERIC_GATES=1 forces "generic"."""
    return "avx512" if fr_lstm_gates_avx512() else "generic"
