"""Readers for the annotated text formats the tasks train on.

=====================  ==============================================================
:func:`read_conllu`    CoNLL-U (Universal Dependencies): one word per line, 10 tab-
                       separated columns, blank lines between sentences
:func:`read_conll2003` CoNLL-2003 style (NER / chunking): whitespace-separated columns,
                       word first, ``-DOCSTART-`` document markers
:func:`read_tsv`       one example per line, tab-separated text and label columns
=====================  ==============================================================

Every reader decodes UTF-8 strictly and reports a malformed file as a
:class:`DataFormatError` (a ``ValueError``) whose message starts with the file and the
1-based line number, as compilers do::

    en_ewt-ud-dev.conllu:123: expected 10 tab-separated columns, got 7

so the offending line can be opened directly in an editor.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "CONLLU_COLUMNS",
    "DataFormatError",
    "Sentence",
    "read_conll2003",
    "read_conllu",
    "read_tsv",
]

PathLike = str | os.PathLike[str]

#: The ten CoNLL-U columns, in file order (lower-case names accepted by ``column=``).
CONLLU_COLUMNS: tuple[str, ...] = (
    "id",
    "form",
    "lemma",
    "upos",
    "xpos",
    "feats",
    "head",
    "deprel",
    "deps",
    "misc",
)


class DataFormatError(ValueError):
    """A malformed data file; ``str(err)`` is ``"<path>:<line>: <message>"``.

    Attributes
    ----------
    path : str
        The file, as it was passed to the reader.
    line : int
        The 1-based line number of the offending line.
    message : str
        What was expected and what was found.
    """

    def __init__(self, path: str, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Sentence:
    """One tagged sentence: ``words[i]`` carries tag ``tags[i]``.

    Attributes
    ----------
    words : list of str
        The ``N >= 1`` word forms, in order.
    tags : list of str
        ``N`` tags, one per word.
    """

    words: list[str]
    tags: list[str]

    def __post_init__(self) -> None:
        if len(self.words) != len(self.tags):
            raise ValueError(
                f"expected as many tags as words, got {len(self.words)} words and "
                f"{len(self.tags)} tags"
            )

    def __len__(self) -> int:
        return len(self.words)


def _lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 file, without newline.

    A UTF-8 byte-order mark at the start of the file is dropped; invalid UTF-8 is a
    :class:`DataFormatError` naming the line.
    """
    name = os.fspath(path)
    with open(name, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataFormatError(
                    name,
                    lineno,
                    f"expected UTF-8 text, got invalid byte 0x{raw[err.start]:02x} at "
                    f"column {err.start + 1} ({err.reason})",
                ) from None
            yield lineno, text.rstrip("\r\n")


def _conllu_column(column: str | int) -> int:
    """The 0-based index of a CoNLL-U column given by name or index."""
    if isinstance(column, str):
        key = column.lower()
        if key not in CONLLU_COLUMNS:
            raise ValueError(
                f"expected column to be one of {CONLLU_COLUMNS}, got {column!r}"
            )
        return CONLLU_COLUMNS.index(key)
    if isinstance(column, bool) or not isinstance(column, int):
        raise TypeError(
            f"expected column to be a column name or an int, got "
            f"{type(column).__name__}"
        )
    if not 2 <= column <= 9:
        raise ValueError(
            f"expected a tag column index in [2, 9] (0 is ID, 1 is FORM), got {column}"
        )
    return column


def _parse_conllu_id(text: str) -> tuple[str, int]:
    """Classify a CoNLL-U ID as ``("word", n)``, ``("range", first)`` or ``("empty", n)``.

    Raises ``ValueError`` (without file/line; the caller adds them) for anything else.
    """
    what = "a word id like 3, a range like 3-4 or an empty node like 5.1"
    if text.isdecimal() and text.isascii():
        n = int(text)
        if n < 1:
            raise ValueError(f"expected {what}, got {text!r} (word ids start at 1)")
        return "word", n
    for sep, kind in (("-", "range"), (".", "empty")):
        head, found, tail = text.partition(sep)
        if found and all(p.isdecimal() and p.isascii() for p in (head, tail)):
            first, second = int(head), int(tail)
            if kind == "range" and not 1 <= first < second:
                raise ValueError(
                    f"expected a range first-last with 1 <= first < last, got {text!r}"
                )
            if kind == "empty" and second < 1:
                raise ValueError(
                    f"expected an empty node n.k with k >= 1, got {text!r}"
                )
            return kind, first
    raise ValueError(f"expected {what}, got {text!r}")


def read_conllu(path: PathLike, column: str | int = "upos") -> list[Sentence]:
    """Read a CoNLL-U file as tagged sentences.

    Comment lines (``#``) are skipped, and so are multiword-token lines (IDs like
    ``3-4``: the words ``3`` and ``4`` follow on their own lines) and empty nodes
    (IDs like ``5.1``, which are not surface words). Sentences end at a blank line
    or at the end of the file.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.conllu`` file (UTF-8).
    column : str or int, default ``"upos"``
        The tag column: a name from :data:`CONLLU_COLUMNS` (``"upos"``, ``"xpos"``,
        ``"deprel"``, ``"lemma"``, ...; case-insensitive) or its 0-based index 2-9.
        The words always come from the FORM column.

    Returns
    -------
    list of Sentence
        One per sentence, in file order.

    Raises
    ------
    DataFormatError
        (a ``ValueError``) for a line without exactly 10 tab-separated columns, a bad
        or out-of-order word ID, an empty FORM or tag, or invalid UTF-8; the message
        starts with ``"<path>:<line>: "``.
    """
    index = _conllu_column(column)
    name = os.fspath(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    for lineno, line in _lines(path):
        if not line.strip():
            if words:
                sentences.append(Sentence(words, tags))
                words, tags = [], []
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 10:
            raise DataFormatError(
                name,
                lineno,
                f"expected 10 tab-separated columns, got {len(fields)}",
            )
        try:
            kind, n = _parse_conllu_id(fields[0])
        except ValueError as err:
            raise DataFormatError(name, lineno, str(err)) from None
        if kind != "word":
            continue
        if n != len(words) + 1:
            raise DataFormatError(
                name, lineno, f"expected word id {len(words) + 1}, got {n}"
            )
        form, tag = fields[1], fields[index]
        if not form:
            raise DataFormatError(name, lineno, "expected a non-empty FORM, got ''")
        if not tag:
            raise DataFormatError(
                name,
                lineno,
                f"expected a non-empty {CONLLU_COLUMNS[index].upper()}, got ''",
            )
        words.append(form)
        tags.append(tag)
    if words:
        sentences.append(Sentence(words, tags))
    return sentences


def read_conll2003(path: PathLike, column: int = -1) -> list[Sentence]:
    """Read a CoNLL-2003-style file (word first, whitespace-separated tag columns).

    Each non-blank line is one word followed by its annotation columns, e.g.
    ``EU NNP B-NP B-ORG``; blank lines separate sentences and ``-DOCSTART-`` lines
    (document markers) are skipped. Every word line must have as many columns as the
    first one.

    Parameters
    ----------
    path : str or os.PathLike
        The file (UTF-8).
    column : int, default -1
        The tag column, 0-based; negative values count from the end (-1 is the
        last column, the NER tag in CoNLL-2003). Must not be the word column 0.

    Returns
    -------
    list of Sentence

    Raises
    ------
    DataFormatError
        (a ``ValueError``) for a line whose column count differs from the first
        word line's or is too small for ``column``, or invalid UTF-8; the message
        starts with ``"<path>:<line>: "``.
    """
    if isinstance(column, bool) or not isinstance(column, int):
        raise TypeError(f"expected column to be an int, got {type(column).__name__}")
    name = os.fspath(path)
    sentences: list[Sentence] = []
    words: list[str] = []
    tags: list[str] = []
    n_columns: int | None = None
    first_line = 0
    for lineno, line in _lines(path):
        fields = line.split()
        if not fields:
            if words:
                sentences.append(Sentence(words, tags))
                words, tags = [], []
            continue
        if fields[0] == "-DOCSTART-":
            continue
        if n_columns is None:
            n_columns, first_line = len(fields), lineno
            if n_columns < 2:
                raise DataFormatError(
                    name,
                    lineno,
                    f"expected at least 2 whitespace-separated columns (a word and "
                    f"a tag), got {n_columns}",
                )
            if not (-n_columns <= column < n_columns) or column % n_columns == 0:
                raise DataFormatError(
                    name,
                    lineno,
                    f"expected column to select a tag column 1..{n_columns - 1} "
                    f"(or -{n_columns - 1}..-1) of the {n_columns} columns, got {column}",
                )
        elif len(fields) != n_columns:
            raise DataFormatError(
                name,
                lineno,
                f"expected {n_columns} whitespace-separated columns (as on line "
                f"{first_line}), got {len(fields)}",
            )
        words.append(fields[0])
        tags.append(fields[column])
    if words:
        sentences.append(Sentence(words, tags))
    return sentences


def _tsv_column(
    name: str, value: str | int, header: list[str] | None, path: str
) -> int:
    """The 0-based index of a TSV column given by index or (with a header) by name."""
    if isinstance(value, str):
        if header is None:
            raise ValueError(
                f"expected {name} to be an int (a column name needs header=True), "
                f"got {value!r}"
            )
        if value not in header:
            raise DataFormatError(
                path, 1, f"expected a header column named {value!r}, got {header}"
            )
        return header.index(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"expected {name} to be an int or a column name, got {type(value).__name__}"
        )
    if value < 0:
        raise ValueError(f"expected {name} >= 0, got {value}")
    return value


def read_tsv(
    path: PathLike,
    text_column: str | int = 0,
    label_column: str | int = 1,
    header: bool = False,
) -> tuple[list[str], list[str]]:
    """Read a tab-separated classification file into texts and labels.

    Each non-blank line is one example; columns are split on tabs only (no
    quoting), so the text may contain spaces but not tabs. Blank lines are skipped.

    Parameters
    ----------
    path : str or os.PathLike
        The file (UTF-8).
    text_column, label_column : int or str, default 0 and 1
        0-based column indices, or column names from the header row when
        ``header=True``.
    header : bool, default False
        The first line is a header row (column names), not an example.

    Returns
    -------
    texts : list of str
        ``N`` texts, in file order.
    labels : list of str
        ``N`` labels (strings; build a label vocabulary from them).

    Raises
    ------
    DataFormatError
        (a ``ValueError``) for a line with too few columns, an empty label, a file
        without examples, or invalid UTF-8; the message starts with
        ``"<path>:<line>: "``.
    """
    name = os.fspath(path)
    lines = _lines(path)
    names: list[str] | None = None
    if header:
        first = next(lines, None)
        if first is None:
            raise DataFormatError(name, 1, "expected a header row, got an empty file")
        names = first[1].split("\t")
    text_i = _tsv_column("text_column", text_column, names, name)
    label_i = _tsv_column("label_column", label_column, names, name)
    if text_i == label_i:
        raise ValueError(
            f"expected different text and label columns, got {text_i} for both"
        )
    needed = max(text_i, label_i) + 1
    if names is not None and len(names) < needed:
        raise DataFormatError(
            name,
            1,
            f"expected at least {needed} tab-separated columns in the header, got "
            f"{len(names)}",
        )
    texts: list[str] = []
    labels: list[str] = []
    last = 1 if header else 0
    for lineno, line in lines:
        last = lineno
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < needed:
            raise DataFormatError(
                name,
                lineno,
                f"expected at least {needed} tab-separated columns, got {len(fields)}",
            )
        label = fields[label_i].strip()
        if not label:
            raise DataFormatError(name, lineno, "expected a non-empty label, got ''")
        texts.append(fields[text_i])
        labels.append(label)
    if not texts:
        raise DataFormatError(
            name, max(last, 1), "expected at least one example line, got none"
        )
    return texts, labels
