"""The ``fastrnn`` command line: every command's --help and --json, and its errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fastrnn.cli import build_parser, main

TEXT = (
    "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
    * 40
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "hamlet.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    argv = [
        "train-lm",
        str(corpus),
        "--hidden",
        "16",
        "--layers",
        "1",
        "--embedding-dim",
        "8",
        "--seq-len",
        "16",
        "--batch-size",
        "4",
        "--max-steps",
        "6",
        "--eval-every",
        "3",
        "--out",
        str(out),
        "--no-progress",
        "--json",
    ]
    return argv, out


def _json_tail(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_help_for_every_command():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert set(commands) == {
        "train-lm",
        "sample",
        "eval",
        "train-tagger",
        "bench",
        "sweep",
    }
    for name in commands:
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0


def test_train_lm_sample_eval_json(trained, corpus, capsys):
    argv, out = trained
    assert main(argv) == 0
    result = _json_tail(capsys)
    assert result["steps"] == 6
    assert result["tokens_per_s"] > 0
    assert result["val_loss"] > 0 and len(result["val_history"]) == 2
    assert result["checkpoint"] == str(out / "best.st")
    assert (out / "best.st").is_file() and (out / "last.st").is_file()

    sample_args = ["sample", str(out / "best.st"), "--prompt", "To be"]
    sample_args += ["--length", "20", "--seed", "1"]
    assert main([*sample_args, "--json"]) == 0
    sample = _json_tail(capsys)
    assert sample["text"].startswith("To be")
    assert main(sample_args) == 0
    assert capsys.readouterr().out.rstrip("\n") == sample["text"]

    assert main(["eval", str(out / "best.st"), str(corpus), "--json"]) == 0
    scored = _json_tail(capsys)
    assert scored["task"] == "language_model" and scored["characters"] == len(TEXT)
    assert 0 < scored["nats_per_char"] < 5


@pytest.mark.parametrize(
    "argv, match",
    [
        (["train-lm", "/no/such/file.txt"], "no such file"),
        (["train-lm", "--hidden", "0", "--max-steps", "1"], "positive integer"),
        (["train-lm", "--cell", "transformer"], "invalid choice"),
        (["sample", "/no/such.st"], "no such file"),
        (["sample"], "required"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, match, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_unreadable_files_exit_2(tmp_path, corpus, capsys):
    bad = tmp_path / "bad.st"
    bad.write_bytes(b"not a checkpoint at all")
    assert main(["sample", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and err[0].startswith("fastrnn sample: error:")
        and "bad.st" in err[0]
    )
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    assert main(["train-lm", str(latin), "--max-steps", "1"]) == 2
    assert "latin.txt:1:4: expected UTF-8" in capsys.readouterr().err


def test_console_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "fastrnn", "sample", "--help"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "--temperature" in done.stdout


CONLLU = """# sent_id = 1
1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_
2\tdog\tdog\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\truns\trun\tVERB\tVBZ\t_\t0\troot\t_\t_

# sent_id = 2
1\tA\ta\tDET\tDT\t_\t2\tdet\t_\t_
2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_
3\tsleeps\tsleep\tVERB\tVBZ\t_\t0\troot\t_\t_

"""


def test_train_tagger_and_eval_json(tmp_path, capsys):
    data = tmp_path / "tiny.conllu"
    data.write_text(CONLLU * 5, encoding="utf-8")
    out = tmp_path / "tagger"
    argv = [
        "train-tagger",
        str(data),
        "--eval",
        str(data),
        "--epochs",
        "3",
        "--hidden",
        "8",
        "--out",
        str(out),
        "--no-progress",
        "--threads",
        "1",
        "--json",
    ]
    assert main(argv) == 0
    result = _json_tail(capsys)
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["baseline_accuracy"] <= 1
    assert main(["eval", result["checkpoint"], str(data), "--json"]) == 0
    scored = _json_tail(capsys)
    assert scored["task"] == "tagger" and scored["accuracy"] == pytest.approx(
        result["accuracy"]
    )
    bad = tmp_path / "bad.conllu"
    bad.write_text("1\tThe\tthe\n", encoding="utf-8")
    assert main(["train-tagger", str(bad)]) == 2
    assert "bad.conllu:1:" in capsys.readouterr().err
