"""The NumPy oracle against finite differences, torch, and the written equations."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastrnn import _reference as ref
from fastrnn.gradcheck import full_check

T, B, I, H = 5, 4, 3, 3
LENGTHS = np.array([3, 5, 1, 2])  # unsorted, with a length-1 and a full-length row

lengths_cases = pytest.mark.parametrize(
    "lengths", [None, LENGTHS], ids=["full", "variable"]
)
direction_cases = pytest.mark.parametrize(
    "reverse", [False, True], ids=["forward", "reverse"]
)


# =============================================================================
# Helpers: random inputs, the scalar loss L = sum(R_Y*Y) + sum(R_h*h_n) (+ c_n)
# =============================================================================


def make_inputs(
    cell: str,
    rng: np.random.Generator,
    T: int = T,
    B: int = B,
    I: int = I,
    H: int = H,
    P: int | None = None,
) -> dict[str, np.ndarray]:
    """Every differentiable input of ``cell``, keyed like the ``d*`` gradients.

    ``P``: an LSTM with its state projected to P units (``W_hr`` (P, H)).
    """
    G = ref.GATE_COUNT[cell]
    S = H if P is None else P  # state units
    inputs = {
        "X": rng.standard_normal((T, B, I)),
        "h0": 0.5 * rng.standard_normal((B, S)),
        "W_ih": 0.5 * rng.standard_normal((G * H, I)),
        "W_hh": 0.5 * rng.standard_normal((G * H, S)),
        "b_ih": 0.1 * rng.standard_normal(G * H),
        "b_hh": 0.1 * rng.standard_normal(G * H),
    }
    if cell in ref.LSTM_CELLS:
        inputs["c0"] = 0.5 * rng.standard_normal((B, H))
    if cell == "lstm_peephole":
        inputs["w_peep"] = 0.5 * rng.standard_normal(3 * H)
    if P is not None:
        inputs["W_hr"] = 0.5 * rng.standard_normal((P, H))
    return inputs


def make_projections(
    cell: str,
    rng: np.random.Generator,
    T: int = T,
    B: int = B,
    H: int = H,
    P: int | None = None,
) -> dict[str, np.ndarray]:
    """Random weights of the loss, one per output (including padded positions)."""
    S = H if P is None else P
    R = {"Y": rng.standard_normal((T, B, S)), "h_n": rng.standard_normal((B, S))}
    if cell in ref.LSTM_CELLS:
        R["c_n"] = rng.standard_normal((B, H))
    return R


def run_forward(cell, inputs, lengths=None, reverse=False):
    return ref.forward(
        cell,
        inputs["X"],
        inputs["h0"],
        inputs["W_ih"],
        inputs["W_hh"],
        inputs["b_ih"],
        inputs["b_hh"],
        c0=inputs.get("c0"),
        w_peep=inputs.get("w_peep"),
        W_hr=inputs.get("W_hr"),
        lengths=lengths,
        reverse=reverse,
    )


def run_backward(cell, inputs, R, lengths=None, reverse=False):
    """Gradients of the loss, keyed like ``inputs`` (``"X"``, not ``"dX"``)."""
    grads = ref.backward(
        cell,
        R["Y"],
        R["h_n"],
        R.get("c_n"),
        inputs["X"],
        inputs["h0"],
        inputs["W_ih"],
        inputs["W_hh"],
        inputs["b_ih"],
        inputs["b_hh"],
        c0=inputs.get("c0"),
        w_peep=inputs.get("w_peep"),
        W_hr=inputs.get("W_hr"),
        lengths=lengths,
        reverse=reverse,
    )
    return {name: grads["d" + name] for name in inputs}


def loss(out, R) -> float:
    L = np.sum(R["Y"] * out["Y"]) + np.sum(R["h_n"] * out["h_n"])
    if "c_n" in R:
        L += np.sum(R["c_n"] * out["c_n"])
    return float(L)


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# =============================================================================
# Gradients against central differences, for every cell
# =============================================================================


@pytest.mark.parametrize("cell", ref.CELLS)
@lengths_cases
@direction_cases
def test_backward_matches_finite_differences(cell, lengths, reverse, rng):
    inputs = make_inputs(cell, rng)
    R = make_projections(cell, rng)
    grads = run_backward(cell, inputs, R, lengths, reverse)

    def f(params):
        return loss(run_forward(cell, params, lengths, reverse), R)

    full_check(f, inputs, grads)


@pytest.mark.parametrize("cell", ref.LSTM_CELLS)
@lengths_cases
@direction_cases
def test_projected_backward_matches_finite_differences(cell, lengths, reverse, rng):
    inputs = make_inputs(cell, rng, P=2)
    R = make_projections(cell, rng, P=2)
    grads = run_backward(cell, inputs, R, lengths, reverse)
    assert grads["W_hr"].shape == (2, H)

    def f(params):
        return loss(run_forward(cell, params, lengths, reverse), R)

    full_check(f, inputs, grads)


@pytest.mark.parametrize("cell", ref.CELLS)
def test_backward_matches_finite_differences_tiny_shapes(cell, rng):
    inputs = make_inputs(cell, rng, T=1, B=1, I=1, H=1)
    R = make_projections(cell, rng, T=1, B=1, H=1)
    grads = run_backward(cell, inputs, R, reverse=True)

    def f(params):
        return loss(run_forward(cell, params, reverse=True), R)

    full_check(f, inputs, grads)


# =============================================================================
# Lengths and direction
# =============================================================================


@pytest.mark.parametrize("cell", ref.CELLS)
@direction_cases
def test_padding_is_zero_and_final_state_is_last_step(cell, reverse, rng):
    out = run_forward(cell, make_inputs(cell, rng), LENGTHS, reverse)
    G = ref.GATE_COUNT[cell]
    assert out["Y"].shape == (T, B, H)
    assert out["gates"].shape == (T, B, G * H)

    for b, length in enumerate(LENGTHS):
        assert_array_equal(out["Y"][length:, b], 0.0)
        assert_array_equal(out["gates"][length:, b], 0.0)
        last = 0 if reverse else length - 1
        assert_array_equal(out["h_n"][b], out["Y"][last, b])
        if cell in ref.LSTM_CELLS:
            assert_array_equal(out["C"][length:, b], 0.0)
            assert_array_equal(out["c_n"][b], out["C"][last, b])
        else:
            assert out["C"] is None and out["c_n"] is None


@pytest.mark.parametrize("cell", ref.CELLS)
def test_reverse_runs_each_sequence_backwards_within_its_length(cell, rng, tol):
    tol64 = tol[np.float64]
    inputs = make_inputs(cell, rng)
    out = run_forward(cell, inputs, LENGTHS, reverse=True)

    for b, length in enumerate(LENGTHS):
        # Sequence b alone, its valid part flipped in time, run forwards.
        single = dict(inputs, X=inputs["X"][:length, b : b + 1][::-1])
        single["h0"] = inputs["h0"][b : b + 1]
        if "c0" in inputs:
            single["c0"] = inputs["c0"][b : b + 1]
        alone = run_forward(cell, single)
        assert_allclose(out["Y"][:length, b], alone["Y"][::-1, 0], **tol64)
        assert_allclose(out["h_n"][b], alone["h_n"][0], **tol64)


@pytest.mark.parametrize("cell", ref.CELLS)
@direction_cases
def test_full_lengths_are_the_same_as_none(cell, reverse, rng):
    inputs = make_inputs(cell, rng)
    out_none = run_forward(cell, inputs, None, reverse)
    out_full = run_forward(cell, inputs, np.full(B, T), reverse)
    for key in ("Y", "h_n", "gates"):
        assert_array_equal(out_none[key], out_full[key])


@pytest.mark.parametrize("cell", ref.CELLS)
@direction_cases
def test_output_gradient_past_length_has_no_effect(cell, reverse, rng):
    inputs = make_inputs(cell, rng)
    R = make_projections(cell, rng)
    R_masked = dict(R, Y=R["Y"] * (np.arange(T)[:, None] < LENGTHS)[..., None])
    grads = run_backward(cell, inputs, R, LENGTHS, reverse)
    grads_masked = run_backward(cell, inputs, R_masked, LENGTHS, reverse)
    for name in inputs:
        assert_array_equal(grads[name], grads_masked[name])


def test_unknown_cell_raises(rng):
    inputs = make_inputs("gru", rng)
    with pytest.raises(ValueError, match="Unknown cell 'lstmp'"):
        run_forward("lstmp", inputs)


def test_gate_tables_agree():
    assert set(ref.CELLS) == set(ref.GATE_COUNT) == set(ref.GATE_NAMES)
    for cell in ref.CELLS:
        if ref.GATE_NAMES[cell]:
            assert len(ref.GATE_NAMES[cell]) == ref.GATE_COUNT[cell]


# =============================================================================
# Against torch in float64 (rnn_tanh, rnn_relu, lstm, gru)
# =============================================================================

TORCH_LAYERS = {
    "rnn_tanh": ("RNN", {"nonlinearity": "tanh"}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "lstm": ("LSTM", {}),
    "lstm+proj": ("LSTM", {"proj_size": 2}),
    "gru": ("GRU", {}),
}
TORCH_PARAMS = {
    "W_ih": "weight_ih",
    "W_hh": "weight_hh",
    "b_ih": "bias_ih",
    "b_hh": "bias_hh",
}


@pytest.mark.parametrize("cell", TORCH_LAYERS)
@lengths_cases
@direction_cases
def test_matches_torch(torch, cell, lengths, reverse, rng, tol):
    """Outputs, final states and all gradients of the loss match torch.

    For ``reverse`` the layer is bidirectional: its forward direction keeps
    torch's random weights, its ``*_reverse`` direction gets ours, and only the
    reverse half enters the loss. With packed sequences torch reverses each
    sequence within its own length, as the oracle does.
    """
    tol64 = tol[np.float64]
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    kind, options = TORCH_LAYERS[cell]
    P = options.get("proj_size")
    cell = cell.partition("+")[0]
    S = P or H  # state units
    inputs = make_inputs(cell, rng, P=P)
    R = make_projections(cell, rng, P=P)
    out = run_forward(cell, inputs, lengths, reverse)
    grads = run_backward(cell, inputs, R, lengths, reverse)

    layer = getattr(torch.nn, kind)(
        I, H, bidirectional=reverse, dtype=torch.float64, **options
    )
    suffix = "_l0_reverse" if reverse else "_l0"
    params = {**TORCH_PARAMS, **({"W_hr": "weight_hr"} if P else {})}
    with torch.no_grad():
        for name, attr in params.items():
            getattr(layer, attr + suffix).copy_(torch.from_numpy(inputs[name]))

    leaves = {
        name: torch.tensor(inputs[name], requires_grad=True)
        for name in ("X", "h0", "c0")
        if name in inputs
    }

    def initial_state(name):  # (D, B, S or H); ours is the last direction
        ours = leaves[name][None]
        if not reverse:
            return ours
        other = torch.randn(1, B, ours.shape[2], dtype=torch.float64)
        return torch.cat([other, ours])

    hx = initial_state("h0")
    if cell == "lstm":
        hx = (hx, initial_state("c0"))
    x = leaves["X"]
    if lengths is not None:
        x = pack_padded_sequence(x, torch.as_tensor(lengths), enforce_sorted=False)
    y, state = layer(x, hx)
    if lengths is not None:
        y, _ = pad_packed_sequence(y, total_length=T)
    h_n, c_n = state if cell == "lstm" else (state, None)

    d = 1 if reverse else 0  # index of our direction
    torch_out = {"Y": y[..., d * S : (d + 1) * S], "h_n": h_n[d]}
    if c_n is not None:
        torch_out["c_n"] = c_n[d]
    L = sum((torch.from_numpy(R[key]) * torch_out[key]).sum() for key in torch_out)
    L.backward()

    for key, value in torch_out.items():
        assert_allclose(out[key], value.detach().numpy(), **tol64, err_msg=key)
    for name, leaf in leaves.items():
        assert_allclose(grads[name], leaf.grad.numpy(), **tol64, err_msg=name)
    for name, attr in params.items():
        torch_grad = getattr(layer, attr + suffix).grad.numpy()
        assert_allclose(grads[name], torch_grad, **tol64, err_msg=name)


# =============================================================================
# Cells without a torch counterpart: the equations written out by hand
# =============================================================================


@lengths_cases
@direction_cases
def test_lstm_peephole_with_zero_peepholes_is_lstm(lengths, reverse, rng, tol):
    tol64 = tol[np.float64]
    inputs = make_inputs("lstm", rng)
    R = make_projections("lstm", rng)
    peephole_inputs = dict(inputs, w_peep=np.zeros(3 * H))

    out = run_forward("lstm", inputs, lengths, reverse)
    out_peep = run_forward("lstm_peephole", peephole_inputs, lengths, reverse)
    for key in ("Y", "h_n", "c_n", "gates", "C"):
        assert_allclose(out_peep[key], out[key], **tol64, err_msg=key)

    grads = run_backward("lstm", inputs, R, lengths, reverse)
    grads_peep = run_backward("lstm_peephole", peephole_inputs, R, lengths, reverse)
    for name in inputs:
        assert_allclose(grads_peep[name], grads[name], **tol64, err_msg=name)


def test_lstm_peephole_matches_equations(rng, tol):
    tol64 = tol[np.float64]
    p = make_inputs("lstm_peephole", rng)
    W_i, W_f, W_g, W_o = np.split(p["W_ih"], 4)
    U_i, U_f, U_g, U_o = np.split(p["W_hh"], 4)
    b_i, b_f, b_g, b_o = np.split(p["b_ih"] + p["b_hh"], 4)
    p_i, p_f, p_o = np.split(p["w_peep"], 3)

    h, c = p["h0"], p["c0"]
    Y, C = [], []
    for x in p["X"]:
        i = sigmoid(x @ W_i.T + h @ U_i.T + b_i + p_i * c)
        f = sigmoid(x @ W_f.T + h @ U_f.T + b_f + p_f * c)
        g = np.tanh(x @ W_g.T + h @ U_g.T + b_g)
        c = f * c + i * g
        o = sigmoid(x @ W_o.T + h @ U_o.T + b_o + p_o * c)
        h = o * np.tanh(c)
        Y.append(h)
        C.append(c)

    out = run_forward("lstm_peephole", p)
    assert_allclose(out["Y"], np.stack(Y), **tol64)
    assert_allclose(out["C"], np.stack(C), **tol64)
    assert_allclose(out["h_n"], h, **tol64)
    assert_allclose(out["c_n"], c, **tol64)


def test_gru_cho_matches_equations(rng, tol):
    tol64 = tol[np.float64]
    p = make_inputs("gru_cho", rng)
    W_r, W_z, W_n = np.split(p["W_ih"], 3)
    U_r, U_z, U_n = np.split(p["W_hh"], 3)
    b_ir, b_iz, b_in = np.split(p["b_ih"], 3)
    b_hr, b_hz, b_hn = np.split(p["b_hh"], 3)

    h = p["h0"]
    Y, gates = [], []
    for x in p["X"]:
        r = sigmoid(x @ W_r.T + b_ir + h @ U_r.T + b_hr)
        z = sigmoid(x @ W_z.T + b_iz + h @ U_z.T + b_hz)
        n = np.tanh(x @ W_n.T + b_in + (r * h) @ U_n.T + b_hn)
        h = (1 - z) * n + z * h
        Y.append(h)
        gates.append(np.concatenate([r, z, n], axis=1))

    out = run_forward("gru_cho", p)
    assert_allclose(out["Y"], np.stack(Y), **tol64)
    assert_allclose(out["gates"], np.stack(gates), **tol64)


def test_gru_minimal_matches_equations(rng, tol):
    tol64 = tol[np.float64]
    p = make_inputs("gru_minimal", rng)
    W_z, W_n = np.split(p["W_ih"], 2)
    U_z, U_n = np.split(p["W_hh"], 2)
    b_z, b_n = np.split(p["b_ih"] + p["b_hh"], 2)

    h = p["h0"]
    Y, gates = [], []
    for x in p["X"]:
        z = sigmoid(x @ W_z.T + h @ U_z.T + b_z)
        n = np.tanh(x @ W_n.T + h @ U_n.T + b_n)
        h = (1 - z) * n + z * h
        Y.append(h)
        gates.append(np.concatenate([z, n], axis=1))

    out = run_forward("gru_minimal", p)
    assert_allclose(out["Y"], np.stack(Y), **tol64)
    assert_allclose(out["gates"], np.stack(gates), **tol64)


@direction_cases
def test_gru_cho_equals_gru_for_one_unit_without_b_hn(reverse, rng, tol):
    tol64 = tol[np.float64]
    # With H = 1, W_hn (r * h) = r * (W_hn h), so the two forms differ only in
    # b_hn, which the PyTorch form multiplies by r. With b_hn = 0 they agree, and
    # so do all gradients except the one of b_hn itself.
    inputs = make_inputs("gru", rng, H=1)
    inputs["b_hh"][2] = 0.0
    R = make_projections("gru", rng, H=1)

    out = run_forward("gru", inputs, LENGTHS, reverse)
    out_cho = run_forward("gru_cho", inputs, LENGTHS, reverse)
    for key in ("Y", "h_n", "gates"):
        assert_allclose(out_cho[key], out[key], **tol64, err_msg=key)

    grads = run_backward("gru", inputs, R, LENGTHS, reverse)
    grads_cho = run_backward("gru_cho", inputs, R, LENGTHS, reverse)
    grads["b_hh"], grads_cho["b_hh"] = grads["b_hh"][:2], grads_cho["b_hh"][:2]
    for name in inputs:
        assert_allclose(grads_cho[name], grads[name], **tol64, err_msg=name)
