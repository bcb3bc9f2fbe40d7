"""train_lm (the recipe of ``fastrnn train-lm``): evaluation hook and exact resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fastrnn.models.language_model import load_language_model
from fastrnn.tasks.language_modeling import stream_epoch, train_lm

TINY: dict[str, Any] = {
    "hidden": 16,
    "layers": 1,
    "seq_len": 16,
    "batch_size": 4,
    "embedding_dim": 8,
    "eval_every": 5,
    "val_chars": 2000,
    "max_steps": 20,
    "threads": 1,
    "progress": False,
    "log": None,
}


class Killed(Exception):
    """Stands in for a process dying after a checkpoint."""


def test_on_eval_reports_after_checkpoints_are_written(tmp_path: Path) -> None:
    seen: list[dict[str, Any]] = []

    def on_eval(info: dict[str, Any]) -> None:
        assert (tmp_path / "last.st").is_file() and (tmp_path / "best.st").is_file()
        seen.append(info)

    result = train_lm(**TINY, out_dir=tmp_path, on_eval=on_eval)
    assert [s["step"] for s in seen] == [5, 10, 15, 20]
    assert set(seen[0]) == {
        "step",
        "seconds",
        "train_loss",
        "val_loss",
        "best_val_loss",
        "tokens_per_s",
    }
    assert [[s["step"], s["val_loss"]] for s in seen] == result["val_history"]
    assert seen[-1]["best_val_loss"] == min(s["val_loss"] for s in seen)
    assert all(
        b["seconds"] >= a["seconds"] for a, b in zip(seen, seen[1:], strict=False)
    )


def test_resume_continues_bit_for_bit(tmp_path: Path) -> None:
    full = train_lm(**TINY, out_dir=tmp_path / "full")

    def die_at_10(info: dict[str, Any]) -> None:
        if info["step"] == 10:
            raise Killed

    with pytest.raises(Killed):
        train_lm(**TINY, out_dir=tmp_path / "run", on_eval=die_at_10)
    resumed = train_lm(
        **TINY, out_dir=tmp_path / "run", resume=tmp_path / "run" / "last.st"
    )
    assert resumed["val_history"] == full["val_history"]
    assert resumed["val_loss"] == full["val_loss"]
    assert resumed["steps"] == full["steps"] == 20
    a = load_language_model(tmp_path / "full" / "best.st").state_dict()
    b = load_language_model(tmp_path / "run" / "best.st").state_dict()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_resume_refuses_a_different_recipe(tmp_path: Path) -> None:
    train_lm(**{**TINY, "max_steps": 5}, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"last\.st: .*model\.hidden_size.*train\.lr"):
        train_lm(
            **{**TINY, "hidden": 8, "lr": 0.01},
            resume=tmp_path / "last.st",
        )
    (tmp_path / "junk.st").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.st"):
        train_lm(**TINY, resume=tmp_path / "junk.st")


@pytest.mark.parametrize(
    ("option", "value", "error"),
    [
        ("max_steps", 0, ValueError),
        ("hidden", 2.5, TypeError),
        ("lr", -1.0, ValueError),
        ("dropout", 1.0, ValueError),
        ("time_budget", float("inf"), ValueError),
    ],
)
def test_bad_options_are_refused_before_training(
    option: str, value: Any, error: type
) -> None:
    with pytest.raises(error, match=option):
        train_lm(**{**TINY, option: value})


def test_stream_epochs_are_contiguous_and_shift_between_epochs() -> None:
    ids = np.arange(1000, dtype=np.int64)
    ((x0, y0),) = stream_epoch(ids, 4, 16, 0, 0)
    assert x0.shape == (249, 4)
    np.testing.assert_array_equal(x0[:, 1], np.arange(249, 498))  # one contiguous slice
    np.testing.assert_array_equal(y0, x0 + 1)  # next-id targets
    starts = {int(stream_epoch(ids, 4, 16, 0, e)[0][0][0, 0]) for e in range(1, 9)}
    assert starts <= set(range(16)) and len(starts) > 1  # seeded offsets < seq_len
    again = stream_epoch(ids, 4, 16, 0, 3)[0][0]
    np.testing.assert_array_equal(again, stream_epoch(ids, 4, 16, 0, 3)[0][0])
    tiny = np.arange(6, dtype=np.int64)  # too short to shift: every id kept
    assert all(stream_epoch(tiny, 4, 16, 0, e)[0][0][0, 0] == 0 for e in range(5))


def test_stream_windows_resume_bit_for_bit_across_epochs(tmp_path: Path) -> None:
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("to be or not to be, that is the question.\n" * 50)  # 2150 chars
    opts = {**TINY, "windows": "stream", "max_steps": 40, "eval_every": 10}
    full = train_lm(corpus, **opts, out_dir=tmp_path / "full")  # 30 windows/epoch

    def die_at_20(info: dict[str, Any]) -> None:
        if info["step"] == 20:
            raise Killed

    with pytest.raises(Killed):
        train_lm(corpus, **opts, out_dir=tmp_path / "run", on_eval=die_at_20)
    resumed = train_lm(
        corpus, **opts, out_dir=tmp_path / "run", resume=tmp_path / "run" / "last.st"
    )
    assert resumed["val_history"] == full["val_history"]
    assert resumed["val_loss"] == full["val_loss"]
    small = tmp_path / "small.txt"
    small.write_text("abcdefghij" * 12)  # 108 training characters
    with pytest.raises(ValueError, match="batch_size = 128 training characters"):
        train_lm(small, **{**opts, "batch_size": 128})
