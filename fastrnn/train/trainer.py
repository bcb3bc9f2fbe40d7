"""``Trainer``: the training loop (BPTT or truncated BPTT), with guards and checkpoints.

Model and loss contract
-----------------------
A *batch* is a pair ``(inputs, targets)`` of Tensors or NumPy arrays.

* ``tbptt=None`` (full backpropagation through time, the default)::

      out = model(inputs)
      if isinstance(out, tuple):      # e.g. (output, state) from an RNN-style model
          out = out[0]
      loss = loss_fn(out, targets)    # a scalar Tensor

* ``tbptt=k`` (truncated BPTT, char-rnn style): ``inputs`` and ``targets`` are
  time-major, ``(T, B, ...)``, and are cut along axis 0 into consecutive windows
  of ``k`` steps (the last one may be shorter). For each window::

      output, state = model(inputs[t:t+k], state)   # state is None in window 0
      loss = loss_fn(output, targets[t:t+k])

  and each window is ONE optimizer step. ``state`` (a Tensor or a nested tuple /
  list of Tensors, e.g. ``(h, c)`` of an LSTM) is carried to the next window and
  *detached* in between, so gradients stop at the window boundary while the
  forward pass still sees the whole stream. The state is reset (None) at the start
  of every batch and every epoch.

``loss_fn(output, targets)`` must return a scalar Tensor (e.g. an
``nn.CrossEntropyLoss(class_dim=-1)`` instance).

One step
--------
forward -> loss -> (divergence check) -> ``backward`` -> global grad norm (before
clipping) -> (divergence check) -> clip (``clip_norm`` then ``clip_value``) ->
``optimizer.step()`` -> ``scheduler.step()`` (once per optimizer step; a
``ReduceLROnPlateau`` is stepped with the validation loss after each evaluation
instead). A NaN / inf loss or gradient norm raises :class:`DivergenceError` (a
``FloatingPointError``) *before* the update, so the parameters and the optimizer
keep their last good values and no checkpoint is written for that step.

Control from another thread
---------------------------
:meth:`Trainer.request_stop`, :meth:`Trainer.pause` and :meth:`Trainer.resume` are
thread-safe (``threading.Event``) and are honoured between steps; a paused trainer
blocks on an event (no busy loop) until resumed or stopped. A stop requested
before :meth:`Trainer.fit` starts stops it at once and is cleared when ``fit``
returns; a trainer paused before ``fit`` waits before its first step.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fastrnn import checkpoint as _ckpt
from fastrnn import random as _random
from fastrnn.nn.utils.clip_grad import (
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from fastrnn.tensor import Tensor, no_grad

__all__ = [
    "DivergenceError",
    "StepRecord",
    "TrainState",
    "Trainer",
    "load_checkpoint",
]

CHECKPOINT_KIND = "fastrnn.train.checkpoint"
CHECKPOINT_VERSION = 1


class DivergenceError(FloatingPointError):
    """A NaN or infinite loss or gradient norm stopped training (before the update)."""


@dataclass(frozen=True)
class StepRecord:
    """What callbacks receive after each optimizer step (and after evals / epochs).

    Attributes
    ----------
    step : int
        Optimizer steps done so far (1 after the first step).
    epoch : int
        Zero-based epoch of this step.
    loss : float
        Training loss of this step (of this window with ``tbptt``).
    grad_norm : float
        Global L2 norm of all gradients *before* clipping.
    clipped : bool
        Whether clipping changed the gradients.
    lr : float
        Learning rate of the first parameter group used for this step.
    step_time : float
        Wall time of the step in seconds.
    tokens_per_s : float
        ``inputs.shape[0] * inputs.shape[1]`` (time x batch) per second of step time.
    val_loss : float or None
        Validation loss when an evaluation ran right after this step, else None.
    """

    step: int
    epoch: int
    loss: float
    grad_norm: float
    clipped: bool
    lr: float
    step_time: float
    tokens_per_s: float
    val_loss: float | None = None


@dataclass
class TrainState:
    """Progress of a run; returned by :meth:`Trainer.fit` and saved in checkpoints.

    ``batch_index`` / ``window_index`` locate the next step inside the current
    epoch, so a run resumed from a checkpoint continues with the same data.
    """

    step: int = 0
    epoch: int = 0
    batch_index: int = 0
    window_index: int = 0
    losses: list[float] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    best_val_loss: float | None = None
    evals_since_best: int = 0
    stop_reason: str | None = None


# ---------------------------------------------------------------- helpers
def _tokens(inputs: Any) -> int:
    shape = np.shape(inputs.data if isinstance(inputs, Tensor) else inputs)
    if len(shape) == 0:
        return 1
    return int(shape[0] * (shape[1] if len(shape) > 1 else 1))


def _time_len(inputs: Any) -> int:
    shape = np.shape(inputs.data if isinstance(inputs, Tensor) else inputs)
    if not shape:
        raise ValueError(
            "expected time-major inputs (T, B, ...) with tbptt, got a scalar"
        )
    return int(shape[0])


def _window(x: Any, start: int, stop: int) -> Any:
    if isinstance(x, Tensor):
        return x[start:stop]
    return np.asarray(x)[start:stop]


def _detach(state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(_detach(s) for s in state)
    raise TypeError(
        "expected the model's state to be a Tensor or a tuple/list of Tensors, got "
        f"{type(state).__name__}"
    )


def _state_to_tree(state: Any) -> Any:
    if isinstance(state, Tensor):
        return np.array(state.data)
    if isinstance(state, (tuple, list)):
        return tuple(_state_to_tree(s) for s in state)
    return state


def _tree_to_state(tree: Any) -> Any:
    if isinstance(tree, np.ndarray):
        return Tensor(tree)
    if isinstance(tree, (tuple, list)):
        return tuple(_tree_to_state(t) for t in tree)
    return tree


def _as_float(loss: Any) -> float:
    if isinstance(loss, Tensor):
        return (
            float(np.asarray(loss.data).reshape(-1)[0]) if loss.data.size else math.nan
        )
    return float(loss)


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :meth:`Trainer.save_checkpoint` as a dict.

    Keys: ``"model"``, ``"optimizer"``, ``"scheduler"`` (or None), ``"rng"``,
    ``"state"`` (the :class:`TrainState` fields), ``"carry"`` (the TBPTT state in
    flight, or None), ``"config"`` (the user's dict, or None). Use it to rebuild a
    model from ``config`` before :meth:`Trainer.resume_from`.
    """
    tree = _ckpt.load(path)
    if not isinstance(tree, dict) or tree.get("kind") != CHECKPOINT_KIND:
        raise ValueError(f"{os.fspath(path)!r} is not a fastrnn.train checkpoint")
    if tree.get("version", 0) > CHECKPOINT_VERSION:
        raise ValueError(
            f"{os.fspath(path)!r} was written by a newer fastrnn.train "
            f"(version {tree['version']} > {CHECKPOINT_VERSION})"
        )
    return tree


class Trainer:
    """Train ``model`` with ``loss_fn`` and ``optimizer`` (see the module docstring).

    Parameters
    ----------
    model : Module
    loss_fn : callable
        ``loss_fn(output, targets) -> scalar Tensor``.
    optimizer : Optimizer
    scheduler : LRScheduler, optional
        Stepped after every optimizer step (``ReduceLROnPlateau``: after each eval,
        with the validation loss).
    clip_norm : float, optional
        Clip the global L2 gradient norm to this value.
    clip_value : float, optional
        Clamp every gradient entry into ``[-clip_value, clip_value]``.
    tbptt : int, optional
        Truncated BPTT window length (time-major inputs; see the module docstring).
    eval_every : int, optional
        Evaluate on ``val_batches`` every this many steps (and at each epoch end
        when ``val_batches`` is given).
    val_batches : iterable of (inputs, targets), optional
        Re-iterable validation data (e.g. a list).
    early_stopping : int, optional
        Stop after this many evaluations without a lower validation loss.
    callbacks : sequence
        Plain callables (called with the :class:`StepRecord` after every step), or
        objects with any of ``on_step_end(record)``, ``on_eval(record)``,
        ``on_epoch_end(record)``.
    progress : bool
        Show a tqdm progress bar with the loss and tokens/s.
    checkpoint_dir, checkpoint_every : optional
        Save ``checkpoint_dir/step_{step:08d}.st`` every ``checkpoint_every``
        steps (after a successful step only).
    config : dict, optional
        User data (model config, vocabulary, ...) stored in every checkpoint.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Tensor],
        optimizer: Any,
        *,
        scheduler: Any = None,
        clip_norm: float | None = None,
        clip_value: float | None = None,
        tbptt: int | None = None,
        eval_every: int | None = None,
        val_batches: Iterable[tuple[Any, Any]] | None = None,
        early_stopping: int | None = None,
        callbacks: Sequence[Any] = (),
        progress: bool = True,
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int | None = None,
        config: dict[str, Any] | None = None,
    ) -> None:
        for name, value in (
            ("tbptt", tbptt),
            ("eval_every", eval_every),
            ("early_stopping", early_stopping),
            ("checkpoint_every", checkpoint_every),
        ):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise ValueError(f"expected {name} to be a positive int, got {value!r}")
        for name, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None and not value > 0:
                raise ValueError(f"expected {name} > 0, got {value!r}")
        if (
            eval_every is not None or early_stopping is not None
        ) and val_batches is None:
            raise ValueError("eval_every and early_stopping need val_batches")
        if (checkpoint_every is None) != (checkpoint_dir is None):
            raise ValueError("checkpoint_dir and checkpoint_every go together")
        self.model = model
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.clip_norm = clip_norm
        self.clip_value = clip_value
        self.tbptt = tbptt
        self.eval_every = eval_every
        self.val_batches = val_batches
        self.early_stopping = early_stopping
        self.callbacks = list(callbacks)
        self.progress = progress
        self.checkpoint_dir = (
            None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        )
        self.checkpoint_every = checkpoint_every
        self.config = config
        self.state = TrainState()
        self._carry: Any = None  # TBPTT state in flight (detached)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()

    # ------------------------------------------------------------ control
    def request_stop(self) -> None:
        """Ask the run to stop before its next step (thread-safe; wakes a pause)."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Block the run before its next step until :meth:`resume` (thread-safe)."""
        self._running.clear()

    def resume(self) -> None:
        """Let a paused run continue (thread-safe)."""
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def _should_stop(self) -> bool:
        """Wait while paused, then report a stop request (checked between steps)."""
        self._running.wait()
        return self._stop.is_set()

    # ------------------------------------------------------------ pieces
    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _params(self) -> list[Tensor]:
        return [p for g in self.optimizer.param_groups for p in g["params"]]

    def _forward(self, inputs: Any, targets: Any, state: Any) -> tuple[Tensor, Any]:
        if self.tbptt is None:
            out = self.model(inputs)
            if isinstance(out, tuple):
                out = out[0]
            return self.loss_fn(out, targets), None
        out = self.model(inputs, state)
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(
                "with tbptt the model must return (output, state), got "
                f"{type(out).__name__}"
            )
        output, new_state = out
        return self.loss_fn(output, targets), new_state

    def _windows(self, inputs: Any, targets: Any) -> list[tuple[Any, Any]]:
        if self.tbptt is None:
            return [(inputs, targets)]
        T = _time_len(inputs)
        if _time_len(targets) != T:
            raise ValueError(
                f"expected time-major inputs and targets of the same length, got "
                f"{T} and {_time_len(targets)}"
            )
        k = self.tbptt
        return [
            (_window(inputs, t, t + k), _window(targets, t, t + k))
            for t in range(0, T, k)
        ]

    def _train_step(self, inputs: Any, targets: Any) -> StepRecord:
        st = self.state
        step = st.step + 1
        t0 = time.perf_counter()
        self.optimizer.zero_grad()
        loss, new_state = self._forward(inputs, targets, self._carry)
        loss_value = _as_float(loss)
        if not math.isfinite(loss_value):
            raise DivergenceError(
                f"loss is {loss_value} at step {step} (epoch {st.epoch}); stopped "
                "before the optimizer step, parameters keep their step "
                f"{st.step} values"
            )
        loss.backward()
        params = self._params()
        grads = [p.grad for p in params if p.grad is not None]
        grad_norm = get_total_norm(grads)
        if not math.isfinite(grad_norm):
            self.optimizer.zero_grad()
            raise DivergenceError(
                f"gradient norm is {grad_norm} at step {step} (epoch {st.epoch}, "
                f"loss {loss_value}); stopped before the optimizer step, parameters "
                f"keep their step {st.step} values"
            )
        clipped = False
        if self.clip_norm is not None and grad_norm > self.clip_norm:
            clip_grads_with_norm_(params, self.clip_norm, grad_norm)
            clipped = True
        if self.clip_value is not None:
            if any(np.abs(g).max(initial=0.0) > self.clip_value for g in grads):
                clipped = True
            clip_grad_value_(params, self.clip_value)
        lr = self._lr()
        self.optimizer.step()
        if self.scheduler is not None and not _is_plateau(self.scheduler):
            self.scheduler.step()
        self._carry = _detach(new_state)
        dt = time.perf_counter() - t0
        st.step = step
        st.losses.append(loss_value)
        return StepRecord(
            step=step,
            epoch=st.epoch,
            loss=loss_value,
            grad_norm=grad_norm,
            clipped=clipped,
            lr=lr,
            step_time=dt,
            tokens_per_s=_tokens(inputs) / dt if dt > 0 else math.inf,
        )

    def evaluate(self, batches: Iterable[tuple[Any, Any]] | None = None) -> float:
        """Mean loss over ``batches`` (default ``val_batches``), no grad, eval mode.

        Each batch (each TBPTT window, weighted by its length) counts once.
        """
        batches = self.val_batches if batches is None else batches
        if batches is None:
            raise ValueError("no validation batches")
        was_training = getattr(self.model, "training", True)
        if hasattr(self.model, "eval"):
            self.model.eval()
        total = 0.0
        weight = 0
        try:
            with no_grad():
                for inputs, targets in batches:
                    state = None
                    for x, y in self._windows(inputs, targets):
                        loss, state = self._forward(x, y, state)
                        w = _time_len(x) if self.tbptt else 1
                        total += _as_float(loss) * w
                        weight += w
        finally:
            if hasattr(self.model, "train"):
                self.model.train(was_training)
        return total / weight if weight else math.nan

    def _emit(self, hook: str, record: StepRecord) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(record)
            elif hook == "on_step_end" and callable(cb) and not _has_hooks(cb):
                cb(record)

    def _maybe_eval(self, record: StepRecord) -> StepRecord:
        val = self.evaluate()
        st = self.state
        st.val_losses.append((st.step, val))
        if st.best_val_loss is None or val < st.best_val_loss:
            st.best_val_loss = val
            st.evals_since_best = 0
        else:
            st.evals_since_best += 1
        if self.scheduler is not None and _is_plateau(self.scheduler):
            self.scheduler.step(val)
        record = _replace_val(record, val)
        self._emit("on_eval", record)
        if (
            self.early_stopping is not None
            and st.evals_since_best >= self.early_stopping
        ):
            st.stop_reason = "early_stopping"
        return record

    # ------------------------------------------------------------ fit
    def fit(
        self,
        batches: Iterable[tuple[Any, Any]] | Callable[[int], Iterable[tuple[Any, Any]]],
        *,
        max_steps: int | None = None,
        epochs: int = 1,
    ) -> TrainState:
        """Train until ``state.step == max_steps`` or ``state.epoch == epochs``.

        Both limits are totals counted from the trainer's state, so after
        :meth:`resume_from` the same call continues where the saved run was.

        Parameters
        ----------
        batches : re-iterable of (inputs, targets), or callable ``epoch -> iterable``
            Re-iterated (or called) once per epoch; a one-shot generator gives one
            epoch.
        max_steps : int, optional
        epochs : int

        Returns
        -------
        TrainState
            ``stop_reason`` is ``"max_steps"``, ``"epochs"``, ``"stopped"`` (by
            :meth:`request_stop`) or ``"early_stopping"``.

        Raises
        ------
        DivergenceError
            On a NaN or infinite loss or gradient norm (before the update).
        """
        st = self.state
        st.stop_reason = None
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(
                total=max_steps, initial=st.step, unit="step", dynamic_ncols=True
            )
        try:
            self._fit(batches, max_steps, epochs, bar)
        finally:
            self._stop.clear()  # a stop request is consumed by the run it stops
            if bar is not None:
                bar.close()
        return st

    def _fit(self, batches: Any, max_steps: int | None, epochs: int, bar: Any) -> None:
        st = self.state
        record: StepRecord | None = None
        while st.epoch < epochs:
            data = batches(st.epoch) if callable(batches) else batches
            for b, (inputs, targets) in enumerate(data):
                if b < st.batch_index:
                    continue  # consumed before a checkpoint
                windows = self._windows(inputs, targets)
                if st.window_index == 0:
                    self._carry = None  # a new batch starts from a fresh state
                for w in range(st.window_index, len(windows)):
                    if max_steps is not None and st.step >= max_steps:
                        st.stop_reason = "max_steps"
                        return
                    if self._should_stop():
                        st.stop_reason = "stopped"
                        return
                    x, y = windows[w]
                    record = self._train_step(x, y)
                    st.window_index = w + 1
                    if st.window_index == len(windows):
                        st.batch_index, st.window_index = b + 1, 0
                    if self.eval_every is not None and st.step % self.eval_every == 0:
                        record = self._maybe_eval(record)
                    self._emit("on_step_end", record)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(
                            loss=f"{record.loss:.4f}",
                            tok_s=f"{record.tokens_per_s:.0f}",
                            refresh=False,
                        )
                    if (
                        self.checkpoint_every is not None
                        and st.step % self.checkpoint_every == 0
                    ):
                        assert self.checkpoint_dir is not None
                        os.makedirs(self.checkpoint_dir, exist_ok=True)
                        self.save_checkpoint(
                            os.path.join(self.checkpoint_dir, f"step_{st.step:08d}.st")
                        )
                    if st.stop_reason == "early_stopping":
                        return
            st.epoch += 1
            st.batch_index, st.window_index = 0, 0
            self._carry = None
            if record is not None:
                if self.val_batches is not None and (
                    self.eval_every is None or record.val_loss is None
                ):
                    record = self._maybe_eval(record)
                self._emit("on_epoch_end", record)
                if st.stop_reason == "early_stopping":
                    return
        st.stop_reason = "epochs"

    # ------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        """Atomically save model, optimizer, scheduler, RNG and progress to ``path``."""
        st = self.state
        tree = {
            "kind": CHECKPOINT_KIND,
            "version": CHECKPOINT_VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None
            if self.scheduler is None
            else self.scheduler.state_dict(),
            "rng": _random.get_rng_state(),
            "state": {
                "step": st.step,
                "epoch": st.epoch,
                "batch_index": st.batch_index,
                "window_index": st.window_index,
                "losses": np.asarray(st.losses, dtype=np.float64),
                "val_steps": np.asarray([s for s, _ in st.val_losses], dtype=np.int64),
                "val_losses": np.asarray(
                    [v for _, v in st.val_losses], dtype=np.float64
                ),
                "best_val_loss": st.best_val_loss,
                "evals_since_best": st.evals_since_best,
            },
            "carry": _state_to_tree(self._carry),
            "config": self.config,
        }
        _ckpt.save(tree, path)

    def resume_from(self, path: str | os.PathLike[str]) -> dict[str, Any] | None:
        """Load a checkpoint into this trainer's model, optimizer, scheduler and RNG.

        Returns the stored ``config`` dict (or None). A following :meth:`fit` with
        the same data continues the saved run step for step.
        """
        tree = load_checkpoint(path)
        self.model.load_state_dict(tree["model"])
        self.optimizer.load_state_dict(tree["optimizer"])
        if self.scheduler is not None and tree["scheduler"] is not None:
            self.scheduler.load_state_dict(tree["scheduler"])
        _random.set_rng_state(tree["rng"])
        s = tree["state"]
        self.state = TrainState(
            step=int(s["step"]),
            epoch=int(s["epoch"]),
            batch_index=int(s["batch_index"]),
            window_index=int(s["window_index"]),
            losses=[float(v) for v in s["losses"]],
            val_losses=[
                (int(a), float(b))
                for a, b in zip(s["val_steps"], s["val_losses"], strict=True)
            ],
            best_val_loss=s["best_val_loss"],
            evals_since_best=int(s["evals_since_best"]),
        )
        self._carry = _tree_to_state(tree["carry"])
        self.config = tree["config"]
        return self.config


def _is_plateau(scheduler: Any) -> bool:
    return type(scheduler).__name__ == "ReduceLROnPlateau"


def _has_hooks(cb: Any) -> bool:
    return any(hasattr(cb, h) for h in ("on_step_end", "on_eval", "on_epoch_end"))


def _replace_val(record: StepRecord, val: float) -> StepRecord:
    from dataclasses import replace

    return replace(record, val_loss=val)
