"""Tests for fastrnn.models.seq2seq: shapes, teacher forcing, decoding, padding, config."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn, optim
from fastrnn.data import pad_batch
from fastrnn.models import Seq2Seq
from fastrnn.models.seq2seq import Seq2Seq as Seq2SeqDirect

PAD, UNK, BOS, EOS = 0, 1, 2, 3


def make_model(**kw) -> Seq2Seq:
    fr.manual_seed(kw.pop("seed", 0))
    args = dict(
        src_vocab_size=12,
        tgt_vocab_size=9,
        embedding_dim=6,
        hidden_size=5,
        dtype=np.float64,
    )
    args.update(kw)
    return Seq2Seq(**args)


def make_batch(rng, S=7, T=5, B=4, src_vocab=12, tgt_vocab=9, min_len=2):
    """Random src (S, B) with lengths (padding past them) and tgt <BOS>..<EOS>."""
    lengths = rng.integers(min_len, S + 1, size=B)
    lengths[0] = S
    src = rng.integers(4, src_vocab, size=(S, B))
    src[np.arange(S)[:, None] >= lengths[None, :]] = PAD
    tgt = rng.integers(4, tgt_vocab, size=(T, B))
    tgt[0] = BOS
    tgt[-1] = EOS
    return src, lengths, tgt


class OnesGenerator:
    """A stand-in rng whose coin flips always pick the gold token."""

    def random(self, n: int) -> np.ndarray:
        return np.zeros(n)


def test_models_package_exports_the_class() -> None:
    assert Seq2Seq is Seq2SeqDirect


@pytest.mark.parametrize(
    "cell, bidirectional, attention, layers",
    [
        ("lstm", True, True, 1),
        ("gru", False, True, 2),
        ("rnn", True, False, 1),
        ("lstm", False, False, 2),
    ],
)
def test_forward_backward_shapes(rng, cell, bidirectional, attention, layers) -> None:
    model = make_model(
        cell=cell, bidirectional=bidirectional, attention=attention, num_layers=layers
    )
    src, lengths, tgt = make_batch(rng)
    logits = model(src, tgt, lengths)
    assert logits.shape == (tgt.shape[0] - 1, src.shape[1], 9)
    loss = model.loss(logits, tgt)
    assert loss.shape == () and np.isfinite(loss.item())
    loss.backward()
    names = [n for n, _ in model.named_parameters()]
    assert ("attn_proj.weight" in names) == attention
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape, name
        assert np.isfinite(p.grad).all(), name
    # The decoder's hidden size is the encoder's times its directions.
    D = 2 if bidirectional else 1
    assert model.decoder.hidden_size == D * model.hidden_size


def test_loss_ignores_target_padding(rng) -> None:
    model = make_model()
    src, lengths, tgt = make_batch(rng, T=6)
    tgt[4:, 1] = [EOS, PAD]  # column 1 is one token shorter
    logits = model(src, tgt, lengths)
    loss = model.loss(logits, tgt).item()
    logp = fr.log_softmax(logits, dim=-1).data
    gold = tgt[1:]
    valid = gold != PAD
    picked = np.take_along_axis(logp, gold[:, :, None], axis=2)[:, :, 0]
    np.testing.assert_allclose(loss, -picked[valid].mean(), rtol=1e-12)
    # Changing the logits at a padded target position changes nothing.
    logits.data[4, 1] += 5.0
    assert model.loss(logits, tgt).item() == pytest.approx(loss, rel=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_step_path_matches_whole_sequence_path(rng, cell) -> None:
    """Teacher forcing run by the step cells equals the one-call decoder layer."""
    model = make_model(cell=cell, num_layers=2)
    src, lengths, tgt = make_batch(rng)
    fast = model(src, tgt, lengths, teacher_forcing_ratio=1.0)
    slow = model(
        src, tgt, lengths, teacher_forcing_ratio=0.5, generator=OnesGenerator()
    )
    np.testing.assert_allclose(slow.data, fast.data, rtol=1e-10, atol=1e-12)
    # ... and so do the gradients.
    model.loss(fast, tgt).backward()
    grads = {n: p.grad.copy() for n, p in model.named_parameters()}
    model.zero_grad()
    model.loss(slow, tgt).backward()
    for n, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, grads[n], rtol=1e-8, atol=1e-12)


def test_teacher_forcing_ratio_zero_feeds_own_predictions(rng) -> None:
    model = make_model()
    src, lengths, tgt = make_batch(rng, T=6)
    free = model(src, tgt, lengths, teacher_forcing_ratio=0.0)
    again = model(src, tgt, lengths, teacher_forcing_ratio=0.0)
    np.testing.assert_array_equal(free.data, again.data)  # no randomness at all
    # The inputs were the model's greedy predictions: teacher-forcing them
    # reproduces the logits exactly.
    logp = free.data.copy()
    logp[:, :, [PAD, BOS]] = -np.inf
    own = np.concatenate([tgt[:1], np.argmax(logp, axis=2)], axis=0)  # (T, B)
    forced = model(src, own, lengths, teacher_forcing_ratio=1.0)
    np.testing.assert_allclose(free.data, forced.data, rtol=1e-10, atol=1e-12)
    # With gold inputs only the first step (same <BOS>) agrees.
    gold = model(src, tgt, lengths, teacher_forcing_ratio=1.0)
    np.testing.assert_allclose(free.data[0], gold.data[0], rtol=1e-10)
    assert not np.allclose(free.data[1:], gold.data[1:])
    assert not np.array_equal(own[1:-1], tgt[1:-1])  # it did not copy the gold


def test_scheduled_sampling_is_seeded_and_differentiable(rng) -> None:
    model = make_model()
    src, lengths, tgt = make_batch(rng, T=7, B=8)
    runs = [
        model(src, tgt, lengths, 0.5, np.random.default_rng(seed)).data
        for seed in (1, 1, 2)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])
    # The default source is the library generator, seeded by manual_seed.
    fr.manual_seed(5)
    a = model(src, tgt, lengths, 0.5).data
    fr.manual_seed(5)
    b = model(src, tgt, lengths, 0.5).data
    np.testing.assert_array_equal(a, b)
    loss = model.loss(model(src, tgt, lengths, 0.5), tgt)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_padding_and_lengths_are_honoured(rng) -> None:
    """A column gives the same results alone, unpadded, as inside a padded batch."""
    model = make_model(num_layers=2)
    src, lengths, tgt = make_batch(rng, S=9, B=5, min_len=2)
    garbage = src.copy()
    past = np.arange(src.shape[0])[:, None] >= lengths[None, :]
    garbage[past] = rng.integers(4, 12, size=past.sum())  # not even <PAD>
    batch_logits = model(garbage, tgt, lengths).data
    greedy = model.greedy_decode(garbage, lengths, max_len=6)
    beam, beam_scores = model.beam_decode(
        garbage, lengths, beam_size=3, max_len=6, return_scores=True
    )
    for b in range(src.shape[1]):
        alone_src = src[: lengths[b], b : b + 1]
        alone = model(alone_src, tgt[:, b : b + 1]).data
        np.testing.assert_allclose(
            alone[:, 0], batch_logits[:, b], rtol=1e-9, atol=1e-12
        )
        assert model.greedy_decode(alone_src, max_len=6) == [greedy[b]]
        seqs, scores = model.beam_decode(
            alone_src, beam_size=3, max_len=6, return_scores=True
        )
        assert seqs == [beam[b]]
        np.testing.assert_allclose(scores[0], beam_scores[b], rtol=1e-9)


def sequence_scores(model, src, sequences, max_len, bos=BOS, eos=EOS):
    """Exhaustive-search helper: total log-probability of each candidate output.

    A sequence shorter than ``max_len`` ends with <EOS> (scored); one of
    ``max_len`` tokens is a truncated output without <EOS>. Scored with the
    teacher-forced whole-sequence decoder (one batch per target length),
    independently of the decoding code.
    """
    tgts = [[bos, *seq, *([eos] if len(seq) < max_len else [])] for seq in sequences]
    scores = np.zeros(len(tgts))
    for n in sorted({len(t) for t in tgts}):
        rows = [i for i, t in enumerate(tgts) if len(t) == n]
        tgt = np.array([tgts[i] for i in rows]).T  # (n, N)
        logits = model(np.repeat(src, len(rows), axis=1), tgt)
        logp = fr.log_softmax(logits, dim=-1).data  # (n - 1, N, V)
        picked = np.take_along_axis(logp, tgt[1:, :, None], axis=2)[:, :, 0]
        scores[rows] = picked.sum(axis=0)
    return scores


@pytest.mark.parametrize(
    "cell, length_penalty", [("lstm", 0.0), ("gru", 1.0), ("lstm", 2.0), ("rnn", 0.5)]
)
def test_beam_search_matches_exhaustive_search(rng, cell, length_penalty) -> None:
    """3 tokens + <EOS>, max_len 4: a wide beam finds the exhaustive optimum."""
    V, max_len = 6, 4  # ids: 0 <PAD>, 1 <BOS>, 2 <EOS>, 3..5 ordinary tokens
    model = make_model(cell=cell, tgt_vocab_size=V, pad_id=0, bos_id=1, eos_id=2)
    with fr.no_grad():  # peakier distributions than at init
        model.head.weight.data *= 4
    tokens = (3, 4, 5)
    candidates = [
        list(seq)
        for n in range(max_len + 1)
        for seq in itertools.product(tokens, repeat=n)
    ]
    lengths = np.array([len(c) + (len(c) < max_len) for c in candidates])
    for column in range(4):
        src = rng.integers(4, 12, size=(5, 1))
        raw = sequence_scores(model, src, candidates, max_len, bos=1, eos=2)
        normalised = raw / lengths.astype(float) ** length_penalty
        best = int(np.argmax(normalised))
        assert np.sort(normalised)[-2] < normalised[best] - 1e-9  # a unique optimum
        seqs, scores = model.beam_decode(
            src,
            beam_size=400,
            max_len=max_len,
            length_penalty=length_penalty,
            return_scores=True,
        )
        assert seqs[0] == candidates[best], column
        np.testing.assert_allclose(scores[0], normalised[best], rtol=1e-9)
        # A narrow beam never beats the optimum, and scores its answer honestly.
        narrow, narrow_scores = model.beam_decode(
            src,
            beam_size=2,
            max_len=max_len,
            length_penalty=length_penalty,
            return_scores=True,
        )
        k = candidates.index(narrow[0])
        np.testing.assert_allclose(narrow_scores[0], normalised[k], rtol=1e-9)
        assert narrow_scores[0] <= normalised[best] + 1e-12


class TableDecoder(Seq2Seq):
    """A Seq2Seq whose decoder step is a lookup table of next-token probabilities.

    The prefix decoded so far is carried in column 0 of the state (base-10 digits),
    so beam search reorders it like a real state. ``<PAD>``=0, ``<BOS>``=1,
    ``<EOS>``=2, tokens 3..5.
    """

    def __init__(self, table):
        super().__init__(
            5, 6, 2, 2, cell="gru", bidirectional=False, attention=False,
            pad_id=0, bos_id=1, eos_id=2, dtype=np.float64,
        )  # fmt: skip
        self.table = table

    def _step(self, tokens, state, memory):
        (h,), _ = state
        code = np.where(tokens == 1, 0, h.data[:, 0] * 10 + tokens)
        probs = np.full((len(tokens), 6), 1e-9)
        for row, c in enumerate(code.astype(int)):
            prefix = tuple(int(d) for d in str(c)) if c else ()
            for token, p in self.table(prefix).items():
                probs[row, token] = p
        new_h = h.data.copy()
        new_h[:, 0] = code
        return fr.Tensor(np.log(probs)), ([fr.Tensor(new_h)], None)


def test_beam_search_stops_early_only_when_exact() -> None:
    """An early <EOS> must not end the search while a longer output can still win.

    First step: <EOS> 0.7, token 3 0.3; after that token 3 is certain. With
    length_penalty=1, "3 3 3 3" (log 0.3 / 4 = -0.30) beats "<EOS>" (log 0.7 =
    -0.36) although its score after one step (log 0.3 / 1) is far lower.
    """
    model = TableDecoder(lambda prefix: {3: 1.0} if prefix else {2: 0.7, 3: 0.3})
    src = np.array([[4], [3]])
    assert model.greedy_decode(src, max_len=4) == [[]]
    seqs, scores = model.beam_decode(
        src, beam_size=2, max_len=4, length_penalty=1.0, return_scores=True
    )
    assert seqs == [[3, 3, 3, 3]]
    np.testing.assert_allclose(scores, [np.log(0.3) / 4], rtol=1e-6)
    assert model.beam_decode(src, beam_size=2, max_len=4, length_penalty=0.0) == [[]]
    assert model.beam_decode(src, beam_size=1, max_len=4, length_penalty=1.0) == [[]]


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
def test_beam_size_one_equals_greedy(rng, length_penalty) -> None:
    model = make_model(cell="gru")
    with fr.no_grad():
        model.head.weight.data *= 3
    src, lengths, _ = make_batch(rng, S=8, B=6)
    greedy, greedy_scores = model.greedy_decode(
        src, lengths, max_len=5, return_scores=True
    )
    beam, beam_scores = model.beam_decode(
        src,
        lengths,
        beam_size=1,
        max_len=5,
        length_penalty=length_penalty,
        return_scores=True,
    )
    assert beam == greedy
    lens = np.array([len(g) + (len(g) < 5) for g in greedy], dtype=float)
    np.testing.assert_allclose(
        beam_scores, greedy_scores / lens**length_penalty, rtol=1e-10
    )
    # Some outputs end at <EOS>, some run into max_len: both paths are covered.
    assert {len(g) for g in greedy} != {5}


def test_decoding_restores_training_mode(rng) -> None:
    model = make_model(dropout=0.3)
    src, lengths, _ = make_batch(rng)
    model.train()
    first = model.greedy_decode(src, lengths, max_len=4)
    assert model.training
    assert model.greedy_decode(src, lengths, max_len=4) == first  # no dropout
    model.eval()
    model.beam_decode(src, lengths, beam_size=2, max_len=4)
    assert not model.training


def test_learns_to_reverse_short_sequences() -> None:
    """A tiny model learns to reverse 3-4 tokens in 150 steps (~2 s on one core)."""
    fr.manual_seed(0)
    rng = np.random.default_rng(0)
    symbols = np.arange(4, 10)  # 6 ordinary tokens after the 4 specials

    def batch(n):
        seqs = [rng.choice(symbols, size=rng.integers(3, 5)) for _ in range(n)]
        src, lengths = pad_batch(seqs)
        tgt, _ = pad_batch([np.r_[BOS, s[::-1], EOS] for s in seqs])
        return seqs, src, lengths, tgt

    model = Seq2Seq(10, 10, embedding_dim=8, hidden_size=16)
    opt = optim.Adam(model.parameters(), lr=2e-2)
    for _ in range(150):
        _, src, lengths, tgt = batch(32)
        loss = model.loss(model(src, tgt, lengths), tgt)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    seqs, src, lengths, _ = batch(200)
    out = model.greedy_decode(src, lengths, max_len=6)
    accuracy = np.mean([o == s[::-1].tolist() for o, s in zip(out, seqs, strict=True)])
    assert accuracy >= 0.95, (accuracy, loss.item())


def test_config_round_trip_through_save_and_load(rng, tmp_path) -> None:
    model = make_model(cell="gru", num_layers=2, bidirectional=False, dropout=0.1)
    src, lengths, tgt = make_batch(rng)
    path = tmp_path / "s2s.st"
    fr.save({"config": model.config(), "model": model.state_dict()}, path)
    ckpt = fr.load(path)
    assert ckpt["config"] == model.config()
    fr.manual_seed(123)  # a different init, overwritten by the weights
    clone = Seq2Seq.from_config(ckpt["config"])
    clone.load_state_dict(ckpt["model"])
    model.eval()
    clone.eval()
    np.testing.assert_array_equal(
        clone(src, tgt, lengths).data, model(src, tgt, lengths).data
    )
    assert clone.beam_decode(src, lengths, 3, 5) == model.beam_decode(
        src, lengths, 3, 5
    )
    # The step cells share the loaded parameters (not copies made at init).
    assert clone.greedy_decode(src, lengths, 5) == model.greedy_decode(src, lengths, 5)
    # Each decoder weight is stored once.
    assert not any("cell" in key for key in ckpt["model"])


def test_step_cells_follow_dtype_conversion(rng) -> None:
    model = make_model(cell="lstm").to(np.float32)
    src, lengths, tgt = make_batch(rng)
    logits = model(src, tgt, lengths, 0.0)
    assert logits.dtype == np.float32
    assert len(model.greedy_decode(src, lengths, 3)) == src.shape[1]


def test_init_does_not_depend_on_the_step_cells() -> None:
    """Building the shared step cells draws nothing from the library rng."""
    fr.manual_seed(7)
    make_model(seed=7)
    after_model = fr.random.get_generator().random()
    fr.manual_seed(7)
    layers = [
        nn.Embedding(12, 6, 0, dtype=np.float64),
        nn.LSTM(6, 5, bidirectional=True, dtype=np.float64),
        nn.Embedding(9, 6, 0, dtype=np.float64),
        nn.LSTM(6, 10, dtype=np.float64),
        nn.Linear(10, 10, bias=False, dtype=np.float64),
        nn.Linear(20, 10, dtype=np.float64),
        nn.Linear(10, 9, dtype=np.float64),
    ]
    assert len(layers) == 7
    assert fr.random.get_generator().random() == after_model


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"cell": "transformer"}, ValueError, "expected cell"),
        ({"dropout": 1.0}, ValueError, "expected dropout"),
        ({"eos_id": 9}, ValueError, "expected eos_id < tgt_vocab_size"),
        ({"bos_id": 0}, ValueError, "expected distinct special ids"),
        ({"hidden_size": 0}, ValueError, "expected hidden_size >= 1"),
        ({"hidden_size": 2.5}, TypeError, "expected hidden_size to be an int"),
    ],
)
def test_constructor_errors(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        make_model(**kwargs)


def test_input_errors(rng) -> None:
    model = make_model()
    src, lengths, tgt = make_batch(rng)
    with pytest.raises(TypeError, match="integer token ids"):
        model(src.astype(float), tgt, lengths)
    with pytest.raises(ValueError, match=r"expected lengths in \[1, 7\]"):
        model(src, tgt, np.array([8, 1, 1, 1]))
    with pytest.raises(ValueError, match="expected lengths of shape"):
        model(src, tgt, lengths[:2])
    with pytest.raises(ValueError, match="expected tgt of shape"):
        model(src, tgt[:, :2], lengths)
    with pytest.raises(ValueError, match="expected tgt of shape"):
        model(src, tgt[:1], lengths)
    with pytest.raises(ValueError, match="teacher_forcing_ratio in"):
        model(src, tgt, lengths, teacher_forcing_ratio=1.5)
    with pytest.raises(ValueError, match="expected src of shape"):
        model(src[:, 0], tgt, lengths)
    with pytest.raises(ValueError, match="expected beam_size >= 1"):
        model.beam_decode(src, lengths, beam_size=0)
    with pytest.raises(ValueError, match="unknown"):
        Seq2Seq.from_config({**model.config(), "heads": 4})
