"""Shared fixtures: a seeded rng, the optional torch oracle, tolerances."""

from __future__ import annotations

import os
from types import ModuleType

import numpy as np
import pytest

# Qt widgets in the GUI tests must render without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

TOL = {
    np.float32: {"rtol": 1e-5, "atol": 1e-6},
    np.float64: {"rtol": 1e-10, "atol": 1e-12},
}


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed, so every test is reproducible."""
    return np.random.default_rng(0)


@pytest.fixture
def tol() -> dict[type, dict[str, float]]:
    """``assert_allclose`` keyword arguments per dtype."""
    return TOL


@pytest.fixture
def torch() -> ModuleType:
    """The torch module, seeded; skipped if missing, except in CI where it fails."""
    try:
        import torch
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(
                "torch is required in CI for the oracle tests "
                "(make test installs it: pip install torch==2.13.0 "
                "from the local wheel)"
            )
        pytest.skip("torch is not installed")
    torch.manual_seed(0)
    return torch


@pytest.fixture(scope="session")
def ray() -> ModuleType:
    """The ray module (the ``distributed`` extra); skipped if missing, except in CI."""
    try:
        import ray
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(
                "Ray Tune is required in CI for the sweep tests "
                "(make test installs it: pip install -e '.[distributed]')"
            )
        pytest.skip("Ray is not installed (pip install 'fastrnn[distributed]')")
    return ray
