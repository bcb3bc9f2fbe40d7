"""Sweep specs: every field checked before Ray starts, errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fastrnn.cli import main
from fastrnn.distributed.spec import SpecError, load_spec, parse_spec

GOOD = """
task = "lm"
trials = 3
threads_per_trial = 1
[train]
max_steps = 40
eval_every = 10
hidden = 16
[search]
lr = { loguniform = [1e-3, 1e-2] }
cell = { choice = ["lstm", "gru"] }
dropout = { uniform = [0.0, 0.3] }
layers = { grid = [1, 2] }
embedding_dim = { randint = [8, 32] }
[scheduler]
name = "asha"
grace_period = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_spec_parses_with_defaults(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.task == "lm" and spec.trials == 3
    assert spec.metric == "val_loss" and spec.mode == "min"
    assert spec.search["lr"] == ("loguniform", [1e-3, 1e-2])
    assert spec.search["layers"] == ("grid", [1, 2])
    assert spec.train == {"max_steps": 40, "eval_every": 10, "hidden": 16}
    assert spec.scheduler == {"name": "asha", "grace_period": 2}
    assert spec.max_failures == 2 and spec.path == str(tmp_path / "spec.toml")
    assert spec.as_dict()["search"]["cell"] == {"choice": ["lstm", "gru"]}


def test_tagger_defaults_and_relative_data_paths(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.conllu").write_text("", encoding="utf-8")
    spec = parse_spec(
        {
            "task": "tagger",
            "data": {"train": "data/train.conllu"},
            "train": {"epochs": 2},
        },
        base=tmp_path,
    )
    assert spec.metric == "val_accuracy" and spec.mode == "max"
    assert spec.data["train"] == str((tmp_path / "data" / "train.conllu").resolve())


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (("task", '"translate"'), "task"),
        (("bogus", "1"), "bogus"),
        (("trials", "0"), "trials"),
        (("trials", '"many"'), "trials"),
        (("threads_per_trial", "true"), "threads_per_trial"),
        (("metric", '"accuracy"'), "metric"),
        (("mode", '"lowest"'), "mode"),
    ],
)
def test_bad_top_level_fields(
    tmp_path: Path, edit: tuple[str, str], field: str
) -> None:
    key, value = edit
    text = f"{key} = {value}\n" + "\n".join(
        line for line in GOOD.splitlines() if not line.startswith(f"{key} =")
    )
    with pytest.raises(SpecError, match=rf"spec\.toml: {field}:"):
        load_spec(write(tmp_path, text))


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("lrr = { uniform = [0.1, 0.2] }", "search.lrr", "unknown option of train-lm"),
        ("lr = { normal = [0, 1] }", "search.lr", "unknown distribution"),
        ("lr = { uniform = [0.2, 0.1] }", "search.lr.uniform", "low < high"),
        ("lr = { loguniform = [0.0, 0.1] }", "search.lr.loguniform", "low > 0"),
        ("lr = { uniform = [0.1] }", "search.lr.uniform", r"\[low, high\]"),
        ("lr = 0.1", "search.lr", "one distribution"),
        ("hidden = { uniform = [8, 16] }", "search.hidden", "also fixed"),
        ("layers = { uniform = [1, 3] }", "search.layers.uniform", "takes integers"),
        ('cell = { choice = [1, "gru"] }', "search.cell.choice", "expected str"),
        ("cell = { choice = [] }", "search.cell.choice", "non-empty list"),
        ("threads = { choice = [1, 2] }", "search.threads", "unknown option"),
    ],
)
def test_bad_search_entries(
    tmp_path: Path, line: str, field: str, message: str
) -> None:
    head, search = GOOD.split("[search]\n")
    key = line.split(" ")[0] + " "
    search = "\n".join(ln for ln in search.splitlines() if not ln.startswith(key))
    text = f"{head}[search]\n{line}\n{search}"
    with pytest.raises(SpecError, match=rf"spec\.toml: {field}: .*{message}"):
        load_spec(write(tmp_path, text))


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ('hidden = "big"', "train.hidden"),
        ("lr = nan", "train.lr"),
        ("seq_len = 1.5", "train.seq_len"),
        ("out_dir = 'x'", "train.out_dir"),
    ],
)
def test_bad_fixed_options(tmp_path: Path, line: str, field: str) -> None:
    text = GOOD.replace("hidden = 16\n", "").replace("[train]\n", f"[train]\n{line}\n")
    text = text.replace("lr = { loguniform", "# lr = {") if "lr" in line else text
    with pytest.raises(SpecError, match=rf"{field}:"):
        load_spec(write(tmp_path, text))


def test_missing_stop_criterion_and_data(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="train.max_steps: missing"):
        parse_spec({"task": "lm", "train": {"hidden": 8}})
    with pytest.raises(SpecError, match="data.train: missing"):
        parse_spec({"task": "tagger"})
    with pytest.raises(SpecError, match="data.source: no such file"):
        parse_spec(
            {"task": "lm", "data": {"source": "nope.txt"}, "train": {"max_steps": 1}}
        )
    with pytest.raises(SpecError, match="scheduler.name"):
        parse_spec(
            {"task": "lm", "train": {"max_steps": 1}, "scheduler": {"name": "pbt"}}
        )
    with pytest.raises(SpecError, match="scheduler.max_t: unknown field"):
        parse_spec({"task": "lm", "train": {"max_steps": 1}, "scheduler": {"max_t": 3}})
    with pytest.raises(SpecError, match="scheduler.reduction_factor"):
        parse_spec(
            {
                "task": "lm",
                "train": {"max_steps": 1},
                "scheduler": {"reduction_factor": 1},
            }
        )


def test_unreadable_spec_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(write(tmp_path, "task = [unclosed"))


def test_cli_malformed_spec_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write(
        tmp_path, GOOD.replace("[search]\n", "[search]\nlrr = { choice = [1] }\n")
    )
    assert main(["sweep", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "search.lrr" in err[0] and "unknown option" in err[0]
    assert not (tmp_path / "out").exists()  # failed before Ray started


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"train": {"max_steps": -1}}, "train.max_steps: expected max_steps >= 1"),
        (
            {"train": {"max_steps": 5, "dropout": 1.5}},
            "train.dropout: expected dropout",
        ),
        (
            {"train": {"max_steps": 5}, "search": {"hidden": {"choice": [0, 16]}}},
            "search.hidden.choice: expected hidden >= 1",
        ),
        (
            {"train": {"max_steps": 5}, "search": {"lr": {"uniform": [-0.1, 0.1]}}},
            "search.lr.uniform: expected lr a finite number > 0",
        ),
    ],
)
def test_out_of_range_values_fail_before_ray(raw: dict, field: str) -> None:
    with pytest.raises(SpecError, match=rf"spec: {field}"):
        parse_spec({"task": "lm", **raw})


def test_tagger_sweep_needs_a_held_out_split(tmp_path: Path) -> None:
    (tmp_path / "t.conllu").write_text("", encoding="utf-8")
    raw = {
        "task": "tagger",
        "data": {"train": "t.conllu"},
        "train": {"val_fraction": 0},
    }
    with pytest.raises(SpecError, match="train.val_fraction: must be > 0"):
        parse_spec(raw, base=tmp_path)


def test_cli_unreachable_cluster_fails_fast_with_one_line(
    ray: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = write(tmp_path, GOOD)
    code = main(["sweep", str(spec), "--address", f"127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert f"cannot reach a Ray cluster at 127.0.0.1:{port}" in err[0]
