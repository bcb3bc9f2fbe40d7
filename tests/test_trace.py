"""Tests for fastrnn.trace: recorded states and gates, ||dL/dh_t||, zero cost when off."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import _recurrent_fn, functional, nn
from fastrnn.trace import LayerKey, LayerTrace, Tracer

trace_module = sys.modules["fastrnn.trace"]  # ``fastrnn.trace`` is the function

I, H, T, B = 3, 4, 5, 3
LENGTHS = np.array([T, 2, 4])
TOL = {"rtol": 1e-10, "atol": 1e-12}

MODELS = {
    "lstm": lambda **kw: nn.LSTM(I, H, **kw),
    "lstm_peephole": lambda **kw: nn.LSTM(I, H, peephole=True, **kw),
    "gru": lambda **kw: nn.GRU(I, H, **kw),
    "gru_cho": lambda **kw: nn.GRU(I, H, reset_after=False, **kw),
    "gru_minimal": lambda **kw: nn.GRU(I, H, variant="minimal", **kw),
    "rnn_tanh": lambda **kw: nn.RNN(I, H, **kw),
    "rnn_relu": lambda **kw: nn.RNN(I, H, nonlinearity="relu", **kw),
}
GATES = {
    "lstm": ("i", "f", "g", "o"),
    "lstm_peephole": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "gru_cho": ("r", "z", "n"),
    "gru_minimal": ("z", "n"),
    "rnn_tanh": (),
    "rnn_relu": (),
}


def make(cell: str, **kw: Any) -> nn.RNNBase:
    kw.setdefault("dtype", np.float64)
    fr.manual_seed(0)  # weights independent of test order
    return MODELS[cell](**kw)


def projection_loss(model: nn.RNNBase, out: Any, R: dict[str, np.ndarray]) -> Any:
    """L = sum(R_y * y) + sum(R_h * h_n) (+ sum(R_c * c_n)): every output path."""
    y, h = out
    h_n, c_n = h if model.is_lstm else (h, None)
    L = (y * R["y"]).sum() + (h_n * R["h"]).sum()
    if c_n is not None:
        L = L + (c_n * R["c"]).sum()
    return L


def random_projections(rng: Any, model: nn.RNNBase, batch_first: bool = False) -> dict:
    D, L = model.num_directions, model.num_layers
    y_shape = (B, T, D * H) if batch_first else (T, B, D * H)
    return {
        "y": rng.standard_normal(y_shape),
        "h": rng.standard_normal((L * D, B, H)),
        "c": rng.standard_normal((L * D, B, H)),
    }


# ==========================================================================
# What is recorded
# ==========================================================================


@pytest.mark.parametrize("cell", list(MODELS))
def test_trace_matches_functional_forward(rng: Any, cell: str) -> None:
    model = make(cell, num_layers=2, bidirectional=True, batch_first=True)
    x = rng.standard_normal((B, T, I))
    h0 = rng.standard_normal((4, B, H))
    hx = (h0, None) if model.is_lstm else h0
    with fr.trace(model) as tr:
        y, _ = model(x, hx, lengths=LENGTHS)
    assert set(tr.keys()) == {
        (model.__class__.__name__.lower(), layer, d)
        for layer in (0, 1)
        for d in ("forward", "reverse")
    }
    X = x.transpose(1, 0, 2)  # time-major
    for layer in (0, 1):
        outs = []
        for d, direction in enumerate(("forward", "reverse")):
            k = layer * 2 + d
            W = [p.data if p is not None else None for p in model._weights(k)]
            Y, _, _, state = functional.forward(
                cell,
                X,
                h0[k],
                *W[:4],
                w_peep=W[4],
                W_hr=W[5],
                lengths=LENGTHS,
                reverse=bool(d),
            )
            rec = tr[(type(model).__name__.lower(), layer, direction)]
            assert isinstance(rec, LayerTrace) and rec.cell == cell
            assert rec.key == LayerKey(rec.key.module, layer, direction)
            np.testing.assert_array_equal(rec.h, Y)
            np.testing.assert_array_equal(rec.lengths, LENGTHS)
            assert tuple(rec.gates) == GATES[cell]
            for g in GATES[cell]:
                assert rec.gate(g).shape == (T, B, H)
                np.testing.assert_array_equal(rec.gate(g), state.gate(g))
            if model.is_lstm:
                np.testing.assert_array_equal(rec.c, state.C)
            else:
                assert rec.c is None
            assert rec.grad_h_norm is None  # no backward yet
            outs.append(Y)
        X = np.concatenate(outs, axis=-1)
    np.testing.assert_allclose(y.numpy(), X.transpose(1, 0, 2), **TOL)


def test_records_are_copies_and_keys_name_submodules(rng: Any) -> None:
    class Seq2Seq(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.GRU(I, H, dtype=np.float64)
            self.decoder = nn.LSTM(I, H, num_layers=2, dtype=np.float64)

        def forward(self, x: Any) -> Any:
            _, h = self.encoder(x)
            h0 = fr.cat([h, h], dim=0)
            return self.decoder(x, (h0, None))

    model = Seq2Seq()
    x = rng.standard_normal((T, B, I))
    with fr.trace(model) as tr:
        y, _ = model(x)
    assert tr.keys() == [
        ("encoder", 0, "forward"),
        ("decoder", 0, "forward"),
        ("decoder", 1, "forward"),
    ]
    rec = tr[("decoder", 1, "forward")]
    assert ("decoder", 1, "forward") in tr and ("decoder", 2, "forward") not in tr
    assert len(tr) == 3 and len(tr.calls) == 3
    assert not np.shares_memory(rec.h, y.numpy())
    np.testing.assert_array_equal(rec.h, y.numpy())
    saved = rec.h.copy(), rec.gate("f").copy()
    # more training does not change the record
    with fr.no_grad():
        for p in model.parameters():
            p.data += 0.1
    y2, _ = model(x)
    assert not np.allclose(y2.numpy(), saved[0])
    np.testing.assert_array_equal(rec.h, saved[0])
    np.testing.assert_array_equal(rec.gate("f"), saved[1])
    with pytest.raises(KeyError, match="recorded keys"):
        tr[("decoder", 2, "forward")]
    with pytest.raises(KeyError, match="expected one of"):
        rec.gate("r")


def test_only_the_traced_model_and_block_are_recorded(rng: Any) -> None:
    a, b = nn.LSTM(I, H, dtype=np.float64), nn.GRU(I, H, dtype=np.float64)
    x = rng.standard_normal((T, B, I))
    tr = fr.trace(a)
    a(x)  # before the block
    with tr:
        b(x)  # another model
        a(x)
        a(x)
    a(x)  # after the block
    assert tr.keys() == [("lstm", 0, "forward")]
    assert len(tr.calls) == 2  # one record per call; tr[key] is the latest
    assert tr[("lstm", 0, "forward")] is tr.calls[-1]
    assert _recurrent_fn._active_tracer is None


def test_tracer_restores_state_on_error_and_nesting(rng: Any) -> None:
    a, b = nn.RNN(I, H), nn.GRU(I, H)
    with pytest.raises(RuntimeError, match="boom"), fr.trace(a):
        raise RuntimeError("boom")
    assert _recurrent_fn._active_tracer is None
    with fr.trace(a) as outer:
        with fr.trace(b) as inner:
            assert _recurrent_fn._active_tracer is inner
        assert _recurrent_fn._active_tracer is outer
    assert _recurrent_fn._active_tracer is None
    with pytest.raises(ValueError, match="nn.RNN, nn.LSTM or nn.GRU"):
        fr.trace(nn.Linear(2, 3))
    with pytest.raises(TypeError, match="Module"):
        fr.trace("model")


# ==========================================================================
# ||dL/dh_t||
# ==========================================================================


@pytest.mark.parametrize("cell", list(MODELS))
def test_grad_h_norm_last_step_only_loss(rng: Any, cell: str) -> None:
    """1 layer, loss = <R, y_{T-1}>: dL/dh_{T-1} = R exactly, earlier steps via BPTT."""
    model = make(cell)
    x = rng.standard_normal((T, B, I))
    R = rng.standard_normal((B, H))
    with fr.trace(model) as tr:
        y, _ = model(x)
    (y[T - 1] * R).sum().backward()  # after the block closed: still recorded
    norm = tr[(type(model).__name__.lower(), 0, "forward")].grad_h_norm
    assert norm.shape == (T, B)
    np.testing.assert_allclose(norm[T - 1], np.linalg.norm(R, axis=-1), **TOL)
    assert np.all(norm[: T - 1] >= 0) and np.all(np.isfinite(norm))
    if cell != "rnn_relu":  # dead ReLU units can stop the gradient exactly
        assert np.all(norm[: T - 1] > 0)


def _torch_cell(torch: Any, cell: str, in_size: int, weights: list) -> Any:
    cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell}.get(cell)
    if cls is None:
        tcell = torch.nn.RNNCell(in_size, H, nonlinearity=cell[4:])
    else:
        tcell = cls(in_size, H)
    tcell = tcell.double()  # before loading, so float64 weights are not rounded
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    tcell.load_state_dict(
        {n: torch.tensor(w.data) for n, w in zip(names, weights, strict=True)}
    )
    return tcell


def torch_unrolled_grad_norms(
    torch: Any, model: nn.RNNBase, x: np.ndarray, R: dict, lengths: np.ndarray
) -> dict:
    """||dL/dh_t|| per layer-direction from torch cells unrolled step by step.

    Each sequence runs on its own (batch of 1) within its length, with
    ``retain_grad`` on every h_t; the loss is the same projection as ours.
    """
    cell, D = model.cell, model.num_directions
    tcells = {}
    for k in range(model.num_layers * D):
        in_size = I if k < D else D * H
        tcells[k] = _torch_cell(torch, cell, in_size, list(model._weights(k))[:4])
    hs: dict[tuple[int, int, int], Any] = {}  # (k, b, t) -> h_t
    loss = 0.0
    for b, n in enumerate(lengths):
        inp = [torch.tensor(x[t, b : b + 1]) for t in range(n)]
        for layer in range(model.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                h = torch.zeros(1, H, dtype=torch.float64)
                c = torch.zeros(1, H, dtype=torch.float64)
                out = [None] * n
                for t in reversed(range(n)) if d else range(n):
                    if model.is_lstm:
                        h, c = tcells[k](inp[t], (h, c))
                    else:
                        h = tcells[k](inp[t], h)
                    h.retain_grad()
                    hs[(k, b, t)] = h
                    out[t] = h
                outs.append(out)
                loss = loss + (h * torch.tensor(R["h"][k, b])).sum()
                if model.is_lstm:
                    loss = loss + (c * torch.tensor(R["c"][k, b])).sum()
            inp = [torch.cat([o[t] for o in outs], dim=1) for t in range(n)]
        for t in range(n):
            loss = loss + (inp[t] * torch.tensor(R["y"][t, b])).sum()
    loss.backward()
    norms = {}
    for k in range(model.num_layers * D):
        norm = np.zeros((len(x), len(lengths)))
        for b, n in enumerate(lengths):
            for t in range(n):
                norm[t, b] = hs[(k, b, t)].grad.norm().item()
        norms[k] = norm
    return norms


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh"])
def test_grad_h_norm_matches_torch_unrolled(torch: Any, rng: Any, cell: str) -> None:
    model = make(cell, num_layers=2, bidirectional=True)
    x = rng.standard_normal((T, B, I))
    R = random_projections(rng, model)
    with fr.trace(model) as tr:
        loss = projection_loss(model, model(x, lengths=LENGTHS), R)
        loss.backward()
    expected = torch_unrolled_grad_norms(torch, model, x, R, LENGTHS)
    name = type(model).__name__.lower()
    for layer in (0, 1):
        for d, direction in enumerate(("forward", "reverse")):
            got = tr[(name, layer, direction)].grad_h_norm
            np.testing.assert_allclose(
                got, expected[layer * 2 + d], err_msg=f"{layer} {direction}", **TOL
            )
            assert np.all(got[np.arange(T)[:, None] >= LENGTHS[None, :]] == 0)


# ==========================================================================
# Zero cost when off; no effect on results
# ==========================================================================


def test_no_recording_or_copies_when_tracing_is_off(rng: Any, monkeypatch: Any) -> None:
    counts = {"copy": 0, "record": 0, "return_dH": 0, "backward": 0}
    real_copy, real_record, real_backward = (
        trace_module._copy,
        Tracer.record,
        functional.backward,
    )

    def counting_copy(a: Any) -> Any:
        counts["copy"] += 1
        return real_copy(a)

    def counting_record(self: Any, *args: Any) -> Any:
        counts["record"] += 1
        return real_record(self, *args)

    def counting_backward(*args: Any, **kwargs: Any) -> Any:
        counts["backward"] += 1
        counts["return_dH"] += bool(kwargs.get("return_dH", False))
        return real_backward(*args, **kwargs)

    monkeypatch.setattr(trace_module, "_copy", counting_copy)
    monkeypatch.setattr(Tracer, "record", counting_record)
    monkeypatch.setattr(functional, "backward", counting_backward)

    model = make("lstm", num_layers=2, bidirectional=True)
    x = rng.standard_normal((T, B, I))
    R = random_projections(rng, model)
    tracer = fr.trace(model)  # created but never opened
    projection_loss(model, model(x, lengths=LENGTHS), R).backward()
    assert counts == {"copy": 0, "record": 0, "return_dH": 0, "backward": 4}
    assert tracer.calls == [] and _recurrent_fn._active_tracer is None

    with tracer:  # the same counters do see tracing when it is on
        projection_loss(model, model(x, lengths=LENGTHS), R).backward()
    assert counts["record"] == 4 and counts["return_dH"] == 4
    assert counts["copy"] == 4 * (1 + 1 + 4 + 1)  # h, c, 4 gates, lengths


@pytest.mark.parametrize("cell", ["lstm", "gru_minimal", "rnn_relu"])
def test_tracing_does_not_change_outputs_or_grads(rng: Any, cell: str) -> None:
    model = make(cell, num_layers=2, bidirectional=True, batch_first=True)
    x0 = rng.standard_normal((B, T, I))
    R = random_projections(rng, model, batch_first=True)

    def run() -> tuple[np.ndarray, dict[str, np.ndarray]]:
        model.zero_grad()
        x = fr.tensor(x0, requires_grad=True)
        out = model(x, lengths=LENGTHS)
        projection_loss(model, out, R).backward()
        grads = {n: p.grad.copy() for n, p in model.named_parameters()}
        return out[0].numpy().copy(), {**grads, "x": x.grad}

    y_off, g_off = run()
    with fr.trace(model) as tr:
        y_on, g_on = run()
    np.testing.assert_array_equal(y_on, y_off)
    assert g_on.keys() == g_off.keys()
    for name in g_off:
        np.testing.assert_array_equal(g_on[name], g_off[name], err_msg=name)
    # batch_first models are still recorded time-major, by real time
    rec = tr[(type(model).__name__.lower(), 1, "forward")]
    np.testing.assert_array_equal(rec.h, y_on[:, :, :H].transpose(1, 0, 2))
    rec = tr[(type(model).__name__.lower(), 1, "reverse")]
    np.testing.assert_array_equal(rec.h, y_on[:, :, H:].transpose(1, 0, 2))
