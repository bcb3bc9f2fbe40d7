"""Tests for fastrnn.models.forecaster and fastrnn.tasks.sines."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fastrnn as fr
from fastrnn import nn, optim
from fastrnn.models import Forecaster
from fastrnn.tasks.sines import (
    fit_forecaster,
    forecast_errors,
    load_csv_column,
    make_sines,
    sliding_windows,
    train_sines,
)


def make_model(**kw) -> Forecaster:
    fr.manual_seed(kw.pop("seed", 0))
    args = dict(input_size=2, hidden_size=6, dtype=np.float64)
    args.update(kw)
    return Forecaster(**args)


# ---------------------------------------------------------------- the model
@pytest.mark.parametrize("cell, layers", [("lstm", 1), ("gru", 2), ("rnn", 1)])
def test_forward_backward_shapes(rng, cell, layers) -> None:
    model = make_model(cell=cell, num_layers=layers)
    x = rng.standard_normal((9, 4, 2))
    pred, state = model(x[:-1])
    assert pred.shape == (8, 4, 2)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (layers, 4, 6)
    loss = nn.MSELoss()(pred, x[1:])
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.abs(p.grad).sum() > 0, name


def test_state_carries_across_calls(rng) -> None:
    model = make_model()
    x = rng.standard_normal((10, 3, 2))
    whole, _ = model(x)
    first, state = model(x[:4])
    second, _ = model(x[4:], state)
    np.testing.assert_allclose(
        np.concatenate([first.data, second.data]), whole.data, rtol=1e-12
    )


def test_forecast_feeds_predictions_back(rng) -> None:
    model = make_model(cell="gru")
    history = rng.standard_normal((7, 3, 2))
    out = model.forecast(history, steps=4)
    assert out.shape == (4, 3, 2)
    # By hand: the prediction after the history, then each prediction as input.
    pred, state = model(history)
    expected = [pred.data[-1]]
    for _ in range(3):
        pred, state = model(expected[-1][None], state)
        expected.append(pred.data[0])
    np.testing.assert_allclose(out, np.stack(expected), rtol=1e-12)
    # An unbatched (T, F) history gives (steps, F).
    single = model.forecast(history[:, 1], steps=4)
    np.testing.assert_allclose(single, out[:, 1], rtol=1e-10)


def test_forecast_uses_eval_mode_and_restores_it(rng) -> None:
    model = make_model(num_layers=2, dropout=0.5)
    history = rng.standard_normal((5, 2, 2))
    model.train()
    a = model.forecast(history, 3)
    b = model.forecast(history, 3)
    np.testing.assert_array_equal(a, b)  # no dropout while forecasting
    assert model.training


def test_learns_a_clean_sine_quickly() -> None:
    """One-step MSE < 1e-3 and a 24-step forecast MSE < 1e-2 after 300 small steps.

    (About 1 s on one idle core; wall time is not asserted, CI machines are shared.)
    """
    fr.manual_seed(0)
    rng = np.random.default_rng(0)
    period = 16.0

    def batch(n, length):
        t = rng.uniform(0, period, n)[None, :] + np.arange(length)[:, None]
        return np.sin(2 * np.pi * t / period)[:, :, None].astype(np.float32)

    model = Forecaster(1, 16)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        x = batch(16, 48)
        pred, _ = model(x[:-1])
        loss = nn.MSELoss()(pred, x[1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    x = batch(32, 64)
    pred, _ = model(x[:-1])
    one_step = float(np.mean((pred.data[8:] - x[9:]) ** 2))  # after 8 steps of context
    forecast = model.forecast(x[:40], 24)
    multi = float(np.mean((forecast - x[40:]) ** 2))
    naive = float(np.mean((x[39:40] - x[40:]) ** 2))
    assert one_step < 1e-3, one_step
    assert multi < 1e-2 < naive, (multi, naive)


def test_config_round_trip_through_save_and_load(rng, tmp_path) -> None:
    model = make_model(cell="gru", num_layers=2, dropout=0.2)
    path = tmp_path / "fc.st"
    fr.save({"config": model.config(), "model": model.state_dict()}, path)
    ckpt = fr.load(path)
    fr.manual_seed(99)
    clone = Forecaster.from_config(ckpt["config"])
    clone.load_state_dict(ckpt["model"])
    history = rng.standard_normal((6, 2, 2))
    np.testing.assert_array_equal(
        clone.forecast(history, 5), model.forecast(history, 5)
    )
    with pytest.raises(ValueError, match="unknown"):
        Forecaster.from_config({**model.config(), "heads": 2})


def test_input_errors() -> None:
    model = make_model()
    with pytest.raises(ValueError, match=r"expected x of shape \(T >= 1, B, 2\)"):
        model(np.zeros((5, 3, 1)))
    with pytest.raises(ValueError, match="time-major"):
        model(np.zeros((5, 2)))
    with pytest.raises(TypeError, match="expected a floating x"):
        model(np.zeros((5, 3, 2), dtype=np.int64))
    with pytest.raises(ValueError, match="expected steps >= 1"):
        model.forecast(np.zeros((5, 2)), 0)
    with pytest.raises(ValueError, match="expected cell"):
        Forecaster(cell="tcn")


# ------------------------------------------------------------------ the task
def test_make_sines_is_seeded_and_noise_is_additive() -> None:
    noisy = make_sines(50, 300, seed=1, noise=0.1)
    assert noisy.shape == (50, 300) and noisy.dtype == np.float64
    np.testing.assert_array_equal(noisy, make_sines(50, 300, seed=1, noise=0.1))
    assert not np.array_equal(noisy, make_sines(50, 300, seed=2, noise=0.1))
    clean = make_sines(50, 300, seed=1, noise=0.0)
    assert np.std(noisy - clean) == pytest.approx(0.1, rel=0.05)
    assert np.abs(clean).max() <= 1.0
    # Periods in range: the dominant frequency of a one-component clean series.
    one = make_sines(20, 960, seed=3, n_components=1, noise=0.0, period_range=(16, 32))
    periods = 960 / np.argmax(np.abs(np.fft.rfft(one, axis=1)), axis=1)
    assert ((periods > 15) & (periods < 33)).all()
    assert len(np.unique(np.round(periods))) > 3  # several frequencies


def test_sliding_windows() -> None:
    w = sliding_windows(np.arange(10.0), 4, stride=3)
    np.testing.assert_array_equal(w, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]])
    with pytest.raises(ValueError, match="at least 4 values"):
        sliding_windows(np.arange(3.0), 4)


def test_forecast_errors_naive_baseline() -> None:
    """The baseline repeats the last seen value; the model is judged alike."""
    model = Forecaster(1, 4)
    series = np.tile(np.r_[np.zeros(5), np.ones(3)], (2, 1))  # steps up after 5
    errors = forecast_errors(model, series, history=5, horizon=3, truth=series)
    assert errors["naive_mse"] == 1.0 and errors["naive_mse_clean"] == 1.0
    expected = np.mean(
        (model.forecast(series[:, :5].T[:, :, None], 3)[:, :, 0].T - 1) ** 2
    )
    assert errors["model_mse"] == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match=r"expected series of shape \(N, L >= 9\)"):
        forecast_errors(model, series, history=5, horizon=4)


def test_fit_and_train_sines_smoke() -> None:
    lines: list[str] = []
    result = train_sines(
        n_train=16, n_test=4, length=30, history=20, horizon=10, steps=4,
        batch_size=4, hidden_size=4, log_every=2, log=lines.append,
    )  # fmt: skip
    json.dumps(result)
    assert len(lines) == 2 and lines[-1].startswith("step 4/4")
    for key in ("model_mse", "naive_mse", "model_mse_clean", "naive_mse_clean"):
        assert np.isfinite(result[key]) and result[key] >= 0
    model, losses = fit_forecaster(make_sines(8, 20, seed=0), steps=3, hidden_size=3)
    assert len(losses) == 3 and not model.training


# ------------------------------------------------------------------ CSV column
def write(tmp_path, text: str):
    path = tmp_path / "data.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_column_by_name_and_index(tmp_path) -> None:
    path = write(
        tmp_path, "date,value,other\n2020-01-01,1.5,x\n\n2020-01-02, -2e-1 ,y\n"
    )
    np.testing.assert_array_equal(load_csv_column(path, "value"), [1.5, -0.2])
    np.testing.assert_array_equal(load_csv_column(path, 1), [1.5, -0.2])
    plain = write(tmp_path, "3;4\n5;6\n")
    np.testing.assert_array_equal(
        load_csv_column(plain, 1, delimiter=";", header=False), [4, 6]
    )


@pytest.mark.parametrize(
    "text, column, message",
    [
        ("a,b\n1,2\n", "c", r"data.csv:1: expected a column named 'c'"),
        (
            "a,b\n1,2\n3,oops\n",
            "b",
            r"data.csv:3: expected a number in column 'b', got 'oops'",
        ),
        ("a,b\n1,2\n3\n", "b", r"data.csv:3: expected at least 2 fields"),
        ("a,b\n1,\n", "b", r"data.csv:2: expected a number in column 'b', got ''"),
        ("a,b\n1,nan\n", 1, r"data.csv:2: expected a finite number in column #1"),
        ("a,b\n\n", "a", r"data.csv: expected at least one data row"),
    ],
)
def test_load_csv_column_errors_name_file_and_line(
    tmp_path, text, column, message
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        load_csv_column(path, column)


def test_load_csv_column_argument_errors(tmp_path) -> None:
    path = write(tmp_path, "1\n")
    with pytest.raises(ValueError, match="header=True"):
        load_csv_column(path, "a", header=False)
    with pytest.raises(TypeError, match="name or an index"):
        load_csv_column(path, 1.0)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        load_csv_column(tmp_path / "missing.csv", 0)
