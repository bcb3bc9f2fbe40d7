"""fastrnn.functional: every bad input raises a clear error before reaching a kernel."""

from __future__ import annotations

import numpy as np
import pytest
from _cases import make_case, run_kernel

from fastrnn import functional as F


@pytest.fixture
def case(rng):
    return make_case("lstm", T=4, B=3, I=2, H=5, rng=rng)


def call(case, cell="lstm", **overrides):
    return run_kernel(cell, {**case, **overrides})


@pytest.mark.parametrize("name", ["X", "h0", "c0", "W_ih", "W_hh", "b_ih", "b_hh"])
def test_integer_arrays_are_rejected(case, name):
    with pytest.raises(
        TypeError, match=f"expected {name} to have dtype float32 or float64, got int64"
    ):
        call(case, **{name: case[name].astype(np.int64)})


def test_mixed_float_dtypes_are_rejected(case):
    with pytest.raises(
        TypeError, match="expected all arrays to share one dtype.*W_hh float32"
    ):
        call(case, W_hh=case["W_hh"].astype(np.float32))


@pytest.mark.parametrize(
    ("name", "shape", "message"),
    [
        ("X", (4, 3), "expected X to have 3 dimensions"),
        ("h0", (3, 4), r"expected h0 of shape \(3, 5\)"),
        ("c0", (2, 5), r"expected c0 of shape \(3, 5\)"),
        ("W_ih", (20, 3), r"expected W_ih of shape \(20, 2\)"),
        ("W_hh", (15, 5), r"expected W_hh of shape \(20, 5\)"),
        ("b_ih", (19,), r"expected b_ih of shape \(20,\)"),
        ("b_hh", (20, 1), "expected b_hh to have 1 dimensions"),
    ],
)
def test_wrong_shapes_name_the_argument(case, name, shape, message):
    with pytest.raises(ValueError, match=message):
        call(case, **{name: np.zeros(shape)})


@pytest.mark.parametrize("lengths", [[0, 1, 2], [1, 5, 2], [-1, 2, 2]])
def test_lengths_outside_range(case, lengths):
    with pytest.raises(ValueError, match=r"expected every length in \[1, T=4\]"):
        call(case, lengths=np.array(lengths))


def test_lengths_wrong_shape_and_dtype(case):
    with pytest.raises(ValueError, match=r"expected lengths of shape \(3,\)"):
        call(case, lengths=np.array([1, 2]))
    with pytest.raises(
        TypeError, match="expected lengths to be integers, got dtype float64"
    ):
        call(case, lengths=np.array([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="expected lengths to be integers"):
        call(case, lengths=np.array([True, True, True]))


@pytest.mark.parametrize("shape", [(4, 0, 2), (0, 3, 2), (4, 3, 0)])
def test_empty_inputs(case, shape):
    with pytest.raises(ValueError, match="expected"):
        call(case, X=np.zeros(shape))


def test_unknown_cell_and_misplaced_arguments(case, rng):
    with pytest.raises(ValueError, match="expected cell to be one of"):
        call(case, cell="transformer")
    gru = make_case("gru", T=4, B=3, I=2, H=5, rng=rng)
    with pytest.raises(ValueError, match="expected c0=None"):
        call(gru, cell="gru", c0=np.zeros((3, 5)))
    with pytest.raises(ValueError, match="expected w_peep"):
        call(case, cell="lstm_peephole")
    with pytest.raises(ValueError, match="expected w_peep=None"):
        call(case, w_peep=np.zeros(15))
    with pytest.raises(ValueError, match="expected both b_ih and b_hh"):
        call(case, b_ih=None)


def test_bad_n_threads(case):
    with pytest.raises(ValueError, match="expected n_threads >= 1, got 0"):
        F.forward("lstm", case["X"], None, case["W_ih"], case["W_hh"], n_threads=0)
    with pytest.raises(TypeError, match="expected n_threads to be an int"):
        F.forward("lstm", case["X"], None, case["W_ih"], case["W_hh"], n_threads=1.5)


def test_non_contiguous_inputs_are_accepted(case):
    want, *_ = call(case)
    X_t = np.asfortranarray(case["X"])
    W = np.ascontiguousarray(case["W_hh"].T).T  # same values, Fortran order
    got, *_ = call(case, X=X_t, W_hh=W)
    np.testing.assert_array_equal(got, want)


def test_optional_initial_states_default_to_zero(case):
    Y, *_ = F.forward("lstm", case["X"], None, case["W_ih"], case["W_hh"])
    zeros = np.zeros_like(case["h0"])
    Y0, *_ = call(case, h0=zeros, c0=zeros, b_ih=None, b_hh=None)
    np.testing.assert_array_equal(Y, Y0)


def test_backward_checks_its_inputs(case):
    Y, _, _, state = call(case)
    with pytest.raises(ValueError, match=r"expected dY of shape \(4, 3, 5\)"):
        F.backward(state, np.zeros((4, 3, 4)))
    with pytest.raises(
        TypeError,
        match="expected dY to have dtype float64 like the forward pass, got float32",
    ):
        F.backward(state, np.zeros((4, 3, 5), np.float32))
    with pytest.raises(TypeError, match="expected a ForwardState"):
        F.backward({"Y": Y}, np.zeros_like(Y))
    grads = F.backward(state, None)  # no incoming gradient: all zero
    assert not grads.dX.any() and not grads.dW_hh.any()


def test_wrappers(rng):
    rnn = make_case("rnn_relu", T=3, B=2, I=2, H=3, rng=rng)
    Y, h_n, state = F.rnn_forward(
        rnn["X"], rnn["h0"], rnn["W_ih"], rnn["W_hh"], nonlinearity="relu"
    )
    assert state.cell == "rnn_relu" and Y.shape == (3, 2, 3)
    with pytest.raises(ValueError, match="expected nonlinearity"):
        F.rnn_forward(rnn["X"], None, rnn["W_ih"], rnn["W_hh"], nonlinearity="gelu")
    gru = make_case("gru_minimal", T=3, B=2, I=2, H=3, rng=rng)
    *_, state = F.gru_forward(
        gru["X"], None, gru["W_ih"], gru["W_hh"], variant="minimal"
    )
    assert state.gate_names == ("z", "n")
    with pytest.raises(ValueError, match="expected variant"):
        F.gru_forward(gru["X"], None, gru["W_ih"], gru["W_hh"], variant="lstm")
    lstm = make_case("lstm_peephole", T=3, B=2, I=2, H=3, rng=rng)
    *_, state = F.lstm_forward(
        lstm["X"], None, None, lstm["W_ih"], lstm["W_hh"], w_peep=lstm["w_peep"]
    )
    assert state.cell == "lstm_peephole"


def test_projection_arguments_are_checked(rng):
    X = rng.standard_normal((3, 2, 4))
    W_ih, W_hh, W_hr = np.zeros((12, 4)), np.zeros((12, 2)), np.zeros((2, 3))
    with pytest.raises(ValueError, match="only LSTMs have a projection"):
        F.forward("gru", X, None, np.zeros((9, 4)), np.zeros((9, 3)), W_hr=W_hr)
    with pytest.raises(ValueError, match="0 < proj_size < hidden_size"):
        F.forward("lstm", X, None, W_ih, np.zeros((12, 3)), W_hr=np.zeros((3, 3)))
    with pytest.raises(
        ValueError, match=r"W_hh of shape \(12, 2\) \(G\*hidden_size, pr"
    ):
        F.forward("lstm", X, None, W_ih, np.zeros((12, 3)), W_hr=W_hr)
    with pytest.raises(ValueError, match=r"h0 of shape \(2, 2\) \(batch, proj_size\)"):
        F.forward("lstm", X, np.zeros((2, 3)), W_ih, W_hh, W_hr=W_hr)
    Y, h_n, c_n, _ = F.forward("lstm", X, None, W_ih, W_hh, W_hr=W_hr)
    assert (Y.shape, h_n.shape, c_n.shape) == ((3, 2, 2), (2, 2), (2, 3))


def test_backward_scratch_is_reused_grown_and_released(rng):
    """backward's scratch arrays (functional._workspace) are kept per thread: reused when
    big enough, replaced when a larger call comes, dropped by clear_workspace(); results
    never depend on what an earlier call left in them."""
    from fastrnn.functional import _scratch, _workspace, clear_workspace

    clear_workspace()
    a = _workspace("t", (2, 3), np.float32)
    assert _workspace("t", (3, 2), np.float32).base is a.base  # reused, reshaped
    big = _workspace("t", (4, 5), np.float32)
    assert big.shape == (4, 5) and big.base is not a.base  # grown
    assert _workspace("t", (2, 3), np.float64).dtype == np.float64  # per dtype
    clear_workspace()
    assert _scratch.buffers == {}

    def grads(T, B):
        X = rng.standard_normal((T, B, 3))
        W, U = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
        *_, state = F.forward("lstm", X, None, W, U)
        return state, F.backward(state, np.ones((T, B, 2))).dW_hh

    state, first = grads(6, 4)
    grads(9, 5)  # a larger call in between grows and dirties the scratch arrays
    np.testing.assert_array_equal(F.backward(state, np.ones((6, 4, 2))).dW_hh, first)


def test_outputs_are_recycled_only_when_nothing_references_them(rng):
    """Large kernel outputs (functional._recycled) come from a per-thread pool, but an
    array is handed out again only after every reference to it is gone: outputs a caller
    still holds keep their values through later calls."""
    from fastrnn import functional as Fm

    T, B, H = 64, 32, 128  # gates 4 MB: pooled
    W = rng.standard_normal((4 * H, 3)).astype(np.float32)
    U = (rng.standard_normal((4 * H, H)) * 0.1).astype(np.float32)

    def run(seed):
        X = np.random.default_rng(seed).standard_normal((T, B, 3)).astype(np.float32)
        return Fm.forward("lstm", X, None, W, U)

    Fm.clear_workspace()
    Y1, _, _, s1 = run(1)
    Y1_copy, G1_copy = Y1.copy(), s1.gates.copy()
    gates_view = s1.gates[3]  # a view keeps its base busy too
    del s1
    Y2, _, _, s2 = run(2)  # same shapes: must not reuse the held arrays
    np.testing.assert_array_equal(Y1, Y1_copy)
    np.testing.assert_array_equal(gates_view, G1_copy[3])
    assert not np.shares_memory(Y2, Y1) and not np.shares_memory(s2.gates, gates_view)
    # once released, the next call of that size gets the same memory back
    gates_ptr = s2.gates.__array_interface__["data"][0]
    del Y2, s2
    _, _, _, s3 = run(3)
    assert s3.gates.__array_interface__["data"][0] == gates_ptr
    # and results are those of a fresh call
    X3 = np.random.default_rng(3).standard_normal((T, B, 3)).astype(np.float32)
    ref = Fm.forward("lstm", X3, None, W, U)[3].gates.copy()
    np.testing.assert_array_equal(s3.gates, ref)
    small = Fm._recycled((10, 10), np.float32)  # below the threshold: plain np.empty
    assert small.base is None
    Fm.clear_workspace()
    assert Fm._scratch.pool == []
