"""The kernels' float32 GEMM (fastrnn_sgemm.h: blocked AVX-512 GEMM on CPUs that have
it, BLIS otherwise) against float64 NumPy, at shapes that cross every blocking edge.

Blocking constants (fastrnn_sgemm_avx512.h): 8 x 32 micro-tiles, K blocks of 256, M
blocks of 128, N blocks of 1024; A is packed when transposed and read in place otherwise.
"""

from __future__ import annotations

import numpy as np
import pytest
from _rerun import assert_passes_with
from numpy.testing import assert_allclose

from fastrnn._kernels import _info, linalg

EDGE_SHAPES = [  # (M, N, K)
    (1, 1, 1),
    (7, 31, 5),  # partial tile in both directions
    (8, 32, 256),  # exactly one tile, one K block
    (9, 33, 257),  # one past each
    (16, 1024, 256),  # a per-step recurrent product
    (129, 65, 513),  # two M blocks, three K blocks
    (3, 1030, 40),  # two N blocks
    # K = 32 q + r with 0 < r <= 16: the AMX path packs a compact K tail
    (40, 1024, 65),  # the char-LM input projection (r = 1: one tile product)
    (17, 47, 71),  # r = 7: two tiles
    (9, 20, 48),  # r = 16: three tiles
    (9, 20, 49),  # r = 17: a regular zero-padded block
    (20, 40, 1030),  # the tail after two K blocks
]


def test_backend_is_reported():
    assert _info.sgemm_backend() in ("amx", "avx512", "avx2", "blis")


@pytest.mark.parametrize("shape", EDGE_SHAPES)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("beta", [0.0, 1.0, 0.5])
def test_matches_float64(shape, trans_a, trans_b, beta, rng):
    M, N, K = shape
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(np.float32)
    c = rng.standard_normal((M, N)).astype(np.float32)
    want = (a.T if trans_a else a).astype(np.float64) @ (b.T if trans_b else b)
    want = want + beta * c
    if beta == 0.0:
        c[:] = np.nan  # beta = 0 must overwrite C, never read it
    linalg.matmul_into(trans_a, trans_b, a, b, np.float32(beta), c, 1)
    assert_allclose(c, want, rtol=1e-5, atol=1e-5 * np.sqrt(K))


def test_threads_write_disjoint_blocks(rng):
    """Two threads split the output; the result equals the one-thread result exactly."""
    a = rng.standard_normal((300, 270)).astype(np.float32)
    b = rng.standard_normal((270, 90)).astype(np.float32)
    one = np.zeros((300, 90), np.float32)
    two = np.zeros((300, 90), np.float32)
    linalg.matmul_into(False, False, a, b, np.float32(0), one, 1)
    linalg.matmul_into(False, False, a, b, np.float32(0), two, 2)
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("K", [300, 65])  # 65: with a K tail on the AMX path
def test_float32_accuracy_over_a_wide_range_of_magnitudes(trans_a, K, rng):
    """Each entry of C is as close to the float64 product as a float32 dot product
    gets, even when the operands span many orders of magnitude (the AMX path splits
    every float32 into three bf16 pieces; a single bf16 would be off by ~1e-3)."""
    M, N = 37, 45
    a = (rng.standard_normal((M, K)) * np.exp(rng.uniform(-20, 20, (M, K)))).astype(
        np.float32
    )
    b = (rng.standard_normal((K, N)) * np.exp(rng.uniform(-20, 20, (K, N)))).astype(
        np.float32
    )
    exact = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64)
    c = np.zeros((M, N), np.float32)
    operand = np.ascontiguousarray(a.T) if trans_a else a
    linalg.matmul_into(trans_a, False, operand, b, np.float32(0), c, 1)
    assert (np.abs(c - exact) <= 4 * K * np.finfo(np.float32).eps * scale).all()
    # and much closer than that bound in practice: float32 rounding of the result
    assert np.median(np.abs(c - exact) / scale) < 1e-7


@pytest.mark.skipif(
    _info.sgemm_backend() != "amx", reason="only on CPUs whose default path is AMX"
)
def test_avx512_path_still_passes_this_file_on_an_amx_cpu():
    """FASTRNN_NO_AMX=1 falls back to the AVX-512 GEMM; keep it tested where AMX wins."""
    assert_passes_with({"FASTRNN_NO_AMX": "1"}, __file__)


def test_repeat_step_product_is_the_per_step_product(rng):
    """The benchmark's per-step product (W packed once) computes A @ W^T."""
    A = rng.standard_normal((16, 70)).astype(np.float32)
    W = rng.standard_normal((130, 70)).astype(np.float32)
    C = np.full((16, 130), np.nan, np.float32)
    linalg.repeat_step_product(A, W, C, 3)
    assert_allclose(C, A.astype(np.float64) @ W.T, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="expected"):
        linalg.repeat_step_product(A, np.ascontiguousarray(W[:, :5]), C, 1)
