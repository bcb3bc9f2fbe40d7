"""Every ```python block in README.md runs as written (blocks share one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102
    # the training loop in the quick start really learns
    assert namespace["loss"].item() < 0.5
    out = capsys.readouterr().out
    assert "loss" in out
