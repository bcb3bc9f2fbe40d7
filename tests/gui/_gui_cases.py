"""Tiny run configurations shared by the explorer tests."""

from __future__ import annotations

from gui.protocol import RunConfig


def tiny(corpus: str, **kw) -> RunConfig:
    base = dict(
        corpus=corpus,
        hidden_size=16,
        num_layers=2,
        embedding_dim=8,
        seq_len=16,
        batch_size=4,
        threads=1,
        probe_len=24,
        sample_len=30,
        val_tokens=256,
    )
    base.update(kw)
    return RunConfig(**base)
