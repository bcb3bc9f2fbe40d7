"""Tests for fastrnn.tasks.tagging: train_tagger, evaluation, baseline, checkpoints."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fastrnn as fr
from fastrnn.data.readers import Sentence
from fastrnn.models import SequenceTagger
from fastrnn.tasks.tagging import (
    CHECKPOINT_KIND,
    STATE_KIND,
    evaluate_tagger,
    load_tagger,
    most_frequent_tag_baseline,
    read_tagged,
    train_tagger,
)

RESULT_KEYS = {
    "accuracy",
    "oov_accuracy",
    "oov_rate",
    "baseline_accuracy",
    "val_accuracy",
    "train_sentences",
    "train_tokens",
    "epochs",
    "steps",
    "seconds",
    "tokens_per_s",
    "stop_reason",
    "parameters",
    "threads",
    "checkpoint",
    "history",
}
EPOCH_KEYS = {
    "epoch",
    "step",
    "seconds",
    "train_loss",
    "val_accuracy",
    "best_val_accuracy",
}
TINY = dict(hidden=8, embedding_dim=8, char_hidden=4, batch_size=4, progress=False)


def conllu(sentences: list[list[tuple[str, str]]]) -> str:
    blocks = []
    for k, sent in enumerate(sentences):
        lines = [f"# sent_id = {k + 1}"]
        for i, (word, tag) in enumerate(sent, 1):
            lines.append(f"{i}\t{word}\t{word.lower()}\t{tag}\t_\t_\t0\tdep\t_\t_")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def generated(rng: np.random.Generator, n: int) -> list[list[tuple[str, str]]]:
    dets, nouns, verbs = ["the", "a"], ["dog", "cat", "bird", "fish"], ["runs", "eats"]
    out = []
    for _ in range(n):
        out.append(
            [
                (dets[rng.integers(2)], "DET"),
                (nouns[rng.integers(4)], "NOUN"),
                (verbs[rng.integers(2)], "VERB"),
                (".", "PUNCT"),
            ]
        )
    return out


@pytest.fixture()
def files(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    train = tmp_path / "train.conllu"
    test = tmp_path / "test.conllu"
    train.write_text(conllu(generated(rng, 24)), encoding="utf-8")
    test.write_text(conllu(generated(rng, 8)), encoding="utf-8")
    return train, test


def test_train_tagger_returns_documented_keys_and_checkpoint(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    train, test = files
    result = train_tagger(train, test, epochs=2, out_dir=tmp_path / "run", **TINY)
    assert set(result) == RESULT_KEYS
    json.dumps(result)  # JSON-able
    assert result["steps"] == 12 and result["epochs"] == 2.0
    assert result["stop_reason"] == "epochs"
    assert result["train_sentences"] == 24 and result["train_tokens"] == 96
    assert 0 <= result["accuracy"] <= 1 and result["oov_rate"] == 0.0
    assert result["baseline_accuracy"] == 1.0  # every test word is unambiguous
    assert result["val_accuracy"] is None and result["oov_accuracy"] is None
    assert result["seconds"] > 0 and result["tokens_per_s"] > 0

    ckpt = fr.load(result["checkpoint"])
    assert ckpt["kind"] == CHECKPOINT_KIND and ckpt["info"]["steps"] == 12
    tagger = load_tagger(result["checkpoint"])
    assert isinstance(tagger, SequenceTagger) and not tagger.training
    assert evaluate_tagger(tagger, test) == result["accuracy"]


def test_train_tagger_is_deterministic_and_learns(files: tuple[Path, Path]) -> None:
    train, test = files
    kwargs = dict(TINY, epochs=8, lr=1e-2, seed=3)
    first = train_tagger(train, test, **kwargs)
    second = train_tagger(train, test, **kwargs)
    assert first["accuracy"] == second["accuracy"]
    assert first["accuracy"] >= 0.95  # a trivial language: DET NOUN VERB PUNCT


def test_train_tagger_stopping_and_held_out(files: tuple[Path, Path]) -> None:
    train, _ = files
    by_steps = train_tagger(train, max_steps=3, **TINY)
    assert by_steps["steps"] == 3 and by_steps["stop_reason"] == "max_steps"
    assert by_steps["epochs"] == 0.5 and by_steps["accuracy"] is None
    by_time = train_tagger(train, time_budget=1e-9, **TINY)
    assert by_time["steps"] == 1 and by_time["stop_reason"] == "time_budget"
    held = train_tagger(train, epochs=1, val_fraction=0.25, **TINY)
    assert held["train_sentences"] == 18 and 0 <= held["val_accuracy"] <= 1


def test_train_tagger_bad_arguments(files: tuple[Path, Path]) -> None:
    train, _ = files
    with pytest.raises(ValueError, match="expected epochs > 0, got 0"):
        train_tagger(train, epochs=0, **TINY)
    with pytest.raises(ValueError, match=r"expected val_fraction in \[0, 1\)"):
        train_tagger(train, val_fraction=1.0, **TINY)
    with pytest.raises(TypeError, match="expected batch_size to be an int"):
        train_tagger(train, **{**TINY, "batch_size": 2.5})
    with pytest.raises(ValueError, match="expected cell in"):
        train_tagger(train, cell="lstmx", **TINY)


def test_malformed_training_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.conllu"
    path.write_text("1\tdog\tdog\tNOUN\t_\t_\t0\troot\t_\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"^{path}:1: expected 10 tab-separated"):
        train_tagger(path, **TINY)


def test_most_frequent_tag_baseline_by_hand() -> None:
    train = [
        Sentence(
            ["I", "can", "can", "a", "can"], ["PRON", "AUX", "VERB", "DET", "NOUN"]
        ),
        Sentence(["The", "can", "rusts"], ["DET", "NOUN", "NOUN"]),
    ]
    # "can": NOUN 2, AUX 1, VERB 1 -> NOUN; "the" (lower-cased) -> DET; unknown
    # words -> NOUN, the most frequent tag overall (3 times)
    test = [Sentence(["THE", "can", "works", "I"], ["DET", "AUX", "VERB", "PRON"])]
    assert most_frequent_tag_baseline(train, test) == 2 / 4
    assert most_frequent_tag_baseline(train, test, lowercase=False) == 1 / 4


def test_read_tagged_picks_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "ner.txt"
    path.write_text("EU NNP B-ORG\nrejects VBZ O\n", encoding="utf-8")
    assert read_tagged(path) == [Sentence(["EU", "rejects"], ["B-ORG", "O"])]
    assert read_tagged(path, column=1)[0].tags == ["NNP", "VBZ"]
    with pytest.raises(ValueError, match="expected an int tag column"):
        read_tagged(path, column="upos")
    empty = tmp_path / "empty.conllu"
    empty.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected at least one sentence"):
        read_tagged(empty)


def test_load_tagger_rejects_other_checkpoints(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    fr.save({"kind": "fastrnn.something", "model": {}}, path)
    with pytest.raises(ValueError, match="expected a 'fastrnn.tagger' checkpoint"):
        load_tagger(path)


# ---------------------------------------------------- on_epoch, last.st, resume
class Killed(Exception):
    """Raised by an ``on_epoch`` callback to simulate a killed process."""


def kill_after(n_epochs: int) -> Callable[[dict[str, Any]], None]:
    def on_epoch(record: dict[str, Any]) -> None:
        if record["epoch"] >= n_epochs:
            raise Killed

    return on_epoch


def without_seconds(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def assert_same_arrays(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


def test_on_epoch_reports_every_epoch_after_saving_last_st(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    train, _ = files
    out = tmp_path / "run"
    records: list[dict[str, Any]] = []

    def on_epoch(record: dict[str, Any]) -> None:
        state = fr.load(out / "last.st")  # written before the callback
        assert state["kind"] == STATE_KIND
        assert state["progress"]["step"] == record["step"]
        records.append(record)

    result = train_tagger(train, epochs=3, out_dir=out, on_epoch=on_epoch, **TINY)
    json.dumps(records)
    assert [r["epoch"] for r in records] == [1.0, 2.0, 3.0]
    assert [r["step"] for r in records] == [6, 12, 18]  # 24 sentences / 4
    for r in records:
        assert set(r) == EPOCH_KEYS
        assert r["train_loss"] > 0 and r["val_accuracy"] is None
        assert r["best_val_accuracy"] is None
    assert 0 < records[0]["seconds"] <= records[1]["seconds"] <= records[2]["seconds"]
    assert result["history"] == records

    partial: list[dict[str, Any]] = []
    held = train_tagger(
        train, max_steps=5, val_fraction=0.25, on_epoch=partial.append, **TINY
    )
    # 18 training sentences -> 5 steps per epoch: one full epoch, then stopped
    assert [(r["epoch"], r["step"]) for r in partial] == [(1.0, 5)]
    assert partial[0]["val_accuracy"] == partial[0]["best_val_accuracy"]
    assert held["history"] == partial and held["stop_reason"] == "max_steps"
    stopped: list[dict[str, Any]] = []
    train_tagger(train, max_steps=8, on_epoch=stopped.append, **TINY)
    assert [(round(r["epoch"], 2), r["step"]) for r in stopped] == [
        (1.0, 6),
        (1.33, 8),
    ]


def test_resume_after_a_kill_is_bitwise_identical(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    train, test = files
    kwargs = dict(TINY, epochs=3, lr=3e-2, val_fraction=0.25, seed=5)
    whole = train_tagger(train, test, out_dir=tmp_path / "whole", **kwargs)
    # the best held-out epoch is the first, so the kept weights come from last.st
    val = [h["val_accuracy"] for h in whole["history"]]
    assert val[0] == whole["val_accuracy"] > max(val[1:])

    out = tmp_path / "killed"
    with pytest.raises(Killed):
        train_tagger(train, test, out_dir=out, on_epoch=kill_after(1), **kwargs)
    assert fr.load(out / "last.st")["progress"]["step"] == 5
    reported: list[dict[str, Any]] = []
    resumed = train_tagger(
        train,
        test,
        out_dir=out,
        on_epoch=reported.append,
        resume=out / "last.st",
        **kwargs,
    )
    assert [r["epoch"] for r in reported] == [2.0, 3.0]  # only the epochs it ran
    assert resumed["history"][1:] == reported
    assert without_seconds(resumed["history"]) == without_seconds(whole["history"])
    for key in ("accuracy", "val_accuracy", "steps", "epochs", "stop_reason"):
        assert resumed[key] == whole[key], key
    assert resumed["seconds"] >= resumed["history"][0]["seconds"]
    # the saved (best) weights, the final weights and Adam's state all match
    assert_same_arrays(
        load_tagger(resumed["checkpoint"]).state_dict(),
        load_tagger(whole["checkpoint"]).state_dict(),
    )
    a, b = fr.load(out / "last.st"), fr.load(tmp_path / "whole" / "last.st")
    assert_same_arrays(a["model"], b["model"])
    for i, state in a["optimizer"]["state"].items():
        assert_same_arrays(
            {k: np.asarray(v) for k, v in state.items()},
            {k: np.asarray(v) for k, v in b["optimizer"]["state"][i].items()},
        )
    assert a["rng"] == b["rng"] and a["fastrnn_rng"] == b["fastrnn_rng"]
    for key in ("step", "tokens", "epochs_done", "best_val", "stop_reason"):
        assert a["progress"][key] == b["progress"][key], key

    # resuming a finished run trains no further and gives the same result
    calls: list[dict[str, Any]] = []
    again = train_tagger(
        train, test, resume=out / "last.st", on_epoch=calls.append, **kwargs
    )
    assert calls == [] and again["steps"] == whole["steps"]
    assert again["accuracy"] == whole["accuracy"]
    assert again["history"] == resumed["history"]


def test_resume_rejects_foreign_files_and_other_arguments(
    tmp_path: Path, files: tuple[Path, Path]
) -> None:
    train, _ = files
    out = tmp_path / "run"
    train_tagger(train, epochs=1, out_dir=out, **TINY)
    state = out / "last.st"
    text = tmp_path / "notes.st"
    text.write_text("not a checkpoint", encoding="utf-8")
    for foreign in (text, out / "tagger.safetensors"):
        with pytest.raises(ValueError, match=re.escape(repr(str(foreign)))):
            train_tagger(train, epochs=1, resume=foreign, **TINY)
    with pytest.raises(
        ValueError, match=r"different lr \(checkpoint 0\.002, now 0\.01"
    ):
        train_tagger(train, epochs=1, lr=1e-2, resume=state, **TINY)
    with pytest.raises(ValueError, match=r"different epochs .*, seed \(checkpoint 0"):
        train_tagger(train, epochs=2, seed=1, resume=state, **TINY)
    other = tmp_path / "other.conllu"
    other.write_text(conllu(generated(np.random.default_rng(9), 24)), "utf-8")
    with pytest.raises(ValueError, match="different train_path"):
        train_tagger(other, epochs=1, resume=state, **TINY)
    # threads, eval data and reporting are not training arguments
    result = train_tagger(train, train, epochs=1, threads=1, resume=state, **TINY)
    assert result["steps"] == 6
