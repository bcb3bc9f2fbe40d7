"""The build itself: OpenMP must not silently go missing."""

from __future__ import annotations

import os

import pytest

import fastrnn


@pytest.mark.skipif(
    os.environ.get("FASTRNN_NO_OPENMP", "") not in ("", "0"),
    reason="serial build requested with FASTRNN_NO_OPENMP",
)
def test_openmp_is_enabled():
    assert fastrnn.openmp_enabled(), (
        "the kernels were built without OpenMP; rebuild with a compiler that supports "
        "-fopenmp, or set FASTRNN_NO_OPENMP=1 to build serial kernels on purpose"
    )


def test_thread_settings(monkeypatch):
    monkeypatch.setenv("FASTRNN_NUM_THREADS", "3")
    fastrnn.set_num_threads(None)
    assert fastrnn.get_num_threads() == 3
    fastrnn.set_num_threads(1)
    try:
        assert fastrnn.get_num_threads() == 1
    finally:
        fastrnn.set_num_threads(None)
    monkeypatch.setenv("FASTRNN_NUM_THREADS", "zero")
    with pytest.raises(ValueError, match="expected FASTRNN_NUM_THREADS"):
        fastrnn.get_num_threads()
    with pytest.raises(ValueError, match="expected n_threads >= 1"):
        fastrnn.set_num_threads(0)
