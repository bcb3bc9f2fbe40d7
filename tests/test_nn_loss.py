"""Tests for the fused losses: values and gradients against torch in float64."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn
from fastrnn.gradcheck import full_check
from fastrnn.nn import functional as F

TOL = {"rtol": 1e-10, "atol": 1e-12}


def _compare(
    torch: Any, ours: Any, theirs: Any, x0: np.ndarray, extra: Any, g: Any = None
) -> None:
    """Run a loss in fastrnn and torch on the same inputs; compare value and grads."""
    x = fr.tensor(x0, requires_grad=True)
    out = ours(x, extra)
    xt = torch.tensor(x0, requires_grad=True)
    extra_t = torch.tensor(extra) if isinstance(extra, np.ndarray) else extra
    out_t = theirs(xt, extra_t)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL)
    if g is None:
        g = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **TOL)


# ==========================================================================
# Cross-entropy
# ==========================================================================

CE_CASES = {
    "N,C": ((6, 5), (6,)),
    "N,C,d": ((3, 5, 4), (3, 4)),
    "N,C,d1,d2": ((2, 4, 3, 2), (2, 3, 2)),
    "C": ((5,), ()),
    "N=1": ((1, 3), (1,)),
}


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", list(CE_CASES))
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_matches_torch(
    torch: Any, rng: Any, case: str, reduction: str, smoothing: float
) -> None:
    xs, ts = CE_CASES[case]
    C = xs[0] if len(xs) == 1 else xs[1]
    x0 = rng.standard_normal(xs) * 3
    t0 = rng.integers(0, C, ts)
    if t0.ndim and t0.size > 1:
        t0.flat[0] = -100  # one ignored target
    kw = {"reduction": reduction, "label_smoothing": smoothing}
    _compare(
        torch,
        lambda x, t: F.cross_entropy(x, t, **kw),
        lambda x, t: torch.nn.functional.cross_entropy(x, t, **kw),
        x0,
        t0,
    )


def test_cross_entropy_custom_ignore_index_and_module(torch: Any, rng: Any) -> None:
    x0 = rng.standard_normal((8, 4))
    t0 = np.array([0, 3, 3, 1, 2, 3, 0, 1])
    loss = nn.CrossEntropyLoss(ignore_index=3)
    tloss = torch.nn.CrossEntropyLoss(ignore_index=3)
    _compare(torch, loss, tloss, x0, t0)
    # mean divides by the number of non-ignored targets
    per = F.cross_entropy(fr.tensor(x0), t0, ignore_index=3, reduction="none").numpy()
    assert per[1] == 0 and per[2] == 0 and per[5] == 0
    assert loss(fr.tensor(x0), t0).item() == pytest.approx(per.sum() / 5)


def test_cross_entropy_all_ignored_is_nan_like_torch(torch: Any) -> None:
    x0 = np.zeros((2, 3))
    t0 = np.array([-100, -100])
    x = fr.tensor(x0, requires_grad=True)
    out = F.cross_entropy(x, t0)
    expected = torch.nn.functional.cross_entropy(torch.tensor(x0), torch.tensor(t0))
    assert np.isnan(out.item()) and np.isnan(expected.item())
    assert F.cross_entropy(x, t0, reduction="sum").item() == 0.0


def test_cross_entropy_gradcheck_and_stability(rng: Any) -> None:
    x0 = rng.standard_normal((3, 4, 2))
    t0 = np.array([[1, 3], [0, -100], [2, 2]])

    def f(p: dict[str, np.ndarray]) -> float:
        return F.cross_entropy(fr.tensor(p["x"]), t0, label_smoothing=0.1).item()

    x = fr.tensor(x0, requires_grad=True)
    F.cross_entropy(x, t0, label_smoothing=0.1).backward()
    full_check(f, {"x": x0}, {"x": x.grad})
    big = fr.tensor(np.array([[1e4, -1e4, 0.0]]), requires_grad=True)
    out = F.cross_entropy(big, np.array([1]))
    out.backward()
    assert out.item() == pytest.approx(2e4) and np.isfinite(big.grad).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_dtype(dtype: Any) -> None:
    x = fr.tensor(np.zeros((2, 3), dtype=dtype), requires_grad=True)
    out = F.cross_entropy(x, np.array([0, 1]))
    assert out.dtype == dtype and out.shape == ()
    out.backward()
    assert x.grad.dtype == dtype
    assert out.item() == pytest.approx(np.log(3), rel=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_class_last_equals_flattened_torch(
    torch: Any, rng: Any, reduction: str
) -> None:
    B, T, C = 2, 3, 5
    x0 = rng.standard_normal((B, T, C))
    t0 = rng.integers(0, C, (B, T))
    t0[0, 1] = -100

    def ours(x: Any, t: Any) -> Any:
        return F.cross_entropy(x, t, reduction=reduction, class_dim=-1)

    def theirs(x: Any, t: Any) -> Any:
        out = torch.nn.functional.cross_entropy(
            x.reshape(-1, C), t.reshape(-1), reduction=reduction
        )
        return out if reduction == "mean" else out.reshape(B, T)

    _compare(torch, ours, theirs, x0, t0)
    loss = nn.CrossEntropyLoss(reduction=reduction, class_dim=-1)
    np.testing.assert_array_equal(
        loss(fr.tensor(x0), t0).numpy(), ours(fr.tensor(x0), t0).numpy()
    )


def test_cross_entropy_layout_hint() -> None:
    x = fr.tensor(np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="for class-last logits pass class_dim=-1"):
        F.cross_entropy(x, np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(IndexError, match="class_dim"):
        F.cross_entropy(x, np.zeros((2, 3), dtype=np.int64), class_dim=3)


def test_cross_entropy_errors() -> None:
    x = fr.tensor(np.zeros((2, 3)))
    with pytest.raises(
        IndexError, match=r"expected targets in \[0, 3\) or ignore_index=-100, got 3"
    ):
        F.cross_entropy(x, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"expected target of shape \(2,\)"):
        F.cross_entropy(x, np.array([[0, 1]]))
    with pytest.raises(TypeError, match="integer class targets"):
        F.cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="expected reduction"):
        F.cross_entropy(x, np.array([0, 1]), reduction="avg")


# ==========================================================================
# MSE and BCE with logits
# ==========================================================================


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_matches_torch_both_inputs(torch: Any, rng: Any, reduction: str) -> None:
    a0, b0 = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    a, b = fr.tensor(a0, requires_grad=True), fr.tensor(b0, requires_grad=True)
    at, bt = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    out = nn.MSELoss(reduction=reduction)(a, b)
    out_t = torch.nn.MSELoss(reduction=reduction)(at, bt)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(a.grad, at.grad.numpy(), **TOL)
    np.testing.assert_allclose(b.grad, bt.grad.numpy(), **TOL)


def test_mse_shape_mismatch() -> None:
    with pytest.raises(
        ValueError,
        match=r"expected mse_loss target of the input's shape \(2, 3\), got \(3,\)",
    ):
        F.mse_loss(fr.tensor(np.zeros((2, 3))), np.zeros(3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("pos_weight", [None, np.array([0.5, 2.0, 3.0])])
def test_bce_with_logits_matches_torch(
    torch: Any, rng: Any, reduction: str, pos_weight: Any
) -> None:
    x0 = rng.standard_normal((4, 3)) * 4
    y0 = rng.random((4, 3))  # soft targets in [0, 1]
    x, y = fr.tensor(x0, requires_grad=True), fr.tensor(y0, requires_grad=True)
    xt, yt = torch.tensor(x0, requires_grad=True), torch.tensor(y0, requires_grad=True)
    out = nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=pos_weight)(x, y)
    tpw = None if pos_weight is None else torch.tensor(pos_weight)
    out_t = torch.nn.BCEWithLogitsLoss(reduction=reduction, pos_weight=tpw)(xt, yt)
    g = rng.standard_normal(out.shape)
    out.backward(g)
    out_t.backward(torch.tensor(g))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **TOL)
    np.testing.assert_allclose(y.grad, yt.grad.numpy(), **TOL)


def test_bce_with_logits_is_stable() -> None:
    x = fr.tensor(np.array([1000.0, -1000.0, 1000.0]), requires_grad=True)
    out = F.binary_cross_entropy_with_logits(
        x, np.array([1.0, 0.0, 0.0]), reduction="sum"
    )
    out.backward()
    assert out.item() == pytest.approx(1000.0)
    np.testing.assert_allclose(x.grad, [0.0, 0.0, 1.0])


def test_loss_module_validation_and_repr() -> None:
    with pytest.raises(ValueError, match="expected reduction"):
        nn.MSELoss(reduction="mean ")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=2.0)
    assert repr(nn.MSELoss()) == "MSELoss()"
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"
