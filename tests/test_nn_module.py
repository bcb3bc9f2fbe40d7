"""Tests for fastrnn.nn.module: registration, traversal, modes, state dicts, dtype."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(7, 3)
        self.scale = nn.Parameter(np.ones(1, dtype=np.float32))
        self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Dropout(0.2))
        self.head = nn.Linear(4, 2, bias=False)
        self.register_buffer("steps", np.zeros(1, dtype=np.int64))
        self.register_buffer("cache", np.zeros(2), persistent=False)
        self.note = "plain attribute"

    def forward(self, ids: Any) -> fr.Tensor:
        return self.head(self.body(self.embedding(ids) * self.scale))


def test_registration_order_and_dotted_names() -> None:
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == [
        "scale",
        "embedding.weight",
        "body.0.weight",
        "body.0.bias",
        "head.weight",
    ]
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert all(p.requires_grad for p in net.parameters())
    assert [n for n, _ in net.named_children()] == ["embedding", "body", "head"]
    assert len(list(net.modules())) == 1 + 3 + 3  # net, emb, body(+3 inside), head
    assert [n for n, _ in net.named_modules()][:4] == [
        "",
        "embedding",
        "body",
        "body.0",
    ]
    assert net.note == "plain attribute"
    assert [n for n, _ in net.named_buffers()] == ["steps", "cache"]


def test_state_dict_keys_follow_pytorch_order() -> None:
    sd = Net().state_dict()
    assert list(sd) == [
        "scale",
        "steps",
        "embedding.weight",
        "body.0.weight",
        "body.0.bias",
        "head.weight",
    ]
    assert all(isinstance(v, np.ndarray) for v in sd.values())


def test_state_dict_values_are_copies() -> None:
    lin = nn.Linear(2, 2)
    sd = lin.state_dict()
    sd["weight"][...] = 123
    assert not (lin.weight.data == 123).any()


def test_state_dict_round_trip() -> None:
    a, b = Net(), Net()
    fr.manual_seed(1)
    b = Net()
    assert not np.array_equal(a.head.weight.data, b.head.weight.data)
    weight_obj = b.head.weight.data
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (ka, va), (kb, vb) in zip(
        a.state_dict().items(), b.state_dict().items(), strict=True
    ):
        assert ka == kb
        np.testing.assert_array_equal(va, vb)
    assert b.head.weight.data is weight_obj  # loaded in place


def test_shared_parameters_listed_once() -> None:
    lin = nn.Linear(3, 3)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2


def test_train_eval_propagate() -> None:
    net = Net()
    assert net.training and net.body[2].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_sets_none() -> None:
    net = Net()
    net(np.array([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(np.all(p.grad == 0) for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_setattr_none_and_type_errors() -> None:
    lin = nn.Linear(2, 3)
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert "bias" not in lin.state_dict()
    with pytest.raises(TypeError, match="expected a Parameter or None"):
        lin.weight = np.zeros((3, 2))
    lin.weight = nn.Parameter(np.zeros((3, 2), dtype=np.float32))
    assert np.all(lin(np.ones((1, 2), dtype=np.float32)).numpy() == 0)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = lin.nope
    del lin.weight
    assert list(lin.named_parameters()) == []

    class Early(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def _torch_mlp(torch: Any) -> Any:
    tnn = torch.nn
    return tnn.Sequential(tnn.Linear(4, 5), tnn.ReLU(), tnn.Linear(5, 3)).double()


def test_load_torch_sequential_state_dict(torch: Any, rng: Any) -> None:
    tmodel = _torch_mlp(torch)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))  # float32
    model.load_state_dict(tmodel.state_dict())  # torch tensors, via np.asarray
    assert model[0].weight.dtype == np.float32  # cast to the parameter dtype
    model.double()
    model.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    x = rng.standard_normal((6, 4))
    with torch.no_grad():
        expected = tmodel(torch.tensor(x)).numpy()
    np.testing.assert_allclose(model(fr.tensor(x)).numpy(), expected, rtol=1e-12)
    assert list(model.state_dict()) == list(tmodel.state_dict())


def test_load_torch_embedding_state_dict(torch: Any) -> None:
    temb = torch.nn.Embedding(9, 4, padding_idx=1)
    emb = nn.Embedding(9, 4, padding_idx=1)
    emb.load_state_dict(temb.state_dict())
    np.testing.assert_array_equal(emb.weight.data, temb.weight.detach().numpy())


def test_load_state_dict_key_errors() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    sd = model.state_dict()
    del sd["1.bias"]
    sd["2.weight"] = np.zeros(1)
    before = model[0].weight.data.copy()
    with pytest.raises(KeyError) as info:
        model.load_state_dict(sd)
    message = str(info.value)
    assert "missing keys ['1.bias']" in message
    assert "unexpected keys ['2.weight']" in message
    assert isinstance(info.value, ValueError)  # catchable either way
    np.testing.assert_array_equal(model[0].weight.data, before)  # nothing loaded
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["1.bias"] and result.unexpected_keys == ["2.weight"]


def test_load_state_dict_shape_error_names_key() -> None:
    model = nn.Sequential(nn.Linear(2, 3))
    sd = model.state_dict()
    original = sd["0.bias"].copy()
    sd["0.bias"] = np.ones(3)
    sd["0.weight"] = np.zeros((2, 3))
    with pytest.raises(
        ValueError, match=r"expected shape \(3, 2\) for '0.weight', got \(2, 3\)"
    ):
        model.load_state_dict(sd)
    np.testing.assert_array_equal(model[0].bias.data, original)  # all or nothing


def test_to_double_float() -> None:
    net = Net()
    net(np.array([[1, 2]])).sum().backward()
    assert net.double() is net
    assert all(
        p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters()
    )
    assert net.steps.dtype == np.int64  # integer buffers untouched
    out = net(np.array([[1, 2]]))
    assert out.dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in net.parameters())
    with pytest.raises(TypeError, match="float32 or float64"):
        net.to(np.int32)


def test_repr_is_nested_like_pytorch() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Dropout(0.1)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Sequential(\n"
        "    (0): Dropout(p=0.1)\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Parameter(np.zeros(1))).startswith("Parameter containing:\n")


def test_containers() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(layers) == 4 and isinstance(layers[-1], nn.Linear)
    assert [n for n, _ in layers.named_parameters()][-2:] == ["3.weight", "3.bias"]
    assert len(layers[1:]) == 3
    seq = nn.Sequential(OrderedDict(first=nn.Linear(2, 3), act=nn.ReLU()))
    assert list(seq.state_dict()) == ["first.weight", "first.bias"]
    assert isinstance(seq[1], nn.ReLU) and len(seq[:1]) == 1
    with pytest.raises(IndexError, match=r"expected index in \[-2, 2\), got 5"):
        seq[5]
    x = fr.tensor(np.ones((1, 2)))
    y = x
    for layer in layers:
        y = layer(y.float())
    assert y.shape == (1, 1)


def test_parameters_train_with_plain_sgd() -> None:
    fr.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))
    x = np.linspace(-1, 1, 32, dtype=np.float32)[:, None]
    y = x**2
    first = None
    for _ in range(300):
        loss = nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with fr.no_grad():
            for p in model.parameters():
                p.data -= 0.2 * p.grad
    assert loss.item() < 0.2 * first
