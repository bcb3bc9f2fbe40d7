"""fastrnn._linalg.matmul (the Python layer's products on fastrnn's threads) vs NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastrnn._linalg import matmul


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape", [(5, 3, 4), (300, 70, 20), (20, 70, 300), (1, 1, 1), (64, 0, 3)]
)
@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matches_numpy(dtype, shape, trans_a, trans_b, rng):
    M, K, N = shape
    a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dtype)
    b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dtype)
    want = (a.T if trans_a else a) @ (b.T if trans_b else b)
    got = matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    assert got.dtype == dtype and got.shape == (M, N)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(got, want, rtol=tol, atol=tol * max(1, K))


def test_non_contiguous_mixed_and_batched_fall_back(rng):
    a = rng.standard_normal((6, 4))
    assert_allclose(matmul(a[::2], a[:4, :3]), a[::2] @ a[:4, :3])  # strided views
    a32 = a.astype(np.float32)
    assert matmul(a32, a.T).dtype == np.float64  # mixed dtypes: NumPy's promotion
    x = rng.standard_normal((2, 3, 4))
    xt = np.swapaxes(x, -1, -2)
    assert_allclose(matmul(x, xt), x @ xt)  # batched: NumPy
    with pytest.raises(ValueError, match="expected matching inner dimensions"):
        matmul(a, a)
