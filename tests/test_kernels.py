"""Every compiled kernel against the float64 NumPy reference (fastrnn._reference).

Forward outputs, final states, saved gates and cell states, and every gradient, for all
cells, with and without lengths, forward and reverse, n_threads 1 and 2, float64 and
float32, plus edge shapes and float64 directional gradient checks of the kernels.
"""

from __future__ import annotations

import numpy as np
import pytest
from _cases import VARIANTS, loss_weights, make_case, run_kernel, split_variant
from _rerun import assert_passes_with
from numpy.testing import assert_allclose

from fastrnn import _reference as ref
from fastrnn import functional as F
from fastrnn._kernels import _info
from fastrnn.gradcheck import directional_check

CELLS = F.CELLS
# float32 kernels are compared with the float64 reference
TOL = {
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
    np.float32: {"rtol": 1e-5, "atol": 2e-5},
}
GRAD_NAMES = {
    "X": "dX",
    "h0": "dh0",
    "c0": "dc0",
    "W_ih": "dW_ih",
    "W_hh": "dW_hh",
    "b_ih": "db_ih",
    "b_hh": "db_hh",
    "w_peep": "dw_peep",
    "W_hr": "dW_hr",
}


def reference(variant, case, reverse, R):
    cell = split_variant(variant)[0]
    args = {
        k: None if v is None else np.asarray(v, np.float64) for k, v in case.items()
    }
    kw = dict(
        c0=args["c0"],
        w_peep=args["w_peep"],
        W_hr=args["W_hr"],
        lengths=args["lengths"],
        reverse=reverse,
    )
    params = (
        args["X"],
        args["h0"],
        args["W_ih"],
        args["W_hh"],
        args["b_ih"],
        args["b_hh"],
    )
    out = ref.forward(cell, *params, **kw)
    R64 = {k: None if v is None else v.astype(np.float64) for k, v in R.items()}
    grads = ref.backward(cell, R64["dY"], R64["dh_n"], R64["dc_n"], *params, **kw)
    return out, grads


def check_against_reference(variant, case, reverse, n_threads, dtype, rng):
    cell = split_variant(variant)[0]
    T, B, _ = case["X"].shape
    H = case["W_hh"].shape[0] // F.GATE_COUNT[cell]
    R = loss_weights(variant, T, B, H, rng, dtype)
    Y, h_n, c_n, state = run_kernel(variant, case, reverse=reverse, n_threads=n_threads)
    grads = F.backward(state, R["dY"], R["dh_n"], R["dc_n"])
    want, want_grads = reference(variant, case, reverse, R)
    tol = TOL[dtype]
    assert Y.dtype == dtype and h_n.dtype == dtype
    assert_allclose(Y, want["Y"], **tol, err_msg="Y")
    assert_allclose(h_n, want["h_n"], **tol, err_msg="h_n")
    if cell.startswith("lstm"):
        assert_allclose(c_n, want["c_n"], **tol, err_msg="c_n")
        assert_allclose(state.C, want["C"], **tol, err_msg="C")
    else:
        assert c_n is None
    if F.GATE_NAMES[cell]:
        assert_allclose(state.gates, want["gates"], **tol, err_msg="gates")
    for gname in GRAD_NAMES.values():
        got = getattr(grads, gname)
        if want_grads[gname] is None:
            assert got is None, gname
            continue
        scale = max(1.0, float(np.abs(want_grads[gname]).max()))
        assert got.dtype == dtype, gname
        assert_allclose(
            got,
            want_grads[gname],
            rtol=tol["rtol"],
            atol=tol["atol"] * scale,
            err_msg=gname,
        )


@pytest.mark.parametrize("cell", VARIANTS)
@pytest.mark.parametrize("lengths", [None, "random"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_matches_reference_float64(cell, lengths, reverse, n_threads, rng):
    case = make_case(cell, T=7, B=5, I=3, H=4, rng=rng, lengths=lengths)
    check_against_reference(cell, case, reverse, n_threads, np.float64, rng)


@pytest.mark.parametrize("cell", VARIANTS)
@pytest.mark.parametrize("lengths", [None, "random"])
@pytest.mark.parametrize("reverse", [False, True])
def test_matches_reference_float32(cell, lengths, reverse, rng):
    case = make_case(
        cell, T=6, B=4, I=5, H=6, rng=rng, dtype=np.float32, lengths=lengths
    )
    check_against_reference(cell, case, reverse, 2, np.float32, rng)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(
    "shape",
    [(1, 3, 2, 4), (5, 1, 2, 3), (4, 3, 2, 1), (1, 1, 1, 1), (9, 7, 13, 11)],
    ids=["T1", "B1", "H1", "all1", "odd"],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_edge_shapes(cell, shape, dtype, rng):
    T, B, I, H = shape
    case = make_case(cell, T, B, I, H, rng, dtype=dtype, lengths="random")
    check_against_reference(cell, case, True, 2, dtype, rng)


@pytest.mark.parametrize("cell", CELLS)
def test_more_threads_than_rows(cell, rng):
    case = make_case(cell, T=3, B=2, I=2, H=3, rng=rng, lengths="random")
    check_against_reference(cell, case, False, 8, np.float64, rng)


@pytest.mark.parametrize("cell", CELLS)
def test_no_bias(cell, rng):
    case = make_case(cell, T=4, B=3, I=2, H=3, rng=rng)
    case["b_ih"] = case["b_hh"] = None
    Y, h_n, _, state = run_kernel(cell, case)
    zero = np.zeros(case["W_hh"].shape[0])
    want = ref.forward(
        cell,
        case["X"],
        case["h0"],
        case["W_ih"],
        case["W_hh"],
        zero,
        zero,
        c0=case["c0"],
        w_peep=case["w_peep"],
    )
    assert_allclose(Y, want["Y"], rtol=1e-12, atol=1e-12)
    grads = F.backward(state, np.ones_like(Y))
    assert grads.db_ih is None and grads.db_hh is None


@pytest.mark.parametrize("cell", VARIANTS)
@pytest.mark.parametrize("reverse", [False, True])
def test_kernel_gradients_by_finite_differences(cell, reverse, rng):
    """Directional float64 checks of the kernels themselves, on a larger shape."""
    case = make_case(cell, T=12, B=6, I=9, H=10, rng=rng, lengths="random")
    R = loss_weights(cell, 12, 6, 10, rng)
    names = [k for k in GRAD_NAMES if case[k] is not None]

    def loss(params):
        Y, h_n, c_n, _ = run_kernel(cell, {**case, **params}, reverse=reverse)
        value = np.sum(R["dY"] * Y) + np.sum(R["dh_n"] * h_n)
        return float(value + (np.sum(R["dc_n"] * c_n) if c_n is not None else 0.0))

    _, _, _, state = run_kernel(cell, case, reverse=reverse)
    grads = F.backward(state, R["dY"], R["dh_n"], R["dc_n"])
    directional_check(
        loss,
        {k: case[k] for k in names},
        {k: getattr(grads, GRAD_NAMES[k]) for k in names},
        n_directions=2,
        rng=rng,
    )


@pytest.mark.parametrize("cell", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_threads_agree_and_runs_repeat(cell, dtype, rng):
    case = make_case(cell, T=10, B=9, I=6, H=8, rng=rng, dtype=dtype, lengths="random")
    R = loss_weights(cell, 10, 9, 8, rng, dtype)
    results = []
    for n_threads in (1, 2, 2):
        Y, h_n, _, state = run_kernel(cell, case, reverse=True, n_threads=n_threads)
        grads = F.backward(state, R["dY"], R["dh_n"], R["dc_n"]).as_dict()
        results.append({"Y": Y, "h_n": h_n, **grads})
    one, two, again = results
    tol = (
        {"rtol": 1e-5, "atol": 1e-5}
        if dtype == np.float32
        else {"rtol": 1e-12, "atol": 1e-12}
    )
    for name in one:
        assert_allclose(two[name], one[name], **tol, err_msg=name)
        np.testing.assert_array_equal(again[name], two[name], err_msg=name)


@pytest.mark.parametrize("cell", VARIANTS)
def test_outputs_are_zero_past_lengths(cell, rng):
    case = make_case(cell, T=6, B=4, I=3, H=5, rng=rng, lengths="random")
    for reverse in (False, True):
        Y, h_n, _, state = run_kernel(cell, case, reverse=reverse)
        for b, L in enumerate(case["lengths"]):
            assert not Y[L:, b].any()
            if state.gates is not None:
                assert not state.gates[L:, b].any()
            last = 0 if reverse else L - 1
            assert_allclose(h_n[b], Y[last, b], rtol=0, atol=0)


@pytest.mark.parametrize("cell", CELLS)
def test_gate_views(cell, rng):
    case = make_case(cell, T=3, B=2, I=2, H=3, rng=rng)
    _, _, _, state = run_kernel(cell, case)
    for k, name in enumerate(state.gate_names):
        assert_allclose(state.gate(name), state.gates[:, :, 3 * k : 3 * k + 3])
    with pytest.raises(KeyError, match="expected one of"):
        state.gate("nope")


@pytest.mark.parametrize("cell", VARIANTS)
def test_total_hidden_gradient_dH(cell, rng):
    """dH[k-1] = dY[k-1] + dL/dh_{k-1} through the future, which is what a backward pass
    over the steps k..T-1 alone, started from the state h_{k-1}, returns as dh0."""
    T, B, H, k = 6, 3, 4, 3
    case = make_case(cell, T, B, 2, H, rng)
    R = loss_weights(cell, T, B, H, rng)
    Y, h_n, c_n, state = run_kernel(cell, case)
    grads = F.backward(state, R["dY"], R["dh_n"], R["dc_n"], return_dH=True)
    tail = {**case, "X": case["X"][k:], "h0": Y[k - 1]}
    if state.C is not None:
        tail["c0"] = state.C[k - 1]
    *_, tail_state = run_kernel(cell, tail)
    tail_grads = F.backward(tail_state, R["dY"][k:], R["dh_n"], R["dc_n"])
    assert_allclose(
        grads.dH[k - 1], R["dY"][k - 1] + tail_grads.dh0, rtol=1e-12, atol=1e-12
    )
    assert_allclose(grads.dH[T - 1], R["dY"][T - 1] + R["dh_n"], rtol=1e-12, atol=1e-12)
    assert F.backward(state, R["dY"], R["dh_n"], R["dc_n"]).dH is None


@pytest.mark.parametrize("cell", ["lstm", "gru_cho"])
def test_dH_zero_past_lengths_and_reverse(cell, rng):
    case = make_case(cell, 5, 4, 2, 3, rng, lengths="random")
    R = loss_weights(cell, 5, 4, 3, rng)
    _, _, _, state = run_kernel(cell, case, reverse=True)
    dH = F.backward(state, R["dY"], R["dh_n"], R["dc_n"], return_dH=True).dH
    for b, L in enumerate(case["lengths"]):
        assert not dH[L:, b].any()
        # reverse: time 0 is processed last, so dL/dh_0 = dY_0 + dh_n
        assert_allclose(dH[0, b], R["dY"][0, b] + R["dh_n"][b], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", VARIANTS)
def test_every_output_entry_is_written(cell, rng, monkeypatch):
    """Outputs are allocated uninitialised; fill them with NaN to prove the kernel writes
    every entry, including the zeros past each length."""
    real_empty = np.empty

    def nan_empty(shape, dtype=float, **kw):
        out = real_empty(shape, dtype, **kw)
        if np.issubdtype(out.dtype, np.floating):
            out.fill(np.nan)
        return out

    monkeypatch.setattr(F.np, "empty", nan_empty)
    case = make_case(cell, T=5, B=4, I=3, H=2, rng=rng, lengths="random")
    for reverse in (False, True):
        Y, h_n, c_n, state = run_kernel(cell, case, reverse=reverse)
        grads = F.backward(state, np.ones_like(Y), return_dH=True)
        arrays = [
            Y,
            h_n,
            state.gates,
            state.C,
            state.aux,
            state.M,
            c_n,
            *grads.as_dict().values(),
        ]
        for a in arrays:
            if a is not None:
                assert np.isfinite(a).all()


def test_every_sgemm_backend_gives_the_same_results(tmp_path):
    """The float32 GEMM path is picked at run time (fastrnn_sgemm.h): AMX tiles, AVX-512
    blocked GEMM, AVX2 per-step micro-kernel, or BLIS.  FASTRNN_NO_AMX=1,
    FASTRNN_NO_AVX512=1 and FASTRNN_NO_PACKED_SGEMM=1 step down; every path this CPU can run must agree (a CI
    machine may only have some of them)."""
    import os
    import subprocess
    import sys

    script = (
        "import numpy as np, sys; from fastrnn import functional as F; "
        "from fastrnn._kernels import _info; "
        "rng = np.random.default_rng(3); f = np.float32; "
        "X = rng.standard_normal((9, 19, 5)).astype(f); "
        "W = (rng.standard_normal((4 * 37, 5)) * .3).astype(f); "
        "U = (rng.standard_normal((4 * 37, 37)) * .3).astype(f); "
        "bias = rng.standard_normal(4 * 37).astype(f); "
        "lengths = rng.integers(1, 10, 19); "
        "Y, h, c, st = F.forward('lstm', X, None, W, U, bias, bias, lengths=lengths, "
        "n_threads=2); g = F.backward(st, np.ones_like(Y)); "
        "np.savez(sys.argv[1], Y=Y, dX=g.dX, dW_hh=g.dW_hh, dW_ih=g.dW_ih, "
        "db=g.db_ih, backend=_info.sgemm_backend())"
    )
    envs = {
        "default": {},
        "avx512": {"FASTRNN_NO_AMX": "1"},
        "avx2": {"FASTRNN_NO_AVX512": "1"},
        "blis": {"FASTRNN_NO_PACKED_SGEMM": "1"},
    }
    results = {}
    for name, env in envs.items():
        out = tmp_path / f"{name}.npz"
        subprocess.run(
            [sys.executable, "-c", script, str(out)],
            check=True,
            env={**os.environ, **env},
        )
        results[name] = np.load(out)
    assert str(results["blis"]["backend"]) == "blis"
    assert str(results["avx2"]["backend"]) in ("avx2", "blis")
    assert str(results["avx512"]["backend"]) in ("avx512", "avx2", "blis")
    for name in ("avx512", "avx2", "blis"):
        for key in ("Y", "dX", "dW_hh", "dW_ih", "db"):
            assert_allclose(
                results["default"][key],
                results[name][key],
                rtol=1e-5,
                atol=1e-5,
                err_msg=f"{key}: default ({results['default']['backend']}) vs {name}",
            )


# ---------------------------------------------------------------- units split
# rnn.pyx, lstm.pyx and gru.pyx (PyTorch form) split the hidden units over threads (one barrier
# per step) instead of the batch when W_hh is large (_split.py); FASTRNN_SPLIT=units
# forces it at test sizes.
UNITS_CELLS = ["lstm", "lstm_peephole", "gru", "rnn_tanh", "rnn_relu"]


@pytest.mark.parametrize("cell", UNITS_CELLS)
@pytest.mark.parametrize("lengths", [None, "random"])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("H", [4, 7, 37])  # two, three and odd units per thread
def test_units_split_matches_reference(
    cell, lengths, reverse, dtype, H, rng, monkeypatch
):
    from fastrnn._kernels._split import split_for

    monkeypatch.setenv("FASTRNN_SPLIT", "units")
    assert split_for(2, H, 4 * H * H * 8, True) == "units"
    case = make_case(cell, T=6, B=5, I=3, H=H, rng=rng, dtype=dtype, lengths=lengths)
    check_against_reference(cell, case, reverse, 2, dtype, rng)


@pytest.mark.parametrize("cell", UNITS_CELLS)
def test_units_split_equals_batch_split(cell, rng, monkeypatch):
    """Both splits compute each entry in the same order except the peephole gradient
    sums; dH (tracing) and every gradient agree, and repeated runs are identical."""
    case = make_case(cell, T=8, B=6, I=3, H=9, rng=rng, lengths="random")
    R = loss_weights(cell, 8, 6, 9, rng)
    results = {}
    for split in ("batch", "units", "units"):
        monkeypatch.setenv("FASTRNN_SPLIT", split)
        Y, h_n, c_n, state = run_kernel(cell, case, reverse=True, n_threads=2)
        grads = F.backward(state, R["dY"], R["dh_n"], R["dc_n"], return_dH=True)
        got = {"Y": Y, "h_n": h_n, "c_n": c_n, **grads.as_dict()}
        got = {k: v for k, v in got.items() if v is not None}
        if split in results:  # the repeat: bit for bit
            for key, value in got.items():
                np.testing.assert_array_equal(value, results[split][key], err_msg=key)
        results[split] = got
    for key, value in results["batch"].items():
        assert_allclose(
            results["units"][key], value, rtol=1e-12, atol=1e-12, err_msg=key
        )


def test_split_choice(monkeypatch):
    from fastrnn._kernels._split import UNITS_SPLIT_BYTES, split_for

    monkeypatch.delenv("FASTRNN_SPLIT", raising=False)
    big = UNITS_SPLIT_BYTES
    assert split_for(2, 1024, big, True) == "units"
    assert split_for(2, 128, big - 1, True) == "batch"  # W_hh fits in L2
    assert split_for(1, 1024, big, True) == "batch"  # one thread
    assert split_for(2, 1024, big, False) == "batch"  # no units loop (projection...)
    monkeypatch.setenv("FASTRNN_SPLIT", "batch")
    assert split_for(2, 1024, big, True) == "batch"
    monkeypatch.setenv("FASTRNN_SPLIT", "units")
    assert split_for(2, 3, 0, True) == "batch"  # fewer than 2 units a thread
    assert split_for(2, 4, 0, True) == "units"
    monkeypatch.setenv("FASTRNN_SPLIT", "unit")
    with pytest.raises(ValueError, match="expected FASTRNN_SPLIT"):
        split_for(2, 1024, big, True)


# ---------------------------------------------------------------- inference forward
@pytest.mark.parametrize("cell", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("split", ["batch", "units"])
def test_inference_forward_equals_training_forward(
    cell, dtype, split, rng, monkeypatch
):
    """need_backward=False (the LSTMs then save no gates or cell states) computes the
    same outputs bit for bit, with lengths, both directions and both thread splits."""
    monkeypatch.setenv("FASTRNN_SPLIT", split)
    # H = 32: float32 runs the SIMD gate loops; random lengths: finished rows too
    case = make_case(cell, T=5, B=4, I=3, H=32, rng=rng, dtype=dtype, lengths="random")
    for reverse in (False, True):
        Y, h_n, c_n, state = run_kernel(cell, case, reverse=reverse, n_threads=2)
        Yi, h_ni, c_ni, none = run_kernel(
            cell, case, reverse=reverse, n_threads=2, need_backward=False
        )
        assert none is None
        np.testing.assert_array_equal(Yi, Y)
        np.testing.assert_array_equal(h_ni, h_n)
        if c_n is None:
            assert c_ni is None
        else:
            np.testing.assert_array_equal(c_ni, c_n)


@pytest.mark.skipif(
    _info.lstm_gate_loop() != "avx512", reason="the generic loop is already the default"
)
def test_generic_lstm_gate_loop_still_passes_on_an_avx512_cpu():
    """FASTRNN_GENERIC_GATES=1 runs the compiler-vectorised LSTM gate loop that CPUs
    without AVX-512 use; keep it tested against the reference here too."""
    assert_passes_with(
        {"FASTRNN_GENERIC_GATES": "1"}, __file__, "-k", "lstm and not on_an_"
    )


@pytest.mark.skipif(
    _info.sgemm_backend() != "amx", reason="only on CPUs whose default GEMM is AMX"
)
def test_float32_kernels_without_amx_on_an_amx_cpu():
    """FASTRNN_NO_AMX=1: the AVX-512 GEMM, and the two-pass fallbacks of the AMX-only
    fusions (bias in the projection's output tiles, shared dA^T packing), against the
    reference, as CPUs without AMX run them."""
    assert_passes_with(
        {"FASTRNN_NO_AMX": "1"}, __file__, "-k", "float32 and not on_an_"
    )


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("need_backward", [True, False])
def test_nan_input_propagates_to_its_row_only(cell, dtype, need_backward, rng):
    """A NaN in x_t of one row makes that row's outputs NaN from step t on and leaves
    the other rows finite: never a silently finite result (H = 32: the SIMD loops)."""
    case = make_case(cell, T=5, B=3, I=4, H=32, rng=rng, dtype=dtype)
    case["X"][2, 1, 0] = np.nan
    Y, h_n, _, _ = run_kernel(cell, case, n_threads=2, need_backward=need_backward)
    assert np.isnan(Y[2:, 1]).all() and np.isnan(h_n[1]).all()
    assert np.isfinite(Y[:2]).all() and np.isfinite(Y[:, [0, 2]]).all()
