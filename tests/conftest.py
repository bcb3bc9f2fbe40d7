"""Shared fixtures: a seeded rng, the optional torch oracle, tolerances."""

from __future__ import annotations

import importlib
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


def _optional(module: str, install: str) -> ModuleType:
    """Import ``module``; skip the test if it is missing, except in CI where it fails."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(
                f"{module} is required in CI (make test installs it: {install})"
            )
        pytest.skip(f"{module} is not installed ({install})")


@pytest.fixture
def torch() -> ModuleType:
    """The torch module (the test oracle), seeded."""
    torch = _optional("torch", "pip install torch==2.13.0 from the local wheel")
    torch.manual_seed(0)
    return torch


@pytest.fixture(scope="session")
def ray() -> ModuleType:
    """The ray module (the ``distributed`` extra, for the sweep tests)."""
    return _optional("ray", "pip install -e '.[distributed]'")
