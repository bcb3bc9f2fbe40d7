"""Python side of fused generation: pull a LanguageModel's weights out as contiguous
arrays, check everything, and run the token loop in :mod:`fastrnn._kernels.generate`.

Shapes: V vocabulary, E embedding size, H hidden size, L layers, G gates per cell,
B samples, N new tokens at most.

The kernel samples with exactly the rule of :mod:`fastrnn.models.sampling` and runs the
training kernels' gate math, so for the same uniforms it gives the tokens of
``LanguageModel._generate_reference`` (the step-by-step loop through the layers); the
products sum in a different order than BLIS, so the logits agree to rounding, not bit
for bit, and a token differs only when a uniform falls within that rounding of a CDF
boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fastrnn import _threads
from fastrnn._kernels import generate as _kernel
from fastrnn.functional import GATE_COUNT
from fastrnn.models.sampling import check_sampling_args
from fastrnn.tensor import Tensor

__all__ = ["GeneratorWeights", "generate", "use_table"]

#: Layer 0's input projection for every token (the (V, G*H) table) is built when it
#: takes at most this many bytes ...
TABLE_MAX_BYTES = 64 << 20
#: ... and the vocabulary has at most this many rows per token to generate: building
#: a row costs about what a step's own product costs (a lookup replaces it).
TABLE_ROWS_PER_TOKEN = 4
#: Threads split a step's products only with at least this many multiply-adds each:
#: on the 2-core AMD EPYC (Zen 1) of benchmarks/README.md, two threads ran a 2-layer
#: LSTM generator 0.75-1.05x as fast as one at 15-115 thousand multiply-adds per step
#: (H = 32, 64) and 1.3-1.7x at 200-3,000 thousand (H = 128, 256; B = 1, 2, 8): each
#: step has L + 2 barriers of about a microsecond.
MIN_WORK_PER_THREAD = 1 << 16


def _array(value: Any) -> NDArray[np.floating]:
    return np.asarray(value.data if isinstance(value, Tensor) else value)


@dataclass(frozen=True)
class GeneratorWeights:
    """A LanguageModel's weights as C-contiguous arrays of one dtype.

    Attributes
    ----------
    cell : str
        Kernel cell name (:data:`fastrnn.functional.CELLS`).
    embedding : ndarray (V, E)
    W_ih, W_hh, b_ih, b_hh : lists of L arrays, (G*H, E or H), (G*H, H), (G*H,), (G*H,)
        Zero biases when the recurrent layer has none.
    w_peep : list of L arrays (3H,) for ``"lstm_peephole"``, else of None
    W_head : ndarray (V, H);  b_head : ndarray (V,) (zeros without bias)
    """

    cell: str
    embedding: NDArray[np.floating]
    W_ih: list[NDArray[np.floating]]
    W_hh: list[NDArray[np.floating]]
    b_ih: list[NDArray[np.floating]]
    b_hh: list[NDArray[np.floating]]
    w_peep: list[NDArray[np.floating] | None]
    W_head: NDArray[np.floating]
    b_head: NDArray[np.floating]

    @property
    def dtype(self) -> np.dtype:
        return self.embedding.dtype

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(V, E, H, L)."""
        V, E = self.embedding.shape
        return V, E, self.W_hh[0].shape[1], len(self.W_hh)

    @classmethod
    def from_model(cls, model: Any) -> GeneratorWeights:
        """Read the weights of a :class:`fastrnn.models.LanguageModel`.

        Raises
        ------
        TypeError
            When the parameters do not share one dtype (float32 or float64).
        ValueError
            For a bidirectional recurrent layer (it cannot generate left to right) or
            a projected LSTM state (the fused kernel has no projection step).
        """
        rnn = model.rnn
        if rnn.num_directions != 1:
            raise ValueError(
                "expected a unidirectional recurrent layer for generation, got "
                "bidirectional=True"
            )
        cell = rnn.cell
        if cell not in GATE_COUNT:
            raise ValueError(f"expected a cell in {tuple(GATE_COUNT)}, got {cell!r}")
        if getattr(rnn, "proj_size", 0):
            raise ValueError(
                "expected an LSTM without projection for fused generation, got "
                f"proj_size={rnn.proj_size}"
            )
        dtype = np.dtype(rnn.weight_ih_l0.dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"expected float32 or float64 weights, got {dtype}")
        named = {
            "embedding.weight": model.embedding.weight,
            "head.weight": model.head.weight,
        }
        if model.head.bias is not None:
            named["head.bias"] = model.head.bias
        arrays: dict[str, NDArray[np.floating]] = {}
        for name, p in named.items():
            a = _array(p)
            if a.dtype != dtype:
                raise TypeError(
                    f"expected {name} to have the recurrent layer's dtype {dtype}, "
                    f"got {a.dtype} (convert the model with .to(dtype))"
                )
            arrays[name] = np.ascontiguousarray(a)
        G, H = GATE_COUNT[cell], rnn.hidden_size
        layers: dict[str, list[Any]] = {k: [] for k in ("W_ih", "W_hh", "b_ih", "b_hh")}
        peep: list[NDArray[np.floating] | None] = []
        for k in range(rnn.num_layers):
            W_ih, W_hh, b_ih, b_hh, w_peep, _ = rnn._weights(k)
            parts = {"W_ih": W_ih, "W_hh": W_hh, "b_ih": b_ih, "b_hh": b_hh}
            for key, p in parts.items():
                a = np.zeros(G * H, dtype) if p is None else _array(p)
                if a.dtype != dtype:
                    raise TypeError(
                        f"expected layer {k} {key} of dtype {dtype}, got {a.dtype}"
                    )
                layers[key].append(np.ascontiguousarray(a))
            peep.append(
                None if w_peep is None else np.ascontiguousarray(_array(w_peep))
            )
        V = arrays["embedding.weight"].shape[0]
        b_head = arrays.get("head.bias", np.zeros(V, dtype))
        return cls(
            cell=cell,
            embedding=arrays["embedding.weight"],
            W_head=arrays["head.weight"],
            b_head=b_head,
            w_peep=peep,
            **layers,
        )


def _state_arrays(
    state: Any, is_lstm: bool, shape: tuple[int, int, int], dtype: np.dtype
) -> tuple[NDArray[np.floating], NDArray[np.floating]]:
    """(h0, c0) of shape (L, B, H) from a recurrent layer's final state."""
    if is_lstm:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(
                f"expected the LSTM state as a tuple (h, c), got {type(state).__name__}"
            )
        h, c = (_array(s) for s in state)
    else:
        if isinstance(state, (tuple, list)):
            raise TypeError(
                f"expected the state h as one array, got a {type(state).__name__}"
            )
        h, c = _array(state), None
    out = []
    for name, a in (("h", h), ("c", c)):
        if a is None:
            out.append(np.zeros((0, 0, 0), dtype))
            continue
        if a.shape != shape:
            raise ValueError(
                f"expected state {name} of shape {shape} (L, B, H), got {a.shape}"
            )
        if a.dtype != dtype:
            raise TypeError(f"expected state {name} of dtype {dtype}, got {a.dtype}")
        out.append(np.ascontiguousarray(a))
    return out[0], out[1]


def use_table(V: int, G: int, H: int, itemsize: int, N: int, B: int) -> bool:
    """Whether layer 0's input projection goes through the (V, G*H) token table."""
    return V * G * H * itemsize <= TABLE_MAX_BYTES and V <= TABLE_ROWS_PER_TOKEN * N * B


def generate(
    model: Any,
    last_logits: ArrayLike,
    state: Any,
    uniforms: ArrayLike,
    temperature: float,
    top_k: int | None,
    top_p: float | None,
    eos_id: int,
    *,
    n_threads: int | None = None,
) -> list[NDArray[np.int64]]:
    """Sample up to N tokens per sample with the fused kernel.

    Parameters
    ----------
    model : LanguageModel
    last_logits : array (B, V)
        Logits after the prompt (the model's dtype; others are converted).
    state : the recurrent layer's state after the prompt
        ``h`` (L, B, H), or ``(h, c)`` for LSTMs (Tensors or arrays).
    uniforms : float64 array (N, B)
        ``uniforms[t, b]`` in [0, 1) draws token t of sample b.
    temperature, top_k, top_p
        As :func:`fastrnn.models.sampling.sample_from_logits`.
    eos_id : int
        A sample stops when it draws this id (not included); -1 never stops.
    n_threads : int, optional
        Most threads to use (default :func:`fastrnn.get_num_threads`); the kernel uses
        one per :data:`MIN_WORK_PER_THREAD` multiply-adds of a step and per 16 hidden
        units at most.

    Returns
    -------
    list of B int64 arrays
        The new tokens of each sample, cut before ``<EOS>``.
    """
    temperature, k, p = check_sampling_args(temperature, top_k, top_p)
    n_threads = _threads.check_n_threads(n_threads)
    w = GeneratorWeights.from_model(model)
    V, E, H, L = w.sizes
    logits = _array(last_logits)
    if logits.ndim != 2 or logits.shape[1] != V or logits.shape[0] < 1:
        raise ValueError(f"expected last_logits of shape (B, {V}), got {logits.shape}")
    B = logits.shape[0]
    logits = np.ascontiguousarray(logits, dtype=w.dtype)
    u = np.asarray(uniforms)
    if u.dtype != np.float64:
        raise TypeError(f"expected float64 uniforms, got {u.dtype}")
    if u.ndim != 2 or u.shape[1] != B:
        raise ValueError(f"expected uniforms of shape (N, {B}), got {u.shape}")
    if u.size and not (np.all(u >= 0) and np.all(u < 1)):
        raise ValueError("expected uniforms in [0, 1)")
    u = np.ascontiguousarray(u)
    N = u.shape[0]
    if isinstance(eos_id, bool) or not isinstance(eos_id, (int, np.integer)):
        raise TypeError(f"expected eos_id to be an int, got {eos_id!r}")
    if not -1 <= eos_id < V:
        raise ValueError(f"expected eos_id in [-1, {V}), got {eos_id}")
    h0, c0 = _state_arrays(state, w.cell.startswith("lstm"), (L, B, H), w.dtype)
    tokens = np.zeros((N, B), dtype=np.int64)
    lengths = np.zeros(B, dtype=np.int64)
    G = GATE_COUNT[w.cell]
    _kernel.generate(
        w.cell,
        w.embedding,
        w.W_ih,
        w.W_hh,
        w.b_ih,
        w.b_hh,
        w.w_peep,
        w.W_head,
        w.b_head,
        h0,
        c0,
        logits,
        u,
        temperature,
        k,
        p,
        int(eos_id),
        tokens,
        lengths,
        use_table(V, G, H, w.dtype.itemsize, N, B),
        n_threads,
        MIN_WORK_PER_THREAD,
    )
    return [tokens[: lengths[b], b].copy() for b in range(B)]
