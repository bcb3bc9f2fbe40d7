"""Fused generation (fastrnn._kernels.generate via fastrnn.models._fused_generate)
against the step-by-step reference LanguageModel._generate_reference, and the kernel's
sampling rule against fastrnn.models.sampling.sample_from_logits.

The default thread count is 1 here (the reference makes hundreds of tiny kernel calls,
which a shared 2-core machine slows down badly with 2 threads); tests that pass
n_threads=2 explicitly cover the threaded kernel.
"""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import _threads, nn
from fastrnn._kernels import generate as kernel
from fastrnn.data import Vocab
from fastrnn.functional import CELLS
from fastrnn.models import _fused_generate as fg
from fastrnn.models.language_model import LanguageModel
from fastrnn.models.sampling import libm_exp, sample_from_logits


@pytest.fixture(autouse=True)
def one_thread_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "_num_threads", 1)


TEXT = "the quick brown fox jumps over the lazy dog, then sleeps."
SAMPLING = [
    {},
    {"top_k": 3},
    {"top_p": 0.8},
    {"temperature": 0.0},
    {"temperature": 0.7, "top_k": 6, "top_p": 0.9},
]


def make_lm(
    cell: str,
    dtype: type = np.float32,
    hidden: int = 12,
    layers: int = 2,
    level: str = "char",
    seed: int = 0,
) -> LanguageModel:
    fr.manual_seed(seed)
    words = TEXT.replace(",", "").replace(".", "")
    vocab = Vocab.build([words.split()] if level == "word" else [TEXT])
    lm = LanguageModel(
        vocab=vocab,
        hidden_size=hidden,
        num_layers=layers,
        embedding_dim=6,
        cell=cell,
        level=level,
    )
    lm.to(dtype)
    # larger weights than the default init, so that samples depend on the state
    # (ReLU states would blow up and make every distribution one-hot)
    with fr.no_grad():
        for p in lm.parameters():
            p.data *= 1.0 if cell == "rnn_relu" else 2.5
    return lm


def both(lm: LanguageModel, prompt, n: int, **kw) -> tuple[list, list]:
    ref = lm.generate_ids(prompt, n, fused=False, **kw)
    fused = lm.generate_ids(prompt, n, fused=True, **kw)
    return ref, fused


def assert_same(ref: list, fused: list) -> None:
    assert len(ref) == len(fused)
    for b, (r, f) in enumerate(zip(ref, fused, strict=True)):
        assert f.dtype == np.int64
        np.testing.assert_array_equal(f, r, err_msg=f"sample {b}")


def direct(lm: LanguageModel, prompt: str, n: int, B: int, seed: int, **kw):
    """The fused kernel called as generate_ids does, with explicit keywords."""
    start = lm.encode(prompt)
    logits, state = lm(np.repeat(start[:, None], B, axis=1))
    uniforms = np.random.default_rng(seed).random((n, B))
    eos = kw.pop("eos_id", -1)
    return fg.generate(
        lm,
        logits.numpy()[-1],
        state,
        uniforms,
        kw.pop("temperature", 1.0),
        kw.pop("top_k", None),
        kw.pop("top_p", None),
        eos,
        **kw,
    )


# ---------------------------------------------------------------------------------------
# fused == reference
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", CELLS)
def test_same_tokens_as_reference(cell: str, dtype: type) -> None:
    lm = make_lm(cell, dtype)
    for B, configs in ((1, SAMPLING[::3]), (3, SAMPLING)):
        for kw in configs:
            ref, fused = both(lm, "the ", 16, seed=7, num_samples=B, **kw)
            assert_same(ref, fused)
    # and the samples are not trivial: different seeds give different text
    a = lm.generate_ids("the ", 16, seed=1)
    b = lm.generate_ids("the ", 16, seed=2)
    assert not np.array_equal(a[0], b[0])


@pytest.mark.parametrize(
    ("cell", "dtype"),
    [(cell, np.float32) for cell in CELLS]
    + [("lstm_peephole", np.float64), ("gru_cho", np.float64)],
)
def test_threads_and_no_table_give_the_same_tokens(
    cell: str, dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    # H = 40 splits into two chunks of units with two threads (however small the work)
    monkeypatch.setattr(fg, "MIN_WORK_PER_THREAD", 1)
    lm = make_lm(cell, dtype, hidden=40, layers=3)
    ref = lm.generate_ids("fox", 12, seed=3, num_samples=3, top_k=8, fused=False)
    one = direct(lm, "fox", 12, 3, 3, top_k=8, n_threads=1)
    two = direct(lm, "fox", 12, 3, 3, top_k=8, n_threads=2)
    monkeypatch.setattr(fg, "TABLE_ROWS_PER_TOKEN", 0)  # embed, then multiply
    no_table = direct(lm, "fox", 12, 3, 3, top_k=8, n_threads=2)
    for out in (one, two, no_table):
        assert_same(ref, out)


def test_layers_without_bias_and_head_without_bias() -> None:
    lm = make_lm("gru")
    lm.rnn = nn.recurrent_layer("gru", 6, 12, num_layers=2, bias=False)
    lm.head = nn.Linear(12, lm.vocab_size, bias=False)
    ref, fused = both(lm, "dog", 20, seed=0, num_samples=2)
    assert_same(ref, fused)


# ---------------------------------------------------------------------------------------
# <EOS>, prompts, long runs
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru_minimal"])
def test_stops_each_sample_at_eos(cell: str) -> None:
    lm = make_lm(cell, level="word")
    lm.head.bias.data[lm.vocab.eos_id] += 3.0  # make <EOS> likely
    n = 12
    ref, fused = both(lm, "the", n, seed=5, num_samples=8)
    assert_same(ref, fused)
    lengths = [len(x) for x in fused]
    assert min(lengths) < max(lengths), lengths  # samples stop at different steps
    assert all(lm.vocab.eos_id not in x for x in fused)
    # stop_at_eos=False keeps going past <EOS>
    ref, fused = both(lm, "the", n, seed=5, num_samples=8, stop_at_eos=False)
    assert_same(ref, fused)
    assert all(len(x) == n for x in fused)


def test_every_sample_stopping_at_once_ends_the_loop() -> None:
    lm = make_lm("rnn_tanh", level="word")
    lm.head.bias.data[lm.vocab.eos_id] += 50.0  # <EOS> first, always
    ref, fused = both(lm, "the", 30, seed=0, num_samples=4)
    assert_same(ref, fused)
    assert all(len(x) == 0 for x in fused)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_prompt_state_is_respected(cell: str) -> None:
    lm = make_lm(cell)
    outputs = []
    for prompt in ("the ", "lazy", "x", "jumps over "):
        ref, fused = both(lm, prompt, 15, seed=11, temperature=0.0)
        assert_same(ref, fused)
        outputs.append(tuple(fused[0]))
    assert len(set(outputs)) > 1  # greedy continuations depend on the prompt


def test_many_tokens_with_a_tiny_model() -> None:
    lm = make_lm("lstm", hidden=4, layers=1)
    n = 20_000
    long = lm.generate_ids("a", n, seed=4, fused=True)[0]
    assert long.shape == (n,)
    assert long.min() >= 0 and long.max() < lm.vocab_size
    # the first tokens are those of a short run with the same seed, and the reference's
    short = lm.generate_ids("a", 200, seed=4, fused=False)[0]
    np.testing.assert_array_equal(long[:200], short)


def test_zero_new_tokens() -> None:
    lm = make_lm("gru")
    assert [len(x) for x in lm.generate_ids("a", 0, num_samples=2)] == [0, 0]
    assert [len(x) for x in direct(lm, "a", 0, 2, 0)] == [0, 0]


# ---------------------------------------------------------------------------------------
# bad arguments
# ---------------------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors() -> None:
    lm = make_lm("lstm")
    start = lm.encode("ab")
    logits, state = lm(start[:, None])
    last = logits.numpy()[-1]
    u = np.random.default_rng(0).random((5, 1))
    V = lm.vocab_size

    def call(**kw):
        args = {
            "last_logits": last,
            "state": state,
            "uniforms": u,
            "temperature": 1.0,
            "top_k": None,
            "top_p": None,
            "eos_id": -1,
        }
        args.update(kw)
        return fg.generate(lm, **args)

    assert len(call()[0]) == 5
    with pytest.raises(ValueError, match=r"last_logits of shape \(B, "):
        call(last_logits=last[:, :-1])
    with pytest.raises(TypeError, match="float64 uniforms"):
        call(uniforms=u.astype(np.float32))
    with pytest.raises(ValueError, match=r"uniforms of shape \(N, 1\)"):
        call(uniforms=np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"uniforms in \[0, 1\)"):
        call(uniforms=u + 1.0)
    with pytest.raises(ValueError, match="eos_id in"):
        call(eos_id=V)
    with pytest.raises(TypeError, match="eos_id to be an int"):
        call(eos_id=1.0)
    with pytest.raises(ValueError, match="temperature >= 0"):
        call(temperature=-1.0)
    with pytest.raises(ValueError, match="top_p in"):
        call(top_p=1.5)
    with pytest.raises(TypeError, match=r"tuple \(h, c\)"):
        call(state=state[0])
    with pytest.raises(ValueError, match="state h of shape"):
        call(state=(state[0].numpy()[:1], state[1]))
    with pytest.raises(ValueError, match="n_threads >= 1"):
        call(n_threads=0)
    gru = make_lm("gru")
    with pytest.raises(TypeError, match="state h as one array"):
        fg.generate(gru, last, state, u, 1.0, None, None, -1)


def test_bad_models_raise_clear_errors() -> None:
    lm = make_lm("gru")
    lm.head.to(np.float64)
    with pytest.raises(
        TypeError, match="head.weight to have the recurrent layer's dtype"
    ):
        fg.GeneratorWeights.from_model(lm)
    lm = make_lm("gru")
    lm.rnn = nn.recurrent_layer("gru", 6, 12, bidirectional=True)
    with pytest.raises(ValueError, match="unidirectional"):
        fg.GeneratorWeights.from_model(lm)


def test_kernel_rechecks_shapes() -> None:
    w = fg.GeneratorWeights.from_model(make_lm("lstm"))
    V, _, H, L = w.sizes
    f = np.float32
    args = [w.cell, w.embedding, w.W_ih, w.W_hh, w.b_ih, w.b_hh, w.w_peep, w.W_head,
            w.b_head, np.zeros((L, 2, H), f), np.zeros((L, 2, H), f),
            np.zeros((2, V), f), np.zeros((3, 2)), 1.0, 0, 1.0, -1,
            np.zeros((3, 2), np.int64), np.zeros(2, np.int64), True, 1, 1]  # fmt: skip
    kernel.generate(*args)
    bad = list(args)
    bad[10] = np.zeros((L, 1, H), f)
    with pytest.raises(ValueError, match="c0 of shape"):
        kernel.generate(*bad)
    bad = list(args)
    bad[0] = "elman"
    with pytest.raises(ValueError, match="expected cell in"):
        kernel.generate(*bad)
    bad = list(args)
    bad[3] = w.W_hh[:1]
    with pytest.raises(ValueError, match="one W_ih, W_hh"):
        kernel.generate(*bad)
    with pytest.raises(ValueError, match=r"uniforms of shape \(2,\)"):
        kernel.sample_rows(np.zeros((2, 5)), np.zeros(3), 1.0, 0, 1.0)


# ---------------------------------------------------------------------------------------
# the sampling rule, bit for bit
# ---------------------------------------------------------------------------------------


def tied_logits(rng: np.random.Generator, B: int, V: int, dtype: type) -> np.ndarray:
    """Logits with many exact ties (few distinct values) and a few large gaps."""
    levels = rng.normal(size=4) * 3
    z = levels[rng.integers(0, 4, size=(B, V))]
    z[:, rng.integers(0, V, size=max(1, V // 10))] += rng.normal() * 0.5
    return z.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("V", [1, 5, 8, 65, 300, 1100])
def test_sample_rows_matches_sample_from_logits(V: int, dtype: type, rng) -> None:
    # V >= 8 and V > 128 take the other branches of NumPy's pairwise sum
    B = 12
    for tied in (True, False):
        logits = (
            tied_logits(rng, B, V, dtype)
            if tied
            else (rng.normal(size=(B, V)) * 4).astype(dtype)
        )
        u = rng.random(B)
        u[:3] = [0.0, 0.5, np.nextafter(1.0, 0.0)]
        for temperature, k, p in [(0.0, 0, 1.0)] + [
            (temperature, k, p)
            for temperature in (0.5, 1.0, 3.0)
            for k in sorted({0, 1, 3, max(1, V - 1), V + 5})
            for p in (1.0, 0.3, 0.9)
        ]:
            want = sample_from_logits(logits, u, temperature, k or None, p)
            got = kernel.sample_rows(logits, u, temperature, k, p)
            np.testing.assert_array_equal(
                got, want, err_msg=f"T={temperature} k={k} p={p} tied={tied}"
            )


def test_sample_rows_exact_boundaries() -> None:
    # four equal logits: p = 0.25 exactly; top_p = 0.5 is reached exactly at 2 tokens,
    # and u = 0.5 lands exactly on a CDF step (the first id with cdf > u * total wins)
    logits = np.array([[1.0, 1.0, 1.0, 1.0, -np.inf]] * 4)
    u = np.array([0.0, 0.25, 0.5, 0.75])
    for p in (1.0, 0.5, 0.25, 0.75):
        for k in (0, 1, 2, 4):
            want = sample_from_logits(logits, u, 1.0, k or None, p)
            np.testing.assert_array_equal(
                kernel.sample_rows(logits, u, 1.0, k, p), want
            )


def test_sample_rows_non_finite_logits() -> None:
    nan = np.array([[0.0, np.nan, 3.0, np.nan]])
    u = np.array([0.3])
    # greedy: numpy.argmax's first NaN; sampling: the last id, as the reference
    assert kernel.sample_rows(nan, u, 0.0, 0, 1.0)[0] == np.argmax(nan[0]) == 1
    with np.errstate(invalid="ignore"):
        assert kernel.sample_rows(nan, u, 1.0, 0, 1.0)[0] == 3
        assert sample_from_logits(nan, u, 1.0)[0] == 3
        inf = np.array([[0.0, np.inf, 1.0]])
        assert kernel.sample_rows(inf, u, 1.0, 0, 1.0)[0] == 2
        assert sample_from_logits(inf, u, 1.0)[0] == 2


def test_gemm_backend_is_reported() -> None:
    assert kernel.gemm_backend() in ("avx2+fma", "generic")


def numpy_probabilities(
    logits: np.ndarray, temperature: float, k: int, top_p: float
) -> np.ndarray:
    """Steps 2-5 of fastrnn.models.sampling, the NumPy operations of sample_from_logits."""
    out = []
    for row in np.asarray(logits, dtype=np.float64):
        V = row.size
        row = row / temperature
        keep = np.ones(V, dtype=bool)
        if 0 < k < V:
            keep = row >= np.partition(row, V - k)[V - k]
        p = np.where(keep, libm_exp(row - row[keep].max()), 0.0)
        p /= p.sum()
        if top_p < 1.0:
            order = np.lexsort((np.arange(V), -p))
            n = int(np.searchsorted(np.cumsum(p[order]), top_p, side="left")) + 1
            mask = np.zeros(V, dtype=bool)
            mask[order[: min(n, V)]] = True
            p = np.where(mask, p, 0.0)
        out.append(p)
    return np.array(out)


@pytest.mark.parametrize("V", [5, 65, 300, 1100])
def test_probabilities_are_numpys_bit_for_bit(V: int, rng) -> None:
    # same float64 operations in the same order: not one bit of difference
    for dtype in (np.float32, np.float64):
        logits = np.concatenate(
            [tied_logits(rng, 6, V, dtype), (rng.normal(size=(6, V)) * 6).astype(dtype)]
        )
        for temperature, k, p in [(1.0, 0, 1.0), (0.7, 3, 0.9), (2.0, V // 2, 0.5)]:
            got = kernel.probabilities(logits, temperature, k, p)
            want = numpy_probabilities(logits, temperature, k, p)
            np.testing.assert_array_equal(got, want)
