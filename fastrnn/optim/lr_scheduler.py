"""Learning-rate schedulers with ``torch.optim.lr_scheduler``'s names and values.

A scheduler changes ``group["lr"]`` of its optimizer's parameter groups. Create it
after the optimizer (that sets each group's ``"initial_lr"`` and applies the epoch-0
learning rate), then call ``optimizer.step()`` followed by ``scheduler.step()`` once
per epoch (or per batch). ``get_last_lr()`` returns the learning rates last set.

Like PyTorch's, most schedulers are *chainable*: ``step()`` computes the new rate
from the group's current ``lr`` (``get_lr``), so two schedulers on one optimizer
compose. ``step(epoch)`` (deprecated in PyTorch) jumps to an epoch with the closed
form instead. ``state_dict()`` holds plain python values (JSON-friendly); it leaves
out the optimizer, which has its own.

Linear warmup followed by cosine decay::

    scheduler = SequentialLR(
        opt,
        [LinearLR(opt, start_factor=0.1, total_iters=5), CosineAnnealingLR(opt, 25)],
        milestones=[5],
    )  # or: warmup_cosine(opt, warmup_steps=5, total_steps=30, start_factor=0.1)
"""

from __future__ import annotations

import copy
import math
import warnings
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any, Literal, SupportsFloat

from fastrnn.optim.optimizer import Optimizer

_EPOCH_DEPRECATION = (
    "passing an epoch to step() is deprecated (as in PyTorch); call step() without "
    "arguments once per epoch"
)


class LRScheduler:
    """Base class of the learning-rate schedulers.

    Subclasses implement :meth:`get_lr` (the chainable, recursive form) and
    optionally ``_get_closed_form_lr`` (the learning rate at ``last_epoch``
    computed from ``base_lrs``).

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    last_epoch : int
        Index of the last epoch; -1 (the default) starts a new schedule. Other
        values resume one and need ``"initial_lr"`` in every group.

    Attributes
    ----------
    base_lrs : list of float
        Each group's ``"initial_lr"``.
    last_epoch : int
        Number of ``step()`` calls since epoch 0.
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"expected 'initial_lr' in param_groups[{i}] when resuming "
                        f"with last_epoch={last_epoch}, got none (load the "
                        "optimizer's state first, or use last_epoch=-1)"
                    )
        self.base_lrs: list[float] = [g["initial_lr"] for g in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Reset the step count and apply the learning rate of the first epoch."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The next learning rate of every group (called by :meth:`step`)."""
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def get_last_lr(self) -> list[float]:
        """The learning rates last set by this scheduler, one per group."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and set the new learning rates.

        Parameters
        ----------
        epoch : int, optional
            Deprecated: jump to this epoch (closed form when available).
        """
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (plain python values, copied)."""
        return {
            k: copy.deepcopy(v) for k, v in self.__dict__.items() if k != "optimizer"
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes from :meth:`state_dict`."""
        self.__dict__.update(copy.deepcopy(dict(state_dict)))


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (last_epoch // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int
        Period of the decay, in epochs.
    gamma : float
        Multiplicative factor (default 0.1).
    last_epoch : int
    """

    def __init__(
        self,
        optimizer: Optimizer,
        step_size: int,
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        if not step_size >= 1:
            raise ValueError(f"expected step_size >= 1, got {step_size}")
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            base_lr * self.gamma ** (self.last_epoch // self.step_size)
            for base_lr in self.base_lrs
        ]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    ``lr = base_lr * gamma ** last_epoch``.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
        Multiplicative factor per epoch.
    last_epoch : int
    """

    def __init__(
        self, optimizer: Optimizer, gamma: float, last_epoch: int = -1
    ) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma**self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs.

    Closed form: ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``
    with ``t = last_epoch``. Like PyTorch, ``step()`` uses the recursive form

    .. math:: \eta_{t} = \eta_{min} + (\eta_{t-1} - \eta_{min})
              \frac{1 + \cos(\pi t / T_{max})}{1 + \cos(\pi (t-1) / T_{max})}

    which equals the closed form when nothing else changes the learning rate, and
    keeps going past ``T_max`` (the rate rises again, a period of ``2 T_max``).

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int
        Half-period in epochs.
    eta_min : float
        Minimum learning rate (default 0).
    last_epoch : int
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_max: int,  # noqa: N803 (PyTorch's name)
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if not T_max >= 1:
            raise ValueError(f"expected T_max >= 1, got {T_max}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:
            return [
                eta_min + (base_lr - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base_lr in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:  # the minimum: the ratio below would be 0/0
            return [
                lr + (base_lr - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for base_lr, lr in zip(self.base_lrs, self._current_lrs(), strict=True)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base_lr - self.eta_min)
            * (1 + math.cos(math.pi * self.last_epoch / self.T_max))
            / 2
            for base_lr in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor``.

    ``lr = base_lr * (start_factor + (end_factor - start_factor) *
    min(last_epoch, total_iters) / total_iters)``: a linear warmup with the defaults.

    Parameters
    ----------
    optimizer : Optimizer
    start_factor : float
        Factor at epoch 0, in (0, 1] (default 1/3).
    end_factor : float
        Factor from epoch ``total_iters`` on, in [0, 1] (default 1).
    total_iters : int
        Number of epochs of the ramp (default 5).
    last_epoch : int
    """

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"expected start_factor in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"expected end_factor in [0, 1], got {end_factor}")
        if not total_iters >= 1:
            raise ValueError(f"expected total_iters >= 1, got {total_iters}")
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        ratio = 1.0 + (end - start) / (
            self.total_iters * start + (t - 1) * (end - start)
        )
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        fraction = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * fraction
        return [base_lr * factor for base_lr in self.base_lrs]


class SequentialLR(LRScheduler):
    """Run schedulers one after another, switching at the given epochs.

    ``schedulers[i]`` runs from epoch ``milestones[i-1]`` (restarted at its own
    epoch 0 there) until ``milestones[i]``.

    Parameters
    ----------
    optimizer : Optimizer
    schedulers : sequence of LRScheduler
        Built on ``optimizer``; ``ReduceLROnPlateau`` is not allowed.
    milestones : sequence of int
        ``len(schedulers) - 1`` increasing epochs.
    last_epoch : int
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
        last_epoch: int = -1,
    ) -> None:
        if len(schedulers) < 1:
            raise ValueError("expected at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    f"expected schedulers whose step() takes no metric, got "
                    f"ReduceLROnPlateau at index {i}"
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    f"expected every scheduler to belong to the given optimizer, got "
                    f"{type(scheduler).__name__} at index {i} with another one"
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"expected {len(schedulers) - 1} milestones for {len(schedulers)} "
                f"schedulers, got {len(milestones)}"
            )
        self._schedulers = list(schedulers)
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer

        # Undo the initial steps of the schedulers, then start only the first one.
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            _undo_step(scheduler)
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = self._schedulers[idx].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        """Advance one epoch in the active scheduler (restarting it at a milestone)."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_schedulers")
        }
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = copy.deepcopy(dict(state_dict))
        schedulers = state.pop("_schedulers")
        self.__dict__.update(state)
        for scheduler, sub_state in zip(self._schedulers, schedulers, strict=True):
            scheduler.load_state_dict(sub_state)


def _undo_step(scheduler: LRScheduler) -> None:
    if isinstance(scheduler, SequentialLR):
        for s in scheduler._schedulers:
            _undo_step(s)
    scheduler.last_epoch -= 1


def warmup_cosine(
    optimizer: Optimizer,
    warmup_steps: int,
    total_steps: int,
    start_factor: float = 1e-3,
    eta_min: float = 0.0,
) -> SequentialLR:
    """Linear warmup for ``warmup_steps`` steps, then cosine decay to ``eta_min``.

    The learning rate rises from ``start_factor * lr`` to ``lr`` over the first
    ``warmup_steps`` steps (:class:`LinearLR`), then follows
    ``CosineAnnealingLR(T_max=total_steps - warmup_steps)``, so it reaches
    ``eta_min`` at step ``total_steps``.

    Parameters
    ----------
    optimizer : Optimizer
    warmup_steps : int
        Length of the warmup, >= 1.
    total_steps : int
        Step at which the decay ends, > ``warmup_steps``.
    start_factor : float
        Fraction of the learning rate at step 0, in (0, 1].
    eta_min : float
        Final learning rate.

    Returns
    -------
    SequentialLR
    """
    if not total_steps > warmup_steps:
        raise ValueError(
            f"expected total_steps > warmup_steps ({warmup_steps}), got {total_steps}"
        )
    warmup = LinearLR(
        optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_steps
    )
    decay = CosineAnnealingLR(
        optimizer, T_max=total_steps - warmup_steps, eta_min=eta_min
    )
    return SequentialLR(optimizer, [warmup, decay], milestones=[warmup_steps])


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    ``step(metric)`` counts the epochs without improvement ("bad epochs"); after
    more than ``patience`` of them, every group's lr becomes
    ``max(lr * factor, min_lr)`` (changes smaller than ``eps`` are skipped), and
    ``cooldown`` epochs follow in which bad epochs are not counted.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {"min", "max"}
        Whether the metric should decrease (loss) or increase (accuracy).
    factor : float
        Multiplicative factor, < 1 (default 0.1).
    patience : int
        Bad epochs tolerated before a reduction (default 10).
    threshold : float
        Least change counted as an improvement (default 1e-4).
    threshold_mode : {"rel", "abs"}
        ``"rel"``: better than ``best * (1 -/+ threshold)``; ``"abs"``: better than
        ``best -/+ threshold``.
    cooldown : int
        Epochs to wait after a reduction before counting again (default 0).
    min_lr : float or list of float
        Lower bound of the lr, one for all groups or one per group.
    eps : float
        Minimal change of the lr; smaller updates are skipped (default 1e-8).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        if not factor < 1.0:
            raise ValueError(f"expected factor < 1.0, got {factor}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an Optimizer, got {type(optimizer).__name__}")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(
                    f"expected {len(optimizer.param_groups)} min_lrs (one per "
                    f"parameter group), got {len(min_lr)}"
                )
            self.default_min_lr: float | None = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"expected mode 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"expected threshold_mode 'rel' or 'abs', got {threshold_mode!r}"
            )
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, a: float, best: float) -> bool:
        """Whether metric ``a`` improves on ``best`` by more than the threshold."""
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return a < best * (1.0 - self.threshold)
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics: SupportsFloat, epoch: int | None = None) -> None:  # type: ignore[override]
        """Record this epoch's metric and reduce the lr after a plateau.

        Parameters
        ----------
        metrics : float
            The monitored value (e.g. validation loss); 0-d arrays are accepted.
        epoch : int, optional
            Deprecated: the epoch number.
        """
        current = float(metrics)
        if epoch is None:
            epoch = self.last_epoch + 1
        else:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self.last_epoch = epoch

        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(
                    f"expected {len(self.min_lrs)} parameter groups (one per min_lr), "
                    f"got {len(groups)}; set min_lrs to match the optimizer"
                )
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs, strict=True):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)
