"""Tests for fastrnn.tensor and the ops: gradients by finite differences, graph rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import Function, Tensor
from fastrnn.gradcheck import full_check


def check_grads(fn: Callable[..., Tensor], *arrays: np.ndarray, seed: int = 0) -> None:
    """Gradcheck ``fn`` (Tensors -> Tensor) in float64 at ``arrays``.

    The scalar loss is a fixed random projection of the output, so every output entry
    is checked; the analytic gradient comes from ``backward``.
    """
    params = {f"x{k}": np.asarray(a, dtype=np.float64) for k, a in enumerate(arrays)}
    out_shape = fn(*(fr.tensor(a) for a in params.values())).shape
    R = np.random.default_rng(seed).standard_normal(out_shape)

    def loss(p: dict[str, np.ndarray]) -> float:
        with fr.no_grad():
            return float((fn(*(fr.tensor(a) for a in p.values())) * R).sum().item())

    tensors = [fr.tensor(a, requires_grad=True) for a in params.values()]
    out = fn(*tensors)
    assert out.dtype == np.float64
    (out * R).sum().backward()
    grads = {name: t.grad for name, t in zip(params, tensors, strict=True)}
    full_check(loss, params, grads)


@pytest.fixture
def r(rng: np.random.Generator) -> Callable[..., np.ndarray]:
    return lambda *shape: rng.standard_normal(shape)


# ==========================================================================
# Gradients of every op (float64 finite differences)
# ==========================================================================

BROADCAST_SHAPES = [
    ((3, 4), (3, 4)),
    ((3, 4), (4,)),
    ((3, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((4,), (2, 3, 4)),
    ((), (2, 3)),
]


@pytest.mark.parametrize("sa, sb", BROADCAST_SHAPES)
@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a * b,
        lambda a, b: a / b,
    ],
    ids=["add", "sub", "mul", "div"],
)
def test_binary_op_gradients_with_broadcasting(
    op: Any, sa: Any, sb: Any, rng: Any
) -> None:
    a = rng.standard_normal(sa)
    b = rng.uniform(0.5, 2.0, sb) * rng.choice([-1, 1], sb)  # away from 0 for div
    check_grads(op, a, b)


def test_broadcast_gradient_is_summed_to_operand_shape() -> None:
    a = fr.tensor(np.ones((2, 3)), requires_grad=True)
    b = fr.tensor(np.ones((3,)), requires_grad=True)
    (a * b).sum().backward()
    assert b.grad.shape == (3,)
    np.testing.assert_array_equal(b.grad, [2.0, 2.0, 2.0])


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: -a,
        lambda a: a**2,
        lambda a: a**3,
        lambda a: 2.0 - a,
        lambda a: 3.0 / a,
        lambda a: 1.5 * a + 1,
        lambda a: a - np.arange(4.0),
        lambda a: np.arange(4.0) * a,
    ],
    ids=["neg", "sq", "cube", "rsub", "rdiv", "scalars", "ndarray-const", "rmul-array"],
)
def test_unary_and_scalar_gradients(fn: Any, rng: Any) -> None:
    check_grads(fn, rng.uniform(0.5, 2.0, (3, 4)))


def test_pow_fractional(rng: Any) -> None:
    check_grads(lambda a: a**0.5, rng.uniform(0.5, 2.0, (5,)))


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((3, 4), (4, 5)),
        ((2, 3, 4), (4, 5)),
        ((2, 3, 4), (2, 4, 5)),
        ((2, 1, 3, 4), (5, 4, 2)),
        ((4,), (4, 5)),
        ((3, 4), (4,)),
        ((4,), (4,)),
        ((2, 3, 4), (4,)),
    ],
)
def test_matmul_gradients(sa: Any, sb: Any, rng: Any) -> None:
    check_grads(lambda a, b: a @ b, rng.standard_normal(sa), rng.standard_normal(sb))


def test_rmatmul_with_ndarray(rng: Any) -> None:
    W = rng.standard_normal((5, 3))
    check_grads(lambda a: W @ a, rng.standard_normal((3, 2)))


@pytest.mark.parametrize(
    "index",
    [
        (slice(None), 1),
        (slice(1, None), slice(None, None, 2)),
        (Ellipsis, None, 0),
        -1,
        np.array([0, 2, 0, 0]),  # repeated rows accumulate
        (np.array([0, 1, 1]), np.array([3, 2, 2])),
        (slice(None), [1, 1, 0]),
    ],
    ids=["col", "strided", "ellipsis-newaxis", "neg", "rows-repeat", "pairs", "list"],
)
def test_getitem_gradients(index: Any, rng: Any) -> None:
    check_grads(lambda a: a[index], rng.standard_normal((3, 4)))


def test_getitem_bool_mask_and_tensor_index(rng: Any) -> None:
    mask = rng.random((3, 4)) > 0.4
    check_grads(lambda a: a[mask], rng.standard_normal((3, 4)))
    idx = fr.tensor(np.array([2, 0, 2]))
    check_grads(lambda a: a[idx], rng.standard_normal((3, 4)))


def test_getitem_repeated_index_accumulates() -> None:
    a = fr.tensor(np.zeros(3), requires_grad=True)
    a[np.array([1, 1, 1, 2])].sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 3.0, 1.0])


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: a.reshape(4, 6),
        lambda a: a.view(-1),
        lambda a: a.reshape((2, 12)),
        lambda a: a.transpose(0, 2),
        lambda a: a.permute(2, 0, 1),
        lambda a: a.T,
        lambda a: a.unsqueeze(1).squeeze(1),
        lambda a: a.flatten(1),
    ],
    ids=[
        "reshape",
        "view",
        "reshape-tuple",
        "transpose",
        "permute",
        "T",
        "unsq",
        "flatten",
    ],
)
def test_shape_op_gradients(fn: Any, rng: Any) -> None:
    check_grads(fn, rng.standard_normal((2, 3, 4)))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_and_stack_gradients(dim: int, rng: Any) -> None:
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check_grads(lambda x, y: fr.cat([x, y, x], dim=dim), a, b)
    check_grads(lambda x, y: fr.stack([x, y], dim=dim), a, b)
    assert fr.concat is fr.cat


def test_cat_with_constant_and_promotion(rng: Any) -> None:
    a = fr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    out = fr.cat([a, np.ones((2, 1))], dim=1)
    assert out.shape == (2, 4)
    out.sum().backward()
    np.testing.assert_array_equal(a.grad, np.ones((2, 3)))


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 2), -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "amax"])
def test_reduction_gradients(name: str, dim: Any, keepdim: bool, rng: Any) -> None:
    check_grads(
        lambda a: getattr(a, name)(dim, keepdim), rng.standard_normal((2, 3, 4))
    )


def test_amax_ties_share_gradient() -> None:
    a = fr.tensor(np.array([1.0, 3.0, 3.0]), requires_grad=True)
    a.amax().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.5, 0.5])


@pytest.mark.parametrize(
    "fn",
    [
        lambda a: a.exp(),
        lambda a: (a * a + 0.5).log(),
        lambda a: a.tanh(),
        lambda a: a.sigmoid(),
        lambda a: a.relu(),
        lambda a: a.softmax(-1),
        lambda a: a.softmax(0),
        lambda a: fr.log_softmax(a, dim=1),
        lambda a: fr.log_softmax(a, dim=0),
        lambda a: fr.exp(fr.tanh(a)) + fr.sigmoid(a) * fr.relu(a),
    ],
    ids=[
        "exp",
        "log",
        "tanh",
        "sigmoid",
        "relu",
        "softmax",
        "softmax0",
        "lsm",
        "lsm0",
        "mix",
    ],
)
def test_elementwise_gradients(fn: Any, rng: Any) -> None:
    a = rng.standard_normal((3, 5))
    a[np.abs(a) < 1e-3] = 0.1  # keep relu away from its kink
    check_grads(fn, a)


def test_cast_is_differentiable() -> None:
    a = fr.tensor(np.array([1.0, 2.0]), requires_grad=True)  # float64
    b = a.float()
    assert b.dtype == np.float32
    (b * 3).sum().backward()
    assert a.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad, [3.0, 3.0])


def test_softmax_and_sigmoid_are_stable() -> None:
    x = fr.tensor(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(x.softmax(-1).numpy(), [[1.0, 0.0, 0.0]])
    assert np.isfinite(fr.log_softmax(x, -1).numpy()).all()
    s = fr.tensor(np.array([-1000.0, 1000.0])).sigmoid().numpy()
    np.testing.assert_array_equal(s, [0.0, 1.0])


def test_softmax_matches_torch(torch: Any, rng: Any) -> None:
    a = rng.standard_normal((4, 6))
    g = rng.standard_normal((4, 6))
    for name in ("softmax", "log_softmax"):
        x = fr.tensor(a, requires_grad=True)
        y = getattr(fr, name)(x, dim=1)
        y.backward(g)
        xt = torch.tensor(a, requires_grad=True)
        yt = getattr(torch, name)(xt, dim=1)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


# ==========================================================================
# The tape: accumulation, sharing, no_grad, errors
# ==========================================================================


def test_gradients_accumulate_across_backward_calls() -> None:
    x = fr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [2 + 3, 4 + 3])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [3, 3])


def test_same_graph_backward_twice_doubles() -> None:
    x = fr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = (x * x).sum()
    y.backward()
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_reused_tensor_sums_gradients() -> None:
    x = fr.tensor(np.array(3.0), requires_grad=True)
    h = x * 2
    (h * h + h).backward()  # d/dx (4x^2 + 2x) = 8x + 2
    assert x.grad == pytest.approx(26.0)
    assert h.grad is None  # non-leaf grads are not kept


class Counting(Function):
    calls = 0

    @staticmethod
    def forward(ctx: Any, x: np.ndarray) -> np.ndarray:
        return x * 2

    @staticmethod
    def backward(ctx: Any, g: np.ndarray) -> np.ndarray:
        Counting.calls += 1
        return g * 2


def test_each_node_runs_once_in_a_diamond() -> None:
    Counting.calls = 0
    x = fr.tensor(np.ones(3), requires_grad=True)
    h = Counting.apply(x)
    y = (h.exp() + h.tanh() + h * h).sum()
    y.backward()
    assert Counting.calls == 1
    h_ = 2.0
    expected = 2 * (np.exp(h_) + (1 - np.tanh(h_) ** 2) + 2 * h_)
    np.testing.assert_allclose(x.grad, np.full(3, expected))


def test_deep_graph_has_no_recursion_limit() -> None:
    x = fr.tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert x.grad == pytest.approx(1.0001**5000)


def test_no_grad_records_nothing() -> None:
    x = fr.tensor(np.ones(2), requires_grad=True)
    with fr.no_grad():
        assert not fr.is_grad_enabled()
        y = x * 2 + 1
        with fr.enable_grad():
            z = x * 2
    assert fr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad and z.grad_fn is not None

    @fr.no_grad()
    def f(t: Tensor) -> Tensor:
        return t * t

    assert not f(x).requires_grad
    assert fr.is_grad_enabled()


def test_detach_cuts_graph() -> None:
    x = fr.tensor(np.ones(2), requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    (x * d).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_backward_errors() -> None:
    x = fr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="single-element"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="requires grad"):
        fr.tensor([1.0]).backward()
    with pytest.raises(ValueError, match=r"expected grad of shape \(3,\)"):
        (x * 2).backward(np.ones(2))
    (x * 2).backward(np.arange(3.0))
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 4.0])
    with pytest.raises(TypeError, match="python number"):
        x ** fr.tensor([2.0])


def test_hooks_see_and_replace_gradients() -> None:
    x = fr.tensor(np.ones(2), requires_grad=True)
    h = x * 3
    seen: list[np.ndarray] = []
    h.register_hook(lambda g: seen.append(g.copy()))
    x.register_hook(lambda g: g * 10)
    (h * 2).sum().backward()
    np.testing.assert_array_equal(seen[0], [2.0, 2.0])
    np.testing.assert_array_equal(x.grad, [60.0, 60.0])


# ==========================================================================
# Dtypes and constructors
# ==========================================================================


def test_default_dtype_float32_and_float64_preserved() -> None:
    assert fr.tensor([1.0, 2.0]).dtype == np.float32
    assert fr.tensor(1.5).dtype == np.float32
    assert fr.tensor([1, 2]).dtype == np.int64
    assert fr.tensor(np.zeros(2)).dtype == np.float64
    assert fr.tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert fr.zeros(2, 3).dtype == np.float32 and fr.ones((2,)).shape == (2,)
    assert fr.get_default_dtype() == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ops_preserve_dtype(dtype: Any) -> None:
    x = fr.tensor(np.ones((2, 3), dtype=dtype), requires_grad=True)
    outs = [
        x + 1.5,
        2 * x,
        x / np.float64(3.0),
        x - np.ones(3),
        x @ np.ones((3, 2)),
        x.sum(),
        x.mean(0),
        x.exp(),
        x.softmax(1),
        x[0],
        fr.cat([x, x]),
        x**2,
    ]
    for out in outs:
        assert out.dtype == dtype
    sum(o.sum() for o in outs).backward()
    assert x.grad.dtype == dtype


def test_mixed_dtypes() -> None:
    a = fr.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = fr.tensor(np.ones(2, dtype=np.float64), requires_grad=True)
    c = a * b
    assert c.dtype == np.float64  # two floating tensors promote
    c.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    ids = fr.tensor([1, 2])
    assert (a * ids).dtype == np.float32  # int tensor takes the float dtype
    assert (ids * 0.5).dtype == np.float32
    assert (ids + 1).dtype == np.int64


def test_integer_tensors_cannot_require_grad() -> None:
    with pytest.raises(TypeError, match="only floating tensors"):
        fr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="real numbers"):
        fr.tensor(["a"])


def test_tensor_protocol() -> None:
    x = fr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and len(x) == 2 and x.size(1) == 3
    assert x.T.shape == (3, 2)
    assert x.numpy() is x.data
    assert x[1, 2].item() == 5.0
    assert "requires_grad=True" in repr(x) and "float64" in repr(x)
    assert "grad_fn=<MulBackward>" in repr(x * 2)
    np.testing.assert_array_equal(np.asarray(x), x.data)
    np.testing.assert_array_equal((x > 2).numpy(), x.data > 2)
    assert x.argmax(1).tolist() == [2, 2]
    copy = fr.tensor(x)
    assert copy.data is not x.data and not copy.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad = False


def test_ndarray_on_the_left_defers_to_tensor() -> None:
    x = fr.tensor(np.ones(2), requires_grad=True)
    y = np.array([1.0, 2.0]) * x
    assert isinstance(y, Tensor) and y.requires_grad
    with pytest.raises(TypeError):
        np.exp(x)  # would silently leave the graph


# ==========================================================================
# Function: the custom-node API
# ==========================================================================


class TwoOut(Function):
    """(x, w) -> (x * w, x + w); records the grad_outputs it receives."""

    received: list[tuple[Any, ...]] = []

    @staticmethod
    def forward(ctx: Any, x: np.ndarray, w: np.ndarray, scale: float) -> tuple:
        ctx.save(x, w)
        ctx.scale = scale
        return x * w * scale, x + w

    @staticmethod
    def backward(ctx: Any, g_prod: Any, g_sum: Any) -> tuple:
        TwoOut.received.append((g_prod, g_sum))
        x, w = ctx.saved
        dx = np.zeros_like(x)
        dw = np.zeros_like(w)
        if g_prod is not None:
            dx += g_prod * w * ctx.scale
            dw += g_prod * x * ctx.scale
        if g_sum is not None:
            dx += g_sum
            dw += g_sum
        return dx, dw, None


def _two_out_case(
    case: str, x0: np.ndarray, w0: np.ndarray
) -> tuple[Tensor, Tensor, Tensor]:
    x = fr.tensor(x0, requires_grad=True)
    w = fr.tensor(w0, requires_grad=True)
    p, s = TwoOut.apply(x, w, 2.0)
    if case == "both":
        loss = (p * p).sum() + s.tanh().sum()
    elif case == "first":
        loss = (p * p).sum()
    else:  # "cut": s only reaches the loss through a detached branch
        loss = (p * p).sum() + (s.detach() * 3).sum()
    return x, w, loss


@pytest.mark.parametrize("case", ["both", "first", "cut"])
def test_two_output_function(case: str, rng: Any) -> None:
    x0, w0 = rng.standard_normal(3), rng.standard_normal(3)
    TwoOut.received = []
    x, w, loss = _two_out_case(case, x0, w0)
    loss.backward()
    assert len(TwoOut.received) == 1  # called once with both gradients
    g_prod, g_sum = TwoOut.received[0]
    assert g_prod is not None and g_prod.shape == (3,)
    assert (g_sum is None) == (case != "both")

    # A detached branch is a constant for the gradient: check against the loss
    # without it.
    reference = "first" if case == "cut" else case

    def f(p: dict[str, np.ndarray]) -> float:
        with fr.no_grad():
            return _two_out_case(reference, p["x"], p["w"])[2].item()

    full_check(f, {"x": x0, "w": w0}, {"x": x.grad, "w": w.grad})


def test_function_receives_none_for_unused_output_of_a_used_node() -> None:
    TwoOut.received = []
    x = fr.tensor(np.ones(2), requires_grad=True)
    p, s = TwoOut.apply(x, np.full(2, 3.0), 1.0)  # w is a constant ndarray
    s.sum().backward()
    g_prod, g_sum = TwoOut.received[0]
    assert g_prod is None and g_sum is not None
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_function_context_and_passthrough() -> None:
    seen: dict[str, Any] = {}

    class Affine(Function):
        @staticmethod
        def forward(ctx: Any, x: Any, w: Any, label: str, b: Any) -> np.ndarray:
            seen["types"] = (type(x), type(w), label, b)
            seen["needs"] = ctx.needs_input_grad
            ctx.save(x, w)
            return x @ w

        @staticmethod
        def backward(ctx: Any, g: np.ndarray) -> tuple:
            x, w = ctx.saved
            return g @ w.T, x.T @ g, None, None

    x = fr.tensor(np.ones((2, 3)), requires_grad=True)
    w = fr.tensor(np.ones((3, 4)))
    y = Affine.apply(x, w, "hi", None)
    assert seen["types"] == (np.ndarray, np.ndarray, "hi", None)
    assert seen["needs"] == (True, False, False, False)
    assert isinstance(y, Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 4.0))
    assert w.grad is None
    with fr.no_grad():
        assert not Affine.apply(x, w, "x", None).requires_grad
        assert seen["needs"] == (False, False, False, False)


def test_function_contract_errors() -> None:
    class WrongCount(Function):
        @staticmethod
        def forward(ctx: Any, x: Any, y: Any) -> np.ndarray:
            return x + y

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return g

    class WrongShape(Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> np.ndarray:
            return x.sum()

        @staticmethod
        def backward(ctx: Any, g: Any) -> Any:
            return np.ones(5)

    class NotArray(Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> Any:
            return [1.0]

    x = fr.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(
        TypeError, match=r"WrongCount.backward returned 1 gradient\(s\), expected 2"
    ):
        WrongCount.apply(x, x).sum().backward()
    with pytest.raises(
        ValueError, match=r"expected gradient of shape \(3,\) for input 0, got \(5,\)"
    ):
        WrongShape.apply(x).backward()
    with pytest.raises(TypeError, match="expected ndarray outputs"):
        NotArray.apply(x)


def test_function_integer_output_is_not_differentiable() -> None:
    class ArgSort(Function):
        @staticmethod
        def forward(ctx: Any, x: Any) -> tuple:
            return np.sort(x), np.argsort(x)

        @staticmethod
        def backward(ctx: Any, g: Any, g_idx: Any) -> Any:
            assert g_idx is None
            return g

    x = fr.tensor(np.array([3.0, 1.0]), requires_grad=True)
    values, idx = ArgSort.apply(x)
    assert values.requires_grad and not idx.requires_grad
    values.sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
