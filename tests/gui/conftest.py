"""Fixtures of the explorer tests."""

from __future__ import annotations

import pytest

from fastrnn.data import load_text


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> str:
    """20,000 characters of the bundled corpus in a file (fast to load and encode)."""
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(load_text()[:20_000], encoding="utf-8")
    return str(path)
