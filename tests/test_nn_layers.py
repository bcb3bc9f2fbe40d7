"""Tests for Linear, Embedding, Dropout, activations and fastrnn.random."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn
from fastrnn.gradcheck import full_check
from fastrnn.nn import functional as F

# ==========================================================================
# Linear
# ==========================================================================


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (2, 4, 3), (3,)])
def test_linear_matches_torch(torch: Any, rng: Any, bias: bool, shape: Any) -> None:
    tlin = torch.nn.Linear(3, 4, bias=bias).double()
    lin = nn.Linear(3, 4, bias=bias, dtype=np.float64)
    lin.load_state_dict(tlin.state_dict())
    x0 = rng.standard_normal(shape)
    g = rng.standard_normal((*shape[:-1], 4))

    x = fr.tensor(x0, requires_grad=True)
    y = lin(x)
    y.backward(g)
    xt = torch.tensor(x0, requires_grad=True)
    yt = tlin(xt)
    yt.backward(torch.tensor(g))

    tol = {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **tol)
    np.testing.assert_allclose(lin.weight.grad, tlin.weight.grad.numpy(), **tol)
    if bias:
        np.testing.assert_allclose(lin.bias.grad, tlin.bias.grad.numpy(), **tol)


def test_linear_gradcheck(rng: Any) -> None:
    params = {
        "x": rng.standard_normal((2, 3, 4)),
        "W": rng.standard_normal((5, 4)),
        "b": rng.standard_normal(5),
    }
    R = rng.standard_normal((2, 3, 5))

    def loss(p: dict[str, np.ndarray], grad: bool = False) -> Any:
        ts = {k: fr.tensor(v, requires_grad=grad) for k, v in p.items()}
        out = (F.linear(ts["x"], ts["W"], ts["b"]) * R).sum()
        if grad:
            out.backward()
            return {k: t.grad for k, t in ts.items()}
        return out.item()

    full_check(loss, params, loss(params, grad=True))


def test_linear_init_and_dtype() -> None:
    lin = nn.Linear(400, 300)
    bound = 1 / np.sqrt(400)
    assert lin.weight.shape == (300, 400) and lin.bias.shape == (300,)
    assert lin.weight.dtype == np.float32 and lin.bias.dtype == np.float32
    for p in (lin.weight.data, lin.bias.data):
        assert np.abs(p).max() <= bound
        assert np.abs(p).max() > 0.95 * bound
    # U(-b, b) has variance b^2 / 3
    assert lin.weight.data.var() == pytest.approx(bound**2 / 3, rel=0.02)
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64


def test_linear_errors() -> None:
    lin = nn.Linear(3, 2)
    with pytest.raises(
        ValueError, match=r"expected input of shape \(\*, 3\), got \(4, 2\)"
    ):
        lin(fr.tensor(np.zeros((4, 2), dtype=np.float32)))
    with pytest.raises(TypeError, match="expected input of dtype float32"):
        lin(fr.tensor(np.zeros((4, 3))))


# ==========================================================================
# Embedding
# ==========================================================================


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_matches_torch(torch: Any, rng: Any, padding_idx: Any) -> None:
    temb = torch.nn.Embedding(6, 3, padding_idx=padding_idx).double()
    emb = nn.Embedding(6, 3, padding_idx=padding_idx, dtype=np.float64)
    emb.load_state_dict(temb.state_dict())
    ids = np.array([[0, 2, 5, 2], [1, 1, 5, 3]])
    g = rng.standard_normal((2, 4, 3))

    y = emb(fr.tensor(ids))
    y.backward(g)
    yt = temb(torch.tensor(ids))
    yt.backward(torch.tensor(g))

    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        emb.weight.grad, temb.weight.grad.numpy(), rtol=1e-10, atol=1e-12
    )


def test_embedding_padding_row_zero_and_no_gradient() -> None:
    emb = nn.Embedding(5, 4, padding_idx=0)
    assert np.all(emb.weight.data[0] == 0)
    assert np.all(emb.weight.data[1:] != 0)
    emb(np.array([0, 0, 1])).sum().backward()
    assert np.all(emb.weight.grad[0] == 0)
    np.testing.assert_array_equal(emb.weight.grad[1], np.ones(4))
    assert "padding_idx=0" in repr(emb)


def test_embedding_init_is_standard_normal() -> None:
    w = nn.Embedding(1000, 100).weight.data
    assert w.mean() == pytest.approx(0.0, abs=0.01)
    assert w.std() == pytest.approx(1.0, abs=0.01)


def test_embedding_errors() -> None:
    emb = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"expected indices in \[0, 5\), got 7"):
        emb(np.array([1, 7]))
    with pytest.raises(IndexError, match=r"got -1"):
        emb(np.array([-1]))
    with pytest.raises(TypeError, match="expected integer indices"):
        emb(np.array([1.0]))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)


# ==========================================================================
# Dropout
# ==========================================================================


def test_dropout_train_scales_and_eval_is_identity() -> None:
    fr.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = fr.tensor(np.ones((200, 100)), requires_grad=True)
    y = drop(x)
    values = np.unique(y.numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.75])
    assert (y.numpy() == 0).mean() == pytest.approx(0.25, abs=0.01)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.numpy())  # grad = mask / (1 - p)
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).numpy(), np.zeros((200, 100)))


def test_dropout_keeps_dtype() -> None:
    x = fr.tensor(np.ones((3, 3), dtype=np.float32))
    assert nn.Dropout(0.5)(x).dtype == np.float32


def test_dropout_is_reproducible_from_seed() -> None:
    x = fr.tensor(np.ones((10, 10)))
    fr.manual_seed(42)
    a = F.dropout(x, 0.5).numpy()
    b = F.dropout(x, 0.5).numpy()
    fr.manual_seed(42)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_p(p: float) -> None:
    with pytest.raises(ValueError, match=r"expected dropout probability in \[0, 1\]"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout probability"):
        F.dropout(fr.tensor([1.0]), p)


# ==========================================================================
# Activations and fastrnn.random
# ==========================================================================


def test_activation_modules(rng: Any) -> None:
    x = fr.tensor(rng.standard_normal((2, 3)))
    np.testing.assert_array_equal(nn.ReLU()(x).numpy(), np.maximum(x.numpy(), 0))
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(x.numpy()))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x.numpy())))
    np.testing.assert_allclose(nn.Softmax(1)(x).numpy().sum(1), [1.0, 1.0])
    np.testing.assert_allclose(
        nn.LogSoftmax(1)(x).numpy(), np.log(nn.Softmax(1)(x).numpy())
    )


def test_rng_state_round_trip() -> None:
    fr.manual_seed(3)
    assert fr.random.initial_seed() == 3
    state = fr.random.get_rng_state()
    assert isinstance(state["state"]["state"], int)
    a = nn.Linear(4, 4).weight.data.copy()
    fr.random.set_rng_state(state)
    np.testing.assert_array_equal(nn.Linear(4, 4).weight.data, a)
    with pytest.raises(ValueError, match="PCG64"):
        fr.random.set_rng_state({"bit_generator": "MT19937"})
    with pytest.raises(ValueError, match="non-negative integer seed"):
        fr.manual_seed(-1)


def test_same_seed_same_model_in_both_dtypes() -> None:
    fr.manual_seed(7)
    a = nn.Linear(3, 3)
    fr.manual_seed(7)
    b = nn.Linear(3, 3, dtype=np.float64)
    np.testing.assert_array_equal(a.weight.data, b.weight.data.astype(np.float32))
