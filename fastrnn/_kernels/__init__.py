"""Compiled Cython kernels. Call them only through fastrnn.functional, which validates."""

from __future__ import annotations

import importlib
from types import ModuleType

#: kernel module implementing each cell family
KERNEL_MODULES = {"rnn": "rnn", "lstm": "lstm", "gru": "gru"}


def load_kernel(cell: str) -> ModuleType:
    """The compiled module for a cell name such as ``"lstm_peephole"`` (family prefix)."""
    family = cell.split("_", 1)[0]
    return importlib.import_module(f"fastrnn._kernels.{KERNEL_MODULES[family]}")
