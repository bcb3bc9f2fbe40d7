"""Tests for fastrnn.optim.lr_scheduler: learning-rate sequences against torch's."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from fastrnn import nn, optim
from fastrnn.optim import lr_scheduler

N_STEPS = 30
LRS = (0.1, 0.02)
# a metric that improves, stalls, improves a little, then stalls for long
METRICS = [
    1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.7, 0.7,
    0.7, 0.7, 0.71, 0.72, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
    0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,
]  # fmt: skip
MAX_METRICS = [-m for m in METRICS]

# (name, builder(module, optimizer) -> scheduler); module is fastrnn's or torch's
Builder = Callable[[Any, Any], Any]


def _sequential(m: Any, o: Any) -> Any:
    warmup = m.LinearLR(o, start_factor=0.1, total_iters=5)
    return m.SequentialLR(o, [warmup, m.CosineAnnealingLR(o, T_max=20)], milestones=[5])


def _sequential3(m: Any, o: Any) -> Any:
    scheds = [
        m.ExponentialLR(o, gamma=0.9),
        m.StepLR(o, step_size=4, gamma=0.5),
        m.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
    ]
    return m.SequentialLR(o, scheds, milestones=[6, 15])


SCHEDULERS: list[tuple[str, Builder]] = [
    ("StepLR", lambda m, o: m.StepLR(o, step_size=4)),
    ("StepLR-gamma", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    ("ExponentialLR", lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    ("Cosine", lambda m, o: m.CosineAnnealingLR(o, T_max=30)),
    ("Cosine-restart", lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.005)),
    ("LinearLR", lambda m, o: m.LinearLR(o)),
    ("LinearLR-args", lambda m, o: m.LinearLR(o, 0.25, 0.75, total_iters=9)),
    ("LinearLR-decay", lambda m, o: m.LinearLR(o, 1.0, 0.0, total_iters=20)),
    ("SequentialLR", _sequential),
    ("SequentialLR-3", _sequential3),
    (
        "chained",  # two schedulers on one optimizer compose
        lambda m, o: [m.ExponentialLR(o, gamma=0.95), m.StepLR(o, step_size=5)],
    ),
]

PLATEAUS: list[tuple[str, dict[str, Any], list[float]]] = [
    ("defaults", {}, METRICS),
    ("patience", {"patience": 2, "factor": 0.5}, METRICS),
    ("cooldown", {"patience": 1, "factor": 0.5, "cooldown": 3}, METRICS),
    ("abs", {"patience": 1, "threshold": 0.05, "threshold_mode": "abs"}, METRICS),
    ("min_lr", {"patience": 0, "factor": 0.3, "min_lr": 1e-3}, METRICS),
    ("min_lrs", {"patience": 0, "factor": 0.3, "min_lr": [1e-2, 1e-4]}, METRICS),
    ("eps", {"patience": 0, "factor": 0.5, "eps": 1e-3}, METRICS),
    ("max", {"mode": "max", "patience": 1}, MAX_METRICS),
    ("max-abs", {"mode": "max", "patience": 1, "threshold_mode": "abs"}, MAX_METRICS),
]


def _ours(lrs: tuple[float, ...] = LRS) -> optim.SGD:
    return optim.SGD([{"params": [nn.Parameter(np.zeros(2))], "lr": lr} for lr in lrs])


def _theirs(torch: ModuleType, lrs: tuple[float, ...] = LRS) -> Any:
    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups)


def _as_list(s: Any) -> list[Any]:
    return s if isinstance(s, list) else [s]


def _lr_sequence(
    opt: Any, scheds: list[Any], n: int, metrics: list[float] | None = None
):
    lrs = [[g["lr"] for g in opt.param_groups]]
    last = [list(scheds[-1].get_last_lr())]
    for t in range(n):
        opt.step()
        for s in scheds:
            s.step() if metrics is None else s.step(metrics[t])
        lrs.append([g["lr"] for g in opt.param_groups])
        last.append(list(scheds[-1].get_last_lr()))
    return np.array(lrs), np.array(last)


@pytest.mark.parametrize(("name", "build"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
def test_matches_torch(name: str, build: Builder, torch: ModuleType) -> None:
    ours = _ours()
    theirs = _theirs(torch)
    a_lr, a_last = _lr_sequence(ours, _as_list(build(lr_scheduler, ours)), N_STEPS)
    b_lr, b_last = _lr_sequence(
        theirs, _as_list(build(torch.optim.lr_scheduler, theirs)), N_STEPS
    )
    np.testing.assert_allclose(a_lr, b_lr, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a_last, b_last, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(a_lr, a_last)


@pytest.mark.parametrize(
    ("name", "kwargs", "metrics"), PLATEAUS, ids=[p[0] for p in PLATEAUS]
)
def test_reduce_on_plateau_matches_torch(
    name: str, kwargs: dict[str, Any], metrics: list[float], torch: ModuleType
) -> None:
    ours, theirs = _ours(), _theirs(torch)
    a = lr_scheduler.ReduceLROnPlateau(ours, **kwargs)
    b = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **kwargs)
    a_lr, a_last = _lr_sequence(ours, [a], N_STEPS, metrics)
    b_lr, b_last = _lr_sequence(theirs, [b], N_STEPS, metrics)
    np.testing.assert_allclose(a_lr, b_lr, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a_last, b_last, rtol=1e-12, atol=0)
    assert a.best == b.best and a.num_bad_epochs == b.num_bad_epochs
    if kwargs:  # the script triggers reductions (patience 10 is never exhausted)
        assert (a_lr[-1] < a_lr[0]).all()


def test_warmup_cosine(torch: ModuleType) -> None:
    ours, theirs = _ours(), _theirs(torch)
    a = lr_scheduler.warmup_cosine(ours, 5, 30, start_factor=0.1, eta_min=1e-3)
    tl = torch.optim.lr_scheduler
    b = tl.SequentialLR(
        theirs,
        [
            tl.LinearLR(theirs, start_factor=0.1, total_iters=5),
            tl.CosineAnnealingLR(theirs, T_max=25, eta_min=1e-3),
        ],
        milestones=[5],
    )
    a_lr, _ = _lr_sequence(ours, [a], N_STEPS)
    b_lr, _ = _lr_sequence(theirs, [b], N_STEPS)
    np.testing.assert_allclose(a_lr, b_lr, rtol=1e-12)
    np.testing.assert_allclose(a_lr[0], np.array(LRS) * 0.1)  # warmup start
    np.testing.assert_allclose(a_lr[5], LRS)  # peak after warmup
    np.testing.assert_allclose(a_lr[30], 1e-3)  # eta_min at total_steps
    assert (np.diff(a_lr[:6, 0]) > 0).all() and (np.diff(a_lr[5:, 0]) < 0).all()


@pytest.mark.parametrize(
    ("name", "build"), SCHEDULERS[:8], ids=[s[0] for s in SCHEDULERS[:8]]
)
def test_epoch_argument_uses_closed_form(
    name: str, build: Builder, torch: ModuleType
) -> None:
    ours, theirs = _ours(), _theirs(torch)
    a, b = build(lr_scheduler, ours), build(torch.optim.lr_scheduler, theirs)
    for epoch in (3, 11, 7, 25):
        with pytest.warns(UserWarning, match="deprecated"):
            a.step(epoch)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            b.step(epoch)
        np.testing.assert_allclose(a.get_last_lr(), b.get_last_lr(), rtol=1e-12)


def test_cosine_closed_form_agrees_with_recursion() -> None:
    opt = _ours()
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=12, eta_min=0.01)
    for t in range(1, 40):
        opt.step()
        sched.step()
        expected = [
            0.01 + (lr - 0.01) * (1 + math.cos(math.pi * t / 12)) / 2 for lr in LRS
        ]
        np.testing.assert_allclose(sched.get_last_lr(), expected, rtol=1e-10)


ROUND_TRIP = [*SCHEDULERS[:2], SCHEDULERS[4], SCHEDULERS[6], *SCHEDULERS[8:10]]


@pytest.mark.parametrize(("name", "build"), ROUND_TRIP, ids=[s[0] for s in ROUND_TRIP])
def test_state_dict_round_trip(name: str, build: Builder) -> None:
    reference = _ours()
    expected, _ = _lr_sequence(reference, [build(lr_scheduler, reference)], N_STEPS)

    first = _ours()
    sched = build(lr_scheduler, first)
    _lr_sequence(first, [sched], 10)
    opt_state = first.state_dict()
    sched_state = json.loads(json.dumps(sched.state_dict()))  # JSON-friendly

    fresh = _ours()
    resumed = build(lr_scheduler, fresh)
    fresh.load_state_dict(opt_state)
    resumed.load_state_dict(sched_state)
    assert resumed.get_last_lr() == expected[10].tolist()
    got, _ = _lr_sequence(fresh, [resumed], N_STEPS - 10)
    np.testing.assert_allclose(got, expected[10:], rtol=1e-12)


def test_plateau_state_dict_round_trip() -> None:
    kwargs = {"patience": 1, "factor": 0.5, "cooldown": 2}
    reference = _ours()
    expected, _ = _lr_sequence(
        reference, [lr_scheduler.ReduceLROnPlateau(reference, **kwargs)], 30, METRICS
    )
    first = _ours()
    sched = lr_scheduler.ReduceLROnPlateau(first, **kwargs)
    _lr_sequence(first, [sched], 13, METRICS)
    opt_state, sched_state = (
        first.state_dict(),
        json.loads(json.dumps(sched.state_dict())),
    )
    fresh = _ours()
    resumed = lr_scheduler.ReduceLROnPlateau(fresh)  # options come from the state
    fresh.load_state_dict(opt_state)
    resumed.load_state_dict(sched_state)
    got, _ = _lr_sequence(fresh, [resumed], 17, METRICS[13:])
    np.testing.assert_allclose(got, expected[13:], rtol=1e-12)


def test_resume_with_last_epoch_needs_initial_lr() -> None:
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(_ours(), step_size=2, last_epoch=4)
    opt = _ours()
    lr_scheduler.ExponentialLR(opt, gamma=0.5)
    resumed = lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
    assert resumed.last_epoch == 4 and resumed.base_lrs == list(LRS)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size >= 1"),
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, r"\(0, 1\]"),
        (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, "end_factor"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "< 1.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError, "'min'"),
        (
            lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"),
            ValueError,
            "'rel'",
        ),
        (
            lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]),
            ValueError,
            "expected 2 min_lrs",
        ),
        (
            lambda o: lr_scheduler.SequentialLR(
                o, [lr_scheduler.ReduceLROnPlateau(o)], milestones=[]
            ),
            ValueError,
            "ReduceLROnPlateau",
        ),
        (
            lambda o: lr_scheduler.SequentialLR(
                o, [lr_scheduler.StepLR(o, 2), lr_scheduler.StepLR(o, 3)], []
            ),
            ValueError,
            "expected 1 milestones",
        ),
        (
            lambda o: lr_scheduler.SequentialLR(
                o, [lr_scheduler.StepLR(_ours(), 2)], []
            ),
            ValueError,
            "belong to the given optimizer",
        ),
        (lambda o: lr_scheduler.StepLR("sgd", 2), TypeError, "expected an Optimizer"),
        (
            lambda o: lr_scheduler.warmup_cosine(o, 10, 10),
            ValueError,
            "total_steps > warmup_steps",
        ),
    ],
)
def test_bad_arguments_raise(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make(_ours())
