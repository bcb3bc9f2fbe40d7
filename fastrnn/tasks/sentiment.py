"""Sentiment / sequence classification: a synthetic data set and ``train_classifier``.

The synthetic set (:func:`make_sentiment`) is generated in code from templates, so
tests and demos need no download. A review is one or two clauses::

    [filler] the <subject> <verb> [intensifier] <adjective> [filler]
    (negated: "was not", "is never", "never seemed", "did not feel")
    <clause A> , but <clause B>          (the label is clause B's)

The label is positive iff the adjective is positive XOR the clause is negated
("the plot was not good" is negative), so a bag of words cannot solve the
negated and contrastive reviews: the model has to use word order. Fillers
("last week", "with my friends", ...) are neutral and make the lengths vary.

Real data: load a TSV with ``fastrnn.data.readers.read_tsv`` (texts, labels) and
pass them to :func:`train_classifier`; labels may be strings or integers.

Notation: N examples, T steps, B batch, C classes.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn import nn, optim
from fastrnn.data import Vocab, iterate_minibatches, pad_batch, word_tokenize
from fastrnn.models.classifier import SequenceClassifier
from fastrnn.nn.utils.clip_grad import clip_grads_with_norm_, get_total_norm
from fastrnn.random import manual_seed
from fastrnn.train import StepRecord

__all__ = [
    "NEGATIVE_WORDS",
    "POSITIVE_WORDS",
    "SENTIMENT_CLASSES",
    "encode_texts",
    "make_sentiment",
    "predict_texts",
    "train_classifier",
]

#: Label names of :func:`make_sentiment` (label 0 and 1).
SENTIMENT_CLASSES = ("negative", "positive")

POSITIVE_WORDS = (
    "good", "great", "excellent", "wonderful", "delightful",
    "brilliant", "superb", "enjoyable", "charming", "moving",
)  # fmt: skip
NEGATIVE_WORDS = (
    "bad", "awful", "terrible", "boring", "dull",
    "poor", "dreadful", "tedious", "weak", "disappointing",
)  # fmt: skip
_SUBJECTS = (
    "movie", "film", "plot", "acting", "story",
    "soundtrack", "ending", "cast", "script", "dialogue",
)  # fmt: skip
_VERBS = ("was", "is", "seemed", "felt")
_INTENSIFIERS = ("very", "really", "quite", "truly", "extremely", "rather")
_FILLERS = (
    "last week", "with my friends", "at the cinema", "on sunday", "honestly",
    "to be fair", "in my opinion", "overall", "after a long day", "i think",
    "for the most part", "at home",
)  # fmt: skip

Texts = list[str]


def _pick(gen: np.random.Generator, options: Sequence[str]) -> str:
    """One of ``options``, uniformly (faster than ``gen.choice`` on a tuple)."""
    return options[int(gen.integers(len(options)))]


def _clause(gen: np.random.Generator, positive: bool, negation: float) -> list[str]:
    """One clause whose sentiment is ``positive``; negated with prob. ``negation``."""
    negated = bool(gen.random() < negation)
    words = POSITIVE_WORDS if positive != negated else NEGATIVE_WORDS
    out = ["the", _pick(gen, _SUBJECTS)]
    verb = _pick(gen, _VERBS)
    if not negated:
        out.append(verb)
    elif verb in ("was", "is"):
        out += [verb, _pick(gen, ("not", "never"))]  # "was not", "is never"
    else:  # "never seemed", "did not feel"
        base = {"seemed": "seem", "felt": "feel"}[verb]
        out += ["never", verb] if gen.random() < 0.5 else ["did", "not", base]
    if gen.random() < 0.4:
        out.append(_pick(gen, _INTENSIFIERS))
    out.append(_pick(gen, words))
    return out


def make_sentiment(
    n: int,
    seed: int = 0,
    negation: float = 0.3,
    contrast: float = 0.2,
    max_fillers: int = 2,
) -> tuple[Texts, NDArray[np.int64]]:
    """Generate ``n`` labelled synthetic reviews, balanced in expectation.

    Parameters
    ----------
    n : int
        Number of examples N >= 1.
    seed : int
        The same seed gives the same texts and labels.
    negation : float in [0, 1]
        Probability that a clause is negated ("not good").
    contrast : float in [0, 1]
        Probability of a two-clause review "A , but B" (label of B, A opposite).
    max_fillers : int >= 0
        Up to this many neutral filler phrases before and after.

    Returns
    -------
    texts : list of str, length N
        Lower-case, space-separated words (``word_tokenize`` splits them back).
    labels : ndarray of int64, shape (N,)
        1 = positive, 0 = negative (:data:`SENTIMENT_CLASSES`).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"expected n to be a positive int, got {n!r}")
    for name, p in (("negation", negation), ("contrast", contrast)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"expected {name} in [0, 1], got {p}")
    if (
        isinstance(max_fillers, bool)
        or not isinstance(max_fillers, (int, np.integer))
        or max_fillers < 0
    ):
        raise ValueError(f"expected max_fillers to be an int >= 0, got {max_fillers!r}")
    gen = np.random.default_rng(seed)
    texts: Texts = []
    labels = np.empty(n, dtype=np.int64)
    for i in range(n):
        positive = bool(gen.random() < 0.5)
        words: list[str] = []
        for _ in range(int(gen.integers(0, max_fillers + 1))):
            words += _pick(gen, _FILLERS).split()
        if gen.random() < contrast:
            words += _clause(gen, not positive, negation) + [",", "but"]
        words += _clause(gen, positive, negation)
        for _ in range(int(gen.integers(0, max_fillers + 1))):
            words += _pick(gen, _FILLERS).split()
        texts.append(" ".join(words))
        labels[i] = int(positive)
    return texts, labels


# ---------------------------------------------------------------- training
_tokenize = functools.partial(word_tokenize, lower=True)


def encode_texts(texts: Sequence[str], vocab: Vocab) -> list[NDArray[np.int64]]:
    """Lower-case word ids of each text (an empty text becomes ``[<UNK>]``)."""
    unk = vocab.unk_id if vocab.unk_id is not None else vocab.pad_id
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"expected texts to be str, got {type(text).__name__} at index {i}"
            )
        ids = vocab.encode(_tokenize(text))
        out.append(ids if ids.size else np.array([unk], dtype=np.int64))
    return out


def _label_ids(
    labels: Sequence[Any] | NDArray[Any], classes: Sequence[Any] | None
) -> tuple[NDArray[np.int64], list[Any]]:
    """Map labels to ids 0..C-1; returns (ids, class names in id order)."""
    values = (
        list(np.asarray(labels).tolist())
        if isinstance(labels, np.ndarray)
        else list(labels)
    )
    if classes is None:
        if all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values
        ):
            classes = list(range(max(int(max(values)) + 1, 2)))
        else:
            classes = sorted({str(v) for v in values})
    classes = list(classes)
    index = {c: i for i, c in enumerate(classes)}
    ids = np.empty(len(values), dtype=np.int64)
    for i, v in enumerate(values):
        key = v if v in index else str(v)
        if key not in index:
            raise ValueError(f"expected labels among {classes}, got {v!r} at index {i}")
        ids[i] = index[key]
    return ids, classes


def predict_texts(
    model: SequenceClassifier,
    vocab: Vocab,
    texts: Sequence[str],
    batch_size: int = 256,
) -> NDArray[np.int64]:
    """Class ids (N,) predicted for raw texts (tokenised as in training)."""
    encoded = encode_texts(texts, vocab)
    pad = vocab.pad_id or 0
    preds = []
    for start in range(0, len(encoded), batch_size):
        ids, lengths = pad_batch(encoded[start : start + batch_size], pad)
        preds.append(model.predict(ids, lengths))
    return np.concatenate(preds) if preds else np.empty(0, dtype=np.int64)


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[Any] | NDArray[Any],
    *,
    val_texts: Sequence[str] | None = None,
    val_labels: Sequence[Any] | NDArray[Any] | None = None,
    val_fraction: float = 0.2,
    classes: Sequence[Any] | None = None,
    cell: str = "lstm",
    embedding_dim: int = 32,
    hidden_size: int = 64,
    num_layers: int = 1,
    bidirectional: bool = False,
    pooling: str = "last",
    dropout: float = 0.0,
    epochs: int = 5,
    batch_size: int = 32,
    lr: float = 1e-2,
    clip: float | None = 1.0,
    min_freq: int = 1,
    seed: int = 0,
    max_steps: int | None = None,
    callbacks: Sequence[Callable[[StepRecord], Any]] = (),
) -> dict[str, Any]:
    """Train a :class:`SequenceClassifier` on texts with labels (Adam, cross-entropy).

    Parameters
    ----------
    texts : sequence of str
        N training texts (word-tokenised, lower-cased).
    labels : sequence of int or str, length N
        Class ids 0..C-1, or class names (mapped to ids in sorted order).
    val_texts, val_labels : optional
        A validation set; without it the last ``val_fraction`` of a seeded
        shuffle of the data is held out (``val_fraction=0``: none).
    classes : sequence, optional
        Class names in id order (default: inferred from the labels).
    cell, embedding_dim, hidden_size, num_layers, bidirectional, pooling, dropout
        The model (see :class:`SequenceClassifier`).
    epochs, batch_size, lr, clip
        Training: Adam with learning rate ``lr``, global gradient-norm clipping
        ``clip`` (None: off), shuffled minibatches each epoch.
    min_freq : int
        Words seen fewer times in the training texts map to ``<UNK>``.
    seed : int
        Seeds the weights, the split and the shuffles.
    max_steps : int, optional
        Stop after this many optimizer steps.
    callbacks : sequence of callables
        Called with a :class:`fastrnn.train.StepRecord` after every step.

    Returns
    -------
    dict
        ``model`` (in eval mode), ``vocab``, ``classes``, ``train_accuracy``,
        ``val_accuracy`` (None without validation data), ``losses`` (per step),
        ``steps``, ``seconds``.
    """
    texts = list(texts)
    if len(texts) != len(labels):
        raise ValueError(
            f"expected as many labels as texts, got {len(labels)} labels for "
            f"{len(texts)} texts"
        )
    if not texts:
        raise ValueError("expected at least one training text, got 0")
    y, class_names = _label_ids(labels, classes)
    if val_texts is not None or val_labels is not None:
        if val_texts is None or val_labels is None:
            raise ValueError("expected val_texts and val_labels together")
        val_texts = list(val_texts)
        if len(val_texts) != len(val_labels):
            raise ValueError(
                f"expected as many val_labels as val_texts, got {len(val_labels)} "
                f"and {len(val_texts)}"
            )
        y_val: NDArray[np.int64] | None = _label_ids(val_labels, class_names)[0]
    elif val_fraction > 0:
        if not val_fraction < 1:
            raise ValueError(f"expected val_fraction in [0, 1), got {val_fraction}")
        order = np.random.default_rng(seed).permutation(len(texts))
        n_val = max(1, round(len(texts) * val_fraction))
        if n_val >= len(texts):
            raise ValueError(
                f"expected enough texts for a train/validation split at "
                f"val_fraction={val_fraction}, got {len(texts)}"
            )
        val_idx, train_idx = order[:n_val], order[n_val:]
        val_texts, y_val = [texts[i] for i in val_idx], y[val_idx]
        texts, y = [texts[i] for i in train_idx], y[train_idx]
    else:
        y_val = None

    vocab = Vocab.build(texts, min_freq=min_freq, tokenizer=_tokenize)
    encoded = encode_texts(texts, vocab)
    manual_seed(seed)
    model = SequenceClassifier(
        num_classes=max(len(class_names), 2),
        vocab_size=len(vocab),
        embedding_dim=embedding_dim,
        hidden_size=hidden_size,
        num_layers=num_layers,
        cell=cell,
        bidirectional=bidirectional,
        pooling=pooling,
        dropout=dropout,
        padding_idx=vocab.pad_id,
    )
    opt = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    pad = vocab.pad_id or 0
    params = list(model.parameters())
    losses: list[float] = []
    step = 0
    t0 = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        batches = iterate_minibatches(
            range(len(encoded)), batch_size, shuffle=True, seed=seed + epoch
        )
        for idx in batches:
            if max_steps is not None and step >= max_steps:
                break
            ts = time.perf_counter()
            ids, lengths = pad_batch([encoded[i] for i in idx], pad)  # (T, B), (B,)
            opt.zero_grad()
            loss = loss_fn(model(ids, lengths), y[idx])
            loss.backward()
            norm = get_total_norm(p.grad for p in params if p.grad is not None)
            if not math.isfinite(norm):
                raise FloatingPointError(
                    f"gradient norm is {norm} at step {step + 1}; lower lr or clip"
                )
            clipped = clip is not None and norm > clip
            if clipped:
                clip_grads_with_norm_(params, clip, norm)
            opt.step()
            step += 1
            losses.append(float(loss.item()))
            dt = time.perf_counter() - ts
            record = StepRecord(
                step=step,
                epoch=epoch,
                loss=losses[-1],
                grad_norm=norm,
                clipped=bool(clipped),
                lr=lr,
                step_time=dt,
                tokens_per_s=float(lengths.sum()) / dt if dt > 0 else math.inf,
            )
            for cb in callbacks:
                cb(record)
    seconds = time.perf_counter() - t0
    model.eval()
    train_acc = float(np.mean(predict_texts(model, vocab, texts) == y))
    val_acc = None
    if val_texts is not None and y_val is not None and len(val_texts):
        val_acc = float(np.mean(predict_texts(model, vocab, val_texts) == y_val))
    return {
        "model": model,
        "vocab": vocab,
        "classes": class_names,
        "train_accuracy": train_acc,
        "val_accuracy": val_acc,
        "losses": losses,
        "steps": step,
        "seconds": seconds,
    }
