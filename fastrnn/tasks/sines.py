"""Time-series forecasting: generated noisy sines, any CSV column, and a recipe.

>>> series = make_sines(64, 200, seed=0)              # (64, 200) noisy sines
>>> values = load_csv_column("prices.csv", "close")   # (N,) float64
>>> result = train_sines()                            # forecast MSE vs naive

Evaluation: for each held-out series, the model sees ``history`` steps and
forecasts the next ``horizon`` steps autoregressively (:meth:`Forecaster.forecast`);
the baseline repeats the last observed value. Both are compared to the observed
(noisy) future, and to the clean signal when it is known.
"""

from __future__ import annotations

import csv
import math
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fastrnn import nn, optim
from fastrnn import random as _random
from fastrnn._validation import check_int as _check_int
from fastrnn.models.forecaster import Forecaster

__all__ = [
    "fit_forecaster",
    "forecast_errors",
    "load_csv_column",
    "make_sines",
    "sliding_windows",
    "train_sines",
]

Array = NDArray[np.float64]


def make_sines(
    n_series: int,
    length: int,
    seed: int,
    n_components: int = 2,
    period_range: tuple[float, float] = (12.0, 48.0),
    noise: float = 0.05,
) -> Array:
    """Sums of sines with random periods, phases and amplitudes, plus Gaussian noise.

    Series ``i`` is ``sum_k a_ik sin(2 pi t / p_ik + phi_ik) + noise * N(0, 1)`` for
    ``t = 0 .. length - 1``, with periods ``p_ik`` uniform in ``period_range``
    (in steps), phases uniform in [0, 2 pi) and amplitudes uniform in [0.5, 1]
    divided by ``n_components``. The noise is drawn after everything else, so
    ``noise=0`` with the same seed gives the clean signals of the noisy ones.

    Parameters
    ----------
    n_series, length : int
    seed : int
    n_components : int, default 2
    period_range : (float, float), default (12, 48)
    noise : float, default 0.05
        Standard deviation of the additive noise.

    Returns
    -------
    ndarray of float64, shape (n_series, length)
    """
    n_series = _check_int("n_series", n_series, 1)
    length = _check_int("length", length, 1)
    n_components = _check_int("n_components", n_components, 1)
    lo, hi = period_range
    if not 0 < lo <= hi:
        raise ValueError(f"expected 0 < period_range[0] <= [1], got {period_range}")
    if noise < 0:
        raise ValueError(f"expected noise >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    shape = (n_series, n_components, 1)
    periods = rng.uniform(lo, hi, shape)
    phases = rng.uniform(0, 2 * math.pi, shape)
    amplitudes = rng.uniform(0.5, 1.0, shape) / n_components
    t = np.arange(length, dtype=np.float64)
    clean = (amplitudes * np.sin(2 * math.pi * t / periods + phases)).sum(axis=1)
    return clean + noise * rng.standard_normal((n_series, length))


def load_csv_column(
    path: str | os.PathLike[str],
    column: str | int,
    delimiter: str = ",",
    header: bool = True,
) -> Array:
    """The values of one numeric CSV column, in file order.

    Parameters
    ----------
    path : str or PathLike
    column : str or int
        A header name, or a 0-based field index.
    delimiter : str, default ","
    header : bool, default True
        Whether the first non-blank line names the columns (required for a name).

    Returns
    -------
    ndarray of float64, shape (N,)

    Raises
    ------
    ValueError
        With ``file:line`` for a missing column, a short row, or a value that is
        empty, not a number or not finite; or when there are no data rows.
    """
    path = os.fspath(path)
    if isinstance(column, bool) or not isinstance(column, (str, int)):
        raise TypeError(f"expected column to be a name or an index, got {column!r}")
    if isinstance(column, str) and not header:
        raise ValueError(f"expected header=True to select column {column!r} by name")
    if isinstance(column, int) and column < 0:
        raise ValueError(f"expected a column index >= 0, got {column}")
    values: list[float] = []
    index = column if isinstance(column, int) else -1
    name = repr(column) if isinstance(column, str) else f"#{column}"
    seen_header = not header
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            line = reader.line_num
            if not row or all(not field.strip() for field in row):
                continue
            if not seen_header:
                seen_header = True
                fields = [field.strip() for field in row]
                if isinstance(column, str):
                    if column not in fields:
                        raise ValueError(
                            f"{path}:{line}: expected a column named {column!r}, "
                            f"got columns {fields}"
                        )
                    index = fields.index(column)
                    name = repr(column)
                continue
            if index >= len(row):
                raise ValueError(
                    f"{path}:{line}: expected at least {index + 1} fields for "
                    f"column {name}, got {len(row)}"
                )
            text = row[index].strip()
            try:
                value = float(text)
            except ValueError:
                raise ValueError(
                    f"{path}:{line}: expected a number in column {name}, got {text!r}"
                ) from None
            if not math.isfinite(value):
                raise ValueError(
                    f"{path}:{line}: expected a finite number in column {name}, "
                    f"got {text!r}"
                )
            values.append(value)
    if not values:
        raise ValueError(f"{path}: expected at least one data row, got none")
    return np.asarray(values, dtype=np.float64)


def sliding_windows(values: Array, length: int, stride: int = 1) -> Array:
    """Windows of ``length`` consecutive values, every ``stride`` steps.

    ``values`` (N,) -> (M, length) with ``M = (N - length) // stride + 1``.
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"expected a 1-D series, got shape {array.shape}")
    length = _check_int("length", length, 2)
    stride = _check_int("stride", stride, 1)
    if array.size < length:
        raise ValueError(
            f"expected a series of at least {length} values, got {array.size}"
        )
    starts = np.arange(0, array.size - length + 1, stride)
    return array[starts[:, None] + np.arange(length)]


def fit_forecaster(
    series: Array,
    steps: int = 300,
    batch_size: int = 32,
    hidden_size: int = 32,
    num_layers: int = 1,
    cell: str = "lstm",
    lr: float = 1e-2,
    clip_norm: float = 1.0,
    seed: int = 0,
    log_every: int = 100,
    log: Callable[[str], None] | None = None,
) -> tuple[Forecaster, list[float]]:
    """Train a :class:`Forecaster` one step ahead on scaled series (N, L).

    Each step takes ``batch_size`` random series, ``inputs = x[:-1]`` and
    ``targets = x[1:]`` (time-major, F = 1), MSE loss, Adam with cosine decay.

    Returns
    -------
    model : Forecaster (in evaluation mode)
    losses : the training loss of every step
    """
    data = np.asarray(series, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] < 2:
        raise ValueError(f"expected series of shape (N, L >= 2), got {data.shape}")
    steps = _check_int("steps", steps, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    _random.manual_seed(seed)
    model = Forecaster(1, hidden_size, num_layers, cell)
    opt = optim.Adam(model.parameters(), lr=lr)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps, eta_min=lr / 20)
    loss_fn = nn.MSELoss()
    rng = np.random.default_rng(seed + 1)
    x_all = data.T[:, :, None].astype(np.float32)  # (L, N, 1) time-major
    losses: list[float] = []
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        idx = rng.integers(0, data.shape[0], size=batch_size)
        batch = x_all[:, idx]  # (L, B, 1)
        pred, _ = model(batch[:-1])
        loss = loss_fn(pred, batch[1:])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        opt.step()
        sched.step()
        losses.append(loss.item())
        if log is not None and (step % log_every == 0 or step == steps):
            log(
                f"step {step}/{steps}  mse {np.mean(losses[-log_every:]):.5f}  "
                f"{time.perf_counter() - start:.1f}s"
            )
    model.eval()
    return model, losses


def forecast_errors(
    model: Forecaster,
    series: Array,
    history: int,
    horizon: int,
    truth: Array | None = None,
) -> dict[str, Any]:
    """MSE of the model's and the naive last-value forecasts of ``horizon`` steps.

    Parameters
    ----------
    model : Forecaster (F = 1)
    series : (N, L) scaled series with ``L >= history + horizon``
        Each row's first ``history`` values are seen; the next ``horizon`` are
        forecast.
    truth : (N, L), optional
        The noise-free signals, for the ``*_clean`` errors.

    Returns
    -------
    dict with ``model_mse``, ``naive_mse`` (against ``series``), the same per
    horizon step as lists ``model_mse_by_step``, ``naive_mse_by_step`` (horizon,)
    and, with ``truth``, ``model_mse_clean``, ``naive_mse_clean``.
    """
    data = np.asarray(series, dtype=np.float64)
    history = _check_int("history", history, 1)
    horizon = _check_int("horizon", horizon, 1)
    if data.ndim != 2 or data.shape[1] < history + horizon:
        raise ValueError(
            f"expected series of shape (N, L >= {history + horizon}), got {data.shape}"
        )
    past = data[:, :history].T[:, :, None].astype(np.float32)  # (history, N, 1)
    pred = model.forecast(past, horizon)[:, :, 0].T.astype(np.float64)  # (N, horizon)
    naive = np.repeat(data[:, history - 1 : history], horizon, axis=1)
    future = data[:, history : history + horizon]
    result: dict[str, Any] = {
        "model_mse": float(np.mean((pred - future) ** 2)),
        "naive_mse": float(np.mean((naive - future) ** 2)),
        "model_mse_by_step": np.mean((pred - future) ** 2, axis=0).tolist(),
        "naive_mse_by_step": np.mean((naive - future) ** 2, axis=0).tolist(),
    }
    if truth is not None:
        clean = np.asarray(truth, dtype=np.float64)[:, history : history + horizon]
        result["model_mse_clean"] = float(np.mean((pred - clean) ** 2))
        result["naive_mse_clean"] = float(np.mean((naive - clean) ** 2))
    return result


def train_sines(
    n_train: int = 256,
    n_test: int = 64,
    length: int = 120,
    history: int = 80,
    horizon: int = 40,
    noise: float = 0.05,
    steps: int = 1500,
    batch_size: int = 32,
    hidden_size: int = 64,
    cell: str = "lstm",
    lr: float = 1e-2,
    seed: int = 0,
    log_every: int = 100,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train on generated noisy sines and compare forecasts with the naive baseline.

    Training and test series come from different seeds. The model trains one step
    ahead on whole series of ``length`` steps; on each test series it sees
    ``history`` steps and forecasts ``horizon``.

    Returns
    -------
    dict (JSON-serialisable)
        ``model_mse``, ``naive_mse`` (against the noisy future), ``model_mse_clean``,
        ``naive_mse_clean`` (against the clean signal), ``model_mse_by_step``,
        ``naive_mse_by_step``, ``final_loss``, ``steps``,
        ``seconds`` (training), ``config``.
    """
    length = _check_int("length", length, 2)
    if history + horizon > length:
        raise ValueError(
            f"expected history + horizon <= length={length}, got {history} + {horizon}"
        )
    train = make_sines(n_train, length, seed, noise=noise)
    test = make_sines(n_test, length, seed + 1000, noise=noise)
    clean = make_sines(n_test, length, seed + 1000, noise=0.0)
    start = time.perf_counter()
    model, losses = fit_forecaster(
        train,
        steps=steps,
        batch_size=batch_size,
        hidden_size=hidden_size,
        cell=cell,
        lr=lr,
        seed=seed,
        log_every=log_every,
        log=log,
    )
    seconds = time.perf_counter() - start
    errors = forecast_errors(model, test, history, horizon, truth=clean)
    return {
        **errors,
        "final_loss": float(np.mean(losses[-log_every:])),
        "steps": steps,
        "seconds": seconds,
        "history": history,
        "horizon": horizon,
        "noise": noise,
        "config": model.config(),
    }
