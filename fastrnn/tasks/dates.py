"""Date-format translation: a generated seq2seq task ("24 Nov 2026" -> "2026-11-24").

Source strings come in many human formats (:data:`DATE_FORMATS`); the target is
always ISO 8601, ``YYYY-MM-DD``. Both sides are character level. Dates are drawn
from :data:`FIRST_DATE` .. :data:`LAST_DATE`, a span of exactly 100 years, so that
two-digit years are unambiguous (``70``-``99`` -> 19xx, ``00``-``69`` -> 20xx), and
the formats are chosen so that no source string stands for two dates (month-first
only with ``/`` and a two-digit year, day-first only with ``.`` or month names).

>>> pairs = make_date_pairs(3, seed=0)
>>> train, test = make_date_split(20000, 1000, seed=0)   # no date in both
>>> result = train_dates()                # exact match, greedy and beam
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn import nn, optim
from fastrnn import random as _random
from fastrnn.data import Vocab, pad_batch
from fastrnn.models.seq2seq import Seq2Seq

__all__ = [
    "DATE_FORMATS",
    "FIRST_DATE",
    "LAST_DATE",
    "date_vocabs",
    "encode_pairs",
    "exact_match",
    "make_date_pairs",
    "make_date_split",
    "parse_iso",
    "train_dates",
    "translate",
]

FIRST_DATE = dt.date(1970, 1, 1)
LAST_DATE = dt.date(2069, 12, 31)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


def _ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = (
        "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    )
    return f"{n}{suffix}"


def _month(d: dt.date) -> str:
    return MONTHS[d.month - 1]


def _weekday(d: dt.date) -> str:
    return WEEKDAYS[d.weekday()]


#: Format name -> formatter; the comment shows 2026-11-24 (a Tuesday).
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    # 24 Nov 2026
    "d Mon yyyy": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",
    # november 24, 2026
    "month d, yyyy": lambda d: f"{_month(d).lower()} {d.day}, {d.year}",
    # November 24, 2026
    "Month d, yyyy": lambda d: f"{_month(d)} {d.day}, {d.year}",
    # 11/24/26
    "m/d/yy": lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",
    # 24.11.2026
    "dd.mm.yyyy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    # Tuesday, 24 November 2026
    "Weekday, d Month yyyy": lambda d: f"{_weekday(d)}, {d.day} {_month(d)} {d.year}",
    # 24 NOVEMBER 2026
    "d MONTH yyyy": lambda d: f"{d.day} {_month(d).upper()} {d.year}",
    # 2026/11/24
    "yyyy/mm/dd": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    # 20261124
    "yyyymmdd": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    # 24-nov-26
    "dd-mon-yy": lambda d: f"{d.day:02d}-{_month(d)[:3].lower()}-{d.year % 100:02d}",
    # Tue, Nov 24, 2026
    "Wkd, Mon d, yyyy": lambda d: (
        f"{_weekday(d)[:3]}, {_month(d)[:3]} {d.day}, {d.year}"
    ),
    # November 24th, 2026
    "Month dth, yyyy": lambda d: f"{_month(d)} {_ordinal(d.day)}, {d.year}",
    # the 24th of November 2026
    "the dth of Month yyyy": lambda d: f"the {_ordinal(d.day)} of {_month(d)} {d.year}",
}

Pair = tuple[str, str]


def _format_names(formats: Sequence[str] | None) -> list[str]:
    if formats is None:
        return list(DATE_FORMATS)
    if isinstance(formats, str):
        raise TypeError("expected formats to be a sequence of format names, got a str")
    names = list(formats)
    if not names:
        raise ValueError("expected at least one format, got none")
    unknown = [f for f in names if f not in DATE_FORMATS]
    if unknown:
        raise ValueError(f"expected formats among {list(DATE_FORMATS)}, got {unknown}")
    return names


def _check_count(name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"expected {name} to be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"expected {name} >= {minimum}, got {value}")
    return int(value)


def _all_ordinals() -> NDArray[np.int64]:
    return np.arange(FIRST_DATE.toordinal(), LAST_DATE.toordinal() + 1, dtype=np.int64)


def make_date_pairs(
    n: int,
    seed: int,
    formats: Sequence[str] | None = None,
    dates: Sequence[dt.date] | None = None,
    replace: bool = True,
) -> list[Pair]:
    """``n`` random (source, ISO target) pairs.

    Parameters
    ----------
    n : int
        Number of pairs.
    seed : int
        The same seed gives the same pairs.
    formats : sequence of str, optional
        Names from :data:`DATE_FORMATS` to draw from uniformly (default: all).
    dates : sequence of datetime.date, optional
        The pool of dates to draw from (default: every day from
        :data:`FIRST_DATE` to :data:`LAST_DATE`), uniformly.
    replace : bool, default True
        Draw dates with replacement; False gives ``n`` distinct dates (needs
        ``n <= len(pool)``).

    Returns
    -------
    list of (str, str)
        ``("24 Nov 2026", "2026-11-24")``-style pairs.
    """
    n = _check_count("n", n)
    names = _format_names(formats)
    if dates is None:
        pool = _all_ordinals()
    else:
        pool = np.array([d.toordinal() for d in dates], dtype=np.int64)
        if pool.size == 0:
            raise ValueError("expected a non-empty pool of dates, got none")
        lo, hi = FIRST_DATE.toordinal(), LAST_DATE.toordinal()
        if pool.min() < lo or pool.max() > hi:
            raise ValueError(
                f"expected dates from {FIRST_DATE} to {LAST_DATE} (two-digit years "
                f"would be ambiguous otherwise), got {dt.date.fromordinal(int(pool.min()))}"
                f" .. {dt.date.fromordinal(int(pool.max()))}"
            )
    if not replace and n > pool.size:
        raise ValueError(f"expected n <= {pool.size} distinct dates, got n={n}")
    rng = np.random.default_rng(seed)
    chosen = rng.choice(pool, size=n, replace=replace)
    which = rng.integers(0, len(names), size=n)
    pairs = []
    for ordinal, f in zip(chosen.tolist(), which.tolist(), strict=True):
        d = dt.date.fromordinal(ordinal)
        pairs.append((DATE_FORMATS[names[f]](d), d.isoformat()))
    return pairs


def make_date_split(
    n_train: int,
    n_test: int,
    seed: int,
    formats: Sequence[str] | None = None,
    test_fraction: float = 0.1,
) -> tuple[list[Pair], list[Pair]]:
    """Training and held-out pairs with no date in common.

    The days of the range are shuffled (by ``seed``) and the first
    ``test_fraction`` of them are reserved for the test set; training pairs draw
    (with replacement) from the other days, test pairs from the reserved days
    without replacement, so every test date is distinct and unseen.

    Returns
    -------
    train : list of ``n_train`` (source, target) pairs
    test : list of ``n_test`` (source, target) pairs
    """
    n_train = _check_count("n_train", n_train)
    n_test = _check_count("n_test", n_test)
    if not 0 < test_fraction < 1:
        raise ValueError(f"expected test_fraction in (0, 1), got {test_fraction}")
    days = np.random.default_rng(seed).permutation(_all_ordinals())
    n_held = round(days.size * test_fraction)
    if n_test > n_held:
        raise ValueError(
            f"expected n_test <= {n_held} (the held-out days at test_fraction="
            f"{test_fraction}), got {n_test}"
        )
    held = [dt.date.fromordinal(int(o)) for o in days[:n_held]]
    rest = [dt.date.fromordinal(int(o)) for o in days[n_held:]]
    train = make_date_pairs(n_train, seed + 1, formats, dates=rest)
    test = make_date_pairs(n_test, seed + 2, formats, dates=held, replace=False)
    return train, test


def parse_iso(text: str) -> dt.date:
    """The date of an ISO ``YYYY-MM-DD`` string (ValueError if it is not one)."""
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(f"expected a YYYY-MM-DD date, got {text!r}")
    return dt.date.fromisoformat(text)


def date_vocabs(formats: Sequence[str] | None = None) -> tuple[Vocab, Vocab]:
    """Character vocabularies (source, target), specials ``<PAD>,<UNK>,<BOS>,<EOS>``.

    The source alphabet is every character the formats can produce (rendered over
    two whole years, which covers every month, weekday and digit), sorted; the
    target alphabet is ``0-9`` and ``-``.
    """
    names = _format_names(formats)
    chars: set[str] = set()
    start = dt.date(1999, 1, 1).toordinal()
    for ordinal in range(start, start + 731):
        d = dt.date.fromordinal(ordinal)
        for name in names:
            chars.update(DATE_FORMATS[name](d))
    return Vocab(sorted(chars)), Vocab(list("0123456789-"))


def _special(token_id: int | None) -> int:
    if token_id is None:  # date_vocabs always has the four default specials
        raise ValueError("expected a vocabulary with <PAD>, <BOS> and <EOS>")
    return token_id


def encode_pairs(
    pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab
) -> tuple[list[NDArray[np.int64]], list[NDArray[np.int64]]]:
    """Id arrays: sources as characters, targets as ``<BOS> chars <EOS>``."""
    srcs = [src_vocab.encode(s) for s, _ in pairs]
    tgts = [tgt_vocab.encode(t, add_bos=True, add_eos=True) for _, t in pairs]
    return srcs, tgts


def translate(
    model: Seq2Seq,
    texts: Sequence[str],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    beam_size: int = 1,
    batch_size: int = 256,
    max_len: int = 16,
) -> list[str]:
    """Decode source strings to target strings (greedy if ``beam_size == 1``)."""
    out: list[str] = []
    for start in range(0, len(texts), batch_size):
        chunk = [src_vocab.encode(t) for t in texts[start : start + batch_size]]
        src, lengths = pad_batch(chunk, pad_id=model.pad_id)
        if beam_size == 1:
            ids = model.greedy_decode(src, lengths, max_len=max_len)
        else:
            ids = model.beam_decode(src, lengths, beam_size=beam_size, max_len=max_len)
        out.extend("".join(tgt_vocab.decode(seq)) for seq in ids)  # type: ignore[arg-type]
    return out


def exact_match(
    model: Seq2Seq,
    pairs: Sequence[Pair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    beam_size: int = 1,
) -> tuple[float, list[tuple[str, str, str]]]:
    """Fraction of pairs decoded exactly, and the (source, target, output) misses."""
    if not pairs:
        raise ValueError("expected at least one pair to evaluate, got none")
    outputs = translate(model, [s for s, _ in pairs], src_vocab, tgt_vocab, beam_size)
    misses = [(s, t, o) for (s, t), o in zip(pairs, outputs, strict=True) if o != t]
    return 1.0 - len(misses) / len(pairs), misses


def train_dates(
    n_train: int = 20000,
    n_test: int = 1000,
    steps: int = 600,
    batch_size: int = 64,
    embedding_dim: int = 32,
    hidden_size: int = 64,
    cell: str = "lstm",
    bidirectional: bool = True,
    attention: bool = True,
    lr: float = 3e-3,
    clip_norm: float = 1.0,
    teacher_forcing_ratio: float = 1.0,
    beam_size: int = 5,
    seed: int = 0,
    log_every: int = 100,
    log: Callable[[str], None] | None = None,
    save_path: str | None = None,
) -> dict[str, Any]:
    """Train a :class:`Seq2Seq` on generated dates and measure held-out exact match.

    Adam with a cosine learning-rate decay to ``lr / 20``, gradient clipping, random
    minibatches of the training pairs; then greedy and beam decoding of the test
    pairs (whose dates never occur in training).

    Parameters
    ----------
    n_train, n_test : int
        Pair counts (see :func:`make_date_split`).
    steps, batch_size, lr, clip_norm : training schedule
    embedding_dim, hidden_size, cell, bidirectional, attention
        The model (see :class:`Seq2Seq`).
    teacher_forcing_ratio : float
        1 for plain teacher forcing; below 1 for scheduled sampling (slower).
    beam_size : int
        For the beam-search evaluation.
    seed : int
        Seeds the data, the initialisation and the minibatch order.
    log_every : int; log : callable(str), optional
        Progress lines (step, loss, elapsed seconds) go to ``log``.
    save_path : str, optional
        Save ``{"config", "model", "src_vocab", "tgt_vocab"}`` there
        (:func:`fastrnn.save`).

    Returns
    -------
    dict (JSON-serialisable)
        ``exact_match_greedy``, ``exact_match_beam``, ``steps``, ``seconds``
        (training), ``decode_seconds_greedy``, ``decode_seconds_beam``,
        ``final_loss`` (mean of the last ``log_every`` steps), ``n_train``,
        ``n_test``, ``beam_size``, ``config`` and a few ``errors`` (source,
        target, greedy output).
    """
    steps = _check_count("steps", steps, 1)
    batch_size = _check_count("batch_size", batch_size, 1)
    train, test = make_date_split(n_train, n_test, seed)
    src_vocab, tgt_vocab = date_vocabs()
    srcs, tgts = encode_pairs(train, src_vocab, tgt_vocab)
    _random.manual_seed(seed)
    model = Seq2Seq(
        len(src_vocab),
        len(tgt_vocab),
        embedding_dim=embedding_dim,
        hidden_size=hidden_size,
        cell=cell,
        bidirectional=bidirectional,
        attention=attention,
        pad_id=_special(src_vocab.pad_id),
        bos_id=_special(tgt_vocab.bos_id),
        eos_id=_special(tgt_vocab.eos_id),
    )
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 20)
    rng = np.random.default_rng(seed + 3)
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        idx = rng.integers(0, len(srcs), size=batch_size)
        src, lengths = pad_batch([srcs[i] for i in idx], pad_id=model.pad_id)
        tgt, _ = pad_batch([tgts[i] for i in idx], pad_id=model.pad_id)
        logits = model(src, tgt, lengths, teacher_forcing_ratio=teacher_forcing_ratio)
        loss = model.loss(logits, tgt)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log is not None and (step % log_every == 0 or step == steps):
            recent = float(np.mean(losses[-log_every:]))
            log(
                f"step {step}/{steps}  loss {recent:.4f}  "
                f"{time.perf_counter() - start:.1f}s"
            )
    seconds = time.perf_counter() - start
    model.eval()
    t0 = time.perf_counter()
    greedy, misses = exact_match(model, test, src_vocab, tgt_vocab, beam_size=1)
    t1 = time.perf_counter()
    beam, _ = exact_match(model, test, src_vocab, tgt_vocab, beam_size=beam_size)
    t2 = time.perf_counter()
    if save_path is not None:
        from fastrnn.checkpoint import save

        save(
            {
                "config": model.config(),
                "model": model.state_dict(),
                "src_vocab": src_vocab.to_dict(),
                "tgt_vocab": tgt_vocab.to_dict(),
            },
            save_path,
        )
    return {
        "exact_match_greedy": greedy,
        "exact_match_beam": beam,
        "steps": steps,
        "seconds": seconds,
        "decode_seconds_greedy": t1 - t0,
        "decode_seconds_beam": t2 - t1,
        "final_loss": float(np.mean(losses[-log_every:])),
        "n_train": len(train),
        "n_test": len(test),
        "beam_size": beam_size,
        "config": model.config(),
        "errors": [list(m) for m in misses[:10]],
    }
