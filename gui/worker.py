"""The explorer's training worker: a spawned process that trains and sends snapshots.

No Qt here. The window (or any other reader, e.g. the benchmark) starts a run with
:func:`start_worker`, sends :class:`gui.protocol.Command` messages through
:meth:`WorkerHandle.send` and reads :class:`gui.protocol.Snapshot` messages with
:meth:`WorkerHandle.poll`; :meth:`WorkerHandle.stop` ends the run and always joins the
process (terminating it only as a last resort).

Inside the process (:func:`run_worker`) a char-level
:class:`fastrnn.models.LanguageModel` is trained by a :class:`fastrnn.train.Trainer`
with truncated BPTT on the corpus (bundled tiny Shakespeare, a file or a directory;
the last 10% is the validation split). The trainer's step callback handles the
commands that arrived (pause, single step, live learning rate / clipping /
temperature, new probe text, checkpoint, sample, stop) and, at most
``SNAPSHOT_HZ`` times a second, sends a snapshot. The expensive parts of a snapshot
are refreshed only as often as ``RunConfig.snapshot_budget`` allows (each job's
measured cost divided by its share of the budget is its minimum period):

* probe trace (share 2/5, one thread): forward + backward of the mean
  next-character loss on the probe text (batch 1) under :func:`fastrnn.trace`:
  h, c, gates, ||dL/dh_t||;
* sample (share 3/10, one thread): ``sample_len`` characters at the current
  temperature, and the hidden states of the model reading them;
* validation (share 1/5): mean loss on the first ``val_tokens`` validation
  characters;
* histograms (share 1/10): every parameter and its gradient (40 bins).

Training is deterministic for a fixed seed whatever the snapshot timing: the probe,
sample and validation passes run in eval mode (no dropout, no global RNG use) and the
gradients they leave behind are cleared by the next step's ``zero_grad``.

Shapes: P probe length, H hidden units, S sample length, T = seq_len, B = batch_size.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import queue
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np

from gui.protocol import (
    CELL_CHOICES,
    SNAPSHOT_HZ,
    Command,
    LayerProbe,
    RunConfig,
    Snapshot,
)

__all__ = [
    "CLIP_MODES",
    "COMMANDS",
    "HIST_BINS",
    "OPTIMIZERS",
    "WorkerHandle",
    "check_config",
    "run_worker",
    "start_worker",
    "worker_env",
]

#: Optimizer names of ``RunConfig.optimizer`` (SGD uses momentum 0.9).
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad")
#: Clipping modes: global L2 norm, per-entry value, or none.
CLIP_MODES = ("norm", "value", "none")
#: Command kinds the worker understands.
COMMANDS = ("pause", "resume", "step", "stop", "set", "probe", "save", "sample")
#: Bins of the parameter / gradient histograms.
HIST_BINS = 40
#: Keys of a ``"set"`` command.
SET_KEYS = ("lr", "clip", "clip_mode", "temperature")

_QUEUE_SIZE = 4  # snapshots in flight; a slow reader makes the worker skip, not pile up
_FORCED_PUT_TIMEOUT = 5.0  # s; status changes and messages wait for room this long
_RATE_WINDOW = 3.0  # s of running time over which tokens/s is measured
# Shares of RunConfig.snapshot_budget and minimum periods (s) of the snapshot jobs.
_JOBS = {
    "probe": (0.4, 1.0 / SNAPSHOT_HZ),
    "sample": (0.3, 1.5),
    "val": (0.2, 2.0),
    "hist": (0.1, 1.0),
}


# ------------------------------------------------------------------ configuration
def _check_int(name: str, value: Any, minimum: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"expected {name} to be an int >= {minimum}, got {value!r}")


def _check_float(name: str, value: Any, low: float, high: float = math.inf) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not low <= value <= high
    ):
        raise ValueError(f"expected {name} in [{low}, {high}], got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"expected {name} in {choices}, got {value!r}")


def check_config(config: RunConfig) -> None:
    """Raise TypeError/ValueError ("expected ..., got ...") for an unusable config."""
    if not isinstance(config, RunConfig):
        raise TypeError(f"expected a RunConfig, got {type(config).__name__}")
    _check_choice("cell", config.cell, tuple(CELL_CHOICES))
    _check_choice("optimizer", config.optimizer, OPTIMIZERS)
    _check_choice("clip_mode", config.clip_mode, CLIP_MODES)
    _check_choice("recurrent_init", config.recurrent_init, ("default", "normal"))
    _check_choice("mode", config.mode, ("train", "inspect"))
    _check_choice("windows", config.windows, ("contiguous", "random"))
    for name in ("hidden_size", "num_layers", "embedding_dim", "seq_len", "batch_size"):
        _check_int(name, getattr(config, name), 1)
    for name in ("probe_len", "sample_len"):
        _check_int(name, getattr(config, name), 1)
    _check_int("seed", config.seed, 0)
    _check_int("val_tokens", config.val_tokens, 0)
    _check_int("threads", config.threads, 1, optional=True)
    _check_int("max_steps", config.max_steps, 1, optional=True)
    _check_int("fail_at_step", config.fail_at_step, 0, optional=True)
    _check_int("worker_nice", config.worker_nice, 0)
    if isinstance(config.dropout, bool) or not 0.0 <= config.dropout < 1.0:
        raise ValueError(f"expected dropout in [0, 1), got {config.dropout!r}")
    _check_float("lr", config.lr, 1e-12)
    _check_float("clip", config.clip, 1e-12)
    _check_float("temperature", config.temperature, 0.0)
    _check_float("init_sigma2", config.init_sigma2, 0.0)
    _check_float("snapshot_budget", config.snapshot_budget, 1e-6, 1.0)
    if config.probe_text is not None and (
        not isinstance(config.probe_text, str) or len(config.probe_text) < 2
    ):
        raise ValueError(
            f"expected probe_text of at least 2 characters or None, got "
            f"{config.probe_text!r}"
        )
    for name in ("corpus", "checkpoint"):
        value = getattr(config, name)
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(
                f"expected {name} to be a path or None, got {type(value).__name__}"
            )
    if config.mode == "inspect" and config.checkpoint is None:
        raise ValueError("expected a checkpoint path in inspect mode, got None")


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_env(config: RunConfig) -> dict[str, str]:
    """Environment of the worker process (set explicitly; the GUI limits its own).

    ``FASTRNN_NUM_THREADS`` and ``OMP_NUM_THREADS`` are ``config.threads`` (default: all
    cores this process may use): the kernels' OpenMP threads. NumPy's own BLAS pools
    (OpenBLAS, MKL) stay at 1 thread so that no second pool competes with them (the
    kernels call a single-threaded BLIS inside their OpenMP threads).
    """
    n = str(config.threads or _available_cpus())
    return {
        "FASTRNN_NUM_THREADS": n,
        "OMP_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Temporarily set environment variables (a spawned child copies them at start)."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------ parent side
class WorkerHandle:
    """The window's side of one run: the process, its command pipe and snapshot queue.

    Parameters
    ----------
    config : RunConfig
        Checked with :func:`check_config` here, so a bad form value raises in the
        caller instead of in the child.
    run_id : int
        Stamped on every snapshot of this run.

    Notes
    -----
    Commands go through a one-way ``Pipe`` (no feeder thread in the parent);
    snapshots through a bounded ``multiprocessing.Queue`` (the child's feeder thread
    pickles them, so training does not wait for the reader). Nothing here starts a
    thread in the parent.
    """

    def __init__(self, config: RunConfig, run_id: int = 1) -> None:
        check_config(config)
        self.config = replace(config)
        self.run_id = int(run_id)
        ctx = multiprocessing.get_context("spawn")
        self._cmd_recv, self._cmd_send = ctx.Pipe(duplex=False)
        self._snapshots = ctx.Queue(maxsize=_QUEUE_SIZE)
        self.process = ctx.Process(
            target=run_worker,
            args=(self.config, self.run_id, self._cmd_recv, self._snapshots),
            name=f"fastrnn-gui-worker-{self.run_id}",
            daemon=True,  # multiprocessing's atexit kills it if the parent dies first
        )
        self._pending: list[Snapshot] = []
        self._closed = False
        self._exitcode: int | None = None
        self.terminated = False  # True when stop() had to terminate the process

    def start(self) -> WorkerHandle:
        """Spawn the process (with :func:`worker_env`); returns self."""
        with _environ(worker_env(self.config)):
            self.process.start()
        self._cmd_recv.close()  # the child owns the read end now
        return self

    def is_alive(self) -> bool:
        return not self._closed and self.process.is_alive()

    @property
    def closed(self) -> bool:
        """True after :meth:`stop`: the process is joined and the channels closed."""
        return self._closed

    @property
    def exitcode(self) -> int | None:
        """The process's exit code (None while it runs or if it never started)."""
        return self._exitcode if self._closed else self.process.exitcode

    def send(self, kind: str, value: Any = None) -> bool:
        """Send a command; False when the worker is gone (or the handle closed)."""
        if kind not in COMMANDS:
            raise ValueError(f"expected a command in {COMMANDS}, got {kind!r}")
        if self._closed:
            return False
        try:
            self._cmd_send.send(Command(kind, value))
        except (BrokenPipeError, OSError):
            return False
        return True

    def poll(self) -> list[Snapshot]:
        """Every snapshot that has arrived, oldest first (never blocks for long)."""
        out, self._pending = self._pending, []
        if self._closed:
            return out
        while True:
            try:
                out.append(self._snapshots.get_nowait())
            except queue.Empty:
                return out
            except (EOFError, OSError):  # the child died mid-message
                return out

    def wait_for(
        self, predicate: Callable[[Snapshot], bool], timeout: float = 10.0
    ) -> Snapshot:
        """Block until a snapshot satisfies ``predicate`` (for scripts and tests).

        Raises TimeoutError, or RuntimeError when an error snapshot arrives or the
        process ends first.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alive = self.process.is_alive()
            snaps = self.poll()
            for i, snap in enumerate(snaps):
                if predicate(snap):
                    self._pending = snaps[i + 1 :] + self._pending
                    return snap
                if snap.status == "error":
                    self._pending = snaps[i + 1 :] + self._pending
                    raise RuntimeError(f"worker failed:\n{snap.message}")
            if not alive:
                raise RuntimeError(
                    f"worker exited (code {self.process.exitcode}) before the awaited "
                    "snapshot"
                )
            time.sleep(0.01)
        raise TimeoutError(f"no matching snapshot within {timeout} s")

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the worker to stop, join it and close the channels (idempotent).

        Snapshots that arrive meanwhile are kept for the next :meth:`poll`. After
        ``timeout`` seconds the process is terminated (then killed). Returns True
        when it ended by itself.
        """
        if self._closed:
            return not self.terminated
        if self.process.pid is None:  # never started
            self._close()
            return True
        if self.process.is_alive():
            self.send("stop")
        deadline = time.monotonic() + timeout
        # Drain while joining: a child whose queue pipe is full cannot exit.
        while self.process.is_alive() and time.monotonic() < deadline:
            self._pending.extend(self._drain())
            self.process.join(0.02)
        if self.process.is_alive():
            self.terminated = True
            self.process.terminate()
            self.process.join(2.0)
            if self.process.is_alive():  # pragma: no cover - SIGTERM ignored
                self.process.kill()
                self.process.join(2.0)
        self._pending.extend(self._drain())
        self._close()
        return not self.terminated

    def _drain(self) -> list[Snapshot]:
        out = []
        while True:
            try:
                out.append(self._snapshots.get_nowait())
            except (queue.Empty, EOFError, OSError):
                return out

    def _close(self) -> None:
        started = self.process.pid is not None
        self._exitcode = self.process.exitcode if started else None
        self._closed = True
        self._cmd_send.close()
        if not started:
            self._cmd_recv.close()
        self._snapshots.close()
        self._snapshots.join_thread()
        if started:
            self.process.close()


def start_worker(config: RunConfig, run_id: int = 1) -> WorkerHandle:
    """Check ``config``, spawn a worker process for it and return its handle."""
    return WorkerHandle(config, run_id).start()


# ------------------------------------------------------------------ child side
class _Stopped(Exception):
    """A stop command arrived while the run was being set up."""


class _Job:
    """When a snapshot job may run again: after max(min period, cost / share)."""

    def __init__(self, share: float, min_period: float) -> None:
        self.share = share
        self.min_period = min_period
        self.next_due = 0.0
        self.cost = 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_due

    def done(self, cost: float, now: float) -> None:
        self.cost = cost
        self.next_due = now + max(self.min_period, cost / self.share)


class _History:
    """Per-step arrays grown by doubling (copies are sent, never the buffers)."""

    def __init__(self) -> None:
        self.n = 0
        self.steps = np.zeros(256, np.int64)
        self.losses = np.zeros(256, np.float32)
        self.grad_norms = np.zeros(256, np.float32)
        self.clipped = np.zeros(256, bool)
        self.val_steps: list[int] = []
        self.val_losses: list[float] = []

    def add(self, step: int, loss: float, grad_norm: float, clipped: bool) -> None:
        if self.n == self.steps.size:
            for name in ("steps", "losses", "grad_norms", "clipped"):
                old = getattr(self, name)
                new = np.zeros(2 * old.size, old.dtype)
                new[: old.size] = old
                setattr(self, name, new)
        i = self.n
        self.steps[i], self.losses[i] = step, loss
        self.grad_norms[i], self.clipped[i] = grad_norm, clipped
        self.n += 1

    def arrays(self) -> dict[str, np.ndarray]:
        n = self.n
        return {
            "steps": self.steps[:n].copy(),
            "losses": self.losses[:n].copy(),
            "grad_norms": self.grad_norms[:n].copy(),
            "clipped": self.clipped[:n].copy(),
            "val_steps": np.asarray(self.val_steps, dtype=np.int64),
            "val_losses": np.asarray(self.val_losses, dtype=np.float32),
        }


def _histogram(values: np.ndarray | None, edges_like: np.ndarray | None = None):
    """(counts, edges) of the finite entries; empty input gives zero counts."""
    if values is None:
        edges = (
            np.linspace(0.0, 1.0, HIST_BINS + 1) if edges_like is None else edges_like
        )
        return np.zeros(HIST_BINS, np.int64), np.asarray(edges, np.float64)
    flat = np.asarray(values).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return _histogram(None, edges_like)
    counts, edges = np.histogram(flat, bins=HIST_BINS)
    return counts.astype(np.int64), edges.astype(np.float64)


class _Run:
    """One run inside the worker process (see the module docstring)."""

    def __init__(
        self,
        config: RunConfig,
        run_id: int,
        commands: multiprocessing.connection.Connection,
        snapshots: Any,
    ) -> None:
        self.cfg = replace(config)
        self.run_id = run_id
        self.commands = commands
        self.snapshots = snapshots
        self.paused = bool(config.start_paused)
        self.step_once = False
        self.stop_requested = False
        self.sample_requested = False
        self.trainer: Any = None
        self.model: Any = None
        self.history = _History()
        budget = float(config.snapshot_budget)
        self.jobs = {k: _Job(share * budget, p) for k, (share, p) in _JOBS.items()}
        self.probe: list[LayerProbe] = []
        self.probe_text = ""
        self.probe_ids: np.ndarray | None = None
        self.probe_step = -1
        self.sample_text = ""
        self.sample_h: list[np.ndarray] = []
        self.sample_step = -1
        self.n_samples = 0
        self.histograms: dict[str, tuple[np.ndarray, ...]] = {}
        self.fused: bool | None = None  # None: not tried yet
        self.tokens = 0
        self.run_started: float | None = None
        self.paused_time = 0.0
        self.snapshot_time = 0.0
        self.rate: deque[tuple[float, int]] = deque()
        self.last_send = -math.inf
        self.dropped = 0
        self.status = "starting"
        self.pending_messages: list[str] = []
        self.saved_path = ""

    # -------------------------------------------------------------- clocks
    def elapsed(self) -> float:
        """Running time since the first step began (pauses excluded)."""
        if self.run_started is None:
            return 0.0
        return time.perf_counter() - self.run_started - self.paused_time

    def tokens_per_s(self) -> float:
        if len(self.rate) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self.rate[0], self.rate[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    # -------------------------------------------------------------- commands
    def handle(self, cmd: Any) -> str:
        """Apply one command; returns an info message ('' if none)."""
        if not isinstance(cmd, Command):
            return f"ignored a message that is not a Command: {type(cmd).__name__}"
        kind, value = cmd.kind, cmd.value
        if kind == "stop":
            self.stop_requested = True
            self.paused = False
            if self.trainer is not None:
                self.trainer.request_stop()
            return ""
        if kind == "pause":
            self.paused = True
            return ""
        if kind == "resume":
            self.paused = self.step_once = False
            return ""
        if kind == "step":
            self.paused, self.step_once = False, True
            return ""
        if kind == "sample":
            self.sample_requested = True
            return ""
        try:
            if kind == "set":
                return self._set(value)
            if kind == "probe":
                self._set_probe(value)
                return f"probe text set ({len(self.probe_text)} characters)"
            if kind == "save":
                return self._save(value)
        except (TypeError, ValueError, OSError) as err:
            return f"command {kind!r} failed: {err}"
        return f"unknown command {kind!r}; expected one of {COMMANDS}"

    def _set(self, value: Any) -> str:
        if not isinstance(value, dict) or not value:
            raise TypeError(f"expected a dict with keys from {SET_KEYS}, got {value!r}")
        unknown = sorted(set(value) - set(SET_KEYS))
        if unknown:
            raise ValueError(f"expected keys from {SET_KEYS}, got {unknown}")
        new = replace(self.cfg, **value)
        check_config(new)
        self.cfg = new
        if self.trainer is not None:
            for group in self.trainer.optimizer.param_groups:
                group["lr"] = float(new.lr)
            self._apply_clip()
        if "temperature" in value:
            self.sample_requested = True
        return "set " + ", ".join(f"{k}={v}" for k, v in sorted(value.items()))

    def _apply_clip(self) -> None:
        t, cfg = self.trainer, self.cfg
        t.clip_norm = float(cfg.clip) if cfg.clip_mode == "norm" else None
        t.clip_value = float(cfg.clip) if cfg.clip_mode == "value" else None

    def _set_probe(self, text: Any) -> None:
        if not isinstance(text, str) or len(text) < 2:
            raise ValueError(
                f"expected a probe text of at least 2 characters, got {text!r}"
            )
        self.cfg = replace(self.cfg, probe_text=text)
        if self.model is not None:
            self._encode_probe(text)
            self.jobs["probe"].next_due = 0.0

    def _save(self, path: Any) -> str:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"expected a checkpoint path, got {type(path).__name__}")
        if self.model is None:
            raise ValueError("expected a model to save, got none yet (still loading)")
        path = os.fspath(path)
        if self.trainer is not None:
            self.trainer.save_checkpoint(path)
        else:
            self.model.save(path)
        self.saved_path = path
        return f"saved checkpoint {path}"

    def drain_commands(self) -> list[str]:
        """Handle every command already waiting; returns their info messages."""
        messages = []
        while self.commands.poll():
            try:
                cmd = self.commands.recv()
            except EOFError:  # the window is gone: stop
                self.handle(Command("stop"))
                break
            msg = self.handle(cmd)
            if msg:
                messages.append(msg)
        return messages

    def check_stop(self) -> None:
        """During setup: apply waiting commands; raise _Stopped on a stop."""
        self.pending_messages.extend(self.drain_commands())
        if self.stop_requested:
            raise _Stopped

    # -------------------------------------------------------------- setup
    def setup(self) -> None:
        import fastrnn as fr
        from fastrnn import nn
        from fastrnn.data import Vocab, load_text, train_val_split
        from fastrnn.models.language_model import LanguageModel, load_language_model
        from fastrnn.train import Trainer

        cfg = self.cfg
        fr.set_num_threads(cfg.threads or _available_cpus())
        self.check_stop()
        text = load_text(cfg.corpus)
        self.check_stop()
        if cfg.checkpoint is not None:
            model = load_language_model(cfg.checkpoint)
            if model.level != "char" or model.vocab is None:
                raise ValueError(
                    f"{cfg.checkpoint}: expected a char-level language model with a "
                    f"vocabulary, got level {model.level!r}"
                )
            vocab = model.vocab
            self.cfg = cfg = replace(
                cfg,
                cell=model.cell,
                hidden_size=model.hidden_size,
                num_layers=model.num_layers,
                embedding_dim=model.embedding_dim,
                dropout=model.dropout_p,
            )
        else:
            vocab = Vocab.build(text)
            fr.manual_seed(cfg.seed)
            model = LanguageModel(
                vocab=vocab,
                embedding_dim=cfg.embedding_dim,
                hidden_size=cfg.hidden_size,
                num_layers=cfg.num_layers,
                cell=cfg.cell,
                dropout=cfg.dropout,
            )
            if cfg.recurrent_init == "normal":
                self._normal_init(model)
        self.model = model
        self.vocab = vocab
        n_val = max(1, round(len(text) * 0.1))
        val_text = text[len(text) - n_val :]
        self.default_probe = val_text[: cfg.probe_len + 1]
        if len(self.default_probe) < 2:
            self.default_probe = text[: cfg.probe_len + 1]
        self._encode_probe(cfg.probe_text or self.default_probe)
        prompt = "\n" if "\n" in vocab else text[0]
        self.sample_prompt = prompt
        self.loss_fn = nn.CrossEntropyLoss(class_dim=-1)
        if cfg.mode == "inspect":
            model.eval()
            return
        model.train()
        ids = vocab.encode(list(text))
        self.check_stop()
        if ids.size < 4:
            raise ValueError(
                f"expected a corpus of at least 4 characters, got {ids.size}"
            )
        train_ids, val_ids = train_val_split(ids, 0.1)
        self.val_ids = val_ids[: cfg.val_tokens + 1] if cfg.val_tokens else None
        if self.val_ids is not None and self.val_ids.size < 2:
            self.val_ids = None
        self.batches = self._batches(train_ids)
        self.trainer = Trainer(
            model,
            self.loss_fn,
            self._optimizer(model),
            tbptt=cfg.seq_len,
            callbacks=[self.on_step],
            progress=False,
            config={
                "task": "language_model",
                "model": model.config(),
                "gui_run": {
                    k: v
                    for k, v in cfg.to_dict().items()
                    if isinstance(v, (str, int, float, bool))
                },
            },
        )
        self._apply_clip()

    def _normal_init(self, model: Any) -> None:
        from fastrnn.nn import init

        for name, p in model.rnn.named_parameters():
            if name.startswith("weight_hh"):
                init.scaled_normal_(p, self.cfg.init_sigma2, fan=self.cfg.hidden_size)

    def _optimizer(self, model: Any) -> Any:
        from fastrnn import optim

        cfg, params = self.cfg, list(model.parameters())
        if cfg.optimizer == "adam":
            return optim.Adam(params, lr=cfg.lr)
        if cfg.optimizer == "adamw":
            return optim.AdamW(params, lr=cfg.lr)
        if cfg.optimizer == "sgd":
            return optim.SGD(params, lr=cfg.lr, momentum=0.9)
        if cfg.optimizer == "rmsprop":
            return optim.RMSprop(params, lr=cfg.lr)
        return optim.Adagrad(params, lr=cfg.lr)

    def _batches(self, train_ids: np.ndarray) -> Any:
        """Trainer batches: one (S, B) stream pair (contiguous) or random windows."""
        T, B = self.cfg.seq_len, self.cfg.batch_size
        if self.cfg.windows == "contiguous":
            S = (train_ids.size - 1) // B
            if S < 1:
                raise ValueError(
                    f"expected a training split of at least batch_size + 1 = {B + 1} "
                    f"characters, got {train_ids.size}"
                )
            x = np.ascontiguousarray(train_ids[: S * B].reshape(B, S).T)
            y = np.ascontiguousarray(train_ids[1 : S * B + 1].reshape(B, S).T)
            return [(x, y)]
        if train_ids.size < T + 2:
            raise ValueError(
                f"expected a training split of at least seq_len + 2 = {T + 2} "
                f"characters for random windows, got {train_ids.size}"
            )
        rng = np.random.default_rng(self.cfg.seed)
        offsets = np.arange(T + 1)

        def random_windows(epoch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            while True:
                starts = rng.integers(0, train_ids.size - T, size=B)
                win = train_ids[starts[None, :] + offsets[:, None]]  # (T+1, B)
                yield np.ascontiguousarray(win[:-1]), np.ascontiguousarray(win[1:])

        return random_windows

    def _encode_probe(self, text: str) -> None:
        ids = self.vocab.encode(list(text))
        self.probe_text = text[:-1]  # the last character is only a target
        self.probe_ids = ids

    # -------------------------------------------------------------- snapshot jobs
    def _trace_probe(self) -> None:
        import fastrnn as fr

        model, ids = self.model, self.probe_ids
        for p in model.parameters():  # the probe's own gradients only
            p.grad = None
        was_training = model.training
        model.eval()
        try:
            with fr.trace(model) as tr:
                logits, _ = model(ids[:-1, None])
                loss = self.loss_fn(logits, ids[1:, None])
            loss.backward()
        finally:
            model.train(was_training)
        layers = []
        keys = sorted(
            (k for k in tr.keys() if k.direction == "forward"), key=lambda k: k.layer
        )
        for key in keys:
            rec = tr[key]
            layers.append(
                LayerProbe(
                    name=f"layer {key.layer}",
                    h=np.ascontiguousarray(rec.h[:, 0], dtype=np.float32),
                    gates={
                        g: np.ascontiguousarray(a[:, 0], dtype=np.float32)
                        for g, a in rec.gates.items()
                    },
                    grad_h_norm=np.ascontiguousarray(
                        rec.grad_h_norm[:, 0], dtype=np.float32
                    ),
                    c=None
                    if rec.c is None
                    else np.ascontiguousarray(rec.c[:, 0], dtype=np.float32),
                )
            )
        self.probe = layers
        self.probe_step = (
            self.history.steps[self.history.n - 1] if self.history.n else 0
        )

    def _generate(self, n: int, seed: int) -> str:
        kwargs = dict(
            max_new_tokens=n, temperature=float(self.cfg.temperature), seed=seed
        )
        if self.fused is not False:
            try:
                text = self.model.generate(self.sample_prompt, fused=True, **kwargs)
                self.fused = True
                return text
            except ImportError:  # the fused generator is not built yet
                self.fused = False
        return self.model.generate(self.sample_prompt, fused=False, **kwargs)

    def _draw_sample(self) -> None:
        import fastrnn as fr

        self.n_samples += 1
        n = max(1, self.cfg.sample_len - len(self.sample_prompt))
        text = self._generate(n, seed=self.cfg.seed * 1_000_003 + self.n_samples)
        ids = self.vocab.encode(list(text))
        model = self.model
        was_training = model.training
        model.eval()
        try:
            with fr.no_grad(), fr.trace(model) as tr:
                model(ids[:, None])
        finally:
            model.train(was_training)
        keys = sorted(
            (k for k in tr.keys() if k.direction == "forward"), key=lambda k: k.layer
        )
        self.sample_text = text
        self.sample_h = [
            np.ascontiguousarray(tr[k].h[:, 0], dtype=np.float32) for k in keys
        ]
        self.sample_step = (
            self.history.steps[self.history.n - 1] if self.history.n else 0
        )

    def _histograms(self) -> None:
        hist = {}
        for name, p in self.model.named_parameters():
            wc, we = _histogram(p.data)
            grad = None if p.grad is None else np.asarray(p.grad)
            gc, ge = _histogram(grad)
            hist[name] = (wc, we, gc, ge)
        self.histograms = hist

    def _validate(self) -> None:
        ids = self.val_ids
        batch = max(1, min(self.cfg.batch_size, ids.size // 2))
        loss = self.model.evaluate_stream(
            ids, seq_len=self.cfg.seq_len, batch_size=batch
        )
        step = int(self.history.steps[self.history.n - 1]) if self.history.n else 0
        if self.history.val_steps and self.history.val_steps[-1] == step:
            return
        self.history.val_steps.append(step)
        self.history.val_losses.append(float(loss))

    def _run_job(
        self, name: str, fn: Callable[[], None], force: bool, threads: int | None = None
    ) -> None:
        """Run a snapshot job if due (or forced), on ``threads`` kernel threads."""
        import fastrnn as fr

        job = self.jobs[name]
        now = time.perf_counter()
        if not (force or job.due(now)):
            return
        saved = fr.get_num_threads()
        if threads is not None:
            fr.set_num_threads(threads)
        try:
            fn()
        finally:
            fr.set_num_threads(saved)
        end = time.perf_counter()
        job.done(end - now, end)

    # -------------------------------------------------------------- publishing
    def publish(
        self,
        status: str,
        *,
        force: bool = False,
        fresh: bool = False,
        message: str = "",
    ) -> None:
        """Refresh what is due (everything probe-related when ``fresh``) and send.

        ``force`` waits for room in the queue (status changes, messages); otherwise
        a full queue drops the snapshot (a newer one follows).
        """
        t0 = time.perf_counter()
        self.status = status
        training = self.trainer is not None
        if training:  # gradients of the last training step, before the probe's
            self._run_job("hist", self._histograms, fresh)
            if self.val_ids is not None:
                self._run_job("val", self._validate, False)
        # Batch-1 passes run faster on one thread than split over several.
        self._run_job("probe", self._trace_probe, fresh, threads=1)
        if not training:
            self._run_job("hist", self._histograms, fresh)
        self._run_job("sample", self._draw_sample, self.sample_requested, threads=1)
        self.sample_requested = False
        messages = [*self.pending_messages, *([message] if message else [])]
        self.pending_messages = []
        snap = self.snapshot(status, "\n".join(messages))
        self.saved_path = ""
        if message or messages:
            force = True
        try:
            if force:
                self.snapshots.put(snap, timeout=_FORCED_PUT_TIMEOUT)
            else:
                self.snapshots.put_nowait(snap)
        except queue.Full:
            self.dropped += 1
        end = time.perf_counter()
        self.last_send = end
        if self.run_started is not None and status in ("running", "paused"):
            self.snapshot_time += end - t0

    def snapshot(self, status: str, message: str = "") -> Snapshot:
        cfg, h = self.cfg, self.history.arrays()
        elapsed = self.elapsed()
        return Snapshot(
            run_id=self.run_id,
            step=int(self.history.steps[self.history.n - 1]) if self.history.n else 0,
            status=status,
            cell=cfg.cell,
            hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers,
            lr=float(cfg.lr),
            clip=float(cfg.clip),
            clip_mode=cfg.clip_mode,
            temperature=float(cfg.temperature),
            tokens_per_s=self.tokens_per_s(),
            probe_text=self.probe_text,
            probe=self.probe,
            sample_text=self.sample_text,
            sample_h=self.sample_h,
            histograms=self.histograms,
            message=message,
            checkpoint_path=self.saved_path,
            probe_step=int(self.probe_step),
            sample_step=int(self.sample_step),
            tokens=self.tokens,
            elapsed=elapsed,
            overhead=self.snapshot_time / elapsed if elapsed > 0 else 0.0,
            job_costs={k: j.cost for k, j in self.jobs.items() if j.next_due > 0},
            **h,
        )

    # -------------------------------------------------------------- running
    def wait_while_paused(self, status: str = "paused") -> None:
        """Block on the command pipe until resumed, stepped or stopped.

        Commands that change what is shown (probe, sample, set, save) are answered
        with a fresh snapshot in ``status``.
        """
        t0 = time.perf_counter()
        try:
            while self.paused and not self.stop_requested:
                if not self.commands.poll(0.1):
                    continue
                probe_before = self.probe_text
                messages = self.drain_commands()
                if self.paused and not self.stop_requested:
                    self.publish(
                        status,
                        force=True,
                        fresh=self.probe_text != probe_before,
                        message="\n".join(messages),
                    )
                elif messages:
                    self.pending_messages.extend(messages)
        finally:
            if self.run_started is not None:
                self.paused_time += time.perf_counter() - t0

    def on_step(self, record: Any) -> None:
        """Trainer callback after every optimizer step."""
        self.history.add(record.step, record.loss, record.grad_norm, record.clipped)
        self.tokens += int(round(record.tokens_per_s * record.step_time))
        now = self.elapsed()
        self.rate.append((now, self.tokens))
        while len(self.rate) > 2 and now - self.rate[0][0] > _RATE_WINDOW:
            self.rate.popleft()
        if self.cfg.fail_at_step is not None and record.step >= self.cfg.fail_at_step:
            raise RuntimeError(
                f"fail_at_step: forced failure after step {record.step} (debug hook)"
            )
        self.pending_messages.extend(self.drain_commands())
        if self.step_once:
            self.step_once, self.paused = False, True
        if self.stop_requested:
            return
        if self.paused:
            self.publish("paused", force=True, fresh=True)
            self.wait_while_paused()
        elif (
            self.pending_messages
            or time.perf_counter() - self.last_send >= 1.0 / SNAPSHOT_HZ
        ):
            self.publish("running")

    def train(self) -> str:
        """Run the trainer until stopped or finished; returns the final status."""
        from fastrnn.train import DivergenceError

        self.publish("paused" if self.paused else "running", force=True, fresh=True)
        if self.paused:
            self.wait_while_paused()
        self.run_started = time.perf_counter()
        self.paused_time = 0.0
        if self.stop_requested:
            return "stopped"
        try:
            state = self.trainer.fit(
                self.batches, max_steps=self.cfg.max_steps, epochs=10**9
            )
        except DivergenceError as err:
            self.paused = True
            self.publish(
                "finished",
                force=True,
                fresh=True,
                message=f"training diverged: {err}",
            )
            return "finished"
        if state.stop_reason == "stopped" or self.stop_requested:
            return "stopped"
        return "finished"

    def idle_until_stop(self, status: str) -> None:
        """After training (or in inspect mode): answer commands until a stop."""
        while not self.stop_requested:
            self.paused = True
            self.wait_while_paused(status)
            if not self.stop_requested:  # a resume or step: nothing to run
                self.step_once = False
                self.publish(
                    status,
                    force=True,
                    message="the run has finished; start a new run to train again"
                    if status == "finished"
                    else "inspect mode: nothing to train",
                )

    def main(self) -> None:
        try:
            self.setup()
        except _Stopped:
            self.publish_plain("stopped")
            return
        if self.cfg.mode == "inspect":
            self.paused = True
            self.publish("inspecting", force=True, fresh=True)
            self.idle_until_stop("inspecting")
            self.publish_plain("stopped", "\n".join(self.pending_messages))
            return
        status = self.train()
        if status == "finished" and not self.stop_requested:
            if self.status != "finished":
                self.publish("finished", force=True, fresh=True)
            self.idle_until_stop("finished")
        self.publish_plain("stopped", "\n".join(self.pending_messages))

    def publish_plain(self, status: str, message: str = "") -> None:
        """Send a snapshot without running any job (early stop, errors)."""
        try:
            self.snapshots.put(
                self.snapshot(status, message), timeout=_FORCED_PUT_TIMEOUT
            )
        except queue.Full:
            self.dropped += 1


def _bare_snapshot(config: Any, run_id: int, status: str, message: str) -> Snapshot:
    """A snapshot with empty histories (for errors before a run exists)."""
    empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float32)
    return Snapshot(
        run_id=run_id,
        step=0,
        status=status,
        cell=str(getattr(config, "cell", "")),
        hidden_size=int(getattr(config, "hidden_size", 0) or 0),
        num_layers=int(getattr(config, "num_layers", 0) or 0),
        steps=empty_i,
        losses=empty_f,
        grad_norms=empty_f,
        clipped=np.zeros(0, bool),
        val_steps=empty_i,
        val_losses=empty_f,
        lr=0.0,
        clip=0.0,
        clip_mode="",
        temperature=0.0,
        tokens_per_s=0.0,
        probe_text="",
        probe=[],
        message=message,
    )


def run_worker(
    config: RunConfig,
    run_id: int,
    commands: multiprocessing.connection.Connection,
    snapshots: Any,
) -> None:
    """Process target: set up and run the training (or inspection) described by ``config``.

    Every exception is reported as a snapshot with status ``"error"`` (its
    ``message`` is the traceback), after which the process exits with code 1.
    """
    run: _Run | None = None
    code = 0
    try:
        check_config(config)
        if config.worker_nice and hasattr(os, "nice"):
            os.nice(min(19, config.worker_nice))
        run = _Run(config, run_id, commands, snapshots)
        run.main()
    except Exception:  # report anything; the window must survive
        code = 1
        message = traceback.format_exc()
        try:
            if run is not None:
                run.pending_messages = []
                run.publish_plain("error", message)
            else:
                snapshots.put(
                    _bare_snapshot(config, run_id, "error", message),
                    timeout=_FORCED_PUT_TIMEOUT,
                )
        except queue.Full:
            pass
    finally:
        commands.close()
        snapshots.close()
        snapshots.join_thread()  # flush what is still queued
    if code:
        sys.exit(code)
