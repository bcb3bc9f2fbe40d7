"""The sampling rule (fastrnn.models.sampling) against direct probability checks."""

from __future__ import annotations

import numpy as np
import pytest

from fastrnn.models.sampling import check_sampling_args, sample_from_logits


def _empirical(logits, n, **kw):
    rng = np.random.default_rng(0)
    draws = [sample_from_logits(logits[None], rng.random(1), **kw)[0] for _ in range(n)]
    return np.bincount(draws, minlength=logits.size) / n


def test_frequencies_follow_softmax_at_temperature(rng):
    logits = rng.standard_normal(6)
    for temperature in (0.5, 1.0, 2.0):
        z = logits / temperature
        p = np.exp(z - z.max())
        p /= p.sum()
        freq = _empirical(logits, 2000, temperature=temperature)
        np.testing.assert_allclose(freq, p, atol=0.04)


def test_inverse_cdf_boundaries_are_exact():
    logits = np.log(np.array([[0.25, 0.25, 0.5]]))
    for u, want in (
        (0.0, 0),
        (0.2499, 0),
        (0.25, 1),
        (0.4999, 1),
        (0.5, 2),
        (0.9999, 2),
    ):
        assert sample_from_logits(logits, np.array([u]))[0] == want


def test_temperature_zero_is_first_argmax():
    logits = np.array([[1.0, 3.0, 3.0, 0.0]])
    assert sample_from_logits(logits, np.array([0.99]), temperature=0)[0] == 1


def test_top_k_keeps_ties_and_only_the_k_largest():
    logits = np.array([[0.0, 2.0, 1.0, 2.0, 1.0]])
    seen = {
        int(sample_from_logits(logits, np.array([u]), top_k=1)[0])
        for u in np.linspace(0, 0.999, 50)
    }
    assert seen == {1, 3}  # both tied maxima survive top_k=1
    seen = {
        int(sample_from_logits(logits, np.array([u]), top_k=3)[0])
        for u in np.linspace(0, 0.999, 200)
    }
    assert seen == {1, 2, 3, 4}


def test_top_p_keeps_the_smallest_prefix_reaching_p():
    p = np.array([0.1, 0.5, 0.3, 0.1])
    logits = np.log(p)[None]
    for top_p, allowed in (
        (0.5, {1}),
        (0.55, {1, 2}),
        (0.79, {1, 2}),
        (0.85, {0, 1, 2}),
    ):
        seen = {
            int(sample_from_logits(logits, np.array([u]), top_p=top_p)[0])
            for u in np.linspace(0, 0.999, 300)
        }
        assert seen == allowed, top_p


def test_rows_are_independent(rng):
    logits = rng.standard_normal((3, 5))
    u = rng.random(3)
    both = sample_from_logits(logits, u, top_k=3)
    single = [
        sample_from_logits(logits[b : b + 1], u[b : b + 1], top_k=3)[0]
        for b in range(3)
    ]
    assert both.tolist() == single


@pytest.mark.parametrize(
    "kwargs",
    [
        {"temperature": -1.0},
        {"temperature": float("nan")},
        {"top_k": -2},
        {"top_p": 0.0},
        {"top_p": 1.5},
        {"temperature": "1"},
    ],
)
def test_bad_arguments(kwargs):
    args = {"temperature": 1.0, "top_k": None, "top_p": None, **kwargs}
    with pytest.raises((TypeError, ValueError)):
        check_sampling_args(**args)
