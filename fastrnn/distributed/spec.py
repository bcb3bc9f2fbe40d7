"""Sweep specifications: a TOML file, read and checked before Ray starts.

A spec names the task and its data, the fixed options and the search space (both over
the keyword options of :func:`fastrnn.tasks.language_modeling.train_lm` for
``task = "lm"`` or :func:`fastrnn.tasks.tagging.train_tagger` for ``task = "tagger"``),
the number of trials, the scheduler and the metric::

    task = "lm"                    # "lm" (fastrnn train-lm) or "tagger" (train-tagger)
    trials = 8                     # sampled configurations
    threads_per_trial = 1          # fastrnn threads = Ray CPUs of each trial
    metric = "val_loss"            # default: val_loss (lm), val_accuracy (tagger)
    mode = "min"                   # default: from the metric
    max_failures = 2               # restarts of a failed trial from its checkpoint
    seed = 0                       # seed of the search (trial seeds come from [train])

    [data]                         # lm: source (optional: bundled tiny Shakespeare)
    source = "corpus.txt"          # tagger: train (required), eval (optional)

    [train]                        # fixed options of every trial
    max_steps = 600
    eval_every = 50

    [search]                       # sampled options
    cell = { choice = ["lstm", "gru"] }
    lr = { loguniform = [1e-3, 1e-2] }
    dropout = { uniform = [0.0, 0.3] }
    hidden = { randint = [128, 384] }      # inclusive
    layers = { grid = [1, 2] }             # every value, times `trials`

    [scheduler]
    name = "asha"                  # "asha" (default) or "fifo"
    grace_period = 2               # evaluations before a trial can be stopped
    reduction_factor = 2

Relative data paths are relative to the spec file. Every mistake raises
:class:`SpecError` naming the file and the field (``search.lr: ...``).
"""

from __future__ import annotations

import inspect
import math
import os
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    import tomllib
except ImportError:  # Python 3.10: the distributed extra installs tomli
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = ["DISTRIBUTIONS", "SpecError", "SweepSpec", "load_spec", "parse_spec"]

#: Search-space distributions: name -> number of arguments ("list" = any length >= 1).
DISTRIBUTIONS = {
    "choice": "list",
    "grid": "list",
    "uniform": 2,
    "loguniform": 2,
    "randint": 2,
}

#: Options of the task functions a spec may not set (the sweep owns them).
_RESERVED = {
    "source",
    "train_path",
    "eval_path",
    "threads",
    "out_dir",
    "progress",
    "log",
    "on_eval",
    "on_epoch",
    "resume",
    "sample_every",
}
_TOP_LEVEL = {
    "task",
    "trials",
    "threads_per_trial",
    "metric",
    "mode",
    "max_failures",
    "seed",
    "data",
    "train",
    "search",
    "scheduler",
}
_SCHEDULERS = {"asha": {"grace_period", "reduction_factor"}, "fifo": set()}
_TASKS = {
    # task -> (metric, mode, metrics it reports, data keys, required data keys)
    "lm": (
        "val_loss",
        "min",
        {"val_loss", "best_val_loss", "train_loss"},
        {"source"},
        set(),
    ),
    "tagger": (
        "val_accuracy",
        "max",
        {"val_accuracy", "best_val_accuracy", "train_loss"},
        {"train", "eval", "column"},
        {"train"},
    ),
}


class SpecError(ValueError):
    """A malformed sweep specification; the message names the file and the field."""


@dataclass
class SweepSpec:
    """A checked sweep specification (see the module docstring for the fields)."""

    task: str
    data: dict[str, Any]
    train: dict[str, Any]
    search: dict[str, tuple[str, list[Any]]]
    trials: int = 1
    threads_per_trial: int = 1
    metric: str = "val_loss"
    mode: str = "min"
    max_failures: int = 2
    seed: int = 0
    scheduler: dict[str, Any] = field(default_factory=lambda: {"name": "asha"})
    path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in the sweep folder's ``sweep.json``)."""
        return {
            "task": self.task,
            "data": self.data,
            "train": self.train,
            "search": {k: {d: v} for k, (d, v) in self.search.items()},
            "trials": self.trials,
            "threads_per_trial": self.threads_per_trial,
            "metric": self.metric,
            "mode": self.mode,
            "max_failures": self.max_failures,
            "seed": self.seed,
            "scheduler": self.scheduler,
            "path": self.path,
        }


def task_function(task: str) -> Callable[..., dict[str, Any]]:
    """The training function a task's trials call."""
    if task == "lm":
        from fastrnn.tasks.language_modeling import train_lm

        return train_lm
    from fastrnn.tasks.tagging import train_tagger

    return train_tagger


def task_options(task: str) -> dict[str, tuple[type, ...]]:
    """Options a spec may set for ``task``: name -> accepted Python types."""
    func = task_function(task)
    hints = typing.get_type_hints(func)
    options = {}
    for name, param in inspect.signature(func).parameters.items():
        if name in _RESERVED or param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        options[name] = _accepted_types(hints.get(name, Any))
    return options


def _accepted_types(hint: Any) -> tuple[type, ...]:
    args = typing.get_args(hint) if _is_union(hint) else (hint,)
    accepted: list[type] = []
    for arg in args:
        if arg is type(None):
            continue  # TOML has no null: None is the default, never a value
        if arg is float:
            accepted += [float, int]
        elif arg in (int, str, bool):
            accepted.append(arg)
        else:
            accepted += [int, float, str]  # e.g. ``str | int | None`` column
    return tuple(dict.fromkeys(accepted))


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and check a TOML sweep spec; raises :class:`SpecError` naming the field."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SpecError(f"{p}: no such file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{p}: not valid TOML ({exc})") from None
    return parse_spec(raw, where=str(p), base=p.parent)


def parse_spec(
    raw: dict[str, Any], where: str = "spec", base: str | os.PathLike[str] = "."
) -> SweepSpec:
    """Check a spec given as a dict (the parsed TOML); see :func:`load_spec`."""

    def fail(field_name: str, message: str) -> SpecError:
        return SpecError(f"{where}: {field_name}: {message}")

    unknown = sorted(set(raw) - _TOP_LEVEL)
    if unknown:
        raise fail(
            unknown[0], f"unknown field (known: {', '.join(sorted(_TOP_LEVEL))})"
        )
    task = raw.get("task")
    if task not in _TASKS:
        raise fail("task", f"expected 'lm' or 'tagger', got {task!r}")
    default_metric, default_mode, metrics, data_keys, required = _TASKS[task]

    data = _table(raw, "data", fail)
    for key in sorted(set(data) - data_keys):
        raise fail(
            f"data.{key}", f"unknown field (known: {', '.join(sorted(data_keys))})"
        )
    for key in sorted(required - set(data)):
        raise fail(f"data.{key}", "missing (required for this task)")
    for key in ("source", "train", "eval"):
        if key in data:
            if not isinstance(data[key], str):
                raise fail(f"data.{key}", f"expected a path string, got {data[key]!r}")
            resolved = Path(base, data[key]).resolve()
            if not resolved.exists():
                raise fail(f"data.{key}", f"no such file or directory: {resolved}")
            data[key] = str(resolved)

    options = task_options(task)
    train = _table(raw, "train", fail)
    for key, value in train.items():
        _check_value(f"train.{key}", key, value, options, task, fail)
    search: dict[str, tuple[str, list[Any]]] = {}
    for key, dist in _table(raw, "search", fail).items():
        name = f"search.{key}"
        if key in train:
            raise fail(name, "also fixed in [train]; set it in one place")
        if not isinstance(dist, dict) or len(dist) != 1:
            raise fail(
                name,
                "expected one distribution, e.g. { choice = [...] } or "
                f"{{ loguniform = [lo, hi] }} (known: {', '.join(DISTRIBUTIONS)})",
            )
        ((kind, args),) = dist.items()
        search[key] = (
            kind,
            _check_distribution(name, key, kind, args, options, task, fail),
        )
    _check_ranges(task, train, search, fail)
    if "max_steps" not in train and "time_budget" not in train:
        if "max_steps" not in search and "time_budget" not in search and task == "lm":
            raise fail("train.max_steps", "missing: set max_steps or time_budget")

    trials = _int(raw, "trials", 1, fail)
    threads = _int(raw, "threads_per_trial", 1, fail)
    max_failures = _int(raw, "max_failures", 2, fail, minimum=0)
    seed = _int(raw, "seed", 0, fail, minimum=0)
    metric = raw.get("metric", default_metric)
    if metric not in metrics:
        raise fail(
            "metric",
            f"expected one of {sorted(metrics)} for task {task!r}, got {metric!r}",
        )
    mode = raw.get("mode", "max" if "accuracy" in metric else "min")
    if mode not in ("min", "max"):
        raise fail("mode", f"expected 'min' or 'max', got {mode!r}")
    scheduler = dict(_table(raw, "scheduler", fail)) or {"name": "asha"}
    scheduler.setdefault("name", "asha")
    if scheduler["name"] not in _SCHEDULERS:
        raise fail(
            "scheduler.name", f"expected 'asha' or 'fifo', got {scheduler['name']!r}"
        )
    for key in sorted(set(scheduler) - {"name"} - _SCHEDULERS[scheduler["name"]]):
        raise fail(f"scheduler.{key}", f"unknown field for {scheduler['name']!r}")
    for key in ("grace_period", "reduction_factor"):
        if key in scheduler:
            _int(
                scheduler,
                key,
                1,
                fail,
                minimum=1 if key == "grace_period" else 2,
                prefix="scheduler.",
            )
    return SweepSpec(
        task=task,
        data=data,
        train=train,
        search=search,
        trials=trials,
        threads_per_trial=threads,
        metric=metric,
        mode=mode,
        max_failures=max_failures,
        seed=seed,
        scheduler=scheduler,
        path=None if where == "spec" else where,
    )


def _check_ranges(
    task: str,
    train: dict[str, Any],
    search: dict[str, tuple[str, list[Any]]],
    fail: Callable[..., SpecError],
) -> None:
    """Every fixed value and every value a search can produce is in its range."""
    if task == "lm":
        from fastrnn.tasks.language_modeling import check_options
    else:
        from fastrnn.tasks.tagging import check_options
    for key, value in train.items():
        try:
            check_options(**{key: value})
        except (TypeError, ValueError) as exc:
            raise fail(f"train.{key}", str(exc)) from None
    for key, (kind, args) in search.items():
        for value in args:  # choices and grid values; the bounds of the ranges
            try:
                check_options(**{key: value})
            except (TypeError, ValueError) as exc:
                raise fail(f"search.{key}.{kind}", str(exc)) from None
    if task == "tagger" and train.get("val_fraction", 0.1) == 0:
        raise fail(
            "train.val_fraction", "must be > 0: the sweep metric is held-out accuracy"
        )


def _table(
    raw: dict[str, Any], name: str, fail: Callable[..., SpecError]
) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise fail(name, f"expected a table [{name}], got {value!r}")
    return dict(value)


def _int(
    raw: dict[str, Any],
    name: str,
    default: int,
    fail: Callable[..., SpecError],
    minimum: int = 1,
    prefix: str = "",
) -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise fail(prefix + name, f"expected an integer >= {minimum}, got {value!r}")
    return value


def _check_value(
    name: str,
    key: str,
    value: Any,
    options: dict[str, tuple[type, ...]],
    task: str,
    fail: Callable[..., SpecError],
) -> None:
    if key not in options:
        known = ", ".join(sorted(options))
        command = "train-lm" if task == "lm" else "train-tagger"
        raise fail(name, f"unknown option of {command} (known: {known})")
    accepted = options[key]
    ok = isinstance(value, accepted) and not (
        isinstance(value, bool) and bool not in accepted
    )
    if not ok:
        names = " or ".join(t.__name__ for t in accepted)
        raise fail(name, f"expected {names}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise fail(name, f"expected a finite number, got {value!r}")


def _check_distribution(
    name: str,
    key: str,
    kind: str,
    args: Any,
    options: dict[str, tuple[type, ...]],
    task: str,
    fail: Callable[..., SpecError],
) -> list[Any]:
    if key not in options:
        _check_value(name, key, None, options, task, fail)  # raises "unknown option"
    if kind not in DISTRIBUTIONS:
        raise fail(
            name, f"unknown distribution {kind!r} (known: {', '.join(DISTRIBUTIONS)})"
        )
    if not isinstance(args, list) or not args:
        raise fail(f"{name}.{kind}", f"expected a non-empty list, got {args!r}")
    arity = DISTRIBUTIONS[kind]
    if arity != "list" and len(args) != arity:
        raise fail(f"{name}.{kind}", f"expected [low, high], got {args!r}")
    for value in args:
        _check_value(f"{name}.{kind}", key, value, options, task, fail)
    if arity == 2:
        low, high = args
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in args
        ):
            raise fail(f"{name}.{kind}", f"expected numbers, got {args!r}")
        if not low < high:
            raise fail(f"{name}.{kind}", f"expected low < high, got {args!r}")
        if kind == "loguniform" and low <= 0:
            raise fail(f"{name}.{kind}", f"expected low > 0, got {args!r}")
        if kind == "randint" and not all(isinstance(v, int) for v in args):
            raise fail(f"{name}.{kind}", f"expected integers, got {args!r}")
        if kind in ("uniform", "loguniform") and float not in options[key]:
            raise fail(f"{name}.{kind}", f"{key} takes integers: use randint or choice")
    return list(args)
