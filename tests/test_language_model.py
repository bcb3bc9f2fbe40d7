"""LanguageModel: forward shapes, training signal, generation, save/load, stream evaluation."""

from __future__ import annotations

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn, optim
from fastrnn.data import Vocab
from fastrnn.models import LanguageModel
from fastrnn.models.language_model import load_language_model

TEXT = "the quick brown fox jumps over the lazy dog. " * 20


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build([TEXT])


@pytest.mark.parametrize(
    "cell",
    ["lstm", "gru", "rnn", "rnn_relu", "lstm_peephole", "gru_cho", "gru_minimal"],
)
def test_forward_shapes_and_state(vocab, cell):
    fr.manual_seed(0)
    lm = LanguageModel(
        vocab=vocab, cell=cell, hidden_size=12, num_layers=2, embedding_dim=6
    )
    x = np.random.default_rng(0).integers(0, len(vocab), (7, 3))
    logits, state = lm(x)
    assert logits.shape == (7, 3, len(vocab))
    h = state[0] if lm.cell.startswith("lstm") else state
    assert h.shape == (2, 3, 12)
    # carrying the state equals one long pass
    full, _ = lm(np.concatenate([x, x]))
    _, s1 = lm(x)
    second, _ = lm(x, s1)
    np.testing.assert_allclose(second.numpy(), full.numpy()[7:], rtol=1e-5, atol=1e-6)


def test_learns_a_repeated_sentence(vocab):
    fr.manual_seed(0)
    lm = LanguageModel(vocab=vocab, hidden_size=32, num_layers=1, embedding_dim=16)
    ids = lm.encode(TEXT)[:897]
    x, y = ids[:-1].reshape(4, -1).T, ids[1:].reshape(4, -1).T
    opt = optim.Adam(lm.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss(class_dim=-1)
    for _ in range(60):
        loss = loss_fn(lm(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5
    # the trained model continues the sentence it saw (greedy)
    assert (
        lm.generate("the quick brown ", 8, temperature=0) == "the quick brown fox jump"
    )


def test_generate_is_seeded_and_respects_options(vocab):
    fr.manual_seed(0)
    lm = LanguageModel(vocab=vocab, hidden_size=16, num_layers=2, embedding_dim=8)
    a = lm.generate("the ", 30, seed=3, fused=False)
    assert a == lm.generate("the ", 30, seed=3, fused=False)
    assert a != lm.generate("the ", 30, seed=4, fused=False)
    assert a.startswith("the ")
    many = lm.generate_ids(
        "the ", 10, seed=3, num_samples=4, top_k=5, top_p=0.9, fused=False
    )
    assert len(many) == 4 and all(m.shape == (10,) for m in many)
    assert len({m.tobytes() for m in many}) > 1
    texts = lm.generate(
        "the ", 10, seed=3, num_samples=4, top_k=5, top_p=0.9, fused=False
    )
    assert texts == ["the " + lm.decode(m) for m in many]
    ids = lm.generate_ids(lm.encode("the "), 5, seed=1, fused=False)
    assert len(ids) == 1 and ids[0].dtype == np.int64 and ids[0].shape == (5,)
    with pytest.raises(ValueError, match="max_new_tokens"):
        lm.generate("the", -1)
    with pytest.raises(ValueError, match="ids"):
        lm.generate_ids(np.array([len(vocab)]), 3)


def test_word_level_stops_at_eos():
    vocab = Vocab.build(["a b c"], tokenizer=str.split)
    fr.manual_seed(0)
    lm = LanguageModel(
        vocab=vocab, hidden_size=8, num_layers=1, embedding_dim=4, level="word"
    )
    with fr.no_grad():
        lm.head.bias.data[:] = -20.0
        lm.head.bias.data[vocab.eos_id] = 20.0  # <EOS> almost surely first
    ids = lm.generate_ids("a b", 10, seed=0, fused=False)
    assert ids[0].size == 0
    assert lm.generate("a b", 10, seed=0, fused=False) == "a b"


def test_save_load_round_trip(tmp_path, vocab):
    fr.manual_seed(1)
    lm = LanguageModel(
        vocab=vocab,
        cell="gru",
        hidden_size=10,
        num_layers=2,
        embedding_dim=5,
        dropout=0.1,
    )
    lm.save(tmp_path / "lm.st")
    back = load_language_model(tmp_path / "lm.st")
    assert back.config() == lm.config()
    lm.eval()
    x = lm.encode("the lazy dog")[:, None]
    np.testing.assert_array_equal(back(x)[0].numpy(), lm(x)[0].numpy())
    fr.save({"something": np.zeros(3)}, tmp_path / "other.st")
    with pytest.raises(ValueError, match="other.st: expected a fastrnn language-model"):
        load_language_model(tmp_path / "other.st")


def test_evaluate_stream_matches_a_direct_computation(vocab):
    fr.manual_seed(0)
    lm = LanguageModel(vocab=vocab, hidden_size=8, num_layers=1, embedding_dim=4).to(
        np.float64
    )
    ids = lm.encode(TEXT[:101])
    got = lm.evaluate_stream(ids, seq_len=16, batch_size=1)
    logits = lm(ids[:-1, None])[0].numpy()[:, 0]
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    want = -logp[np.arange(100), ids[1:]].mean()
    assert got == pytest.approx(want, rel=1e-10)


def test_bad_construction(vocab):
    with pytest.raises(ValueError, match="vocab_size or vocab"):
        LanguageModel()
    with pytest.raises(ValueError, match="vocab_size =="):
        LanguageModel(len(vocab) + 1, vocab=vocab)
    with pytest.raises(ValueError, match="cell"):
        LanguageModel(vocab=vocab, cell="transformer")
    with pytest.raises(ValueError, match="level"):
        LanguageModel(vocab=vocab, level="byte")
