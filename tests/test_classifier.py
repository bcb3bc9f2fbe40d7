"""Tests for models.SequenceClassifier and the synthetic sentiment task."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn.models import SequenceClassifier
from fastrnn.tasks.sentiment import (
    NEGATIVE_WORDS,
    POSITIVE_WORDS,
    encode_texts,
    make_sentiment,
    predict_texts,
    train_classifier,
)

V, E, H, C = 11, 5, 4, 3  # vocabulary, embedding, hidden, classes
T, B = 7, 4
LENGTHS = np.array([7, 3, 1, 5])

CELLS = ("lstm", "gru", "rnn", "rnn_relu")
POOLINGS = ("last", "mean", "max")


def make_clf(**kw: Any) -> SequenceClassifier:
    fr.manual_seed(0)
    args: dict[str, Any] = {
        "num_classes": C,
        "vocab_size": V,
        "embedding_dim": E,
        "hidden_size": H,
        "dtype": np.float64,
    }
    args.update(kw)
    if "input_size" in kw:
        args.pop("vocab_size")
    return SequenceClassifier(**args)


def token_batch(rng: np.random.Generator) -> np.ndarray:
    """(T, B) ids in [1, V), with id 0 (padding) past each length."""
    ids = rng.integers(1, V, size=(T, B))
    ids[np.arange(T)[:, None] >= LENGTHS[None, :]] = 0
    return ids


# ==========================================================================
# Shapes and layouts
# ==========================================================================


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_logits_shape_tokens(rng, pooling, bidirectional):
    clf = make_clf(pooling=pooling, bidirectional=bidirectional, num_layers=2)
    logits = clf(token_batch(rng), LENGTHS)
    assert logits.shape == (B, C)
    assert clf.features(token_batch(rng), LENGTHS).shape == (
        B,
        H * (2 if bidirectional else 1),
    )


def test_raw_features_and_batch_first_agree(rng):
    clf_t = make_clf(input_size=3, pooling="mean")
    clf_b = make_clf(input_size=3, pooling="mean", batch_first=True)
    x = rng.standard_normal((T, B, 3))
    expected = clf_t(x, LENGTHS).numpy()
    assert expected.shape == (B, C)
    np.testing.assert_allclose(
        clf_b(x.transpose(1, 0, 2), LENGTHS).numpy(), expected, rtol=1e-12
    )


def test_token_batch_first_agrees(rng):
    ids = token_batch(rng)
    a = make_clf(pooling="max")(ids, LENGTHS).numpy()
    b = make_clf(pooling="max", batch_first=True)(ids.T.copy(), LENGTHS).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_no_lengths_means_full_length(rng):
    clf = make_clf(pooling="mean")
    ids = rng.integers(1, V, size=(T, B))
    np.testing.assert_allclose(
        clf(ids).numpy(), clf(ids, np.full(B, T)).numpy(), rtol=1e-12
    )


def test_float32_default_dtype(rng):
    clf = SequenceClassifier(2, vocab_size=V, embedding_dim=E, hidden_size=H)
    assert clf.dtype == np.float32
    assert clf(token_batch(rng), LENGTHS).dtype == np.float32


# ==========================================================================
# Pooling over valid steps only
# ==========================================================================


def numpy_pool(clf: SequenceClassifier, ids: np.ndarray, lengths: np.ndarray):
    """Run each sequence ALONE (unpadded) through the layers and pool in NumPy."""
    out = []
    with fr.no_grad():
        for b, n in enumerate(lengths):
            emb = clf.embedding(ids[:n, b : b + 1])  # (n, 1, E)
            y = clf.rnn(emb)[0].numpy()[:, 0]  # (n, D*H)
            if clf.pooling == "last":
                if clf.bidirectional:  # forward ends at n-1, reverse at 0
                    out.append(np.concatenate([y[n - 1, :H], y[0, H:]]))
                else:
                    out.append(y[n - 1])
            elif clf.pooling == "mean":
                out.append(y.mean(axis=0))
            else:
                out.append(y.max(axis=0))
    return np.stack(out)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_pooling_matches_numpy_per_sequence(rng, cell, pooling, bidirectional):
    clf = make_clf(
        cell=cell, pooling=pooling, bidirectional=bidirectional, num_layers=2
    )
    ids = token_batch(rng)
    got = clf.features(ids, LENGTHS).numpy()
    np.testing.assert_allclose(
        got, numpy_pool(clf, ids, LENGTHS), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_values_do_not_change_outputs(rng, pooling, bidirectional):
    clf = make_clf(pooling=pooling, bidirectional=bidirectional, num_layers=2)
    ids = token_batch(rng)
    pad = np.arange(T)[:, None] >= LENGTHS[None, :]
    other = ids.copy()
    other[pad] = rng.integers(1, V, size=int(pad.sum()))  # real tokens as "padding"
    np.testing.assert_array_equal(
        clf(ids, LENGTHS).numpy(), clf(other, LENGTHS).numpy()
    )

    feats = make_clf(input_size=2, pooling=pooling, bidirectional=bidirectional)
    x = rng.standard_normal((T, B, 2))
    x2 = x.copy()
    x2[pad] = 1e3  # huge padding values would dominate max/mean if they leaked
    np.testing.assert_array_equal(feats(x, LENGTHS).numpy(), feats(x2, LENGTHS).numpy())


@pytest.mark.parametrize("pooling", POOLINGS)
def test_padding_gets_no_gradient(rng, pooling):
    clf = make_clf(input_size=2, pooling=pooling, bidirectional=True)
    x = fr.Tensor(rng.standard_normal((T, B, 2)), requires_grad=True)
    clf(x, LENGTHS).sum().backward()
    pad = np.arange(T)[:, None] >= LENGTHS[None, :]
    assert np.all(x.grad[pad] == 0)
    assert np.all(np.abs(x.grad[~pad]).sum(axis=-1) > 0)


# ==========================================================================
# predict, config, errors
# ==========================================================================


def test_predict_and_proba(rng):
    clf = make_clf(dropout=0.5)
    ids = token_batch(rng)
    proba = clf.predict_proba(ids, LENGTHS)
    assert proba.shape == (B, C)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    pred = clf.predict(ids, LENGTHS)
    assert pred.dtype == np.int64 and pred.shape == (B,)
    np.testing.assert_array_equal(pred, proba.argmax(axis=1))
    assert clf.training  # predict restores the mode
    clf.eval()
    np.testing.assert_array_equal(pred, clf(ids, LENGTHS).numpy().argmax(axis=1))


def test_config_roundtrip_through_checkpoint(rng, tmp_path):
    clf = make_clf(cell="gru", bidirectional=True, pooling="max", num_layers=2)
    cfg = clf.config()
    assert json.loads(json.dumps(cfg)) == cfg
    path = tmp_path / "clf.st"
    fr.save({"config": cfg, "model": clf.state_dict()}, path)
    ckpt = fr.load(path)
    fr.manual_seed(123)  # a different init, overwritten by the state dict
    clone = SequenceClassifier.from_config(ckpt["config"])
    clone.load_state_dict(ckpt["model"])
    assert clone.config() == cfg
    ids = token_batch(rng)
    np.testing.assert_array_equal(
        clone(ids, LENGTHS).numpy(), clf(ids, LENGTHS).numpy()
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_classes": 2}, ValueError, "exactly one of vocab_size"),
        (
            {"num_classes": 2, "vocab_size": 5, "input_size": 3},
            ValueError,
            "exactly one",
        ),
        ({"num_classes": 2, "vocab_size": 5, "pooling": "sum"}, ValueError, "pooling"),
        ({"num_classes": 2, "vocab_size": 5, "cell": "tcn"}, ValueError, "cell"),
        ({"num_classes": 1, "vocab_size": 5}, ValueError, "num_classes >= 2"),
        ({"num_classes": 2, "vocab_size": 5, "hidden_size": 2.0}, TypeError, "int"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        SequenceClassifier(**kwargs)


def test_forward_errors(rng):
    clf = make_clf()
    ids = token_batch(rng)
    with pytest.raises(TypeError, match="integer token ids"):
        clf(ids.astype(float), LENGTHS)
    with pytest.raises(ValueError, match=re.escape("(T, B)")):
        clf(ids[:, :, None], LENGTHS)
    with pytest.raises(ValueError, match=re.escape("lengths in [1, 7]")):
        clf(ids, np.array([8, 1, 1, 1]))
    with pytest.raises(ValueError, match="lengths of shape"):
        clf(ids, LENGTHS[:2])
    with pytest.raises(ValueError, match="features of shape"):
        make_clf(input_size=3)(rng.standard_normal((T, B, 2)))
    with pytest.raises(ValueError, match="unknown"):
        SequenceClassifier.from_config({**clf.config(), "layers": 3})


# ==========================================================================
# The synthetic sentiment set and training
# ==========================================================================


def rule_label(text: str) -> int:
    """The label by the generator's rule: the last clause's polarity XOR negation."""
    clause = text.split(" , but ")[-1].split()
    polarity = next(
        1 if w in POSITIVE_WORDS else 0
        for w in clause
        if w in POSITIVE_WORDS or w in NEGATIVE_WORDS
    )
    negated = "not" in clause or "never" in clause
    return polarity ^ int(negated)


def test_make_sentiment_follows_its_rule_and_seed():
    texts, labels = make_sentiment(400, seed=3)
    assert len(texts) == 400 and labels.dtype == np.int64
    assert [rule_label(t) for t in texts] == labels.tolist()
    assert 0.4 < labels.mean() < 0.6
    lengths = [len(t.split()) for t in texts]
    assert min(lengths) <= 5 and max(lengths) >= 15  # varying lengths
    assert any(" , but " in t for t in texts)
    assert any(" not " in t or " never " in t for t in texts)
    again, labels2 = make_sentiment(400, seed=3)
    assert again == texts and np.array_equal(labels, labels2)
    assert make_sentiment(400, seed=4)[0] != texts


def test_make_sentiment_errors():
    with pytest.raises(ValueError, match="positive int"):
        make_sentiment(0)
    with pytest.raises(ValueError, match="negation in"):
        make_sentiment(5, negation=1.5)


def test_train_classifier_learns_synthetic_sentiment():
    """Reaches >= 95% validation accuracy (typically 100%) in ~2 s on one core."""
    texts, labels = make_sentiment(1200, seed=0)
    result = train_classifier(
        texts, labels, epochs=4, hidden_size=24, embedding_dim=16, batch_size=32, seed=0
    )
    assert result["val_accuracy"] >= 0.95
    assert result["train_accuracy"] >= 0.95
    assert result["losses"][-1] < 0.5 * result["losses"][0]
    held_out, held_labels = make_sentiment(200, seed=99)
    pred = predict_texts(result["model"], result["vocab"], held_out)
    assert np.mean(pred == held_labels) >= 0.95


def test_train_classifier_string_labels_and_explicit_validation():
    texts, labels = make_sentiment(60, seed=1)
    names = ["neg" if v == 0 else "pos" for v in labels]
    steps = []
    result = train_classifier(
        texts[:40],
        names[:40],
        val_texts=texts[40:],
        val_labels=names[40:],
        epochs=1,
        batch_size=16,
        hidden_size=8,
        embedding_dim=4,
        callbacks=[steps.append],
    )
    assert result["classes"] == ["neg", "pos"]
    assert result["steps"] == 3 and [r.step for r in steps] == [1, 2, 3]
    assert 0.0 <= result["val_accuracy"] <= 1.0
    with pytest.raises(ValueError, match="labels among"):
        train_classifier(texts[:4], ["a", "b", "a", "b"], classes=["a", "c"], epochs=1)
    with pytest.raises(ValueError, match="as many labels"):
        train_classifier(texts[:4], labels[:3])


def test_encode_texts_unknown_words_and_empty_text():
    texts, _ = make_sentiment(20, seed=0)
    result = train_classifier(
        texts, [0, 1] * 10, epochs=1, val_fraction=0, hidden_size=4
    )
    encoded = encode_texts(["the zebra was good", ""], result["vocab"])
    assert encoded[0][1] == result["vocab"].unk_id
    assert encoded[1].tolist() == [result["vocab"].unk_id]
    assert result["val_accuracy"] is None
