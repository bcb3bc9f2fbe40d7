"""Tests for fastrnn.tasks.dates: the generator, the split, vocabularies, the recipe."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

import fastrnn as fr
from fastrnn.data import Vocab
from fastrnn.models import Seq2Seq
from fastrnn.tasks import dates
from fastrnn.tasks.dates import (
    DATE_FORMATS,
    FIRST_DATE,
    LAST_DATE,
    date_vocabs,
    encode_pairs,
    make_date_pairs,
    make_date_split,
    parse_iso,
    train_dates,
)


def test_formats_render_the_documented_examples() -> None:
    d = dt.date(2026, 11, 24)  # a Tuesday
    rendered = {name: fmt(d) for name, fmt in DATE_FORMATS.items()}
    assert rendered == {
        "d Mon yyyy": "24 Nov 2026",
        "month d, yyyy": "november 24, 2026",
        "Month d, yyyy": "November 24, 2026",
        "m/d/yy": "11/24/26",
        "dd.mm.yyyy": "24.11.2026",
        "Weekday, d Month yyyy": "Tuesday, 24 November 2026",
        "d MONTH yyyy": "24 NOVEMBER 2026",
        "yyyy/mm/dd": "2026/11/24",
        "yyyymmdd": "20261124",
        "dd-mon-yy": "24-nov-26",
        "Wkd, Mon d, yyyy": "Tue, Nov 24, 2026",
        "Month dth, yyyy": "November 24th, 2026",
        "the dth of Month yyyy": "the 24th of November 2026",
    }
    ordinals = [
        DATE_FORMATS["Month dth, yyyy"](dt.date(2001, 5, n))
        for n in (1, 2, 3, 11, 12, 13, 21, 22, 23)
    ]
    assert [o.split()[1] for o in ordinals] == [
        "1st,", "2nd,", "3rd,", "11th,", "12th,", "13th,", "21st,", "22nd,", "23rd,",
    ]  # fmt: skip


def test_every_source_string_names_exactly_one_date() -> None:
    """Over the whole 100-year range, no string stands for two dates."""
    first, last = FIRST_DATE.toordinal(), LAST_DATE.toordinal()
    seen: dict[str, int] = {}
    for ordinal in range(first, last + 1):
        d = dt.date.fromordinal(ordinal)
        for fmt in DATE_FORMATS.values():
            text = fmt(d)
            assert seen.setdefault(text, ordinal) == ordinal, text
    assert len(seen) > 13 * (last - first)  # formats rarely coincide


def test_weekdays_and_two_digit_years_are_consistent() -> None:
    for ordinal in range(FIRST_DATE.toordinal(), LAST_DATE.toordinal() + 1, 97):
        d = dt.date.fromordinal(ordinal)
        weekday = DATE_FORMATS["Weekday, d Month yyyy"](d).split(",")[0]
        # 1970-01-01 was a Thursday (index 3 with Monday = 0).
        assert weekday == dates.WEEKDAYS[(ordinal - FIRST_DATE.toordinal() + 3) % 7]
        month, day, yy = map(int, DATE_FORMATS["m/d/yy"](d).split("/"))
        year = 1900 + yy if yy >= 70 else 2000 + yy  # the documented pivot
        assert dt.date(year, month, day) == d


def test_pairs_round_trip_and_are_seeded() -> None:
    pairs = make_date_pairs(300, seed=4)
    assert pairs == make_date_pairs(300, seed=4)
    assert pairs != make_date_pairs(300, seed=5)
    rendered = {name: set() for name in DATE_FORMATS}
    for src, tgt in pairs:
        d = parse_iso(tgt)  # the target parses back ...
        assert d.isoformat() == tgt
        assert FIRST_DATE <= d <= LAST_DATE
        # ... to the date the source was rendered from.
        matches = [name for name, fmt in DATE_FORMATS.items() if fmt(d) == src]
        assert matches, (src, tgt)
        for name in matches:
            rendered[name].add(src)
    assert all(rendered.values())  # every format was drawn


def test_pairs_restricted_formats_and_pools() -> None:
    pairs = make_date_pairs(50, seed=0, formats=["yyyymmdd"])
    assert all(src == tgt.replace("-", "") for src, tgt in pairs)
    pool = [dt.date(2000, 1, 1), dt.date(2001, 2, 3)]
    got = {tgt for _, tgt in make_date_pairs(40, seed=0, dates=pool)}
    assert got == {"2000-01-01", "2001-02-03"}
    distinct = make_date_pairs(2, seed=0, dates=pool, replace=False)
    assert {t for _, t in distinct} == {"2000-01-01", "2001-02-03"}
    with pytest.raises(ValueError, match="expected n <= 2 distinct dates"):
        make_date_pairs(3, seed=0, dates=pool, replace=False)
    with pytest.raises(ValueError, match="expected formats among"):
        make_date_pairs(3, seed=0, formats=["dd/mm/yyyy"])
    with pytest.raises(TypeError, match="got a str"):
        make_date_pairs(3, seed=0, formats="yyyymmdd")
    with pytest.raises(ValueError, match="ambiguous"):
        make_date_pairs(3, seed=0, dates=[dt.date(1969, 12, 31)])


def test_split_has_no_date_in_common() -> None:
    train, test = make_date_split(5000, 800, seed=3)
    assert len(train) == 5000 and len(test) == 800
    train_dates_ = {tgt for _, tgt in train}
    test_dates_ = [tgt for _, tgt in test]
    assert len(set(test_dates_)) == len(test_dates_)  # distinct held-out dates
    assert train_dates_.isdisjoint(test_dates_)
    assert make_date_split(5000, 800, seed=3) == (train, test)
    with pytest.raises(ValueError, match="expected n_test <="):
        make_date_split(10, 5000, seed=0, test_fraction=0.1)


def test_vocabularies_cover_every_source_character() -> None:
    src_vocab, tgt_vocab = date_vocabs()
    assert src_vocab.itos[:4] == ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]
    assert (src_vocab.pad_id, tgt_vocab.bos_id, tgt_vocab.eos_id) == (0, 2, 3)
    assert tgt_vocab.itos[4:] == list("0123456789-")
    pairs = make_date_pairs(2000, seed=1)
    srcs, tgts = encode_pairs(pairs, src_vocab, tgt_vocab)
    assert all(src_vocab.unk_id not in s for s in srcs)
    for (src, tgt), s, t in zip(pairs, srcs, tgts, strict=True):
        assert "".join(src_vocab.decode(s)) == src
        assert t[0] == tgt_vocab.bos_id and t[-1] == tgt_vocab.eos_id
        assert "".join(tgt_vocab.decode(t[1:-1])) == tgt


def test_parse_iso_rejects_other_strings() -> None:
    assert parse_iso("2026-11-24") == dt.date(2026, 11, 24)
    for bad in ("2026-11-4", "24.11.2026", "2026-13-01"):
        with pytest.raises(ValueError):
            parse_iso(bad)


def test_train_dates_returns_json_results(tmp_path) -> None:
    """A short run: the pipeline works end to end (quality is the example's job)."""
    lines: list[str] = []
    path = tmp_path / "dates.st"
    result = train_dates(
        n_train=500,
        n_test=40,
        steps=6,
        batch_size=16,
        hidden_size=8,
        embedding_dim=8,
        beam_size=2,
        log_every=3,
        log=lines.append,
        save_path=str(path),
    )
    json.dumps(result)  # JSON-able
    assert result["steps"] == 6 and result["n_test"] == 40
    for key in ("exact_match_greedy", "exact_match_beam"):
        assert 0.0 <= result[key] <= 1.0
    assert result["seconds"] > 0 and np.isfinite(result["final_loss"])
    assert len(lines) == 2 and lines[-1].startswith("step 6/6")
    ckpt = fr.load(path)
    model = Seq2Seq.from_config(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    src_vocab = Vocab.from_dict(ckpt["src_vocab"])
    tgt_vocab = Vocab.from_dict(ckpt["tgt_vocab"])
    out = dates.translate(model, ["24 Nov 2026"], src_vocab, tgt_vocab, beam_size=2)
    assert len(out) == 1 and set(out[0]) <= set("0123456789-")
