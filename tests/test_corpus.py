"""fastrnn.data.load_text: the bundled corpus, files, directories and bad input."""

from __future__ import annotations

import pytest

from fastrnn.data import load_text


def test_bundled_corpus_is_tiny_shakespeare():
    text = load_text()
    assert len(text) == 1_115_394
    assert text.startswith(
        "First Citizen:\nBefore we proceed any further, hear me speak."
    )
    assert load_text("tinyshakespeare") == text


def test_file_and_directory(tmp_path):
    (tmp_path / "a.py").write_text("print('a')\n", encoding="utf-8")
    sub = tmp_path / "pkg"
    sub.mkdir()
    (sub / "b.c").write_text("int main(void) { return 0; }\n", encoding="utf-8")
    (sub / "image.png").write_bytes(b"\x89PNG\x00\x01")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "c.py").write_text("secret", encoding="utf-8")
    assert load_text(tmp_path / "a.py") == "print('a')\n"
    text = load_text(tmp_path)
    assert "print('a')" in text and "int main" in text and "secret" not in text


def test_directory_skips_binary_and_latin1_with_a_warning(tmp_path):
    (tmp_path / "ok.txt").write_text("fine\n", encoding="utf-8")
    (tmp_path / "bad.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.warns(UserWarning, match="skipped 1"):
        assert load_text(tmp_path) == "fine\n"


def test_invalid_utf8_names_file_line_and_column(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"line one\nline two\nab\xff\n")
    with pytest.raises(ValueError, match=r"bad\.txt:3:3: expected UTF-8"):
        load_text(path)


@pytest.mark.parametrize("make", ["missing", "empty", "emptydir"])
def test_clear_errors(tmp_path, make):
    if make == "missing":
        path, match = tmp_path / "nope.txt", "no such file"
    elif make == "empty":
        path, match = tmp_path / "empty.txt", "empty"
        path.write_text("")
    else:
        path, match = tmp_path / "d", "found none"
        path.mkdir()
    with pytest.raises(ValueError, match=match):
        load_text(path)
