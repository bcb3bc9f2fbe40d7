"""Tests for fastrnn.optim: every optimizer and option against torch.optim."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn, optim

SHAPES = [(3, 4), (4,), (2, 1, 3)]
N_STEPS = 6
RTOL = {"rtol": 1e-10, "atol": 1e-12}

CASES: list[tuple[str, dict[str, Any]]] = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.5, "maximize": True}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.95), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "maximize": True, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.02, "weight_decay": 0.3, "amsgrad": True}),
    ("AdamW", {"lr": 0.02, "maximize": True, "betas": (0.5, 0.9)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "maximize": True}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
    ("Adagrad", {"lr": 0.1, "maximize": True}),
]


def _case_id(case: tuple[str, dict[str, Any]]) -> str:
    name, kwargs = case
    return name + (
        "-" + "-".join(f"{k}={v}" for k, v in kwargs.items()) if kwargs else ""
    )


def make_params(rng: np.random.Generator) -> list[nn.Parameter]:
    return [nn.Parameter(rng.standard_normal(s)) for s in SHAPES]


def make_grads(rng: np.random.Generator, n_steps: int) -> list[list[np.ndarray | None]]:
    """Per step, one gradient per parameter; the last one has none on step 2."""
    steps = []
    for t in range(n_steps):
        grads: list[np.ndarray | None] = [rng.standard_normal(s) for s in SHAPES]
        if t == 2:
            grads[-1] = None
        steps.append(grads)
    return steps


def run_fastrnn(
    opt: optim.Optimizer, params: list[nn.Parameter], grads: list[list[Any]]
) -> list[list[np.ndarray]]:
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = None if g is None else g.copy()
        opt.step()
        history.append([p.data.copy() for p in params])
    return history


def run_torch(
    torch: ModuleType,
    name: str,
    kwargs: dict[str, Any],
    init: list[np.ndarray],
    grads: list[list[Any]],
    groups: list[dict[str, Any]] | None = None,
) -> list[list[np.ndarray]]:
    params = [torch.nn.Parameter(torch.tensor(a, dtype=torch.float64)) for a in init]
    spec: Any = params
    if groups is not None:
        spec = [{**g, "params": [params[i] for i in g["params"]]} for g in groups]
    opt = getattr(torch.optim, name)(spec, **kwargs)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = None if g is None else torch.tensor(g)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


def assert_histories_close(ours: list, theirs: list) -> None:
    for t, (a_step, b_step) in enumerate(zip(ours, theirs, strict=True)):
        for i, (a, b) in enumerate(zip(a_step, b_step, strict=True)):
            np.testing.assert_allclose(a, b, **RTOL, err_msg=f"step {t}, param {i}")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_torch(
    case: tuple[str, dict[str, Any]], rng: np.random.Generator, torch: ModuleType
) -> None:
    name, kwargs = case
    params = make_params(rng)
    init = [p.data.copy() for p in params]
    grads = make_grads(rng, N_STEPS)
    opt = getattr(optim, name)(params, **kwargs)
    ours = run_fastrnn(opt, params, grads)
    theirs = run_torch(torch, name, kwargs, init, grads)
    assert_histories_close(ours, theirs)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_defaults_match_torch(name: str, torch: ModuleType) -> None:
    ours = getattr(optim, name)([nn.Parameter(np.zeros(2))])
    theirs = getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(2))])
    for key, value in ours.defaults.items():
        expected = theirs.defaults[key]
        assert value == (tuple(expected) if isinstance(expected, tuple) else expected)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("SGD", {"momentum": 0.9, "weight_decay": 0.01}),
        ("Adam", {"amsgrad": True}),
        ("RMSprop", {"momentum": 0.3, "centered": True}),
        ("Adagrad", {"lr_decay": 0.1}),
    ],
)
def test_param_groups_with_different_options(
    name: str, kwargs: dict[str, Any], rng: np.random.Generator, torch: ModuleType
) -> None:
    params = make_params(rng)
    init = [p.data.copy() for p in params]
    grads = make_grads(rng, N_STEPS)
    groups = [{"params": [0, 2]}, {"params": [1], "lr": 0.3, "weight_decay": 0.2}]
    opt = getattr(optim, name)(
        [{**g, "params": [params[i] for i in g["params"]]} for g in groups], **kwargs
    )
    assert opt.param_groups[1]["lr"] == 0.3
    assert opt.param_groups[0]["lr"] == opt.defaults["lr"]
    ours = run_fastrnn(opt, params, grads)
    theirs = run_torch(torch, name, kwargs, init, grads, groups)
    assert_histories_close(ours, theirs)


@pytest.mark.parametrize("case", CASES[2::3], ids=[_case_id(c) for c in CASES[2::3]])
@pytest.mark.parametrize("via_json", [False, True])
def test_state_dict_round_trip(
    case: tuple[str, dict[str, Any]], via_json: bool, rng: np.random.Generator
) -> None:
    name, kwargs = case
    params = make_params(rng)
    init = [p.data.copy() for p in params]
    grads = make_grads(rng, N_STEPS)
    cls = getattr(optim, name)

    uninterrupted = run_fastrnn(cls(params, **kwargs), params, grads)

    params = [nn.Parameter(a.copy()) for a in init]
    first = cls(params, **kwargs)
    run_fastrnn(first, params, grads[:3])
    saved = first.state_dict()
    run_fastrnn(first, params, grads[3:4])  # later steps must not change the snapshot
    for p, a in zip(params, uninterrupted[2], strict=True):
        p.data[...] = a
    if via_json:  # what a checkpoint does: arrays apart, groups and indices as JSON
        arrays = {(i, k): v for i, s in saved["state"].items() for k, v in s.items()}
        groups = json.loads(json.dumps(saved["param_groups"]))
        state: dict[str, dict[str, np.ndarray]] = {}
        for (i, k), v in arrays.items():
            state.setdefault(str(i), {})[k] = v
        saved = {"state": state, "param_groups": groups}

    fresh = cls(params, lr=123.0)  # options come from the state dict
    fresh.load_state_dict(saved)
    assert fresh.param_groups[0]["lr"] == kwargs.get("lr", first.defaults["lr"])
    resumed = run_fastrnn(fresh, params, grads[3:])
    assert_histories_close(resumed, uninterrupted[3:])


def test_state_dict_layout_matches_torch(
    rng: np.random.Generator, torch: ModuleType
) -> None:
    params = make_params(rng)
    tparams = [torch.nn.Parameter(torch.tensor(p.data)) for p in params]
    ours = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}])
    theirs = torch.optim.Adam(
        [{"params": tparams[:2]}, {"params": tparams[2:], "lr": 0.1}]
    )
    for p, tp in zip(params, tparams, strict=True):
        p.grad = np.ones_like(p.data)
        tp.grad = torch.ones_like(tp)
    ours.step()
    theirs.step()
    a, b = ours.state_dict(), theirs.state_dict()
    assert a["state"].keys() == b["state"].keys()
    for i, s in a["state"].items():
        assert s.keys() == b["state"][i].keys()
        for k, v in s.items():
            assert isinstance(v, np.ndarray)
            np.testing.assert_allclose(v, b["state"][i][k].numpy(), **RTOL)
    for g, tg in zip(a["param_groups"], b["param_groups"], strict=True):
        assert g["params"] == tg["params"]
        assert {k: v for k, v in tg.items() if k in g} == g

    # a torch state dict loads too (tensors become arrays)
    fresh = optim.Adam([{"params": params[:2]}, {"params": params[2:]}])
    fresh.load_state_dict(b)
    assert fresh.param_groups[1]["lr"] == 0.1
    np.testing.assert_allclose(
        fresh.state[params[0]]["exp_avg"], a["state"][0]["exp_avg"]
    )


def test_load_state_dict_rejects_mismatch(rng: np.random.Generator) -> None:
    params = make_params(rng)
    saved = optim.SGD(params, lr=0.1).state_dict()
    with pytest.raises(ValueError, match="expected 2 parameter groups"):
        optim.SGD([{"params": params[:1]}, {"params": params[1:]}]).load_state_dict(
            saved
        )
    with pytest.raises(ValueError, match="expected 2 parameters in parameter group 0"):
        optim.SGD(params[:2]).load_state_dict(saved)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_zero_grad(name: str, rng: np.random.Generator) -> None:
    params = make_params(rng)
    opt = getattr(optim, name)(params)
    for p in params:
        p.grad = np.ones_like(p.data)
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert grad is params[0].grad and not grad.any()
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    before = [p.data.copy() for p in params]
    opt.step()  # nothing has a gradient: nothing moves, no state is created
    for p, b in zip(params, before, strict=True):
        np.testing.assert_array_equal(p.data, b)


def test_updates_in_place_and_keeps_dtype(rng: np.random.Generator) -> None:
    p = nn.Parameter(rng.standard_normal(5).astype(np.float32))
    data = p.data
    opt = optim.Adam([p], lr=0.1, weight_decay=0.1)
    p.grad = np.ones(5, dtype=np.float32)
    opt.step()
    assert p.data is data and p.data.dtype == np.float32
    assert opt.state[p]["exp_avg"].dtype == np.float32


def test_trains_a_module_with_autograd(rng: np.random.Generator) -> None:
    model = nn.Linear(3, 1, dtype=np.float64)
    x = fr.tensor(rng.standard_normal((32, 3)).astype(model.weight.data.dtype))
    y = x.data @ np.array([[1.0], [-2.0], [0.5]], dtype=x.data.dtype)
    opt = optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model(x), fr.tensor(y))
        loss.backward()
        opt.step()
        losses.append(float(loss.data))
    assert losses[-1] < 0.01 * losses[0]


def test_closure_is_called_and_returned() -> None:
    p = nn.Parameter(np.array([2.0]))
    opt = optim.SGD([p], lr=0.25)

    def closure() -> float:
        assert fr.is_grad_enabled()
        p.grad = 2 * p.data  # d/dp p**2
        return float(p.data[0] ** 2)

    with fr.no_grad():
        assert opt.step(closure) == 4.0
    np.testing.assert_allclose(p.data, [1.0])


def test_named_parameters_and_add_param_group(rng: np.random.Generator) -> None:
    a, b = make_params(rng)[:2]
    opt = optim.SGD([("a", a)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["a"]
    with pytest.raises(ValueError, match="named"):
        opt.add_param_group({"params": [b]})
    opt.add_param_group({"params": [("b", b)], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["momentum"] == 0
    with pytest.raises(ValueError, match="at most one parameter group"):
        opt.add_param_group({"params": [("b2", b)]})
    assert "Parameter Group 1" in repr(opt)


def test_adagrad_state_for_later_groups(rng: np.random.Generator) -> None:
    a, b = make_params(rng)[:2]
    opt = optim.Adagrad([a], initial_accumulator_value=0.1)
    assert opt.state[a]["sum"][0, 0] == 0.1
    opt.add_param_group({"params": [b], "initial_accumulator_value": 0.2})
    assert opt.state[b]["sum"][0] == 0.2


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: optim.SGD(p, lr=-1), "expected lr >= 0, got -1"),
        (lambda p: optim.SGD(p, momentum=-0.1), "expected momentum >= 0"),
        (lambda p: optim.SGD(p, nesterov=True), "expected momentum > 0 and dampening"),
        (
            lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True),
            "dampening=0.1",
        ),
        (lambda p: optim.SGD(p, weight_decay=-1), "expected weight_decay >= 0"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.9)), r"expected betas\[0\] in \[0, 1\)"),
        (lambda p: optim.Adam(p, betas=(0.9, -0.1)), r"expected betas\[1\]"),
        (lambda p: optim.AdamW(p, eps=-1), "expected eps >= 0"),
        (lambda p: optim.RMSprop(p, alpha=-1), "expected alpha >= 0"),
        (lambda p: optim.Adagrad(p, lr_decay=-1), "expected lr_decay >= 0"),
        (
            lambda p: optim.Adagrad(p, initial_accumulator_value=-1),
            "expected initial_accumulator_value >= 0",
        ),
        (lambda p: optim.SGD([{"params": p, "lr": -0.5}]), "expected lr >= 0"),
        (lambda p: optim.SGD([]), "expected a non-empty parameter list"),
    ],
)
def test_bad_options_raise(make: Any, match: str, rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=match):
        make(make_params(rng))


def test_bad_params_raise(rng: np.random.Generator) -> None:
    p = make_params(rng)[0]
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="got a set"):
        optim.SGD([{"params": {p}}])
    with pytest.raises(TypeError, match="expected Tensors as optimizer params, got"):
        optim.SGD([np.zeros(3)])
    with pytest.raises(ValueError, match="leaf"):
        optim.SGD([p * 2])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_fused_adam_equals_the_numpy_formula(
    dtype, weight_decay, rng: np.random.Generator, monkeypatch
) -> None:
    """The one-pass Adam kernel (fastrnn._kernels.optim) does the NumPy formula's
    arithmetic: same parameters after several steps, bit for bit."""
    from fastrnn.optim import adam

    start = rng.standard_normal((300, 257)).astype(dtype)  # > 32k: threaded
    grads = [rng.standard_normal(start.shape).astype(dtype) for _ in range(4)]
    results = []
    for fused in (True, False):
        monkeypatch.setattr(adam, "FUSED", fused)
        p = nn.Parameter(start.copy())
        opt = optim.Adam([p], lr=1e-2, weight_decay=weight_decay)
        for g in grads:
            p.grad = g.copy()
            opt.step()
        results.append((p.data.copy(), opt.state[p]["exp_avg_sq"].copy()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_fused_adam_leaves_non_contiguous_state_to_numpy(
    rng: np.random.Generator,
) -> None:
    """Moments loaded as non-contiguous arrays must still be updated in place."""
    p = nn.Parameter(rng.standard_normal((6, 5)).astype(np.float32))
    opt = optim.Adam([p], lr=0.1)
    p.grad = np.ones((6, 5), np.float32)
    opt.step()
    state = opt.state[p]
    state["exp_avg"] = np.asfortranarray(state["exp_avg"])
    before = state["exp_avg"].copy()
    opt.step()
    assert not np.array_equal(state["exp_avg"], before)
