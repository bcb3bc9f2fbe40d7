"""A two-node Ray cluster on this machine: one spec, trials placed on both nodes.

Started with ``ray start --head`` and a second ``ray start --address`` (each node one
CPU), stopped by the fixture; the sweep connects with ``address=`` exactly as
``fastrnn sweep --address HOST:PORT`` does on a real cluster. The teardown runs
``ray stop --force``, which stops every Ray on this machine: do not run it beside
another Ray job.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_nodes(ray: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``HOST:PORT`` of a head node and a worker node, one CPU each (needs Ray)."""
    cli = str(Path(sys.executable).with_name("ray"))  # the venv's ray command
    # nodes and the driver authenticate with the token in ~/.ray/auth_token
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    address = f"127.0.0.1:{_free_port()}"
    common = [
        "--num-cpus=1",
        "--object-store-memory=100000000",
        "--disable-usage-stats",
    ]
    run = dict(check=True, capture_output=True, timeout=120, env=os.environ.copy())
    try:
        subprocess.run(
            [cli, "get-auth-token", "--generate"], capture_output=True, timeout=60
        )
        subprocess.run(
            [
                cli,
                "start",
                "--head",
                f"--port={address.split(':')[1]}",
                "--include-dashboard=false",
                *common,
            ],
            **run,
        )
        subprocess.run([cli, "start", f"--address={address}", *common], **run)
        yield address
    except subprocess.CalledProcessError as err:
        pytest.fail(f"ray start failed: {err.stderr.decode(errors='replace')[-2000:]}")
    finally:
        subprocess.run([cli, "stop", "--force"], capture_output=True, timeout=120)


SPEC = """
task = "lm"
trials = 1
threads_per_trial = 1
[train]
hidden = 48
layers = 1
seq_len = 32
batch_size = 8
embedding_dim = 16
val_chars = 3000
max_steps = 200
eval_every = 50
[search]
cell = { grid = ["lstm", "gru"] }
[scheduler]
name = "fifo"
"""


def test_trials_run_on_both_nodes(two_nodes: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC, encoding="utf-8")
    # the driver in its own process, as a user runs it (Ray reads its auth mode at import)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastrnn",
            "sweep",
            str(spec),
            "--address",
            two_nodes,
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    trials = summary["trials"]
    assert [t["status"] for t in trials] == ["DONE", "DONE"]
    assert len({t["node"] for t in trials}) == 2  # one trial per one-CPU node
    assert (tmp_path / "out" / "best.st").is_file()
