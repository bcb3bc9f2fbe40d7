"""Tests for nn.RNNCell, nn.LSTMCell and nn.GRUCell against torch and the layers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn
from fastrnn.gradcheck import directional_check

I, H, B = 3, 4, 2
TOL = {"rtol": 1e-10, "atol": 1e-12}

CELLS = {
    "rnn_tanh": (lambda **kw: nn.RNNCell(**kw), "RNNCell", {}),
    "rnn_relu": (
        lambda **kw: nn.RNNCell(nonlinearity="relu", **kw),
        "RNNCell",
        {"nonlinearity": "relu"},
    ),
    "lstm": (lambda **kw: nn.LSTMCell(**kw), "LSTMCell", {}),
    "gru": (lambda **kw: nn.GRUCell(**kw), "GRUCell", {}),
}


def make_pair(torch: Any, kind: str, bias: bool = True) -> tuple[Any, Any]:
    make, tname, extra = CELLS[kind]
    tcell = getattr(torch.nn, tname)(I, H, bias=bias, **extra).double()
    cell = make(input_size=I, hidden_size=H, bias=bias, dtype=np.float64)
    cell.load_state_dict({k: v.numpy() for k, v in tcell.state_dict().items()})
    return cell, tcell


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_matches_torch(
    torch: Any, rng: Any, kind: str, bias: bool, with_state: bool, batched: bool
) -> None:
    cell, tcell = make_pair(torch, kind, bias)
    is_lstm = kind == "lstm"
    lead = (B,) if batched else ()
    x0 = rng.standard_normal((*lead, I))
    h0 = rng.standard_normal((*lead, H))
    c0 = rng.standard_normal((*lead, H))
    R_h, R_c = rng.standard_normal((2, *lead, H))

    x = fr.tensor(x0, requires_grad=True)
    h = fr.tensor(h0, requires_grad=True)
    c = fr.tensor(c0, requires_grad=True)
    xt = torch.tensor(x0, requires_grad=True)
    ht = torch.tensor(h0, requires_grad=True)
    ct = torch.tensor(c0, requires_grad=True)
    if is_lstm:
        h1, c1 = cell(x, (h, c) if with_state else None)
        th1, tc1 = tcell(xt, (ht, ct) if with_state else None)
        loss = (h1 * R_h).sum() + (c1 * R_c).sum()
        tloss = (th1 * torch.tensor(R_h)).sum() + (tc1 * torch.tensor(R_c)).sum()
        np.testing.assert_allclose(c1.numpy(), tc1.detach().numpy(), **TOL)
    else:
        h1 = cell(x, h if with_state else None)
        th1 = tcell(xt, ht if with_state else None)
        loss, tloss = (h1 * R_h).sum(), (th1 * torch.tensor(R_h)).sum()
    assert h1.shape == tuple(th1.shape)
    np.testing.assert_allclose(h1.numpy(), th1.detach().numpy(), **TOL)
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(x.grad, xt.grad.numpy(), **TOL)
    if with_state:
        np.testing.assert_allclose(h.grad, ht.grad.numpy(), **TOL)
        if is_lstm:
            np.testing.assert_allclose(c.grad, ct.grad.numpy(), **TOL)
    tparams = dict(tcell.named_parameters())
    assert [n for n, _ in cell.named_parameters()] == list(tparams)
    for name, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad, tparams[name].grad.numpy(), **TOL)


def test_lstm_cell_decoder_loop_matches_torch(torch: Any, rng: Any) -> None:
    """Greedy-style decoder: each step's input is a function of the last output."""
    cell, tcell = make_pair(torch, "lstm")
    head = nn.Linear(H, I, dtype=np.float64)
    thead = torch.nn.Linear(H, I).double()
    head.load_state_dict({k: v.numpy() for k, v in thead.state_dict().items()})
    x0, h0, c0 = rng.standard_normal((B, I)), *rng.standard_normal((2, B, H))
    targets = rng.standard_normal((5, B, I))

    x, state, loss = fr.tensor(x0), (fr.tensor(h0), fr.tensor(c0)), 0.0
    xt, tstate, tloss = torch.tensor(x0), (torch.tensor(h0), torch.tensor(c0)), 0.0
    for t in range(5):
        state = cell(x, state)
        tstate = tcell(xt, tstate)
        x = head(state[0]).tanh()
        xt = thead(tstate[0]).tanh()
        loss = loss + ((x - targets[t]) ** 2).sum()
        tloss = tloss + ((xt - torch.tensor(targets[t])) ** 2).sum()
    loss.backward()
    tloss.backward()
    np.testing.assert_allclose(loss.item(), tloss.item(), **TOL)
    np.testing.assert_allclose(state[1].numpy(), tstate[1].detach().numpy(), **TOL)
    for module, tmodule in [(cell, tcell), (head, thead)]:
        tparams = dict(tmodule.named_parameters())
        for name, p in module.named_parameters():
            np.testing.assert_allclose(
                p.grad, tparams[name].grad.numpy(), err_msg=name, **TOL
            )


@pytest.mark.parametrize(
    "make, layer",
    [
        (
            lambda: nn.LSTMCell(I, H, peephole=True, dtype=np.float64),
            lambda: nn.LSTM(I, H, peephole=True, dtype=np.float64),
        ),
        (
            lambda: nn.GRUCell(I, H, reset_after=False, dtype=np.float64),
            lambda: nn.GRU(I, H, reset_after=False, dtype=np.float64),
        ),
        (
            lambda: nn.GRUCell(I, H, variant="minimal", dtype=np.float64),
            lambda: nn.GRU(I, H, variant="minimal", dtype=np.float64),
        ),
    ],
)
def test_variant_cells_unrolled_equal_layer(rng: Any, make: Any, layer: Any) -> None:
    cell, rnn = make(), layer()
    rnn.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    X = rng.standard_normal((5, B, I))
    y, _ = rnn(X)
    state = None
    for t in range(5):
        state = cell(X[t], state)
        h = state[0] if isinstance(state, tuple) else state
        np.testing.assert_allclose(h.numpy(), y.numpy()[t], **TOL)


@pytest.mark.parametrize("kind", ["lstm_peephole", "gru_cho", "gru_minimal"])
def test_variant_cells_gradcheck(rng: Any, kind: str) -> None:
    cell = {
        "lstm_peephole": lambda: nn.LSTMCell(I, H, peephole=True, dtype=np.float64),
        "gru_cho": lambda: nn.GRUCell(I, H, reset_after=False, dtype=np.float64),
        "gru_minimal": lambda: nn.GRUCell(I, H, variant="minimal", dtype=np.float64),
    }[kind]()
    is_lstm = kind.startswith("lstm")
    named = dict(cell.named_parameters())
    point = {k: p.data.copy() for k, p in named.items()}
    point.update(x=rng.standard_normal((B, I)), h=rng.standard_normal((B, H)))
    point["c"] = rng.standard_normal((B, H))
    R = rng.standard_normal((2, B, H))

    def loss(values: dict[str, np.ndarray], grad: bool = False) -> Any:
        for k, p in named.items():
            p.data = values[k].copy()
            p.grad = None
        x, h, c = (fr.tensor(values[k], requires_grad=grad) for k in "xhc")
        # two steps, so the gradient flows through the recurrence too
        s = cell(x, (h, c)) if is_lstm else cell(x, h)
        s = cell(x, s)
        L = (s[0] * R[0]).sum() + (s[1] * R[1]).sum() if is_lstm else (s * R[0]).sum()
        if not grad:
            return L.item()
        L.backward()
        out = {k: p.grad for k, p in named.items()}
        out.update(x=x.grad, h=h.grad, c=c.grad if is_lstm else np.zeros((B, H)))
        return out

    directional_check(loss, point, loss(point, grad=True), n_directions=2, rng=0)


def test_cell_parameters_init_and_repr() -> None:
    cell = nn.GRUCell(3, 8)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (24, 3)),
        ("weight_hh", (24, 8)),
        ("bias_ih", (24,)),
        ("bias_hh", (24,)),
    ]
    assert all(p.dtype == np.float32 for p in cell.parameters())
    assert all(np.all(np.abs(p.data) <= 1 / np.sqrt(8)) for p in cell.parameters())
    assert nn.LSTMCell(3, 4, peephole=True).weight_peep.shape == (12,)
    assert nn.GRUCell(3, 4, variant="minimal").weight_hh.shape == (8, 4)
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"
    assert repr(nn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == (
        "RNNCell(3, 4, bias=False, nonlinearity='relu')"
    )
    assert (
        repr(nn.GRUCell(3, 4, reset_after=False)) == "GRUCell(3, 4, reset_after=False)"
    )


def test_cell_state_dict_matches_torch(torch: Any) -> None:
    for kind in CELLS:
        for bias in (True, False):
            cell, tcell = make_pair(torch, kind, bias)
            assert [(k, v.shape) for k, v in cell.state_dict().items()] == [
                (k, tuple(v.shape)) for k, v in tcell.state_dict().items()
            ]


def test_cell_errors(rng: Any) -> None:
    cell = nn.LSTMCell(I, H, dtype=np.float64)
    x = rng.standard_normal((B, I))
    with pytest.raises(ValueError, match="input of shape"):
        cell(rng.standard_normal((B, I + 1)))
    with pytest.raises(ValueError, match="input of shape"):
        cell(rng.standard_normal((1, B, I)))
    with pytest.raises(ValueError, match="expected h of shape"):
        cell(x, (np.zeros((B + 1, H)), None))
    with pytest.raises(ValueError, match="expected c of shape"):
        cell(x, (None, np.zeros((B, H + 1))))
    with pytest.raises(TypeError, match="tuple"):
        cell(x, np.zeros((B, H)))
    with pytest.raises(TypeError, match="dtype"):
        cell(x.astype(np.float32))
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNNCell(I, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="variant"):
        nn.GRUCell(I, H, variant="x")
