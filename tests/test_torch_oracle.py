"""The compiled kernels against PyTorch 2.13 (torch.nn.RNN / LSTM / GRU).

Same weights, same inputs: outputs, final states and every gradient must match
(float64 rtol 1e-10, float32 rtol 1e-5).  Variable lengths go through
``pack_padded_sequence``; the reverse direction is checked against the ``*_reverse``
half of a bidirectional torch layer, which runs each sequence backwards within its
length.  "lstm+proj" is torch's LSTM with ``proj_size`` (our ``W_hr``).  The Cho GRU, the minimal GRU and the peephole LSTM have no torch counterpart;
they are checked against fastrnn._reference only (tests/test_kernels.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from _cases import loss_weights, make_case, run_kernel, split_variant
from numpy.testing import assert_allclose

from fastrnn import functional as F

TORCH_CELLS = ["rnn_tanh", "rnn_relu", "lstm", "lstm+proj", "gru"]
TOL = {
    np.float64: {"rtol": 1e-10, "atol": 1e-10},
    np.float32: {"rtol": 1e-5, "atol": 2e-5},
}


def torch_layer(torch, cell, case, reverse, dtype):
    I = case["X"].shape[2]
    H = case["W_hh"].shape[0] // F.GATE_COUNT[cell]
    kind = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU"}[cell]
    kwargs = {"nonlinearity": cell[4:]} if kind == "RNN" else {}
    if case.get("W_hr") is not None:
        kwargs["proj_size"] = case["W_hr"].shape[0]
    layer = getattr(torch.nn, kind)(I, H, bidirectional=reverse, **kwargs)
    layer = layer.to(torch.float64 if dtype == np.float64 else torch.float32)
    suffix = "_l0_reverse" if reverse else "_l0"
    with torch.no_grad():
        for ours, theirs in [
            ("W_ih", "weight_ih"),
            ("W_hh", "weight_hh"),
            ("b_ih", "bias_ih"),
            ("b_hh", "bias_hh"),
            ("W_hr", "weight_hr"),
        ]:
            if case.get(ours) is not None:
                getattr(layer, theirs + suffix).copy_(torch.from_numpy(case[ours]))
    return layer, suffix


def run_torch(torch, cell, case, reverse, R, dtype):
    """Torch outputs and gradients of L = sum(R_Y*Y) + sum(R_h*h_n) (+ sum(R_c*c_n))."""
    cell, projected = split_variant(cell)
    layer, suffix = torch_layer(torch, cell, case, reverse, dtype)
    T, B, _ = case["X"].shape
    X = torch.from_numpy(case["X"]).requires_grad_()
    h0 = torch.from_numpy(case["h0"]).requires_grad_()
    # a bidirectional layer needs states for both directions; ours is the second
    pad = (
        (lambda s: torch.stack([torch.zeros_like(s), s]))
        if reverse
        else (lambda s: s[None])
    )
    state = pad(h0)
    if cell == "lstm":
        c0 = torch.from_numpy(case["c0"]).requires_grad_()
        state = (state, pad(c0))
    lengths = case["lengths"] if case["lengths"] is not None else np.full(B, T)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        X, torch.from_numpy(np.asarray(lengths)), enforce_sorted=False
    )
    out, final = layer(packed, state)
    Y, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    k = 1 if reverse else 0
    H = case["h0"].shape[1]
    Y = Y[:, :, k * H : (k + 1) * H]
    h_n = (final[0] if cell == "lstm" else final)[k]
    loss = (Y * torch.from_numpy(R["dY"])).sum() + (
        h_n * torch.from_numpy(R["dh_n"])
    ).sum()
    c_n = None
    if cell == "lstm":
        c_n = final[1][k]
        loss = loss + (c_n * torch.from_numpy(R["dc_n"])).sum()
    loss.backward()
    grads = {
        "dX": X.grad,
        "dh0": h0.grad,
        "dW_ih": getattr(layer, "weight_ih" + suffix).grad,
        "dW_hh": getattr(layer, "weight_hh" + suffix).grad,
        "db_ih": getattr(layer, "bias_ih" + suffix).grad,
        "db_hh": getattr(layer, "bias_hh" + suffix).grad,
    }
    if cell == "lstm":
        grads["dc0"] = c0.grad
    if projected:
        grads["dW_hr"] = getattr(layer, "weight_hr" + suffix).grad
    outputs = {"Y": Y, "h_n": h_n, "c_n": c_n}
    to_np = {k: None if v is None else v.detach().numpy() for k, v in outputs.items()}
    return to_np, {k: v.numpy() for k, v in grads.items()}


@pytest.mark.parametrize("cell", TORCH_CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lengths", [None, "random"])
@pytest.mark.parametrize("reverse", [False, True])
def test_matches_torch(torch, cell, dtype, lengths, reverse, rng):
    T, B, I, H = 7, 5, 4, 6
    case = make_case(cell, T, B, I, H, rng, dtype=dtype, lengths=lengths)
    R = loss_weights(cell, T, B, H, rng, dtype)
    Y, h_n, c_n, state = run_kernel(cell, case, reverse=reverse, n_threads=2)
    grads = F.backward(state, R["dY"], R["dh_n"], R["dc_n"])
    want, want_grads = run_torch(torch, cell, case, reverse, R, dtype)
    tol = TOL[dtype]
    assert_allclose(Y, want["Y"], **tol, err_msg="Y")
    assert_allclose(h_n, want["h_n"], **tol, err_msg="h_n")
    if cell.startswith("lstm"):
        assert_allclose(c_n, want["c_n"], **tol, err_msg="c_n")
    for name, value in want_grads.items():
        scale = max(1.0, float(np.abs(value).max()))
        assert_allclose(
            getattr(grads, name),
            value,
            rtol=tol["rtol"],
            atol=tol["atol"] * scale,
            err_msg=name,
        )
