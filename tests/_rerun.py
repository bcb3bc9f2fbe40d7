"""Re-run a test file in a subprocess under other environment variables: how the tests
reach the code paths a CPU without AMX (or AVX-512) would take, on a CPU that has it."""

from __future__ import annotations

import os
import subprocess
import sys


def assert_passes_with(env: dict[str, str], path: str, *pytest_args: str) -> None:
    """Run ``pytest path *pytest_args`` with ``env`` added; fail unless tests ran and
    all passed."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            path,
            *pytest_args,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert " passed" in done.stdout
