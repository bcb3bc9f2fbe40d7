/* fastrnn_gates.h: the elementwise gate math of every cell, one row (H units) at a time.
 *
 * Why C: every function takes `restrict` pointers, which is what lets gcc vectorise these
 * loops (Cython cannot express `restrict`; without it gcc must prove that a dozen
 * pointers never overlap, gives up, and the gate math of a small LSTM costs more than its
 * GEMM).  The functions are written once in fastrnn_gates_impl.h and instantiated for
 * float (suffix _f) and double (suffix _d); _gates.pxd gives Cython fused wrappers.
 *
 * Notation as in the .pyx kernels: H hidden units; a row of gates holds the G gate blocks
 * of one sequence at one time step, block k at [k*H, (k+1)*H).  Step labels (1b, 2, ...)
 * match the kernel docstrings and repeat in each backward function.
 */
#ifndef FASTRNN_GATES_H
#define FASTRNN_GATES_H

#include "fastrnn_math.h"

/* FR_ROW functions are deliberately not inlined: inlined into the OpenMP-outlined time
 * loop, gcc loses the restrict information and emits scalar code; called, each is
 * vectorised on its own (one call per row of H units costs nothing measurable). */
/* On x86-64 Linux with gcc, each row function is also compiled for AVX2 and picked at
 * load time (ifunc) on CPUs that have it (Intel Haswell and later, AMD Zen); the default
 * build stays baseline x86-64, so the module runs on any x86-64 CPU.  (Not
 * "arch=haswell": that clone is chosen by CPU model, so AMD CPUs fell back to SSE.)
 * Define FASTRNN_NO_CLONES to disable. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    defined(__linux__) && !defined(FASTRNN_NO_CLONES)
#define FR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FR_CLONES
#endif
#if defined(__GNUC__) || defined(__clang__)
#define FR_RESTRICT __restrict__
#define FR_ALWAYS_INLINE static inline __attribute__((always_inline))
#define FR_ROW static __attribute__((noinline, unused)) FR_CLONES
#else
#define FR_RESTRICT
#define FR_ALWAYS_INLINE static inline
#define FR_ROW static
#endif

#define FR_REAL float
#define FR_NAME(name) name##_f
#define FR_SIGMOID fr_sigmoidf
#define FR_TANH fr_tanhf
#include "fastrnn_gates_impl.h"
#undef FR_REAL
#undef FR_NAME
#undef FR_SIGMOID
#undef FR_TANH

#include "fastrnn_gates_avx512.h"

#define FR_REAL double
#define FR_NAME(name) name##_d
#define FR_SIGMOID fr_sigmoid
#define FR_TANH fr_tanh
#include "fastrnn_gates_impl.h"
#undef FR_REAL
#undef FR_NAME
#undef FR_SIGMOID
#undef FR_TANH

#endif
