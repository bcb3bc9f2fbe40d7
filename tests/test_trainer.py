"""fastrnn.train.Trainer: learning, TBPTT carry, guards, control, checkpoints."""

from __future__ import annotations

import math
import os
import threading
import time

import numpy as np
import pytest

import fastrnn
from fastrnn import nn, optim
from fastrnn.train import StepRecord, Trainer
from fastrnn.train.trainer import DivergenceError, load_checkpoint

V = 4


class CharModel(nn.Module):
    """Embedding -> LSTM -> Linear; forward(x, state) -> (logits, state), time-major."""

    def __init__(self, hidden: int = 16, layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.emb = nn.Embedding(V, 8)
        self.lstm = nn.LSTM(8, hidden, num_layers=layers, dropout=dropout)
        self.head = nn.Linear(hidden, V)

    def forward(self, x, state=None):
        out, state = self.lstm(self.emb(x), state)
        return self.head(out), state


class NoCarry(CharModel):
    """Ignores the incoming state: every window starts from zeros."""

    def forward(self, x, state=None):
        return super().forward(x, None)


def shifted_stream(rng, T, B, n_batches):
    """target[t] = input[t-1] (target[0] = input[0]), time-major (T, B) ints."""
    out = []
    for _ in range(n_batches):
        x = rng.integers(0, V, size=(T, B))
        y = np.concatenate([x[:1], x[:-1]], axis=0)
        out.append((x, y))
    return out


def ce():
    return nn.CrossEntropyLoss(class_dim=-1)


def params(model):
    return {k: np.array(v) for k, v in model.state_dict().items()}


@pytest.fixture
def one_thread():
    before = fastrnn.get_num_threads()
    fastrnn.set_num_threads(1)
    yield
    fastrnn.set_num_threads(before)


def test_learns_shift_task(rng):
    fastrnn.manual_seed(0)
    model = CharModel()
    trainer = Trainer(
        model, ce(), optim.Adam(model.parameters(), lr=0.03), progress=False
    )
    data = shifted_stream(rng, 12, 16, 10)
    state = trainer.fit(data, epochs=8)
    assert state.stop_reason == "epochs" and state.step == 80 and state.epoch == 8
    assert state.losses[0] > 1.2  # about ln 4
    assert np.mean(state.losses[-10:]) < 0.1
    assert trainer.evaluate(shifted_stream(rng, 12, 16, 2)) < 0.1


def _train_tbptt(model_cls, rng):
    fastrnn.manual_seed(0)
    model = model_cls()
    trainer = Trainer(
        model,
        ce(),
        optim.Adam(model.parameters(), lr=0.03),
        tbptt=4,
        progress=False,
    )
    # windows of 4: the target at the start of window j is the input at the end
    # of window j-1, predictable only through the carried state
    state = trainer.fit(shifted_stream(rng, 32, 16, 30), epochs=1)
    assert state.step == 30 * 8
    return float(np.mean(state.losses[-40:]))


def test_tbptt_carry_solves_boundary_task(rng):
    carried = _train_tbptt(CharModel, rng)
    reset = _train_tbptt(NoCarry, np.random.default_rng(0))
    floor = math.log(V) / 4  # one unpredictable step in each window of 4
    assert carried < 0.15
    assert reset > 0.8 * floor


def test_tbptt_passes_detached_state_and_resets_per_batch(rng):
    seen = []

    class Spy(CharModel):
        def forward(self, x, state=None):
            seen.append(state)
            out, new = super().forward(x, state)
            seen.append(("returned", new))
            return out, new

    fastrnn.manual_seed(0)
    model = Spy()
    trainer = Trainer(
        model, ce(), optim.SGD(model.parameters(), lr=0.1), tbptt=5, progress=False
    )
    trainer.fit(shifted_stream(rng, 12, 3, 2))  # 3 windows (5, 5, 2) per batch
    inputs = seen[0::2]
    returned = [r[1] for r in seen[1::2]]
    assert len(inputs) == 6
    assert inputs[0] is None and inputs[3] is None  # reset at each batch
    for i in (1, 2, 4, 5):
        h, c = inputs[i]
        h_prev, c_prev = returned[i - 1]
        assert not h.requires_grad and not c.requires_grad and h.grad_fn is None
        assert np.array_equal(h.data, h_prev.data)
        assert np.array_equal(c.data, c_prev.data)


def test_divergence_guard_keeps_last_good_params(rng, tmp_path):
    fastrnn.manual_seed(0)
    model = CharModel()
    loss = ce()
    calls = []

    def loss_fn(out, y):
        calls.append(1)
        value = loss(out, y)
        return value * math.inf if len(calls) == 3 else value

    snapshots = {}

    def snap(record):
        snapshots[record.step] = params(model)

    trainer = Trainer(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=0.01),
        callbacks=[snap],
        progress=False,
        checkpoint_dir=tmp_path,
        checkpoint_every=1,
    )
    with pytest.raises(FloatingPointError, match=r"loss is inf at step 3"):
        trainer.fit(shifted_stream(rng, 6, 2, 5))
    assert trainer.state.step == 2
    after = params(model)
    for k, v in snapshots[2].items():
        assert np.array_equal(after[k], v)
    assert sorted(os.listdir(tmp_path)) == ["step_00000001.st", "step_00000002.st"]
    ckpt = load_checkpoint(tmp_path / "step_00000002.st")
    for k, v in snapshots[2].items():
        assert np.array_equal(ckpt["model"][k], v)


def test_divergence_guard_on_gradient_norm(rng):
    fastrnn.manual_seed(0)
    model = CharModel()
    before = params(model)
    model.head.weight.register_hook(lambda g: g * np.nan)
    trainer = Trainer(
        model, ce(), optim.SGD(model.parameters(), lr=0.1), progress=False
    )
    with pytest.raises(DivergenceError, match=r"gradient norm is nan at step 1"):
        trainer.fit(shifted_stream(rng, 6, 2, 3))
    after = params(model)
    assert all(np.array_equal(after[k], v) for k, v in before.items())


def test_stop_and_pause_from_another_thread(rng):
    fastrnn.manual_seed(0)
    model = CharModel(hidden=4)
    reached = threading.Event()
    target = {"step": 3}

    def cb(record):
        if record.step >= target["step"]:
            reached.set()

    trainer = Trainer(
        model,
        ce(),
        optim.SGD(model.parameters(), lr=0.01),
        callbacks=[cb],
        progress=False,
    )
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(
            state=trainer.fit(shifted_stream(rng, 4, 2, 5), epochs=10**6)
        )
    )
    worker.start()
    try:
        assert reached.wait(10)
        trainer.pause()
        assert trainer.paused
        time.sleep(0.1)  # let the step in flight finish
        paused_at = trainer.state.step
        time.sleep(0.3)
        assert trainer.state.step == paused_at
        reached.clear()
        target["step"] = paused_at + 3
        trainer.resume()
        assert reached.wait(10)
        trainer.request_stop()
        worker.join(10)
        assert not worker.is_alive()
    finally:
        trainer.request_stop()
        worker.join(10)
    assert result["state"].stop_reason == "stopped"
    assert result["state"].step >= paused_at + 3


def test_stop_while_paused(rng):
    model = CharModel(hidden=4)
    trainer = Trainer(
        model, ce(), optim.SGD(model.parameters(), lr=0.01), progress=False
    )
    trainer.pause()
    worker = threading.Thread(target=trainer.fit, args=(shifted_stream(rng, 4, 2, 3),))
    worker.start()
    time.sleep(0.1)
    assert trainer.state.step == 0 and worker.is_alive()
    trainer.request_stop()
    worker.join(10)
    assert not worker.is_alive()
    assert trainer.state.step == 0 and trainer.state.stop_reason == "stopped"


def _make(seed):
    fastrnn.manual_seed(seed)
    model = CharModel(hidden=8, layers=2, dropout=0.3)  # dropout draws from the RNG
    opt = optim.Adam(model.parameters(), lr=0.02)
    sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    return model, opt, sched


def test_checkpoint_resume_is_bitwise(rng, tmp_path, one_thread):
    data = shifted_stream(rng, 16, 4, 3)  # 4 windows per batch: step 5 is mid-batch
    kw = dict(tbptt=4, clip_norm=1.0, progress=False, config={"vocab": "abcd"})
    N, k = 14, 5

    model, opt, sched = _make(0)
    full = Trainer(model, ce(), opt, scheduler=sched, **kw)
    full.fit(data, max_steps=N, epochs=3)
    expected = params(model)

    model, opt, sched = _make(0)
    first = Trainer(model, ce(), opt, scheduler=sched, **kw)
    first.fit(data, max_steps=k, epochs=3)
    first.save_checkpoint(tmp_path / "ckpt.st")
    fastrnn.manual_seed(999)  # the RNG must come from the checkpoint

    model2, opt2, sched2 = _make(123)  # fresh objects, different init
    second = Trainer(model2, ce(), opt2, scheduler=sched2, **kw)
    assert second.resume_from(tmp_path / "ckpt.st") == {"vocab": "abcd"}
    assert second.state.step == k and second.state.window_index == 1
    state = second.fit(data, max_steps=N, epochs=3)
    assert state.step == N and state.stop_reason == "max_steps"
    got = params(model2)
    assert expected.keys() == got.keys()
    for key in expected:
        assert np.array_equal(expected[key], got[key]), key
    assert state.losses == full.state.losses
    assert opt2.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]


def test_callbacks_receive_records(rng):
    fastrnn.manual_seed(0)
    model = CharModel()
    opt = optim.SGD(model.parameters(), lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    steps, evals, epochs = [], [], []

    class Hooks:
        def on_eval(self, r):
            evals.append(r)

        def on_epoch_end(self, r):
            epochs.append(r)

    trainer = Trainer(
        model,
        ce(),
        opt,
        scheduler=sched,
        eval_every=2,
        val_batches=shifted_stream(rng, 6, 2, 2),
        callbacks=[steps.append, Hooks()],
        progress=False,
    )
    trainer.fit(shifted_stream(rng, 6, 2, 3), epochs=2)
    assert [r.step for r in steps] == [1, 2, 3, 4, 5, 6]
    assert [r.epoch for r in steps] == [0, 0, 0, 1, 1, 1]
    assert [r.lr for r in steps] == [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    for r in steps:
        assert isinstance(r, StepRecord)
        assert math.isfinite(r.loss) and r.grad_norm > 0 and not r.clipped
        assert r.step_time > 0 and r.tokens_per_s > 0
        assert (r.val_loss is not None) == (r.step % 2 == 0)
    with pytest.raises(AttributeError):
        steps[0].loss = 0.0  # frozen
    assert [r.step for r in evals] == [2, 3, 4, 6]  # every 2 steps + epoch ends
    assert all(r.val_loss is not None and r.val_loss > 0 for r in evals)
    assert [r.step for r in epochs] == [3, 6]
    assert [s for s, _ in trainer.state.val_losses] == [2, 3, 4, 6]


def test_clip_norm_records_pre_clip_norm_and_applies_clip(rng):
    fastrnn.manual_seed(0)
    model = CharModel()
    records = []
    max_norm = 1e-3
    trainer = Trainer(
        model,
        ce(),
        optim.SGD(model.parameters(), lr=1.0),
        clip_norm=max_norm,
        callbacks=[records.append],
        progress=False,
    )
    data = shifted_stream(rng, 6, 2, 1)
    before = params(model)
    trainer.fit(data)
    after = params(model)
    (r,) = records
    assert r.clipped and r.grad_norm > 100 * max_norm
    change = math.sqrt(sum(np.sum((after[k] - before[k]) ** 2.0) for k in before))
    assert change == pytest.approx(max_norm, rel=1e-3)

    records.clear()
    trainer.clip_norm = 1e6
    trainer.fit(data, epochs=2)
    assert records and not records[0].clipped


def test_clip_value_flag(rng):
    fastrnn.manual_seed(0)
    model = CharModel()
    records = []
    trainer = Trainer(
        model,
        ce(),
        optim.SGD(model.parameters(), lr=0.1),
        clip_value=1e-4,
        callbacks=[records.append],
        progress=False,
    )
    trainer.fit(shifted_stream(rng, 6, 2, 1))
    assert records[0].clipped
    assert all(np.abs(p.grad).max() <= 1e-4 for p in model.parameters())


def test_early_stopping(rng):
    model = CharModel(hidden=4)
    trainer = Trainer(
        model,
        ce(),
        optim.SGD(model.parameters(), lr=0.0),  # validation loss never improves
        eval_every=1,
        val_batches=shifted_stream(rng, 4, 2, 1),
        early_stopping=2,
        progress=False,
    )
    state = trainer.fit(shifted_stream(rng, 4, 2, 10))
    assert state.stop_reason == "early_stopping" and state.step == 3


def test_progress_bar_runs(rng, capsys):
    model = CharModel(hidden=4)
    trainer = Trainer(model, ce(), optim.SGD(model.parameters(), lr=0.1))
    trainer.fit(shifted_stream(rng, 4, 2, 3))
    err = capsys.readouterr().err
    assert "3/" in err or "3it" in err or "3step" in err
    assert "loss=" in err and "tok_s=" in err


RESUME_SCRIPT = """
import sys
import numpy as np
import fastrnn
sys.path.insert(0, {tests!r})
import test_trainer as t

fastrnn.set_num_threads(1)
data = t.shifted_stream(np.random.default_rng(0), 16, 4, 3)
model, opt, sched = t._make(7)
trainer = t.Trainer(model, t.ce(), opt, scheduler=sched, tbptt=4, progress=False)
trainer.resume_from({ckpt!r})
trainer.fit(data, max_steps=14, epochs=3)
fastrnn.save(model, {out!r})
"""


def test_checkpoint_resume_in_fresh_process_is_bitwise(tmp_path, one_thread):
    import subprocess
    import sys

    data = shifted_stream(np.random.default_rng(0), 16, 4, 3)
    model, opt, sched = _make(0)
    full = Trainer(model, ce(), opt, scheduler=sched, tbptt=4, progress=False)
    full.fit(data, max_steps=14, epochs=3)
    expected = params(model)

    model, opt, sched = _make(0)
    first = Trainer(model, ce(), opt, scheduler=sched, tbptt=4, progress=False)
    first.fit(data, max_steps=6, epochs=3)
    first.save_checkpoint(tmp_path / "ckpt.st")
    script = RESUME_SCRIPT.format(
        tests=os.path.dirname(__file__),
        ckpt=str(tmp_path / "ckpt.st"),
        out=str(tmp_path / "out.st"),
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    got = fastrnn.load(tmp_path / "out.st")
    assert expected.keys() == got.keys()
    for key in expected:
        assert np.array_equal(expected[key], got[key]), key


def test_stop_requested_before_fit_is_honoured_then_cleared(rng):
    model = CharModel(hidden=4)
    trainer = Trainer(
        model, ce(), optim.SGD(model.parameters(), lr=0.1), progress=False
    )
    data = shifted_stream(rng, 4, 2, 3)
    trainer.request_stop()
    assert trainer.fit(data).stop_reason == "stopped" and trainer.state.step == 0
    assert trainer.fit(data).stop_reason == "epochs" and trainer.state.step == 3
