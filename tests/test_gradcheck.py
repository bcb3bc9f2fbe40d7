"""The finite-difference harness must pass right gradients and catch wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from fastrnn.gradcheck import directional_check, full_check

CHECKS = pytest.mark.parametrize("check", [directional_check, full_check])


def cubic(params):
    """f = sum(x**3) + sum(w * x)  (x and w of the same shape)."""
    x, w = params["x"], params["weight"]
    return float(np.sum(x**3) + np.sum(w * x))


@pytest.fixture
def params(rng):
    return {"x": rng.standard_normal((3, 2)), "weight": rng.standard_normal((3, 2))}


def right_grads(params):
    x, w = params["x"], params["weight"]
    return {"x": 3 * x**2 + w, "weight": x.copy()}


@CHECKS
def test_right_gradients_pass(check, params):
    before = {name: p.copy() for name, p in params.items()}
    errors = check(cubic, params, right_grads(params))
    assert set(errors) == {"x", "weight"}
    assert all(0.0 <= e < 1e-7 for e in errors.values())
    for name in params:  # the check perturbs copies, never the caller's arrays
        np.testing.assert_array_equal(params[name], before[name])


@CHECKS
def test_wrong_gradient_raises_naming_the_parameter(check, params):
    grads = right_grads(params)
    x = params["x"]
    grads["x"] = 2 * x**2 + params["weight"]  # should be 3 x**2
    with pytest.raises(AssertionError, match="parameter 'x'"):
        check(cubic, params, grads)

    grads = right_grads(params)
    grads["weight"] = 1.01 * grads["weight"]
    with pytest.raises(AssertionError, match="parameter 'weight'"):
        check(cubic, params, grads)


@CHECKS
def test_single_wrong_entry_is_caught(check, params):
    grads = right_grads(params)
    grads["x"][1, 0] += 1e-3
    with pytest.raises(AssertionError, match="'x'"):
        check(cubic, params, grads)


def test_full_check_names_the_wrong_entry(params):
    grads = right_grads(params)
    grads["weight"][2, 1] += 1.0
    with pytest.raises(AssertionError, match=r"'weight' \(entry \(2, 1\)\)"):
        full_check(cubic, params, grads)


def test_directional_check_is_reproducible_with_a_seed(params):
    grads = right_grads(params)
    grads["x"] = grads["x"] + 1e-9  # a tiny error, so the reported errors are > 0
    first = directional_check(cubic, params, grads, rng=1)
    second = directional_check(cubic, params, grads, rng=1)
    assert first == second


@CHECKS
@pytest.mark.parametrize("wrong", ["params", "grads"])
def test_float32_is_rejected(check, params, wrong):
    grads = right_grads(params)
    target = params if wrong == "params" else grads
    target["x"] = target["x"].astype(np.float32)
    with pytest.raises(TypeError, match="float64.*'x'.*float32"):
        check(cubic, params, grads)


@CHECKS
def test_mismatched_gradients_are_rejected(check, params):
    grads = right_grads(params)
    with pytest.raises(ValueError, match="shape"):
        check(cubic, params, dict(grads, x=grads["x"].ravel()))
    with pytest.raises(ValueError, match="Expected gradients"):
        check(cubic, params, {"x": grads["x"]})
