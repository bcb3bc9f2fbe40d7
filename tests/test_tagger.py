"""Tests for fastrnn.models.SequenceTagger: shapes, padding, config round trip, learning."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import optim
from fastrnn.models import SequenceTagger
from fastrnn.models.tagger import IGNORE_INDEX

SENTS = [
    ["The", "dog", "runs", "quickly", "."],
    ["A", "cat", "sleeps"],
    ["Dogs", "bark"],
]
TAGS = [
    ["DET", "NOUN", "VERB", "ADV", "PUNCT"],
    ["DET", "NOUN", "VERB"],
    ["NOUN", "VERB"],
]
SMALL = dict(embedding_dim=8, char_embedding_dim=4, char_hidden_size=5, hidden_size=6)


def small_tagger(**kwargs: object) -> SequenceTagger:
    fr.manual_seed(0)
    return SequenceTagger.from_sentences(SENTS, TAGS, **{**SMALL, **kwargs})


def test_vocabularies_from_sentences() -> None:
    tagger = small_tagger()
    assert tagger.tag_vocab.itos == ["ADV", "DET", "NOUN", "PUNCT", "VERB"]
    assert tagger.word_vocab.itos[:3] == ["<PAD>", "<UNK>", "the"]  # lower-cased
    assert "Dogs" not in tagger.word_vocab and "dogs" in tagger.word_vocab
    assert tagger.char_vocab is not None and "D" in tagger.char_vocab


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("chars", [True, False])
def test_forward_backward_shapes(cell: str, chars: bool) -> None:
    tagger = small_tagger(cell=cell, num_layers=2, char_hidden_size=5 if chars else 0)
    words, lengths, char_ids = tagger.encode(SENTS)
    assert words.shape == (5, 3) and lengths.tolist() == [5, 3, 2]
    if chars:
        assert char_ids is not None and char_ids.shape == (5, 3, 7)  # "quickly"
        assert (char_ids[3:, 1] == 0).all() and (char_ids[2:, 2] == 0).all()
    else:
        assert char_ids is None
    logits = tagger(words, lengths, char_ids)
    assert logits.shape == (5, 3, 5)
    loss = tagger.loss(logits, tagger.encode_tags(TAGS), lengths)
    assert loss.shape == ()
    loss.backward()
    for name, p in tagger.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.isfinite(p.grad).all(), name
        if not name.startswith("word_embedding"):  # unused rows stay zero there
            assert np.abs(p.grad).sum() > 0, name


def test_padding_is_ignored() -> None:
    tagger = small_tagger(num_layers=2)
    tagger.eval()  # no dropout: compare two forward passes exactly
    words, lengths, chars = tagger.encode(SENTS)
    targets = tagger.encode_tags(TAGS)
    assert chars is not None
    base_logits = tagger(words, lengths, chars).numpy()
    base_loss = tagger.loss(tagger(words, lengths, chars), targets, lengths).item()

    rng = np.random.default_rng(1)
    pad = np.arange(words.shape[0])[:, None] >= lengths[None, :]  # (T, B)
    words2, chars2, targets2 = words.copy(), chars.copy(), targets.copy()
    words2[pad] = rng.integers(0, len(tagger.word_vocab), pad.sum())
    chars2[pad] = rng.integers(1, len(tagger.char_vocab), (pad.sum(), chars.shape[2]))
    targets2[pad] = rng.integers(0, len(tagger.tag_vocab), pad.sum())  # not ignored
    logits2 = tagger(words2, lengths, chars2)
    loss2 = tagger.loss(logits2, targets2, lengths).item()

    np.testing.assert_array_equal(logits2.numpy()[~pad], base_logits[~pad])
    assert loss2 == base_loss
    # and a sentence tags the same alone as in a padded batch
    alone = tagger(*tagger.encode([SENTS[2]])).numpy()[:, 0]
    np.testing.assert_allclose(alone, base_logits[:2, 2], rtol=1e-5, atol=1e-6)


def test_loss_matches_mean_over_real_words() -> None:
    tagger = small_tagger()
    tagger.eval()
    words, lengths, chars = tagger.encode(SENTS)
    targets = tagger.encode_tags(TAGS)
    logits = tagger(words, lengths, chars)
    z = logits.numpy().astype(np.float64)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    valid = targets != IGNORE_INDEX
    picked = np.take_along_axis(logp, np.where(valid, targets, 0)[..., None], -1)[
        ..., 0
    ]
    expected = -picked[valid].mean()
    assert valid.sum() == 10
    np.testing.assert_allclose(
        tagger.loss(logits, targets, lengths).item(), expected, rtol=1e-5
    )


def test_unknown_words_and_chars_map_to_unk() -> None:
    tagger = small_tagger()
    words, _, chars = tagger.encode([["Zebra", "dog"]])
    assert words[:, 0].tolist() == [
        tagger.word_vocab.unk_id,
        tagger.word_vocab.stoi["dog"],
    ]
    assert chars is not None
    assert chars[0, 0, 0] == tagger.char_vocab.unk_id  # "Z" never seen


def test_long_words_keep_prefix_and_suffix() -> None:
    tagger = small_tagger(max_word_chars=6)
    _, _, chars = tagger.encode([["quickly"]])
    assert chars is not None
    decoded = "".join(tagger.char_vocab.decode(chars[0, 0]))
    assert decoded == "quikly"  # "qui" + "kly"


def test_predict_returns_tags_in_input_order_and_restores_mode() -> None:
    tagger = small_tagger()
    assert tagger.training
    out = tagger.predict(SENTS, batch_size=2)
    assert [len(t) for t in out] == [5, 3, 2]
    assert all(tag in tagger.tag_vocab.itos for t in out for tag in t)
    assert tagger.training
    assert tagger.predict([]) == []
    assert out == tagger.predict(SENTS, batch_size=64)


def test_config_round_trip_through_save_and_load(tmp_path: Path) -> None:
    tagger = small_tagger(cell="gru", num_layers=2, dropout=0.1)
    path = tmp_path / "tagger.safetensors"
    fr.save({"config": tagger.config(), "model": tagger.state_dict()}, path)
    ckpt = fr.load(path)
    fr.manual_seed(123)  # a different init: the weights must come from the file
    rebuilt = SequenceTagger.from_config(ckpt["config"])
    rebuilt.load_state_dict(ckpt["model"])
    assert rebuilt.config() == tagger.config()
    tagger.eval()
    rebuilt.eval()
    batch = tagger.encode(SENTS)
    np.testing.assert_array_equal(rebuilt(*batch).numpy(), tagger(*batch).numpy())
    novel = [["Unseen", "words", "here"], *SENTS]
    assert rebuilt.predict(novel) == tagger.predict(novel)


def test_bad_inputs() -> None:
    tagger = small_tagger()
    words, lengths, chars = tagger.encode(SENTS)
    with pytest.raises(ValueError, match=r"expected lengths in \[1, 5\]"):
        tagger(words, np.array([6, 3, 2]), chars)
    with pytest.raises(ValueError, match="expected chars of shape"):
        tagger(words, lengths)
    with pytest.raises(ValueError, match=r"expected chars to be a \(5, 3, C\)"):
        tagger(words, lengths, chars[:, :2])
    with pytest.raises(ValueError, match="expected words to be a"):
        tagger(words.astype(np.float32), lengths, chars)
    with pytest.raises(ValueError, match="expected non-empty sentences"):
        tagger.encode([["a"], []])
    with pytest.raises(TypeError, match="expected sentences"):
        tagger.encode("a sentence")
    with pytest.raises(ValueError, match="expected a tag in the tag vocabulary"):
        tagger.encode_tags([["DET", "XYZ"]])
    with pytest.raises(ValueError, match="expected cell in"):
        SequenceTagger(["a"], ["X"], cell="transformer")
    with pytest.raises(ValueError, match="unexpected keys \\['colour'\\]"):
        SequenceTagger.from_config({**tagger.config(), "colour": "red"})
    no_chars = small_tagger(char_hidden_size=0)
    with pytest.raises(ValueError, match="expected chars=None"):
        no_chars(words, lengths, chars)


# ---------------------------------------------------------------- learning
NOUN_SUFFIXES, VERB_SUFFIXES, ADJ_SUFFIXES = (
    ("tion", "ness"),
    ("ize", "ate"),
    ("ous", "ful"),
)


def synthetic(rng: np.random.Generator, n: int, stems: list[str]) -> tuple[list, list]:
    """Sentences from NP VP [ADV]; NP = DET ADJ* NOUN; word class shown by suffix."""

    def word(suffixes: tuple[str, ...]) -> str:
        return stems[rng.integers(len(stems))] + suffixes[rng.integers(2)]

    sents, tags = [], []
    for _ in range(n):
        s: list[tuple[str, str]] = []
        for part in ("np", "verb", "np", "adv"):
            if part == "np":
                s.append((("the", "a", "every")[rng.integers(3)], "DET"))
                s += [(word(ADJ_SUFFIXES), "ADJ") for _ in range(rng.integers(3))]
                s.append((word(NOUN_SUFFIXES), "NOUN"))
            elif part == "verb":
                s.append((word(VERB_SUFFIXES), "VERB"))
            elif rng.random() < 0.5:
                s.append(("slowly", "ADV"))
        sents.append([w for w, _ in s])
        tags.append([t for _, t in s])
    return sents, tags


def test_learns_synthetic_tagging_including_unseen_words() -> None:
    """A small tagger learns the grammar and tags words it never saw by their suffix."""
    rng = np.random.default_rng(0)
    letters = list("bcdfglmnprstv")
    stems = ["".join(rng.choice(letters, 3)) for _ in range(60)]
    train_x, train_y = synthetic(rng, 300, stems[:40])
    test_x, test_y = synthetic(rng, 100, stems[40:])  # every content word is new
    fr.manual_seed(0)
    tagger = SequenceTagger.from_sentences(
        train_x,
        train_y,
        embedding_dim=16,
        char_embedding_dim=8,
        char_hidden_size=16,
        hidden_size=24,
        dropout=0.1,
    )
    opt = optim.Adam(tagger.parameters(), lr=1e-2)
    start = time.perf_counter()
    for epoch in range(3):
        for b in range(0, len(train_x), 20):
            words, lengths, chars = tagger.encode(train_x[b : b + 20])
            if epoch > 0:  # word dropout: the model must also read the characters
                words = np.where(rng.random(words.shape) < 0.3, 1, words)
            loss = tagger.loss(
                tagger(words, lengths, chars),
                tagger.encode_tags(train_y[b : b + 20]),
                lengths,
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - start
    predicted = tagger.predict(test_x)
    # every ADJ, NOUN and VERB of the test set is a word never seen in training
    unseen = [
        p == g
        for ps, gs in zip(predicted, test_y, strict=True)
        for p, g in zip(ps, gs, strict=True)
        if g in ("ADJ", "NOUN", "VERB")
    ]
    accuracy = float(np.mean(unseen))
    # measured: 1.0 with character features, about 0.93 without (context only)
    assert accuracy >= 0.97, f"accuracy {accuracy:.3f} on unseen words"
    assert seconds < 20, f"training took {seconds:.1f} s"
