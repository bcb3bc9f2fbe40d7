"""Character language modelling: the recipe behind ``fastrnn train-lm``.

Data: a corpus (the bundled tiny Shakespeare by default, a text file or a directory of
source files), a character vocabulary, the last ``val_fraction`` of the text as the
validation split. Training: random windows of ``seq_len + 1`` characters (B of them per
step), or contiguous streams with the hidden state carried (``windows="stream"``),
Adam, gradient-norm clipping, an optional time-based cosine learning-rate decay.
Validation: mean cross-entropy (nats/char) over the validation text, read in order with
the state carried; the best model so far is kept in ``out_dir/best.st``.

>>> result = train_lm(max_steps=2, hidden=16, layers=1, seq_len=16, batch_size=2,
...                   progress=False, log=None, val_chars=2000)
>>> sorted(result)[:4]
['best_val_loss', 'cell', 'checkpoint', 'config']
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

import fastrnn as fr
from fastrnn import nn, optim
from fastrnn._validation import check_int
from fastrnn.data import Vocab, load_text
from fastrnn.models.language_model import LanguageModel
from fastrnn.train import StepRecord, Trainer

__all__ = [
    "DEFAULTS",
    "LMData",
    "check_options",
    "prepare_data",
    "random_windows",
    "stream_epoch",
    "train_lm",
]

#: Defaults of :func:`train_lm` and ``fastrnn train-lm``: the best recipe measured.
#: Cell, size and learning-rate range from ``fastrnn sweep examples/sweeps/char_lm.toml``
#: (8 configurations, ASHA); then 600-s ``fastrnn train-lm`` runs on 2 cores, scored on the
#: whole validation split streamed at batch 1.  AMD EPYC (Zen 1): GRU 256, no dropout:
#: random windows 1.482 nats/char, stream windows (state carried) T=128 1.470, T=256
#: 1.464, T=512 1.502, T=256 with lr 5e-3 1.457 (9e-3: far worse); the LSTM recipe of
#: ``benchmarks/bench_char_lm.py`` 1.563.  Intel Xeon (AVX-512, 3x the tokens/s): that
#: GRU 256 overfits (1.504 after 24 epochs, train 1.01); GRU 384 with dropout 0.2 and lr
#: 4e-3 reaches 1.447 (1,370 steps; 384 with dropout 0.15 and lr 5e-3: 1.483), the
#: current default.  A slower CPU sees fewer steps in 600 s: there the 256-unit GRU
#: without dropout (``--hidden 256 --dropout 0 --lr 5e-3``) may be the better choice.
DEFAULTS: dict[str, Any] = {
    "cell": "gru",
    "hidden": 384,
    "layers": 2,
    "embedding_dim": 64,
    "seq_len": 256,
    "batch_size": 32,
    "lr": 4e-3,
    "clip": 1.0,
    "dropout": 0.2,
    "schedule": "cosine",
    "windows": "stream",
    "seed": 0,
}


class LMData:
    """A character corpus as ids: ``vocab``, ``train`` (N,) and ``val`` (M,) int64."""

    def __init__(self, vocab: Vocab, train: NDArray[np.int64], val: NDArray[np.int64]):
        self.vocab, self.train, self.val = vocab, train, val


def prepare_data(
    source: str | os.PathLike[str] | None = None, val_fraction: float = 0.1
) -> LMData:
    """Read ``source`` (see :func:`fastrnn.data.load_text`) and split off the tail."""
    text = load_text(source)
    if len(text) < 100:
        raise ValueError(
            f"{source}: expected at least 100 characters of text, got {len(text)}"
        )
    vocab = Vocab.build([text])
    ids = vocab.encode(list(text))
    n_val = max(1, round(len(ids) * val_fraction))
    return LMData(vocab, ids[:-n_val].copy(), ids[-n_val:].copy())


def random_windows(
    ids: NDArray[np.int64], seq_len: int, batch_size: int, seed: int
) -> Iterator[tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """Endless (inputs, targets) pairs of shape (seq_len, batch_size) at random offsets."""
    if len(ids) <= seq_len + 1:
        raise ValueError(
            f"expected more than seq_len + 1 = {seq_len + 1} training characters, "
            f"got {len(ids)}"
        )
    rng = np.random.default_rng(seed)
    offsets = np.arange(seq_len + 1)
    while True:
        starts = rng.integers(0, len(ids) - seq_len - 1, size=batch_size)
        chunk = ids[starts[None, :] + offsets[:, None]]  # (seq_len + 1, B)
        yield chunk[:-1], chunk[1:]


def _stream(ids: NDArray[np.int64], batch_size: int) -> tuple[NDArray, NDArray]:
    """The whole id stream as ``batch_size`` contiguous columns, (L, B) inputs/targets."""
    per = (len(ids) - 1) // batch_size
    x = ids[: per * batch_size].reshape(batch_size, per).T
    y = ids[1 : per * batch_size + 1].reshape(batch_size, per).T
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def stream_epoch(
    ids: NDArray[np.int64], batch_size: int, seq_len: int, seed: int, epoch: int
) -> list[tuple[NDArray, NDArray]]:
    """One epoch of ``windows="stream"``: the ids as ``batch_size`` contiguous streams.

    Returns ``[(inputs, targets)]``, each (L, B); the Trainer cuts them into windows of
    ``seq_len`` and carries the state from one window to the next. Epoch 0 starts at
    the first id; every later epoch at a seeded offset in [0, seq_len), so that the
    windows (and the stream boundaries) differ from epoch to epoch while a resumed run
    sees the same data.
    """
    shift = 0
    if epoch > 0:
        shift = int(np.random.default_rng((seed, epoch)).integers(seq_len))
        if len(ids) - shift <= batch_size:  # a tiny corpus: keep every id
            shift = 0
    return [_stream(ids[shift:], batch_size)]


class _TimeBudget:
    """Trainer callback: stop after ``seconds``; optional cosine lr decay to 5% of ``lr``.

    The decay follows whichever end is nearer: the clock (``seconds``) or the step
    count (``max_steps``, counted from the run's first step, so a resumed run goes on
    with the same learning rates).
    """

    def __init__(
        self,
        trainer: Trainer,
        seconds: float | None,
        lr: float,
        cosine: bool,
        max_steps: int | None = None,
    ) -> None:
        self.trainer, self.seconds, self.lr, self.cosine = trainer, seconds, lr, cosine
        self.max_steps = max_steps
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def on_step_end(self, record: StepRecord) -> None:
        if self.set_lr(record.step) >= 1.0:
            self.trainer.request_stop()

    def set_lr(self, steps_done: int) -> float:
        """Set the learning rate of the next step; returns the time fraction used."""
        by_time = 0.0 if self.seconds is None else self.elapsed() / self.seconds
        by_steps = 0.0 if self.max_steps is None else steps_done / self.max_steps
        if self.cosine:
            frac = min(1.0, max(by_time, by_steps))
            lr = self.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
            for group in self.trainer.optimizer.param_groups:
                group["lr"] = lr
        return by_time


_POSITIVE_INTS = (
    "hidden",
    "layers",
    "embedding_dim",
    "seq_len",
    "batch_size",
    "max_steps",
    "eval_every",
    "val_chars",
)
_POSITIVE_FLOATS = ("lr", "clip", "time_budget")


def check_options(**options: Any) -> None:
    """Raise ValueError/TypeError for an out-of-range :func:`train_lm` option.

    Sizes and step counts must be integers >= 1, ``lr``, ``clip`` and ``time_budget``
    finite numbers > 0 (``None`` allowed where :func:`train_lm` allows it), ``dropout``
    in [0, 1), ``seed`` >= 0. Used by :func:`train_lm` and by sweep specs, which check
    every fixed and searched value before Ray starts.
    """
    for name, value in options.items():
        if value is None and name not in ("hidden", "layers", "seq_len", "lr"):
            continue
        if name in _POSITIVE_INTS:
            check_int(name, value, 1)
        elif name == "seed":
            check_int(name, value, 0)
        elif name in _POSITIVE_FLOATS or name == "dropout":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"expected {name} to be a number, got {value!r}")
            low_ok = value >= 0 if name == "dropout" else value > 0
            high_ok = value < 1 if name == "dropout" else math.isfinite(value)
            if not (low_ok and high_ok):
                wanted = "in [0, 1)" if name == "dropout" else "a finite number > 0"
                raise ValueError(f"expected {name} {wanted}, got {value!r}")


def _resume(trainer: Trainer, path: str | os.PathLike[str], config: dict) -> None:
    """Load ``path`` into ``trainer`` after checking it was saved by the same recipe."""
    from fastrnn.train import load_checkpoint

    saved = load_checkpoint(path).get("config") or {}
    if saved.get("task") != "language_model":
        raise ValueError(
            f"{path}: not a train_lm checkpoint (task {saved.get('task')!r})"
        )
    differ = [
        f"{part}.{key}"
        for part in ("model", "train")
        for key in sorted(set(config[part]) | set(saved.get(part, {})))
        if _jsonish(config[part].get(key)) != _jsonish(saved.get(part, {}).get(key))
    ]
    if differ:
        raise ValueError(
            f"{path}: saved with different options, cannot resume: {', '.join(differ)}"
        )
    trainer.resume_from(path)


def _jsonish(value: Any) -> Any:
    """Compare configs as they round-trip through a checkpoint (lists == tuples)."""
    if isinstance(value, (list, tuple)):
        return [_jsonish(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonish(v) for k, v in value.items()}
    return value


def train_lm(
    source: str | os.PathLike[str] | None = None,
    *,
    cell: str = DEFAULTS["cell"],
    hidden: int = DEFAULTS["hidden"],
    layers: int = DEFAULTS["layers"],
    embedding_dim: int = DEFAULTS["embedding_dim"],
    seq_len: int = DEFAULTS["seq_len"],
    batch_size: int = DEFAULTS["batch_size"],
    lr: float = DEFAULTS["lr"],
    clip: float | None = DEFAULTS["clip"],
    dropout: float = DEFAULTS["dropout"],
    schedule: str = DEFAULTS["schedule"],
    windows: str = DEFAULTS["windows"],
    time_budget: float | None = None,
    max_steps: int | None = None,
    eval_every: int | None = None,
    val_chars: int | None = None,
    seed: int = DEFAULTS["seed"],
    threads: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    sample_every: int | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    resume: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Train a character :class:`LanguageModel` and return its results (JSON-able).

    Parameters
    ----------
    source : path, optional
        Text file or directory; ``None`` is the bundled tiny Shakespeare.
    cell, hidden, layers, embedding_dim, dropout
        The model (see :class:`LanguageModel`).
    seq_len, batch_size
        Window length T (the truncation length of BPTT) and windows per step B.
    lr, clip, schedule
        Adam learning rate; global gradient-norm clip (None: off); ``"constant"`` or
        ``"cosine"`` (decays to 5% of ``lr`` over ``time_budget`` or ``max_steps``,
        whichever ends first).
    windows : "random" or "stream"
        Random offsets each step, or ``batch_size`` contiguous streams with the state
        carried from window to window (shifted by a seeded offset < ``seq_len`` each
        epoch after the first).
    time_budget, max_steps
        Stop after this many seconds of training / optimizer steps (at least one).
    eval_every : int, optional
        Validate every this many steps (default: about every 30 s of training).
    val_chars : int, optional
        Score only the first ``val_chars`` validation characters in periodic
        evaluations (the final score always uses the whole split).
    seed, threads
        Seed for weights and windows; fastrnn threads (default: all cores).
    out_dir : path, optional
        Writes ``best.st`` (best validation loss so far; loadable by ``fastrnn
        sample`` / ``fastrnn eval``) and ``last.st`` (a Trainer checkpoint).
    sample_every : int, optional
        Log a 200-character sample every this many steps.
    progress, log
        tqdm bar; a function for progress lines (None: quiet).
    on_eval : callable, optional
        Called after every periodic evaluation with ``{"step", "seconds" (of this
        call), "train_loss", "val_loss", "best_val_loss", "tokens_per_s"}``; when
        ``out_dir`` is given, ``last.st`` and ``best.st`` are already written then, so
        the callback may copy ``out_dir`` as a consistent checkpoint (what a sweep
        trial does).
    resume : path, optional
        A ``last.st`` of an earlier call with the same options: training continues
        from its step with the same data, so ``max_steps`` is the total and the
        result equals an uninterrupted run's (fixed thread count). ``time_budget``
        counts this call's time only. A different model or recipe -> ValueError.

    Returns
    -------
    dict
        ``steps``, ``seconds``, ``tokens_per_s``, ``train_loss``, ``val_loss`` (whole
        validation split, best model), ``best_val_loss``, ``val_history`` (list of
        [step, loss]), ``checkpoint`` (path or None), ``sample``, ``cell``, ``config``.
    """
    check_options(
        hidden=hidden,
        layers=layers,
        embedding_dim=embedding_dim,
        seq_len=seq_len,
        batch_size=batch_size,
        lr=lr,
        clip=clip,
        dropout=dropout,
        time_budget=time_budget,
        max_steps=max_steps,
        eval_every=eval_every,
        val_chars=val_chars,
        seed=seed,
    )
    if time_budget is None and max_steps is None:
        raise ValueError("expected time_budget or max_steps (or both), got neither")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"expected schedule 'constant' or 'cosine', got {schedule!r}")
    if windows not in ("random", "stream"):
        raise ValueError(f"expected windows 'random' or 'stream', got {windows!r}")
    if threads is not None:
        fr.set_num_threads(threads)
    say = log or (lambda _msg: None)
    data = prepare_data(source)
    if windows == "stream" and len(data.train) <= batch_size:
        raise ValueError(
            f"expected more than batch_size = {batch_size} training characters for "
            f"windows='stream' (one stream per batch row), got {len(data.train)}"
        )
    fr.manual_seed(seed)
    model = LanguageModel(
        vocab=data.vocab,
        embedding_dim=embedding_dim,
        hidden_size=hidden,
        num_layers=layers,
        cell=cell,
        dropout=dropout,
    )
    opt = optim.Adam(model.parameters(), lr=lr)
    val_ids = data.val if val_chars is None else data.val[: max(2 * 8 + 2, val_chars)]
    val_stream = _stream(val_ids, min(8, max(1, (len(val_ids) - 1) // 2)))
    if windows == "random":
        batches: Any = lambda epoch: random_windows(  # noqa: E731
            data.train, seq_len, batch_size, seed + epoch
        )
    else:
        batches = partial(stream_epoch, data.train, batch_size, seq_len, seed)

    config = {
        "task": "language_model",
        "model": model.config(),
        "train": {
            "source": None if source is None else os.fspath(source),
            "seq_len": seq_len,
            "batch_size": batch_size,
            "lr": lr,
            "clip": clip,
            "schedule": schedule,
            "windows": windows,
            "seed": seed,
        },
    }
    out = None if out_dir is None else Path(out_dir)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    records: list[StepRecord] = []
    best = {"loss": math.inf, "step": 0}
    start = time.perf_counter()

    def evaluated(record: StepRecord) -> None:
        assert record.val_loss is not None
        say(f"step {record.step}: train {record.loss:.4f}  val {record.val_loss:.4f}")
        if record.val_loss < best["loss"]:
            best.update(loss=record.val_loss, step=record.step)
            if out is not None:
                model.save(out / "best.st")
        if on_eval is not None:
            if out is not None:
                trainer.save_checkpoint(out / "last.st")
            tokens = sum(r.tokens_per_s * r.step_time for r in records) + (
                record.tokens_per_s * record.step_time
            )
            step_time = sum(r.step_time for r in records) + record.step_time
            on_eval(
                {
                    "step": record.step,
                    "seconds": round(time.perf_counter() - start, 3),
                    "train_loss": record.loss,
                    "val_loss": record.val_loss,
                    "best_val_loss": best["loss"],
                    "tokens_per_s": round(tokens / step_time, 1),
                }
            )

    def on_step(record: StepRecord) -> None:
        records.append(record)
        if sample_every and record.step % sample_every == 0:
            say(repr(model.generate("\n", 200, temperature=0.8, seed=record.step)))

    trainer = Trainer(
        model,
        nn.CrossEntropyLoss(class_dim=-1),
        opt,
        tbptt=seq_len,
        clip_norm=clip,
        val_batches=[val_stream],
        eval_every=eval_every or 10**12,
        callbacks=[SimpleNamespace(on_step_end=on_step, on_eval=evaluated)],
        progress=progress,
        config=config,
    )
    if resume is not None:
        _resume(trainer, resume, config)
        for step, loss in trainer.state.val_losses:
            if loss < best["loss"]:
                best.update(loss=loss, step=step)
    budget = _TimeBudget(trainer, time_budget, lr, schedule == "cosine", max_steps)
    if resume is not None:
        # a checkpoint written at an evaluation precedes that step's schedule update
        budget.set_lr(trainer.state.step)
    trainer.callbacks.insert(0, budget)
    if eval_every is None and time_budget is not None:
        # about 20 evaluations over the budget, decided after the first steps' timing
        class _AutoEval:
            def on_step_end(self, record: StepRecord) -> None:
                if record.step == 5:
                    per_step = budget.elapsed() / 5
                    trainer.eval_every = max(10, int(time_budget / 20 / per_step))

        trainer.callbacks.append(_AutoEval())
    trainer.fit(batches, max_steps=max_steps, epochs=10**9)
    seconds = budget.elapsed()
    # the final score: the best model (or the last one if never evaluated), whole split
    final_eval = trainer.evaluate()
    if final_eval < best["loss"]:
        best.update(loss=final_eval, step=trainer.state.step)
        if out is not None:
            model.save(out / "best.st")
    if out is not None:
        trainer.save_checkpoint(out / "last.st")
        from fastrnn.models.language_model import load_language_model

        model = load_language_model(out / "best.st")
    val_loss = model.evaluate_stream(data.val, seq_len=1024, batch_size=1)
    tokens = sum(r.tokens_per_s * r.step_time for r in records)
    step_time = sum(r.step_time for r in records)
    sample = model.generate("\n", 300, temperature=0.8, seed=seed)
    say(f"val loss {val_loss:.4f} nats/char after {trainer.state.step} steps")
    return {
        "steps": trainer.state.step,
        "seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / step_time, 1) if step_time else 0.0,
        "train_loss": records[-1].loss if records else math.nan,
        "val_loss": val_loss,
        "best_val_loss": best["loss"],
        "best_step": best["step"],
        "val_history": [[s, v] for s, v in trainer.state.val_losses],
        "checkpoint": None if out is None else os.fspath(out / "best.st"),
        "sample": sample,
        "cell": model.cell,
        "config": config,
    }
