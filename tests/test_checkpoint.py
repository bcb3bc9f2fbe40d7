"""Tests of ``fastrnn.save`` / ``fastrnn.load`` (fastrnn/checkpoint.py)."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from safetensors.numpy import save_file

import fastrnn as fr
from fastrnn import checkpoint, nn, optim


def _assert_tree_equal(a: Any, b: Any) -> None:
    """Exact equality of trees, including container, key and dtype types."""
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
        return
    assert type(a) is type(b), (a, b)
    if isinstance(a, dict):
        assert list(a) == list(b)
        assert [type(k) for k in a] == [type(k) for k in b]
        for k in a:
            _assert_tree_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_tree_equal(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def _train(model: nn.Module, opt: optim.Optimizer, x: fr.Tensor, y: fr.Tensor) -> None:
    opt.zero_grad()
    loss = nn.MSELoss()(model(x), y)
    loss.backward()
    opt.step()


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(3, 4, dtype=np.float64), nn.ReLU(), nn.Linear(4, 2, dtype=np.float64)
    )


def test_round_trip_sequential_state_dict(tmp_path: Path) -> None:
    fr.manual_seed(1)
    model = _mlp()
    path = tmp_path / "m.safetensors"
    fr.save(model, path)
    loaded = fr.load(path)
    _assert_tree_equal(dict(model.state_dict()), loaded)

    fr.manual_seed(2)
    fresh = _mlp()
    out = fr.load(str(path), into=fresh)
    _assert_tree_equal(loaded, out)
    _assert_tree_equal(dict(model.state_dict()), dict(fresh.state_dict()))


def test_round_trip_lstm_state_dict(tmp_path: Path) -> None:
    fr.manual_seed(3)
    lstm = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    path = tmp_path / "lstm.st"
    fr.save({"model": lstm.state_dict()}, path)
    loaded = fr.load(path)
    _assert_tree_equal({"model": dict(lstm.state_dict())}, loaded)
    assert "lstm" not in loaded["model"]  # flat dotted keys, not split
    fresh = nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    fresh.load_state_dict(loaded["model"])
    _assert_tree_equal(dict(lstm.state_dict()), dict(fresh.state_dict()))


def test_optimizer_resume_matches_uninterrupted_training(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = fr.tensor(rng.standard_normal((8, 3)))
    y = fr.tensor(rng.standard_normal((8, 2)))

    fr.manual_seed(5)
    model = _mlp()
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99))
    for _ in range(3):
        _train(model, opt, x, y)
    path = tmp_path / "ckpt.st"
    tree = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "config": {"hidden": 4, "lr": 0.01, "name": "mlp", "tags": ["a", "b"]},
        "vocab": ["<pad>", "a/b", "~x"],
        "step": 3,
        "rng": fr.random.get_rng_state(),
    }
    fr.save(tree, path)
    for _ in range(4):
        _train(model, opt, x, y)

    loaded = fr.load(path)
    _assert_tree_equal(
        {**tree, "model": dict(tree["model"])}, loaded
    )  # int keys, tuples (betas), big rng ints round-trip exactly
    assert all(type(k) is int for k in loaded["optimizer"]["state"])
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.99)

    fr.manual_seed(99)
    model2 = _mlp()
    model2.load_state_dict(loaded["model"])
    opt2 = optim.Adam(model2.parameters(), lr=0.5)
    opt2.load_state_dict(loaded["optimizer"])
    fr.random.set_rng_state(loaded["rng"])
    for _ in range(4):
        _train(model2, opt2, x, y)
    for a, b in zip(model.parameters(), model2.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize(
    "dtype",
    [np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8, bool],
)
def test_dtypes_and_shapes_preserved(tmp_path: Path, dtype: Any) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "matrix": (rng.standard_normal((3, 4)) * 10).astype(dtype),
        "scalar0d": np.asarray(1, dtype=dtype),
        "empty": np.zeros((0, 3), dtype=dtype),
        "strided": (rng.standard_normal((4, 6)) * 10).astype(dtype)[::2, ::3],
        "fortran": np.asfortranarray((rng.standard_normal((3, 2)) * 10).astype(dtype)),
    }
    path = tmp_path / "d.st"
    fr.save(arrays, path)
    _assert_tree_equal(arrays, fr.load(path))


def test_mixed_leaves_and_empty_containers(tmp_path: Path) -> None:
    tree: dict[Any, Any] = {
        "empty_dict": {},
        "empty_list": [],
        "empty_tuple": (),
        "nested": {"a": {}, "b": [[], {}, [{}]]},
        "none": None,
        "flag": True,
        "big": 2**100,
        "neg": -3,
        "pi": 3.25,
        "nan": float("nan"),
        "inf": float("-inf"),
        "text": "héllo",
        "np_scalar": np.float32(1.5),
        "np_int": np.int64(7),
        "tensor": fr.tensor(np.arange(4.0)),
        "list_of_arrays": [np.arange(3), np.ones(2, dtype=bool)],
        7: "int key",
        "a/b": np.array([1.0]),
        "a": {"b": np.array([2.0])},
        "~1": np.array([3.0]),
    }
    path = tmp_path / "mixed.st"
    fr.save(tree, path)
    loaded = fr.load(path)
    assert isinstance(loaded["tensor"], np.ndarray)
    assert type(loaded["np_scalar"]) is np.float32
    assert type(loaded["np_int"]) is np.int64
    _assert_tree_equal({**tree, "tensor": tree["tensor"].data}, loaded)


def test_top_level_non_dict(tmp_path: Path) -> None:
    for obj in ([np.arange(3), "x"], np.arange(5), 5, None):
        path = tmp_path / "top.st"
        fr.save(obj, path)
        _assert_tree_equal(obj, fr.load(path))


def test_unsupported_leaf_types_name_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.st"
    with pytest.raises(TypeError, match="model/sub/1"):
        fr.save({"model": {"sub": [1, object()]}}, path)
    with pytest.raises(TypeError, match="'x'.*dtype object"):
        fr.save({"x": np.array(["a", None], dtype=object)}, path)
    with pytest.raises(TypeError, match="dict keys"):
        fr.save({"x": {(1, 2): 3}}, path)
    with pytest.raises(TypeError, match="set"):
        fr.save({"x": {1, 2}}, path)
    assert not path.exists()
    assert os.listdir(tmp_path) == []


def test_int_and_str_key_collision_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique key paths"):
        fr.save({0: np.zeros(1), "0": np.ones(1)}, tmp_path / "c.st")


def test_atomic_write_keeps_old_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ckpt.st"
    fr.save({"v": np.arange(3)}, path)
    before = path.read_bytes()

    def failing_write(f: Any, data: bytes) -> None:
        f.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_write_payload", failing_write)
    with pytest.raises(OSError, match="disk full"):
        fr.save({"v": np.arange(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.st"]
    _assert_tree_equal({"v": np.arange(3)}, fr.load(path))

    def interrupted_replace(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "_write_payload", lambda f, d: f.write(d))
    monkeypatch.setattr(checkpoint.os, "replace", interrupted_replace)
    with pytest.raises(KeyboardInterrupt):
        fr.save({"v": np.arange(1000)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.st"]


def test_save_overwrites_atomically(tmp_path: Path) -> None:
    path = tmp_path / "ckpt.st"
    fr.save({"v": np.arange(3)}, path)
    fr.save({"w": np.arange(4)}, path)
    _assert_tree_equal({"w": np.arange(4)}, fr.load(path))
    assert os.listdir(tmp_path) == ["ckpt.st"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_file_mode_like_a_plain_open(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    path = tmp_path / "ckpt.st"
    fr.save({"v": np.arange(3)}, path)
    assert path.stat().st_mode == plain.stat().st_mode
    path.chmod(0o640)
    fr.save({"v": np.arange(3)}, path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.st"):
        fr.load(tmp_path / "nope.st")


def _assert_rejected(path: Path, match: str = "expected a fastrnn checkpoint") -> None:
    with pytest.raises(ValueError, match=match) as info:
        fr.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("keep", [0, 4, 8, 20, -1, -7])
def test_truncated_file(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "t.st"
    fr.save({"a": np.arange(100.0), "b": {"c": np.ones(3)}}, path)
    data = path.read_bytes()
    path.write_bytes(data[:keep])
    _assert_rejected(path)


def test_random_bytes_file(tmp_path: Path) -> None:
    path = tmp_path / "r.st"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    _assert_rejected(path)


def test_corrupted_header_length(tmp_path: Path) -> None:
    path = tmp_path / "h.st"
    fr.save({"a": np.arange(10.0)}, path)
    data = bytearray(path.read_bytes())
    data[0:8] = (2**62).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    _assert_rejected(path)


def test_plain_safetensors_without_metadata(tmp_path: Path) -> None:
    path = tmp_path / "plain.st"
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(path))
    _assert_rejected(path, "without 'fastrnn' metadata")
    save_file({"w": np.zeros(3, dtype=np.float32)}, str(path), metadata={"x": "y"})
    _assert_rejected(path, "without 'fastrnn' metadata")


def _header(version: Any = 1, tree: Any = None, **extra: Any) -> str:
    return json.dumps(
        {
            "format": "fastrnn.checkpoint",
            "version": version,
            "kind": "tree",
            "tree": tree or {"t": "value", "v": 1},
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "unknown format"),
        (json.dumps({"format": "other", "version": 1}), "unknown format"),
        (_header(version=2), "format version 2, newer"),
        (_header(version="1"), "invalid format version"),
        (_header(tree={"t": "array", "name": "missing"}), "missing tensor"),
        (_header(tree={"t": "weird"}), "unknown structure node"),
        (_header(tree={"t": "dict", "items": [["a", "int", None]]}), "dict key"),
        (_header(tree={"t": "value", "v": {"x": 1}}), "malformed value"),
        (_header(tree={"t": "value", "v": 1}), r"tensors \['w'\] not in"),
    ],
)
def test_bad_metadata(tmp_path: Path, metadata: str, match: str) -> None:
    path = tmp_path / "meta.st"
    save_file({"w": np.zeros(2)}, str(path), metadata={"fastrnn": metadata})
    _assert_rejected(path, match)


class _Boom:
    ran = False

    def __reduce__(self) -> tuple[Any, ...]:
        return (_mark_ran, ())


def _mark_ran() -> None:
    _Boom.ran = True


def test_pickle_file_rejected_and_never_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"model": _Boom(), "w": np.zeros(3)}))
    _Boom.ran = False
    _assert_rejected(path)
    assert not _Boom.ran


def test_load_into_reports_bad_state(tmp_path: Path) -> None:
    path = tmp_path / "m.st"
    fr.save(_mlp(), path)
    with pytest.raises(KeyError):
        fr.load(path, into=nn.Linear(3, 2))


def test_exported() -> None:
    assert fr.save is checkpoint.save
    assert fr.load is checkpoint.load
    assert {"save", "load"} <= set(fr.__all__)
