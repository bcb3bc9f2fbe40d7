"""Text corpora for language models: the bundled tiny Shakespeare, a file or a directory.

>>> text = load_text()          # the bundled corpus, no download
>>> len(text), text[:9]
(1115394, 'First Cit')
"""

from __future__ import annotations

import lzma
import os
import warnings
from importlib import resources
from pathlib import Path

__all__ = ["BUNDLED_CORPUS", "SOURCE_SUFFIXES", "load_text"]

#: Name of the corpus shipped inside the package (public domain, xz-compressed).
BUNDLED_CORPUS = "tinyshakespeare"

#: File suffixes read when a *directory* is given (source code and plain text).
SOURCE_SUFFIXES = frozenset(
    ".txt .md .rst .py .pyx .pxd .c .h .cc .cpp .hpp .cu .java .js .ts .go .rs .rb "
    ".sh .tex .html .css .json .toml .yaml .yml .ini .cfg .sql .lua .hs .ml .scala "
    ".kt .swift .m .r .jl".split()
)


def _bundled(name: str) -> str:
    resource = resources.files("fastrnn.corpora").joinpath(f"{name}.txt.xz")
    if not resource.is_file():
        raise ValueError(
            f"expected a bundled corpus name ({BUNDLED_CORPUS!r}), got {name!r}"
        )
    with resource.open("rb") as f:
        return lzma.decompress(f.read()).decode("utf-8")


def _decode(path: Path, data: bytes) -> str:
    """UTF-8 text of ``data``, or a ValueError naming the file, line and column."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ValueError(
            f"{path}:{line}:{column}: expected UTF-8 text, got byte "
            f"0x{data[err.start]:02x} ({err.reason})"
        ) from None


def _read_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the file ({err.strerror})") from None
    return _decode(path, data)


def _read_directory(root: Path, suffixes: frozenset[str]) -> str:
    """Concatenate the UTF-8 text files under ``root`` (sorted, hidden dirs skipped)."""
    parts, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix.lower() not in suffixes:
                continue
            try:
                data = path.read_bytes()
            except OSError:
                skipped.append(path)
                continue
            if b"\0" in data:
                skipped.append(path)  # binary content with a text suffix
                continue
            try:
                parts.append(data.decode("utf-8"))
            except UnicodeDecodeError:
                skipped.append(path)
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} unreadable or non-UTF-8 file(s) under {root}, "
            f"e.g. {skipped[0]}",
            stacklevel=3,
        )
    if not parts:
        raise ValueError(
            f"{root}: expected text files with one of the suffixes "
            f"{' '.join(sorted(suffixes))}, found none"
        )
    return "\n".join(parts)


def load_text(
    source: str | os.PathLike[str] | None = None,
    *,
    suffixes: frozenset[str] | set[str] | None = None,
) -> str:
    """Read a training corpus as one string.

    Parameters
    ----------
    source : path, corpus name or None
        ``None`` or ``"tinyshakespeare"``: the corpus bundled with the package
        (1,115,394 characters). A file: its UTF-8 text. A directory: the UTF-8 text
        of every file under it whose suffix is in ``suffixes`` (sorted walk, hidden
        entries skipped, binary and non-UTF-8 files skipped with one warning),
        joined with newlines.
    suffixes : set of str, optional
        File suffixes for directories (default :data:`SOURCE_SUFFIXES`).

    Returns
    -------
    str

    Raises
    ------
    ValueError
        A missing path, an unreadable file, invalid UTF-8 in a file (with
        ``file:line:column``), an empty result.
    """
    if source is None or (isinstance(source, str) and source == BUNDLED_CORPUS):
        return _bundled(BUNDLED_CORPUS)
    path = Path(source)
    if path.is_dir():
        text = _read_directory(path, frozenset(suffixes or SOURCE_SUFFIXES))
    elif path.exists():
        text = _read_file(path)
    else:
        raise ValueError(f"{path}: no such file or directory")
    if not text:
        raise ValueError(f"{path}: expected some text, got an empty file")
    return text
