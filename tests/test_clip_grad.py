"""Tests for fastrnn.nn.utils clipping: clip_grad_norm_ and clip_grad_value_ vs torch."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from fastrnn import nn
from fastrnn.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

SHAPES = [(3, 4), (5,), (2, 2, 2)]
RTOL = {"rtol": 1e-10, "atol": 1e-12}


def make_params(
    rng: np.random.Generator, scale: float = 1.0, none_at: int | None = None
) -> list[nn.Parameter]:
    params = [nn.Parameter(rng.standard_normal(s)) for s in SHAPES]
    for i, p in enumerate(params):
        if i != none_at:
            p.grad = scale * rng.standard_normal(p.shape)
    return params


def torch_params(torch: ModuleType, params: list[nn.Parameter]) -> list[Any]:
    out = []
    for p in params:
        tp = torch.nn.Parameter(torch.tensor(p.data))
        tp.grad = None if p.grad is None else torch.tensor(p.grad)
        out.append(tp)
    return out


def assert_grads_close(params: list[nn.Parameter], tparams: list[Any]) -> None:
    for p, tp in zip(params, tparams, strict=True):
        if p.grad is None:
            assert tp.grad is None
        else:
            np.testing.assert_allclose(p.grad, tp.grad.numpy(), **RTOL)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
@pytest.mark.parametrize("none_at", [None, 1])
def test_clip_grad_norm_matches_torch(
    norm_type: Any,
    max_norm: float,
    none_at: int | None,
    rng: np.random.Generator,
    torch: ModuleType,
) -> None:
    params = make_params(rng, none_at=none_at)
    tparams = torch_params(torch, params)
    total = clip_grad_norm_(params, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    np.testing.assert_allclose(total, expected.item(), **RTOL)
    assert_grads_close(params, tparams)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clipped_norm_is_max_norm(norm_type: float, rng: np.random.Generator) -> None:
    params = make_params(rng, scale=10.0)
    before = clip_grad_norm_(params, 1.0, norm_type)
    after = get_total_norm([p.grad for p in params], norm_type)
    assert before > 1.0
    np.testing.assert_allclose(after, 1.0 * before / (before + 1e-6), rtol=1e-12)


def test_no_op_below_max_norm(rng: np.random.Generator) -> None:
    params = make_params(rng)
    grads = [p.grad.copy() for p in params]
    total = clip_grad_norm_(params, max_norm=100.0)
    expected = np.sqrt(sum((g**2).sum() for g in grads))
    np.testing.assert_allclose(total, expected, rtol=1e-12)
    for p, g in zip(params, grads, strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_scales_in_place_and_accepts_one_tensor_or_generator(
    rng: np.random.Generator,
) -> None:
    params = make_params(rng, scale=10.0)
    grad = params[0].grad
    total = clip_grad_norm_(params[0], 1.0)
    assert params[0].grad is grad
    np.testing.assert_allclose(np.linalg.norm(grad), total / (total + 1e-6))
    clip_grad_norm_((p for p in params), 1.0)  # a generator is consumed once
    np.testing.assert_allclose(get_total_norm([p.grad for p in params]), 1.0, rtol=1e-5)


def test_no_grads_gives_zero(rng: np.random.Generator) -> None:
    params = make_params(rng, none_at=0)[:1]
    assert clip_grad_norm_(params, 1.0) == 0.0
    assert clip_grad_norm_([], 1.0) == 0.0
    clip_grad_value_(params, 1.0)
    assert params[0].grad is None


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
@pytest.mark.parametrize("norm_type", [2.0, math.inf])
def test_error_if_nonfinite(
    bad: float, norm_type: float, rng: np.random.Generator
) -> None:
    params = make_params(rng)
    params[1].grad[2] = bad
    grads = [p.grad.copy() for p in params]
    with pytest.raises(RuntimeError, match="expected a finite total norm"):
        clip_grad_norm_(params, 1.0, norm_type, error_if_nonfinite=True)
    for p, g in zip(params, grads, strict=True):  # nothing was scaled
        np.testing.assert_array_equal(p.grad, g)


@pytest.mark.parametrize("bad", [np.inf, np.nan])
def test_nonfinite_without_error_matches_torch(
    bad: float, rng: np.random.Generator, torch: ModuleType
) -> None:
    params = make_params(rng)
    params[1].grad[2] = bad
    tparams = torch_params(torch, params)
    total = clip_grad_norm_(params, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(tparams, 1.0)
    np.testing.assert_equal(total, expected.item())
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_equal(p.grad, tp.grad.numpy())


@pytest.mark.parametrize("clip_value", [0.3, 1.0, 10.0])
@pytest.mark.parametrize("none_at", [None, 2])
def test_clip_grad_value_matches_torch(
    clip_value: float, none_at: int | None, rng: np.random.Generator, torch: ModuleType
) -> None:
    params = make_params(rng, scale=2.0, none_at=none_at)
    params[0].grad[0, 0] = np.nan
    grad = params[0].grad
    tparams = torch_params(torch, params)
    assert clip_grad_value_(params, clip_value) is None
    torch.nn.utils.clip_grad_value_(tparams, clip_value)
    assert params[0].grad is grad  # in place
    for p, tp in zip(params, tparams, strict=True):
        if p.grad is not None:
            np.testing.assert_equal(p.grad, tp.grad.numpy())
            assert (np.abs(p.grad[~np.isnan(p.grad)]) <= clip_value).all()


def test_clip_grads_with_norm_matches_split_torch_api(
    rng: np.random.Generator, torch: ModuleType
) -> None:
    params = make_params(rng, scale=3.0)
    tparams = torch_params(torch, params)
    total = get_total_norm([p.grad for p in params], 1.0)
    clip_grads_with_norm_(params, 2.0, total)
    ttotal = torch.nn.utils.get_total_norm([p.grad for p in tparams], 1.0)
    torch.nn.utils.clip_grads_with_norm_(tparams, 2.0, ttotal)
    np.testing.assert_allclose(total, ttotal.item(), **RTOL)
    assert_grads_close(params, tparams)


def test_float32_grads_stay_float32(rng: np.random.Generator) -> None:
    p = nn.Parameter(np.zeros(4, dtype=np.float32))
    p.grad = (10 * rng.standard_normal(4)).astype(np.float32)
    clip_grad_norm_([p], 1.0)
    clip_grad_value_([p], 0.1)
    assert p.grad.dtype == np.float32
