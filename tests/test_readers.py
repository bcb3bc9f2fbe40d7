"""Tests for fastrnn.data.readers: CoNLL-U, CoNLL-2003 and TSV files, and their errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fastrnn.data.readers import (
    DataFormatError,
    Sentence,
    read_conll2003,
    read_conllu,
    read_tsv,
)

SHARED_DATA = Path(__file__).parents[2] / "shared" / "data"

CONLLU = """\
# newdoc id = doc1
# sent_id = 1
# text = I didn't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tdidn't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdid\tdo\tAUX\tVBD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t4:conj\tCopyOf=4
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tHello\thello\tINTJ\tUH\t_\t0\troot\t_\t_
"""


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    return path


def expect_error(path: Path, line: int, message: str) -> re.Pattern[str]:
    """The exact ``path:line: message`` an error must start with, as a regex."""
    return re.compile("^" + re.escape(f"{path}:{line}: {message}"))


# ----------------------------------------------------------------------- CoNLL-U
def test_conllu_skips_comments_ranges_and_empty_nodes(tmp_path: Path) -> None:
    sents = read_conllu(write(tmp_path, "a.conllu", CONLLU))
    assert sents == [
        Sentence(
            ["I", "did", "n't", "go", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]
        ),
        Sentence(["Hello"], ["INTJ"]),
    ]


@pytest.mark.parametrize(
    ("column", "tags"),
    [
        ("xpos", ["PRP", "VBD", "RB", "VB", "."]),
        ("XPOS", ["PRP", "VBD", "RB", "VB", "."]),
        ("deprel", ["nsubj", "aux", "advmod", "root", "punct"]),
        ("lemma", ["I", "do", "not", "go", "."]),
        (4, ["PRP", "VBD", "RB", "VB", "."]),
    ],
)
def test_conllu_column_choice(
    tmp_path: Path, column: str | int, tags: list[str]
) -> None:
    sents = read_conllu(write(tmp_path, "a.conllu", CONLLU), column=column)
    assert sents[0].tags == tags


def test_conllu_crlf_bom_and_several_blank_lines(tmp_path: Path) -> None:
    text = "\ufeff" + CONLLU.replace("\n\n", "\n\n\n") + "\n\n"
    path = write(tmp_path, "a.conllu", text.replace("\n", "\r\n").encode("utf-8"))
    sents = read_conllu(path)
    assert [s.words for s in sents] == [["I", "did", "n't", "go", "."], ["Hello"]]


def test_conllu_bad_column_argument(tmp_path: Path) -> None:
    path = write(tmp_path, "a.conllu", CONLLU)
    with pytest.raises(ValueError, match="expected column to be one of"):
        read_conllu(path, column="pos")
    with pytest.raises(ValueError, match=r"expected a tag column index in \[2, 9\]"):
        read_conllu(path, column=1)
    with pytest.raises(
        TypeError, match="expected column to be a column name or an int"
    ):
        read_conllu(path, column=3.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("2\tfoo\tfoo\tNOUN\tNN\t_\t0", "expected 10 tab-separated columns, got 7"),
        (
            "2 foo foo NOUN NN _ 0 root _ _",
            "expected 10 tab-separated columns, got 1",
        ),
        (
            "x\tfoo\tfoo\tNOUN\tNN\t_\t0\troot\t_\t_",
            "expected a word id like 3, a range like 3-4 or an empty node like 5.1, "
            "got 'x'",
        ),
        ("0\tfoo\tfoo\tNOUN\tNN\t_\t0\troot\t_\t_", "expected a word id like 3"),
        ("3-2\tfoo\t_\t_\t_\t_\t_\t_\t_\t_", "expected a range first-last"),
        ("4\tfoo\tfoo\tNOUN\tNN\t_\t0\troot\t_\t_", "expected word id 2, got 4"),
        ("2\t\tfoo\tNOUN\tNN\t_\t0\troot\t_\t_", "expected a non-empty FORM"),
        ("2\tfoo\tfoo\t\tNN\t_\t0\troot\t_\t_", "expected a non-empty UPOS"),
    ],
)
def test_conllu_malformed_line_names_file_and_line(
    tmp_path: Path, bad_line: str, message: str
) -> None:
    text = "# c\n1\tok\tok\tNOUN\tNN\t_\t0\troot\t_\t_\n" + bad_line + "\n"
    path = write(tmp_path, "bad.conllu", text)
    with pytest.raises(DataFormatError, match=expect_error(path, 3, message)) as info:
        read_conllu(path)
    assert isinstance(info.value, ValueError)
    assert (info.value.path, info.value.line) == (str(path), 3)


def test_conllu_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    good = b"1\tok\tok\tNOUN\tNN\t_\t0\troot\t_\t_\n"
    path = write(
        tmp_path,
        "bin.conllu",
        good + b"\n" + b"1\tcaf\xe9\t_\tNOUN\t_\t_\t_\t_\t_\t_\n",
    )
    with pytest.raises(
        DataFormatError,
        match=expect_error(
            path, 3, "expected UTF-8 text, got invalid byte 0xe9 at column 6"
        ),
    ):
        read_conllu(path)


def test_conllu_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_conllu(tmp_path / "nope.conllu")


@pytest.mark.skipif(not (SHARED_DATA / "ud-english-ewt").is_dir(), reason="no UD EWT")
def test_conllu_reads_ud_english_ewt_dev() -> None:
    sents = read_conllu(SHARED_DATA / "ud-english-ewt" / "en_ewt-ud-dev.conllu")
    assert len(sents) == 2001
    assert sum(len(s) for s in sents) == 25147
    assert sents[0].words[:3] == ["From", "the", "AP"]


def test_sentence_checks_lengths() -> None:
    with pytest.raises(ValueError, match="expected as many tags as words, got 2 words"):
        Sentence(["a", "b"], ["X"])
    assert len(Sentence(["a"], ["X"])) == 1


# -------------------------------------------------------------------- CoNLL-2003
CONLL2003 = """\
-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER
"""


def test_conll2003_last_column_and_docstart(tmp_path: Path) -> None:
    sents = read_conll2003(write(tmp_path, "a.txt", CONLL2003))
    assert sents == [
        Sentence(["EU", "rejects", "German"], ["B-ORG", "O", "B-MISC"]),
        Sentence(["Peter"], ["B-PER"]),
    ]


def test_conll2003_other_column_and_tabs(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", CONLL2003.replace(" ", "\t"))
    sents = read_conll2003(path, column=1)
    assert [s.tags for s in sents] == [["NNP", "VBZ", "JJ"], ["NNP"]]


def test_conll2003_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", CONLL2003 + "Smith NNP B-NP\n")
    with pytest.raises(
        DataFormatError,
        match=expect_error(
            path, 8, "expected 4 whitespace-separated columns (as on line 3), got 3"
        ),
    ):
        read_conll2003(path)
    one = write(tmp_path, "one.txt", "\nword\n")
    with pytest.raises(
        DataFormatError, match=expect_error(one, 2, "expected at least 2 whitespace")
    ):
        read_conll2003(one)
    path = write(tmp_path, "b.txt", CONLL2003)
    for column in (0, 4, -4):
        with pytest.raises(
            DataFormatError, match=expect_error(path, 3, "expected column to select")
        ):
            read_conll2003(path, column=column)
    bad = write(tmp_path, "c.txt", b"EU NNP\nM\xfcnchen NNP\n")
    with pytest.raises(DataFormatError, match=expect_error(bad, 2, "expected UTF-8")):
        read_conll2003(bad)


# -------------------------------------------------------------------------- TSV
def test_tsv_plain_and_header(tmp_path: Path) -> None:
    path = write(tmp_path, "a.tsv", "great movie\tpos\n\nawful, really\tneg\n")
    assert read_tsv(path) == (["great movie", "awful, really"], ["pos", "neg"])
    path = write(tmp_path, "h.tsv", "id\tlabel\ttext\n1\tpos\tgood\n2\tneg\tbad\n")
    expected = (["good", "bad"], ["pos", "neg"])
    assert read_tsv(path, text_column=2, label_column=1, header=True) == expected
    assert (
        read_tsv(path, text_column="text", label_column="label", header=True)
        == expected
    )


def test_tsv_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "a.tsv", "good\tpos\nno label here\n")
    with pytest.raises(
        DataFormatError,
        match=expect_error(path, 2, "expected at least 2 tab-separated columns, got 1"),
    ):
        read_tsv(path)
    path = write(tmp_path, "b.tsv", "text\tlabel\ngood\tpos\nbad\t \n")
    with pytest.raises(
        DataFormatError, match=expect_error(path, 3, "expected a non-empty label")
    ):
        read_tsv(path, header=True)
    with pytest.raises(
        DataFormatError,
        match=expect_error(path, 1, "expected a header column named 'sentiment'"),
    ):
        read_tsv(path, label_column="sentiment", header=True)
    with pytest.raises(ValueError, match="a column name needs header=True"):
        read_tsv(path, label_column="label")
    with pytest.raises(ValueError, match="expected different text and label columns"):
        read_tsv(path, text_column=1, label_column=1)
    empty = write(tmp_path, "e.tsv", "text\tlabel\n\n")
    with pytest.raises(
        DataFormatError, match=expect_error(empty, 2, "expected at least one example")
    ):
        read_tsv(empty, header=True)
    bad = write(tmp_path, "c.tsv", b"good\tpos\n\xff\tneg\n")
    with pytest.raises(DataFormatError, match=expect_error(bad, 2, "expected UTF-8")):
        read_tsv(bad)
