"""Forecast noisy sines (or a CSV column) with an LSTM, against a naive baseline.

Generated data (fastrnn.tasks.sines): each series is a sum of two sines with random
periods (12 to 48 steps), phases and amplitudes, plus Gaussian noise. The model
trains one step ahead, then on held-out series it sees --history steps and forecasts
--horizon steps autoregressively (feeding its predictions back). Prints the forecast
MSE next to the naive "repeat the last value" baseline, against the noisy future and
against the clean signal.

With --csv, the column is standardised with the mean and deviation of its first 80%,
the model trains on sliding windows of that part and is evaluated on windows of the
last 20%.

    python examples/forecast_sines.py                       # 1 thread, 1500 steps
    python examples/forecast_sines.py --csv prices.csv --column close --horizon 10
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import fastrnn as fr
from fastrnn.tasks.sines import (
    fit_forecaster,
    forecast_errors,
    load_csv_column,
    sliding_windows,
    train_sines,
)


def run_csv(args: argparse.Namespace) -> None:
    column: str | int = int(args.column) if args.column.isdigit() else args.column
    values = load_csv_column(args.csv, column)
    window = args.history + args.horizon
    cut = int(len(values) * 0.8)
    if cut < window or len(values) - cut < window:
        raise SystemExit(
            f"{args.csv}: expected at least {window} values in both the first 80% "
            f"and the last 20% of column {column!r}, got {len(values)} values"
        )
    mean, std = values[:cut].mean(), values[:cut].std() or 1.0
    scaled = (values - mean) / std
    train = sliding_windows(scaled[:cut], window)
    test = sliding_windows(scaled[cut:], window, stride=max(1, args.horizon // 2))
    print(
        f"{args.csv} column {column!r}: {len(values)} values, {len(train)} training "
        f"and {len(test)} test windows of {window} steps"
    )
    model, _ = fit_forecaster(
        train,
        steps=args.steps,
        batch_size=args.batch_size,
        hidden_size=args.hidden,
        cell=args.cell,
        lr=args.lr,
        seed=args.seed,
        log=print,
    )
    errors = forecast_errors(model, test, args.history, args.horizon)
    print(
        f"forecast MSE over {args.horizon} steps (standardised units): "
        f"model {errors['model_mse']:.4f}, naive last value {errors['naive_mse']:.4f}"
    )
    print(
        f"in the column's units: model {errors['model_mse'] * std**2:.4g}, "
        f"naive {errors['naive_mse'] * std**2:.4g}"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--history", type=int, default=80)
    p.add_argument("--horizon", type=int, default=40)
    p.add_argument("--noise", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--csv", default=None, help="forecast a column of this CSV file")
    p.add_argument("--column", default="1", help="column name or 0-based index")
    args = p.parse_args()
    fr.set_num_threads(args.threads)
    if args.csv:
        run_csv(args)
        return 0
    print(
        f"noisy sines (noise {args.noise}): {args.cell} {args.hidden}, "
        f"{args.steps} steps, history {args.history}, horizon {args.horizon}, "
        f"{args.threads} thread(s)"
    )
    r = train_sines(
        length=args.history + args.horizon,
        history=args.history,
        horizon=args.horizon,
        noise=args.noise,
        steps=args.steps,
        batch_size=args.batch_size,
        hidden_size=args.hidden,
        cell=args.cell,
        lr=args.lr,
        seed=args.seed,
        log_every=max(1, args.steps // 10),
        log=print,
    )
    print(f"training time: {r['seconds']:.1f} s")
    print(f"{args.horizon}-step forecast MSE     model    naive last value")
    print(f"  vs noisy future       {r['model_mse']:8.4f}    {r['naive_mse']:8.4f}")
    print(
        f"  vs clean signal       {r['model_mse_clean']:8.4f}    {r['naive_mse_clean']:8.4f}"
    )
    print(f"  (noise variance {args.noise**2:.4f}; model/naive = "
          f"{r['model_mse'] / r['naive_mse']:.2f})")  # fmt: skip
    by_step = np.asarray(r["model_mse_by_step"])
    naive_by_step = np.asarray(r["naive_mse_by_step"])
    print("  by horizon step:")
    for k in sorted({0, len(by_step) // 4, len(by_step) // 2, len(by_step) - 1}):
        print(
            f"    step {k + 1:3d}: model {by_step[k]:.4f}, naive {naive_by_step[k]:.4f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
