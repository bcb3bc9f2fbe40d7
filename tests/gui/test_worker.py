"""The explorer's training worker process on its own (no Qt, no window)."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from _gui_cases import tiny

from fastrnn.data import load_text
from gui.protocol import GATE_LABELS, RunConfig, Snapshot
from gui.worker import WorkerHandle, check_config, start_worker, worker_env

TIMEOUT = 30.0  # s; the machine may be busy, a spawn imports numpy and fastrnn


def collect(handle: WorkerHandle, seconds: float) -> list[Snapshot]:
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        out.extend(handle.poll())
        time.sleep(0.01)
    return out


def test_lifecycle_snapshots_pause_step_set_stop(corpus, tmp_path):
    handle = start_worker(tiny(corpus, cell="gru"), run_id=5)
    try:
        first = handle.wait_for(lambda s: s.step >= 1, TIMEOUT)
        assert first.run_id == 5 and first.status == "running"
        # RunConfig.worker_nice (default 5): the window gets the CPU first
        mine = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, handle.process.pid) == min(19, mine + 5)
        running = [first, *collect(handle, 1.0)]
        steps = [s.step for s in running if s.status == "running"]
        assert len(steps) >= 3 and steps == sorted(steps) and steps[-1] > steps[0]
        # throttled: at most SNAPSHOT_HZ (20) per second, with slack for timing
        assert len(running) <= 1 + 25

        handle.send("pause")
        paused = handle.wait_for(lambda s: s.status == "paused", TIMEOUT)
        assert collect(handle, 0.3) == []  # nothing happens while paused
        k = paused.step
        handle.send("step")
        stepped = handle.wait_for(lambda s: s.step != k or s.status != "paused", 10)
        assert (stepped.status, stepped.step) == ("paused", k + 1)
        assert [s.step for s in collect(handle, 0.3)] == []  # exactly one step

        handle.send("set", {"lr": 0.0125, "clip_mode": "value", "temperature": 0.5})
        changed = handle.wait_for(lambda s: s.lr == 0.0125, 10)
        assert (changed.clip_mode, changed.temperature) == ("value", 0.5)
        assert changed.step == k + 1 and "lr=0.0125" in changed.message
        handle.send("set", {"momentum": 0.5})  # rejected, the run goes on
        bad = handle.wait_for(lambda s: "failed" in s.message, 10)
        assert "momentum" in bad.message and bad.status == "paused"
        handle.send("save", str(tmp_path / "run.st"))
        saved = handle.wait_for(lambda s: s.checkpoint_path != "", 10)
        assert saved.checkpoint_path == str(tmp_path / "run.st")
    finally:
        clean = handle.stop(timeout=TIMEOUT)
    assert clean and handle.exitcode == 0 and not handle.is_alive()
    assert handle.poll()[-1].status == "stopped"
    assert multiprocessing.active_children() == []
    # a Trainer checkpoint that load_language_model reads, with the trained weights
    from fastrnn.models.language_model import load_language_model

    model = load_language_model(tmp_path / "run.st")
    assert (model.cell, model.hidden_size, model.num_layers) == ("gru", 16, 2)

    # what a snapshot holds (the paused one, traced after step k)
    snap = paused
    P, H = 24, 16  # probe_len inputs (the probe has one more character: a target)
    assert snap.probe_text and len(snap.probe_text) == P
    assert snap.probe_step == snap.step
    assert [p.name for p in snap.probe] == ["layer 0", "layer 1"]
    for layer in snap.probe:
        assert layer.h.shape == (P, H) and layer.h.dtype == np.float32
        assert layer.c is None  # GRU
        assert tuple(layer.gates) == GATE_LABELS["gru"]
        assert all(g.shape == (P, H) for g in layer.gates.values())
        assert layer.grad_h_norm.shape == (P,)
        assert np.all(np.isfinite(layer.grad_h_norm)) and layer.grad_h_norm.max() > 0
    n = len(snap.steps)
    assert n == snap.step and snap.steps.tolist() == list(range(1, n + 1))
    assert snap.losses.shape == snap.grad_norms.shape == snap.clipped.shape == (n,)
    assert snap.val_steps[0] == 0 and len(snap.val_losses) == len(snap.val_steps)
    assert np.log(20) < snap.val_losses[0] < np.log(200)  # untrained: ~ln(vocab)
    # prompt "\n" + 29 characters (fewer if a special token was drawn: not shown)
    S = len(snap.sample_text)
    assert 2 <= S <= 30 and snap.sample_text[0] == "\n" and len(snap.sample_h) == 2
    assert snap.sample_h[0].shape == (S, H) and snap.sample_step == 0
    assert "rnn.weight_hh_l1" in snap.histograms and "head.bias" in snap.histograms
    wc, we, gc, ge = snap.histograms["rnn.weight_hh_l1"]
    assert wc.sum() == 3 * H * H and gc.sum() == 3 * H * H and we.shape == (41,)
    # contiguous windows: 18,000 training characters -> 4 streams of S = 4499 steps,
    # cut into 281 windows of 16 and one of 3 per epoch
    windows = [16] * 281 + [3]
    assert snap.tokens == 4 * sum(windows[i % 282] for i in range(n))
    assert snap.tokens_per_s > 0
    assert 0 <= snap.overhead < 1 and set(snap.job_costs) == {
        "probe",
        "sample",
        "val",
        "hist",
    }


def test_forced_exception_arrives_as_error_and_process_exits(corpus):
    handle = start_worker(tiny(corpus, fail_at_step=3), run_id=2)
    try:
        with pytest.raises(RuntimeError, match="fail_at_step: forced failure"):
            handle.wait_for(lambda s: False, TIMEOUT)
        handle.process.join(TIMEOUT)  # it exits by itself
        assert not handle.process.is_alive()
    finally:
        clean = handle.stop(timeout=5)
    assert clean and handle.exitcode == 1


def test_bad_corpus_is_an_error_snapshot(tmp_path):
    handle = start_worker(RunConfig(corpus=str(tmp_path / "missing.txt"), threads=1))
    try:
        snaps = []
        deadline = time.monotonic() + TIMEOUT
        while handle.is_alive() and time.monotonic() < deadline:
            snaps.extend(handle.poll())
            time.sleep(0.02)
        snaps.extend(handle.poll())
    finally:
        handle.stop(timeout=5)
    assert [s.status for s in snaps] == ["error"]
    assert "missing.txt: no such file or directory" in snaps[0].message
    assert handle.exitcode == 1


def test_same_seed_same_losses_whatever_the_snapshots(corpus):
    """Probe traces, samples and validation must not change the training run."""
    runs = []
    for budget in (1.0, 1e-6):  # snapshot work after every step / almost never
        cfg = tiny(corpus, windows="random", max_steps=6, snapshot_budget=budget)
        handle = start_worker(cfg)
        try:
            runs.append(handle.wait_for(lambda s: s.status == "finished", TIMEOUT))
        finally:
            handle.stop(timeout=TIMEOUT)
    a, b = runs
    assert a.steps.tolist() == b.steps.tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_array_equal(a.losses, b.losses)
    np.testing.assert_array_equal(a.grad_norms, b.grad_norms)


def test_inspect_mode_traces_a_saved_model_without_training(corpus, tmp_path):
    import fastrnn as fr
    from fastrnn.data import Vocab
    from fastrnn.models.language_model import LanguageModel

    fr.manual_seed(0)
    model = LanguageModel(
        vocab=Vocab.build(load_text(corpus)),
        hidden_size=12,
        num_layers=1,
        embedding_dim=6,
        cell="lstm_peephole",
    )
    path = tmp_path / "lm.st"
    model.save(path)
    cfg = RunConfig(mode="inspect", checkpoint=str(path), threads=1, corpus=corpus)
    handle = start_worker(cfg)
    try:
        first = handle.wait_for(lambda s: s.status == "inspecting", TIMEOUT)
        handle.send("probe", "To be, or not to be")
        probed = handle.wait_for(lambda s: s.probe_text == "To be, or not to b", 10)
        handle.send("resume")  # meaningless here: answered with a message
        note = handle.wait_for(lambda s: "nothing to train" in s.message, 10)
    finally:
        assert handle.stop(timeout=TIMEOUT)
    # the checkpoint's architecture wins over the config's defaults
    assert (first.cell, first.hidden_size, first.num_layers) == ("lstm_peephole", 12, 1)
    assert first.step == 0 and len(first.losses) == 0
    assert probed.probe[0].h.shape == (18, 12) and probed.probe[0].c.shape == (18, 12)
    assert probed.message == "probe text set (18 characters)"
    assert note.status == "inspecting"
    # gradient histograms come from the probe loss
    assert probed.histograms["head.weight"][2].sum() == model.head.weight.data.size


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"cell": "transformer"}, "expected cell in"),
        ({"hidden_size": 0}, "expected hidden_size to be an int >= 1"),
        ({"clip_mode": "soft"}, "expected clip_mode in"),
        ({"lr": -1.0}, "expected lr in"),
        ({"probe_text": "x"}, "at least 2 characters"),
        ({"mode": "inspect"}, "expected a checkpoint path in inspect mode"),
        ({"dropout": 1.0}, r"expected dropout in \[0, 1\)"),
        ({"worker_nice": -1}, "expected worker_nice to be an int >= 0"),
    ],
)
def test_check_config_rejects(change, match):
    with pytest.raises(ValueError, match=match):
        check_config(RunConfig(**change))
    with pytest.raises(ValueError, match=match):
        WorkerHandle(RunConfig(**change))  # raised in the caller, nothing spawned


def test_worker_env_sets_threads_explicitly():
    env = worker_env(RunConfig(threads=3))
    assert env["FASTRNN_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "3"
    assert env["OPENBLAS_NUM_THREADS"] == "1"
    assert int(worker_env(RunConfig())["FASTRNN_NUM_THREADS"]) >= 1


def test_worker_module_does_not_import_qt():
    code = (
        "import sys, gui.worker; "
        "bad = [m for m in sys.modules if m.startswith(('PyQt', 'pyqtgraph'))]; "
        "assert not bad, bad"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=60)
