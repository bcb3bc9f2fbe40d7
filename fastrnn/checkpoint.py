"""Checkpoints: :func:`save` and :func:`load` in one pickle-free safetensors file.

A checkpoint holds a module's ``state_dict()`` or a tree of dicts, lists and tuples
whose leaves are NumPy arrays, NumPy scalars, fastrnn :class:`~fastrnn.Tensor`\\ s
(stored as arrays) or JSON values (``None``, bool, int, float, str)::

    fastrnn.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                  "step": 10, "rng": fastrnn.random.get_rng_state()}, "ckpt.st")
    ckpt = fastrnn.load("ckpt.st")

File format
-----------
One `safetensors <https://github.com/huggingface/safetensors>`_ file:

* every array leaf is a tensor whose name is the leaf's key path, each key escaped
  as in a JSON pointer (RFC 6901: ``~`` -> ``~0``, ``/`` -> ``~1``) and the keys
  joined with ``/``. ``{"model": {"lstm.weight_ih_l0": a}}`` stores ``a`` as
  ``"model/lstm.weight_ih_l0"``; a key containing ``/`` cannot collide with a
  nested path because its ``/`` is escaped. List items use their index.
* the safetensors ``__metadata__`` has a single entry, ``"fastrnn"``, a JSON object
  ``{"format": "fastrnn.checkpoint", "version": 1, "kind": ..., "tree": node}``.
  ``kind`` is ``"module"`` when a module was saved, else ``"tree"``. A ``node`` is

  - ``{"t": "dict", "items": [[key, key_type, node], ...]}`` with ``key_type``
    ``"str"`` or ``"int"``: this is how int keys (optimizer ``"state"``) come back
    as ints; item order is kept;
  - ``{"t": "list", "items": [node, ...]}`` or ``{"t": "tuple", ...}``;
  - ``{"t": "array", "name": tensor_name, "shape": [...]}`` (the shape is kept
    because safetensors may not round-trip 0-d tensors), or ``{"t": "scalar", ...}`` for a
    NumPy scalar (stored as a 0-d tensor, loaded back as a NumPy scalar);
  - ``{"t": "value", "v": json_value}`` for ``None``, bool, int, float, str.

Nothing is unpickled on load: safetensors only parses a JSON header and raw
little-endian buffers, so loading an untrusted file cannot run code.

Writes are atomic: the bytes go to a temporary file in the target's directory,
which is flushed, ``fsync``-ed and ``os.replace``-d onto the target (then the
directory is ``fsync``-ed where the OS allows). If anything fails the temporary
file is removed and an existing target is left untouched.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import stat
import tempfile
from collections.abc import Mapping
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from fastrnn.tensor import Tensor

__all__ = ["FORMAT_VERSION", "METADATA_KEY", "load", "save"]

Array = NDArray[Any]
PathLike = str | os.PathLike[str]

#: The name of the safetensors ``__metadata__`` entry holding the structure.
METADATA_KEY = "fastrnn"
#: The format version written by :func:`save`; :func:`load` rejects newer ones.
FORMAT_VERSION = 1
_FORMAT_NAME = "fastrnn.checkpoint"
_SEP = "/"


def _escape(key: str) -> str:
    """Escape one path component as in a JSON pointer (``~``, then ``/``)."""
    return key.replace("~", "~0").replace("/", "~1")


def _path_str(path: tuple[str, ...]) -> str:
    return _SEP.join(path) if path else "<root>"


# ---------------------------------------------------------------------- encode
class _Encoder:
    """Walk a tree, collecting arrays by tensor name and the JSON structure."""

    def __init__(self) -> None:
        self.tensors: dict[str, Array] = {}

    def _add_array(self, array: Array, path: tuple[str, ...]) -> str:
        where = _path_str(path)
        if array.dtype.kind not in "biuf" or array.dtype.fields is not None:
            raise TypeError(
                f"expected a bool, integer or floating array at {where!r}, got "
                f"dtype {array.dtype}"
            )
        name = _SEP.join(path) if path else ""
        if name in self.tensors:
            raise ValueError(
                f"expected unique key paths, got {where!r} twice (a dict with both "
                "an int key and the same key as a str?)"
            )
        # Native (little-endian on all supported CPUs), C-contiguous copy.
        self.tensors[name] = np.ascontiguousarray(
            array, dtype=array.dtype.newbyteorder("=")
        )
        return name

    def encode(self, obj: Any, path: tuple[str, ...]) -> dict[str, Any]:
        if isinstance(obj, Tensor):
            obj = obj.data
        if isinstance(obj, np.ndarray):
            name = self._add_array(obj, path)
            return {"t": "array", "name": name, "shape": list(obj.shape)}
        if isinstance(obj, np.generic):
            return {"t": "scalar", "name": self._add_array(np.asarray(obj), path)}
        if obj is None or isinstance(obj, (bool, int, str)):
            return {"t": "value", "v": obj}
        if isinstance(obj, float):
            if math.isfinite(obj):
                return {"t": "value", "v": obj}
            return {"t": "float", "v": repr(obj)}  # "nan", "inf", "-inf"
        if isinstance(obj, Mapping):
            items = []
            for key, value in obj.items():
                if isinstance(key, bool) or not isinstance(key, (str, int)):
                    raise TypeError(
                        f"expected str or int dict keys at {_path_str(path)!r}, got "
                        f"{type(key).__name__} key {key!r}"
                    )
                key_type = "str" if isinstance(key, str) else "int"
                child = self.encode(value, (*path, _escape(str(key))))
                items.append(
                    [str(key) if key_type == "str" else int(key), key_type, child]
                )
            return {"t": "dict", "items": items}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            items = [self.encode(v, (*path, str(i))) for i, v in enumerate(obj)]
            return {"t": kind, "items": items}
        raise TypeError(
            f"cannot save a {type(obj).__name__} at {_path_str(path)!r}: expected an "
            "ndarray, Tensor, NumPy scalar, None, bool, int, float, str, or a dict, "
            "list or tuple of those"
        )


def _to_tree(obj: Any) -> tuple[str, Any]:
    """Replace a :class:`~fastrnn.nn.Module` by its state dict; tag the kind."""
    from fastrnn.nn.module import Module  # lazy: fastrnn.nn imports fastrnn

    if isinstance(obj, Module):
        return "module", obj.state_dict()
    return "tree", obj


def _write_payload(f: IO[bytes], data: bytes) -> None:
    """Write the file bytes (a seam the tests monkeypatch to fail midway)."""
    f.write(data)


def _fsync_dir(directory: str) -> None:
    """``fsync`` a directory so the rename is durable; a no-op where unsupported."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(directory, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _file_mode(path: str) -> int:
    """The permission bits for the new file: the old file's, else ``0o666 & ~umask``.

    ``mkstemp`` creates ``0o600`` files; without this a checkpoint would not be
    readable by the group as an ``open(path, "wb")`` file would be.
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0o22)  # reading the umask means setting it; restore it
        os.umask(umask)
        return 0o666 & ~umask


def save(obj: Any, path: PathLike) -> None:
    """Save a module's state or a tree of arrays and JSON values to ``path``.

    Parameters
    ----------
    obj : Module or dict or list or tuple
        A :class:`fastrnn.nn.Module` (its ``state_dict()`` is saved) or a tree of
        dicts (str or int keys), lists and tuples whose leaves are ndarrays, fastrnn
        Tensors (saved as their arrays), NumPy scalars, ``None``, bool, int, float
        or str. Arrays must have a bool, integer or floating dtype.
    path : str or os.PathLike
        The file to write; replaced atomically if it exists.

    Raises
    ------
    TypeError
        If a leaf, key or array dtype cannot be saved; the message names its key path.
    """
    from safetensors.numpy import save as st_save

    kind, tree = _to_tree(obj)
    encoder = _Encoder()
    node = encoder.encode(tree, ())
    header = {
        "format": _FORMAT_NAME,
        "version": FORMAT_VERSION,
        "kind": kind,
        "tree": node,
    }
    data = st_save(encoder.tensors, metadata={METADATA_KEY: json.dumps(header)})

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
    )
    try:
        with contextlib.suppress(OSError, NotImplementedError):
            os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, "wb") as f:
            _write_payload(f, data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


# ---------------------------------------------------------------------- decode
def _bad(path: str, what: str) -> ValueError:
    return ValueError(f"expected a fastrnn checkpoint, got {what} in {path!r}")


class _Decoder:
    def __init__(self, path: str, handle: Any) -> None:
        self.path = path
        self.handle = handle
        self.names = set(handle.keys())
        self.used: set[str] = set()

    def _array(self, node: Mapping[str, Any]) -> Array:
        name = node.get("name")
        if not isinstance(name, str) or name not in self.names:
            raise _bad(self.path, f"a reference to a missing tensor {name!r}")
        self.used.add(name)
        array = self.handle.get_tensor(name)
        # safetensors may hand 0-d tensors back as shape (1,): restore the shape.
        shape = node.get("shape", [] if node.get("t") == "scalar" else None)
        if shape is not None:
            if not (
                isinstance(shape, list)
                and all(isinstance(n, int) and n >= 0 for n in shape)
                and math.prod(shape) == array.size
            ):
                raise _bad(self.path, f"a bad shape {shape!r:.80} for tensor {name!r}")
            array = array.reshape(shape)
        return array

    def decode(self, node: Any) -> Any:
        if not isinstance(node, dict):
            raise _bad(self.path, f"a malformed structure node {node!r:.80}")
        t = node.get("t")
        if t == "value":
            v = node.get("v")
            if v is not None and not isinstance(v, (bool, int, float, str)):
                raise _bad(self.path, f"a malformed value {v!r:.80}")
            return v
        if t == "float":
            if node.get("v") not in ("nan", "inf", "-inf"):
                raise _bad(self.path, f"a malformed float {node.get('v')!r:.80}")
            return float(node["v"])
        if t == "array":
            return self._array(node)
        if t == "scalar":
            return self._array(node)[()]
        if t not in ("list", "tuple", "dict"):
            raise _bad(self.path, f"an unknown structure node type {t!r:.40}")
        items = node.get("items")
        if not isinstance(items, list):
            raise _bad(self.path, f"a malformed {t!r} node")
        if t in ("list", "tuple"):
            values = [self.decode(v) for v in items]
            return values if t == "list" else tuple(values)
        out: dict[Any, Any] = {}
        for item in items:
            if not (isinstance(item, list) and len(item) == 3):
                raise _bad(self.path, f"a malformed dict item {item!r:.80}")
            key, key_type, child = item
            valid = (key_type == "int" and isinstance(key, int)) or (
                key_type == "str" and isinstance(key, str)
            )
            if not valid or isinstance(key, bool):
                raise _bad(self.path, f"a malformed dict key {key!r:.80}")
            out[key] = self.decode(child)
        return out


def _decode_file(path: str, handle: Any) -> Any:
    """Check our metadata entry in an open safetensors file and rebuild the tree."""
    metadata = handle.metadata() or {}
    if METADATA_KEY not in metadata:
        raise _bad(path, f"a safetensors file without {METADATA_KEY!r} metadata")
    try:
        header = json.loads(metadata[METADATA_KEY])
    except (ValueError, RecursionError) as err:
        raise _bad(path, f"invalid JSON metadata ({err})") from err
    if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
        raise _bad(path, "metadata of an unknown format")
    version = header.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _bad(path, f"an invalid format version {version!r:.40}")
    if version > FORMAT_VERSION:
        raise _bad(
            path,
            f"format version {version}, newer than the supported "
            f"{FORMAT_VERSION} (upgrade fastrnn)",
        )
    decoder = _Decoder(path, handle)
    try:
        tree = decoder.decode(header.get("tree"))
    except ValueError:
        raise
    except Exception as err:  # an unreadable tensor, or absurd nesting
        raise _bad(path, f"a corrupted tensor or structure ({err})") from err
    extra = decoder.names - decoder.used
    if extra:
        raise _bad(path, f"tensors {sorted(extra)[:5]} not in the structure")
    return tree


def load(path: PathLike, into: Any = None) -> Any:
    """Load a checkpoint written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    into : Module or Optimizer, optional
        If given, the loaded state is passed to ``into.load_state_dict`` (e.g. a
        module saved with ``save(model, path)``), and is also returned.

    Returns
    -------
    The saved tree: dicts (int keys restored), lists, tuples, ndarrays with their
    saved dtypes and shapes, NumPy scalars and JSON values. A saved module comes
    back as its state dict.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is truncated, corrupted, not safetensors, safetensors without
        fastrnn metadata, or written by a newer format version; the message names
        the file.
    """
    from safetensors import safe_open

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint file {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"expected a checkpoint file, got directory {path!r}")
    try:
        handle = safe_open(path, framework="np")
    except (FileNotFoundError, PermissionError):
        raise
    except Exception as err:  # safetensors raises SafetensorError, OSError, ...
        raise _bad(path, f"an unreadable or non-safetensors file ({err})") from err
    with handle:
        tree = _decode_file(path, handle)
    if into is not None:
        into.load_state_dict(tree)
    return tree
