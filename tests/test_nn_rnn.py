"""Tests for nn.RNN, nn.LSTM and nn.GRU: torch equivalence, variants, state dicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import _reference, nn
from fastrnn.gradcheck import directional_check

V, E, H, C = 7, 3, 4, 5  # vocabulary, embedding, hidden, classes
T, B = 6, 3

TOL = {
    np.float64: {"rtol": 1e-9, "atol": 1e-12},
    np.float32: {"rtol": 1e-4, "atol": 1e-5},
}

MODES = {
    "lstm": (nn.LSTM, {}),
    "lstm_proj": (nn.LSTM, {"proj_size": 2}),
    "gru": (nn.GRU, {}),
    "rnn_tanh": (nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, {"nonlinearity": "relu"}),
}


def torch_layer(torch: Any, mode: str, **kw: Any) -> Any:
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(mode[:4], torch.nn.RNN)
    return cls(**kw, **MODES[mode][1])


def state_units(mode: str, hidden_size: int = H) -> int:
    """Units of h0, h_n and each direction's output: proj_size or hidden_size."""
    return MODES[mode][1].get("proj_size", hidden_size)


def ours_layer(mode: str, **kw: Any) -> nn.RNNBase:
    cls, extra = MODES[mode]
    return cls(**kw, **extra)


def copy_from_torch(module: nn.Module, tmodule: Any) -> None:
    module.load_state_dict({k: v.numpy() for k, v in tmodule.state_dict().items()})


# ==========================================================================
# Full models vs torch: Embedding -> 2-layer bidirectional RNN -> Linear -> CE
# ==========================================================================


class Net(nn.Module):
    def __init__(self, mode: str, batch_first: bool, dtype: Any) -> None:
        super().__init__()
        self.emb = nn.Embedding(V, E, dtype=dtype)
        self.rnn = ours_layer(
            mode,
            input_size=E,
            hidden_size=H,
            num_layers=2,
            bidirectional=True,
            batch_first=batch_first,
            dtype=dtype,
        )
        self.head = nn.Linear(2 * state_units(mode), C, dtype=dtype)

    def forward(self, tokens: Any, hx: Any, lengths: Any) -> Any:
        y, h = self.rnn(self.emb(tokens), hx, lengths=lengths)
        return self.head(y), h


def make_torch_net(torch: Any, mode: str, batch_first: bool, dtype: Any) -> Any:
    tdtype = torch.float64 if dtype == np.float64 else torch.float32

    class TorchNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = torch.nn.Embedding(V, E)
            self.rnn = torch_layer(
                torch,
                mode,
                input_size=E,
                hidden_size=H,
                num_layers=2,
                bidirectional=True,
                batch_first=batch_first,
            )
            self.head = torch.nn.Linear(2 * state_units(mode), C)

        def forward(self, tokens: Any, hx: Any, lengths: Any) -> Any:
            x = self.emb(tokens)
            if lengths is not None:
                x = torch.nn.utils.rnn.pack_padded_sequence(
                    x, lengths, batch_first=batch_first, enforce_sorted=False
                )
            y, h = self.rnn(x, hx)
            if lengths is not None:
                y, _ = torch.nn.utils.rnn.pad_packed_sequence(
                    y, batch_first=batch_first, total_length=T
                )
            return self.head(y), h

    return TorchNet().to(tdtype)


def _case(
    rng: Any, with_lengths: bool, batch_first: bool, is_lstm: bool, S: int = H
) -> dict:
    tokens = rng.integers(0, V, (T, B))
    targets = rng.integers(0, C, (T, B))
    lengths = np.array([T, 2, 4]) if with_lengths else None
    if with_lengths:
        targets[np.arange(T)[:, None] >= lengths[None, :]] = -100
    if batch_first:
        tokens, targets = tokens.T.copy(), targets.T.copy()
    return {
        "tokens": tokens,
        "targets": targets,
        "lengths": lengths,
        "h0": rng.standard_normal((4, B, S)),
        "c0": rng.standard_normal((4, B, H)) if is_lstm else None,
        "R_h": rng.standard_normal((4, B, S)),
        "R_c": rng.standard_normal((4, B, H)),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("with_h0", [False, True])
@pytest.mark.parametrize("with_lengths", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", list(MODES))
def test_full_model_matches_torch(
    torch: Any,
    rng: Any,
    mode: str,
    batch_first: bool,
    with_lengths: bool,
    with_h0: bool,
    dtype: Any,
) -> None:
    is_lstm = mode.startswith("lstm")
    tnet = make_torch_net(torch, mode, batch_first, dtype)
    net = Net(mode, batch_first, dtype)
    copy_from_torch(net, tnet)
    case = _case(rng, with_lengths, batch_first, is_lstm, state_units(mode))

    # fastrnn
    hx = None
    if with_h0:
        h0 = fr.tensor(case["h0"].astype(dtype), requires_grad=True)
        c0 = (
            fr.tensor(case["c0"].astype(dtype), requires_grad=True) if is_lstm else None
        )
        hx = (h0, c0) if is_lstm else h0
    logits, h = net(case["tokens"], hx, case["lengths"])
    h_n, c_n = h if is_lstm else (h, None)
    loss = nn.CrossEntropyLoss()(logits.reshape(-1, C), case["targets"].reshape(-1))
    loss = loss + (h_n * case["R_h"].astype(dtype)).sum()
    if is_lstm:
        loss = loss + (c_n * case["R_c"].astype(dtype)).sum()
    loss.backward()

    # torch
    thx = None
    if with_h0:
        th0 = torch.tensor(case["h0"].astype(dtype), requires_grad=True)
        tc0 = (
            torch.tensor(case["c0"].astype(dtype), requires_grad=True)
            if is_lstm
            else None
        )
        thx = (th0, tc0) if is_lstm else th0
    tlengths = None if case["lengths"] is None else torch.tensor(case["lengths"])
    tlogits, th = tnet(torch.tensor(case["tokens"]), thx, tlengths)
    th_n, tc_n = th if is_lstm else (th, None)
    tloss = torch.nn.functional.cross_entropy(
        tlogits.reshape(-1, C), torch.tensor(case["targets"].reshape(-1))
    )
    tloss = tloss + (th_n * torch.tensor(case["R_h"].astype(dtype))).sum()
    if is_lstm:
        tloss = tloss + (tc_n * torch.tensor(case["R_c"].astype(dtype))).sum()
    tloss.backward()

    tol = TOL[dtype]
    np.testing.assert_allclose(loss.item(), tloss.item(), **tol)
    np.testing.assert_allclose(logits.numpy(), tlogits.detach().numpy(), **tol)
    np.testing.assert_allclose(h_n.numpy(), th_n.detach().numpy(), **tol)
    if is_lstm:
        np.testing.assert_allclose(c_n.numpy(), tc_n.detach().numpy(), **tol)
    tparams = dict(tnet.named_parameters())
    names = [name for name, _ in net.named_parameters()]
    assert names == list(tparams)
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(
            p.grad, tparams[name].grad.numpy(), err_msg=name, **tol
        )
    if with_h0:
        np.testing.assert_allclose(h0.grad, th0.grad.numpy(), **tol)
        if is_lstm:
            np.testing.assert_allclose(c0.grad, tc0.grad.numpy(), **tol)


@pytest.mark.parametrize("mode", list(MODES))
def test_layer_input_grad_and_unbatched_match_torch(
    torch: Any, rng: Any, mode: str
) -> None:
    tlayer = torch_layer(torch, mode, input_size=3, hidden_size=H, num_layers=2)
    tlayer = tlayer.double()
    layer = ours_layer(
        mode, input_size=3, hidden_size=H, num_layers=2, dtype=np.float64
    )
    copy_from_torch(layer, tlayer)
    for shape in [(T, B, 3), (T, 3)]:  # batched and unbatched
        x0 = rng.standard_normal(shape)
        R = rng.standard_normal((*shape[:-1], state_units(mode)))
        x = fr.tensor(x0, requires_grad=True)
        y, h = layer(x)
        (y * R).sum().backward()
        xt = torch.tensor(x0, requires_grad=True)
        yt, ht = tlayer(xt)
        (yt * torch.tensor(R)).sum().backward()
        tol = TOL[np.float64]
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), **tol)
        h, ht = (h[0], ht[0]) if mode.startswith("lstm") else (h, ht)
        assert h.shape == tuple(ht.shape)
        np.testing.assert_allclose(h.numpy(), ht.detach().numpy(), **tol)
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), **tol)


def test_ndarray_input_and_lengths_types(rng: Any) -> None:
    lstm = nn.LSTM(3, H, batch_first=True, dtype=np.float64)
    x = rng.standard_normal((B, T, 3))
    lengths = [T, 2, 4]
    y1, (h1, _) = lstm(x, lengths=lengths)
    y2, (h2, _) = lstm(fr.tensor(x), None, np.array(lengths))
    y3, (h3, _) = lstm(x, lengths=fr.tensor(np.array(lengths)))
    assert not y1.requires_grad or y1.grad_fn is not None
    for y, h in [(y2, h2), (y3, h3)]:
        np.testing.assert_array_equal(y.numpy(), y1.numpy())
        np.testing.assert_array_equal(h.numpy(), h1.numpy())
    # outputs past each length are zero, h_n is the state at the last valid step
    assert np.all(y1.numpy()[1, 2:] == 0) and np.all(y1.numpy()[2, 4:] == 0)
    np.testing.assert_array_equal(h1.numpy()[0, 1], y1.numpy()[1, 1])


def test_float32_default_dtype_and_threads(rng: Any) -> None:
    gru = nn.GRU(3, H, num_layers=2, bidirectional=True)
    assert all(p.dtype == np.float32 for p in gru.parameters())
    x = rng.standard_normal((T, B, 3)).astype(np.float32)
    y, h = gru(x)
    assert y.dtype == np.float32 and y.shape == (T, B, 2 * H)
    assert h.shape == (4, B, H)
    try:
        fr.set_num_threads(1)
        y1, _ = gru(x)
        fr.set_num_threads(2)
        y2, _ = gru(x)
    finally:
        fr.set_num_threads(None)
    np.testing.assert_allclose(y1.numpy(), y2.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("module", ["LSTM", "GRU", "RNN"])
def test_no_grad_forward_is_the_inference_kernel_with_the_same_outputs(
    rng: Any, module: str, monkeypatch: Any
) -> None:
    """Under no_grad the layers ask the kernels for the inference forward (nothing saved
    for backward) and get the training forward's outputs bit for bit."""
    from fastrnn import functional

    layer = getattr(nn, module)(3, H, num_layers=2, bidirectional=True)
    x = fr.tensor(rng.standard_normal((T, B, 3)).astype(np.float32))
    asked = []
    forward = functional.forward

    def spy(*args: Any, **kwargs: Any) -> Any:
        asked.append(kwargs.get("need_backward", True))
        return forward(*args, **kwargs)

    monkeypatch.setattr(functional, "forward", spy)
    y, _ = layer(x)
    assert asked and all(asked)  # parameters require grad: training forward
    asked.clear()
    with fr.no_grad():
        y_inf, _ = layer(x)
    assert asked and not any(asked)
    np.testing.assert_array_equal(y_inf.numpy(), y.numpy())


# ==========================================================================
# Dropout between layers
# ==========================================================================


def test_dropout_between_layers(rng: Any) -> None:
    x = rng.standard_normal((T, B, 3))
    fr.manual_seed(1)
    rnn = nn.RNN(3, H, num_layers=2, dropout=1.0, dtype=np.float64)
    # p=1 in training: layer 1 sees zeros, so its output only depends on its biases
    y, h = rnn(x)
    zeros_in = np.zeros((T, B, H))
    ref = _reference.forward(
        "rnn_tanh",
        zeros_in,
        np.zeros((B, H)),
        rnn.weight_ih_l1.data,
        rnn.weight_hh_l1.data,
        rnn.bias_ih_l1.data,
        rnn.bias_hh_l1.data,
    )
    np.testing.assert_allclose(y.numpy(), ref["Y"], rtol=1e-12, atol=1e-12)
    # eval mode: no dropout, same as a model with dropout=0
    rnn.eval()
    y_eval, _ = rnn(x)
    plain = nn.RNN(3, H, num_layers=2, dtype=np.float64)
    plain.load_state_dict(rnn.state_dict())
    np.testing.assert_array_equal(y_eval.numpy(), plain(x)[0].numpy())


def test_dropout_is_seeded_and_trains(rng: Any) -> None:
    lstm = nn.LSTM(3, H, num_layers=3, dropout=0.5, dtype=np.float64)
    x = fr.tensor(rng.standard_normal((T, B, 3)), requires_grad=True)
    fr.manual_seed(5)
    y1, _ = lstm(x)
    fr.manual_seed(5)
    y2, _ = lstm(x)
    y3, _ = lstm(x)
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    assert not np.allclose(y2.numpy(), y3.numpy())
    y1.sum().backward()
    assert all(np.isfinite(p.grad).all() for p in lstm.parameters())


def test_dropout_warns_for_one_layer() -> None:
    with pytest.warns(UserWarning, match="num_layers"):
        nn.GRU(3, H, dropout=0.2)


# ==========================================================================
# Variants without a torch counterpart: GRU Cho, minimal GRU, peephole LSTM
# ==========================================================================

VARIANTS = {
    "gru_cho": lambda **kw: nn.GRU(reset_after=False, **kw),
    "gru_minimal": lambda **kw: nn.GRU(variant="minimal", **kw),
    "lstm_peephole": lambda **kw: nn.LSTM(peephole=True, **kw),
}


def reference_stack(
    model: nn.RNNBase, X: np.ndarray, h0: np.ndarray, c0: Any, lengths: Any
) -> tuple[np.ndarray, np.ndarray, Any]:
    """A hand loop over layers and directions with fastrnn._reference (time-major)."""
    D = model.num_directions
    hs, cs = [], []
    for layer in range(model.num_layers):
        outs = []
        for d in range(D):
            k = layer * D + d
            sfx = f"l{layer}{'_reverse' if d else ''}"
            G3 = getattr(model, f"weight_hh_{sfx}").shape[0]
            p = {
                n: getattr(model, f"{n}_{sfx}", None)
                for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_peep")
            }
            zeros = np.zeros(G3)
            out = _reference.forward(
                model.cell,
                X,
                h0[k],
                p["weight_ih"].data,
                p["weight_hh"].data,
                zeros if p["bias_ih"] is None else p["bias_ih"].data,
                zeros if p["bias_hh"] is None else p["bias_hh"].data,
                c0=None if c0 is None else c0[k],
                w_peep=None if p["weight_peep"] is None else p["weight_peep"].data,
                lengths=lengths,
                reverse=bool(d),
            )
            outs.append(out["Y"])
            hs.append(out["h_n"])
            cs.append(out["c_n"])
        X = np.concatenate(outs, axis=-1)
    return X, np.stack(hs), (np.stack(cs) if c0 is not None else None)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_match_reference(rng: Any, variant: str, bias: bool) -> None:
    model = VARIANTS[variant](
        input_size=3,
        hidden_size=H,
        num_layers=2,
        bidirectional=True,
        bias=bias,
        batch_first=True,
        dtype=np.float64,
    )
    assert model.cell == variant
    is_lstm = variant.startswith("lstm")
    X = rng.standard_normal((T, B, 3))
    h0 = rng.standard_normal((4, B, H))
    c0 = rng.standard_normal((4, B, H)) if is_lstm else None
    lengths = np.array([3, T, 1])
    hx = (h0, c0) if is_lstm else h0
    y, h = model(X.transpose(1, 0, 2), hx, lengths=lengths)
    h_n, c_n = h if is_lstm else (h, None)
    Y_ref, h_ref, c_ref = reference_stack(model, X, h0, c0, lengths)
    tol = {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(y.numpy(), Y_ref.transpose(1, 0, 2), **tol)
    np.testing.assert_allclose(h_n.numpy(), h_ref, **tol)
    if is_lstm:
        np.testing.assert_allclose(c_n.numpy(), c_ref, **tol)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variants_gradcheck(rng: Any, variant: str) -> None:
    model = VARIANTS[variant](
        input_size=2, hidden_size=3, num_layers=2, bidirectional=True, dtype=np.float64
    )
    is_lstm = variant.startswith("lstm")
    lengths = np.array([4, 2])
    R_y = rng.standard_normal((4, 2, 6))
    R_h = rng.standard_normal((4, 2, 3))
    named = dict(model.named_parameters())
    point = {k: p.data.copy() for k, p in named.items()}
    point["x"] = rng.standard_normal((4, 2, 2))
    point["h0"] = rng.standard_normal((4, 2, 3))

    def loss(values: dict[str, np.ndarray], grad: bool = False) -> Any:
        for k, p in named.items():
            p.data = values[k].copy()
            p.grad = None
        x = fr.tensor(values["x"], requires_grad=grad)
        h0 = fr.tensor(values["h0"], requires_grad=grad)
        y, h = model(x, (h0, None) if is_lstm else h0, lengths=lengths)
        h_n, c_n = h if is_lstm else (h, None)
        L = (y * R_y).sum() + (h_n * R_h).sum()
        if is_lstm:
            L = L + (c_n * R_h).sum()
        if not grad:
            return L.item()
        L.backward()
        grads = {k: p.grad for k, p in named.items()}
        return {**grads, "x": x.grad, "h0": h0.grad}

    grads = loss(point, grad=True)
    directional_check(loss, point, grads, n_directions=2, rng=0)


def test_variant_shapes_and_gates() -> None:
    minimal = nn.GRU(3, H, variant="minimal")
    assert minimal.weight_ih_l0.shape == (2 * H, 3)
    assert minimal.weight_hh_l0.shape == (2 * H, H)
    peep = nn.LSTM(3, H, num_layers=2, bidirectional=True, peephole=True)
    names = [n for n, _ in peep.named_parameters()]
    assert names[:5] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_peep_l0",
    ]
    assert "weight_peep_l1_reverse" in names
    assert peep.weight_peep_l1_reverse.shape == (3 * H,)
    bound = 1 / np.sqrt(H)
    assert np.all(np.abs(peep.weight_peep_l0.data) <= bound)
    with pytest.raises(ValueError, match="variant"):
        nn.GRU(3, H, variant="tiny")
    with pytest.raises(ValueError, match="reset_after"):
        nn.GRU(3, H, variant="minimal", reset_after=False)


# ==========================================================================
# Parameters, state dicts, init, repr, errors
# ==========================================================================


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 3])
@pytest.mark.parametrize("mode", list(MODES))
def test_state_dict_names_and_shapes_match_torch(
    torch: Any, mode: str, num_layers: int, bidirectional: bool, bias: bool
) -> None:
    kw = {
        "input_size": 5,
        "hidden_size": 3,
        "num_layers": num_layers,
        "bidirectional": bidirectional,
        "bias": bias,
    }
    ours = ours_layer(mode, **kw).state_dict()
    theirs = torch_layer(torch, mode, **kw).state_dict()
    assert [(k, v.shape) for k, v in ours.items()] == [
        (k, tuple(v.shape)) for k, v in theirs.items()
    ]


def test_load_state_dict_errors(torch: Any) -> None:
    lstm = nn.LSTM(5, 3, num_layers=2)
    wrong = torch.nn.LSTM(5, 4, num_layers=2).state_dict()
    before = lstm.state_dict()
    with pytest.raises(ValueError, match="expected shape"):
        lstm.load_state_dict({k: v.numpy() for k, v in wrong.items()})
    for k, v in lstm.state_dict().items():  # nothing changed
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(nn.StateDictKeyError, match="missing keys"):
        lstm.load_state_dict(
            {k: v.numpy() for k, v in torch.nn.LSTM(5, 3).state_dict().items()}
        )
    with pytest.raises(nn.StateDictKeyError, match="unexpected"):
        gru_sd = torch.nn.GRU(5, 3, num_layers=2).state_dict()
        nn.GRU(5, 3, num_layers=2, variant="minimal").load_state_dict(
            {k: v.numpy()[: 2 * 3] for k, v in gru_sd.items()} | {"extra": np.ones(1)}
        )


def test_init_is_uniform_and_seeded() -> None:
    fr.manual_seed(3)
    a = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
    fr.manual_seed(3)
    b = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
    bound = 1 / np.sqrt(8)
    for (name, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
        assert np.all(np.abs(p.data) <= bound), name
        assert p.data.std() > bound / 4, name


def test_extra_repr() -> None:
    assert repr(nn.LSTM(10, 20, num_layers=2, batch_first=True)) == (
        "LSTM(10, 20, num_layers=2, batch_first=True)"
    )
    assert repr(nn.GRU(3, 4)) == "GRU(3, 4)"
    assert repr(nn.RNN(3, 4, nonlinearity="relu", bias=False, bidirectional=True)) == (
        "RNN(3, 4, bias=False, bidirectional=True, nonlinearity='relu')"
    )
    assert repr(nn.GRU(3, 4, num_layers=2, dropout=0.5, reset_after=False)) == (
        "GRU(3, 4, num_layers=2, dropout=0.5, reset_after=False)"
    )
    assert repr(nn.LSTM(3, 4, peephole=True)) == "LSTM(3, 4, peephole=True)"


def test_proj_size_shapes_repr_and_errors(rng: Any) -> None:
    lstm = nn.LSTM(5, 4, num_layers=2, bidirectional=True, proj_size=3)
    shapes = {k: v.shape for k, v in lstm.state_dict().items()}
    assert shapes["weight_hh_l0"] == (16, 3)
    assert shapes["weight_hr_l0_reverse"] == (3, 4)
    assert shapes["weight_ih_l1"] == (16, 6)  # reads both directions' P units
    assert repr(lstm) == "LSTM(5, 4, num_layers=2, bidirectional=True, proj_size=3)"
    y, (h_n, c_n) = lstm(rng.standard_normal((T, B, 5)).astype(np.float32))
    assert (y.shape, h_n.shape, c_n.shape) == ((T, B, 6), (4, B, 3), (4, B, 4))
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(5, 4, proj_size=4)
    with pytest.raises(TypeError, match="proj_size"):
        nn.LSTM(5, 4, proj_size=1.0)
    with pytest.raises(ValueError, match=r"h0 of shape \(4, 3, 3\).*proj_size"):
        lstm(np.zeros((T, B, 5), np.float32), (np.zeros((4, B, 4), np.float32), None))
    with pytest.raises(ValueError, match="only LSTMs"):
        nn.RNNBase("gru", 5, 4, proj_size=2)


def test_constructor_errors() -> None:
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.GRU(3, 0)
    with pytest.raises(TypeError, match="num_layers"):
        nn.LSTM(3, 4, num_layers=1.5)
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(TypeError, match="dtype"):
        nn.GRU(3, 4, dtype=np.int32)


def test_call_errors(rng: Any) -> None:
    lstm = nn.LSTM(3, H, num_layers=2, dtype=np.float64)
    x = rng.standard_normal((T, B, 3))
    with pytest.raises(ValueError, match="input_size=3"):
        lstm(rng.standard_normal((T, B, 4)))
    with pytest.raises(ValueError, match="3 dimensions"):
        lstm(rng.standard_normal((1, T, B, 3)))
    with pytest.raises(TypeError, match="dtype"):
        lstm(x.astype(np.float32))
    with pytest.raises(ValueError, match=r"h0 of shape \(2, 3, 4\)"):
        lstm(x, (np.zeros((1, B, H)), None))
    with pytest.raises(ValueError, match="c0"):
        lstm(x, (None, np.zeros((2, B + 1, H))))
    with pytest.raises(TypeError, match="tuple"):
        lstm(x, np.zeros((2, B, H)))
    with pytest.raises(ValueError, match="length"):
        lstm(x, lengths=[T + 1, 1, 1])
    with pytest.raises(ValueError, match="length"):
        lstm(x, lengths=[1, 1])
    with pytest.raises(TypeError, match="integer"):
        lstm(x, lengths=[1.5, 1, 1])
    with pytest.raises(ValueError, match="unbatched"):
        lstm(x[:, 0], lengths=[1])
