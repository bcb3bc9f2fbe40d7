"""Tests for fastrnn.tasks.gradient_flow: exploding / vanishing ||dL/dh_t|| and clipping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastrnn import nn
from fastrnn.tasks.gradient_flow import (
    EXPLODING_SIGMA2,
    VANISHING_SIGMA2,
    ReluRNNRegressor,
    clipping_effect,
    compare_inits,
    gradient_flow,
    log_growth,
)

KW = {"T": 40, "hidden_size": 128, "input_size": 4, "batch": 8}


def coarse_log_trend(norms: np.ndarray, stride: int = 5) -> np.ndarray:
    """Differences of ln ||dL/dh_t|| every ``stride`` steps (sign = trend)."""
    return np.diff(np.log(norms[::stride]))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_exploding_init_grows_with_distance_from_loss(seed):
    flow = gradient_flow(EXPLODING_SIGMA2, seed=seed, **KW)
    g = flow["grad_norm"]
    assert g.shape == (KW["T"],) and flow["grad_h_norm"].shape == (KW["T"], KW["batch"])
    # t = T-1 is next to the loss: going back in time the norm must rise steadily
    assert np.all(coarse_log_trend(g) < 0)
    assert g[0] > 100 * g[-1]
    assert flow["growth"] > 1.1
    assert flow["growth"] == pytest.approx(flow["theory"], abs=0.15)  # sqrt(3/2)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_vanishing_init_shrinks_with_distance_from_loss(seed):
    flow = gradient_flow(VANISHING_SIGMA2, seed=seed, **KW)
    g = flow["grad_norm"]
    assert np.all(coarse_log_trend(g) > 0)
    assert g[0] < 0.05 * g[-1]
    assert flow["growth"] < 0.95
    assert flow["growth"] == pytest.approx(flow["theory"], abs=0.1)  # sqrt(3/4)


def test_compare_inits_returns_plain_arrays_and_is_deterministic():
    a = compare_inits(seed=1, **KW)
    b = compare_inits(seed=1, **KW)
    assert set(a) == {3.0, 1.5}
    for s in a:
        for key, value in a[s].items():
            assert isinstance(value, (np.ndarray, float)), key
            np.testing.assert_array_equal(value, b[s][key])
    # explode vs vanish: same data and seed, only sigma2 differs
    assert a[3.0]["grad_norm"][0] > 1e4 * a[1.5]["grad_norm"][0]
    assert np.all(np.isfinite(a[3.0]["h_norm"]))
    assert a[3.0]["h_norm"][-1] > 10 * a[1.5]["h_norm"][-1]  # forward states grow too


def test_relu_rnn_regressor_init():
    model = ReluRNNRegressor(3, 200, sigma2=3.0)
    W = model.rnn.weight_hh_l0.data
    assert model.rnn.nonlinearity == "relu"
    assert W.var() == pytest.approx(3.0 / 200, rel=0.05)
    assert np.all(model.rnn.bias_hh_l0.data == 0)
    assert model(np.zeros((5, 2, 3))).shape == (2,)
    assert isinstance(model.rnn, nn.RNN)


def test_clipping_caps_the_norm_and_keeps_training_stable():
    res = clipping_effect(steps=6, max_norm=1.0, lr=0.01, seed=0)
    clipped, raw = res["clipped"], res["unclipped"]
    assert clipped["loss"].shape == (6,)
    assert np.all(clipped["norm_before"] > 1.0)  # exploding: every step would clip
    assert np.all(clipped["norm_after"] <= 1.0 + 1e-6)
    np.testing.assert_allclose(clipped["norm_after"], 1.0, rtol=1e-5)
    np.testing.assert_array_equal(raw["norm_after"], raw["norm_before"])
    # same start, then clipping lowers the loss while the raw step blows up
    assert clipped["loss"][0] == raw["loss"][0]
    assert np.all(np.diff(clipped["loss"]) < 0)
    assert clipped["final_loss"] < clipped["loss"][0]
    assert (
        not math.isfinite(raw["final_loss"]) or raw["final_loss"] > 1e3 * raw["loss"][0]
    )


def test_log_growth_on_geometric_series():
    t = np.arange(20)
    assert log_growth(5.0 * 1.3 ** (-t)) == pytest.approx(1.3)
    assert log_growth(2.0 * 0.8 ** (-t)) == pytest.approx(0.8)
    with_bad = 1.3 ** (-t.astype(float))
    with_bad[3] = np.nan
    assert log_growth(with_bad) == pytest.approx(1.3)
    with pytest.raises(ValueError, match="1-D"):
        log_growth(np.ones((2, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        log_growth(np.array([1.0, np.inf, 0.0]))


def test_argument_errors():
    with pytest.raises(ValueError, match="T >= 2"):
        gradient_flow(3.0, T=1)
    with pytest.raises(ValueError, match="max_norm > 0"):
        clipping_effect(max_norm=0.0)
