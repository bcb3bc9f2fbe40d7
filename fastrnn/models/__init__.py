"""Ready models for the classic sequence tasks (plain modules; use them in a loop or the Trainer).

=====================  ==========================================================
``LanguageModel``      Embedding -> RNN/LSTM/GRU stack -> Linear; ``generate()``
``SequenceTagger``     bidirectional many-to-many tagger (POS / NER)
``SequenceClassifier`` many-to-one classifier (last state, mean or max pooling)
``Seq2Seq``            encoder-decoder, teacher forcing, greedy and beam decoding
``Forecaster``         real-valued sequences, autoregressive multi-step prediction
=====================  ==========================================================

Each model lives in its own module; they are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "LanguageModel": "language_model",
    "SequenceTagger": "tagger",
    "SequenceClassifier": "classifier",
    "Seq2Seq": "seq2seq",
    "Forecaster": "forecaster",
}

__all__ = sorted(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = importlib.import_module(f"fastrnn.models.{_MODULES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'fastrnn.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
