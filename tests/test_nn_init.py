"""Tests for fastrnn.nn.init: distributions, shapes, in-place behaviour, seeds."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn
from fastrnn.nn import init


def _param(*shape: int, dtype: Any = np.float64) -> nn.Parameter:
    return nn.Parameter(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize("shape", [(6, 6), (12, 4), (4, 12), (3, 2, 5)])
def test_orthogonal(shape: tuple[int, ...]) -> None:
    w = _param(*shape)
    assert init.orthogonal_(w, gain=2.0) is w
    q = w.data.reshape(shape[0], -1) / 2.0
    rows, cols = q.shape
    if rows <= cols:
        np.testing.assert_allclose(q @ q.T, np.eye(rows), atol=1e-12)
    else:
        np.testing.assert_allclose(q.T @ q, np.eye(cols), atol=1e-12)


def test_orthogonal_matches_torch_distribution_shape(torch: Any) -> None:
    # Same algorithm as torch: both give orthonormal columns for a tall matrix.
    t = torch.empty(8, 3, dtype=torch.float64)
    torch.nn.init.orthogonal_(t)
    w = _param(8, 3)
    init.orthogonal_(w)
    for q in (t.numpy(), w.data):
        np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("sigma2", [1.5, 3.0])
def test_scaled_normal_variance(sigma2: float) -> None:
    H = 400
    w = _param(H, H)
    init.scaled_normal_(w, sigma2)
    assert w.data.mean() == pytest.approx(0.0, abs=0.003)
    assert w.data.var() == pytest.approx(sigma2 / H, rel=0.02)  # 160k samples
    stacked = _param(4 * 100, 100)  # (G*H, H) recurrent weight: fan-in H
    init.scaled_normal_(stacked, 2.0)
    assert stacked.data.var() == pytest.approx(2.0 / 100, rel=0.03)
    init.scaled_normal_(stacked, 2.0, fan=50)
    assert stacked.data.var() == pytest.approx(2.0 / 50, rel=0.03)


def test_scaled_normal_explodes_or_vanishes_relu_rnn() -> None:
    """The seed material's demo: ||dL/dh_0|| over T ReLU steps, W ~ N(0, sigma2/H)."""
    fr.manual_seed(0)
    H, T = 128, 60
    norms = {}
    for sigma2 in (1.5, 3.0):
        W = _param(H, H)
        init.scaled_normal_(W, sigma2)
        h = fr.tensor(np.random.default_rng(0).standard_normal(H), requires_grad=True)
        x = h
        for _ in range(T):
            x = (W @ x).relu()
        x.sum().backward()
        norms[sigma2] = np.linalg.norm(h.grad)
    assert norms[3.0] > 1e3 * norms[1.5]


def test_lstm_forget_bias() -> None:
    H = 5
    b = _param(4 * H, dtype=np.float32)
    init.lstm_forget_bias_(b, H, value=1.0)
    np.testing.assert_array_equal(b.data[H : 2 * H], np.ones(H))
    np.testing.assert_array_equal(np.delete(b.data, np.s_[H : 2 * H]), np.zeros(3 * H))
    with pytest.raises(ValueError, match=r"expected an LSTM bias of shape \(20,\)"):
        init.lstm_forget_bias_(_param(12), H)


def test_uniform_normal_constant() -> None:
    w = _param(200, 200)
    init.uniform_(w, -0.5, 1.5)
    assert w.data.min() >= -0.5 and w.data.max() <= 1.5
    assert w.data.mean() == pytest.approx(0.5, abs=0.01)
    init.normal_(w, 2.0, 0.5)
    assert w.data.mean() == pytest.approx(2.0, abs=0.01)
    assert w.data.std() == pytest.approx(0.5, rel=0.01)
    init.constant_(w, 3.0)
    assert np.all(w.data == 3.0)
    init.zeros_(w)
    assert np.all(w.data == 0.0)
    init.ones_(w)
    assert np.all(w.data == 1.0)


def test_xavier_and_kaiming_bounds() -> None:
    w = _param(300, 100)
    init.xavier_uniform_(w)
    a = math.sqrt(6 / 400)
    assert np.abs(w.data).max() <= a and w.data.var() == pytest.approx(
        a**2 / 3, rel=0.03
    )
    init.xavier_normal_(w, gain=2.0)
    assert w.data.std() == pytest.approx(2.0 * math.sqrt(2 / 400), rel=0.02)
    init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 100)
    assert np.abs(w.data).max() <= bound
    init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(_param(3))


def test_init_in_place_keeps_dtype_and_records_no_graph() -> None:
    w = _param(3, 3, dtype=np.float32)
    data = w.data
    init.orthogonal_(w)
    init.normal_(w)
    assert w.data is data and w.dtype == np.float32
    assert w.is_leaf and w.grad is None
    with pytest.raises(TypeError, match="floating"):
        init.normal_(fr.tensor([1, 2]))


def test_init_reproducible_from_seed() -> None:
    fr.manual_seed(11)
    a = init.normal_(_param(4, 4)).data.copy()
    fr.manual_seed(11)
    np.testing.assert_array_equal(init.normal_(_param(4, 4)).data, a)
