"""What the training worker and the window exchange (no Qt here; all picklable).

Window -> worker: :class:`RunConfig` (once, at start) and :class:`Command` messages.
Worker -> window: :class:`Snapshot` messages (at most ``SNAPSHOT_HZ`` per second; the
window keeps only the newest one).

Shapes: P probe length (characters), H hidden units, S sample length, n steps so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CELL_CHOICES",
    "Command",
    "GATE_LABELS",
    "LayerProbe",
    "RunConfig",
    "SNAPSHOT_HZ",
    "Snapshot",
    "synthetic_snapshot",
]

#: Upper bound on snapshots per second sent by the worker.
SNAPSHOT_HZ = 20.0

#: Cell choices of the run setup: kernel cell name -> label shown in the window.
CELL_CHOICES: dict[str, str] = {
    "lstm": "LSTM",
    "lstm_peephole": "LSTM (peephole)",
    "gru": "GRU (PyTorch, reset after)",
    "gru_cho": "GRU (Cho 2014, reset before)",
    "gru_minimal": "GRU (minimal, update gate only)",
    "rnn_tanh": "RNN (tanh)",
    "rnn_relu": "RNN (ReLU)",
}

#: Gate names per cell, in kernel order (as fastrnn.functional.GATE_NAMES).
GATE_LABELS: dict[str, tuple[str, ...]] = {
    "lstm": ("i", "f", "g", "o"),
    "lstm_peephole": ("i", "f", "g", "o"),
    "gru": ("r", "z", "n"),
    "gru_cho": ("r", "z", "n"),
    "gru_minimal": ("z", "n"),
    "rnn_tanh": (),
    "rnn_relu": (),
}


@dataclass
class RunConfig:
    """Everything the run-setup panel chooses; the worker builds the run from it.

    ``recurrent_init`` is ``"default"`` (PyTorch's uniform) or ``"normal"``: recurrent
    weights from N(0, ``init_sigma2`` / H) (the exploding/vanishing demo uses a ReLU
    RNN with ``init_sigma2`` 3.0 (explodes) or 1.5 (vanishes)).
    ``corpus`` is None for the bundled tiny Shakespeare, else a file or directory path.
    ``checkpoint`` optionally starts from a saved language model (its architecture
    then wins over the fields here).

    Added for the worker: ``mode="inspect"`` loads ``checkpoint`` and only traces and
    samples it (status ``"inspecting"``; commands ``probe``, ``sample``, ``set``
    temperature, ``save``, ``stop``). ``windows`` picks contiguous TBPTT windows
    (``batch_size`` parallel streams, state carried between windows) or random
    windows (fresh state each step). ``snapshot_budget`` bounds the fraction of the
    worker's wall time spent on probe traces, samples, histograms and validation
    (each is redone when its share of the budget allows, at most at
    ``SNAPSHOT_HZ``). ``fail_at_step`` makes the worker raise after that step (for
    tests of the error path). ``worker_nice`` lowers the worker's scheduling
    priority so that the window gets the CPU first when every core is busy (it
    needs a fraction of one); with idle cores it changes nothing.
    """

    corpus: str | None = None
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 2
    embedding_dim: int = 64
    dropout: float = 0.0
    optimizer: str = "adam"  # "adam" | "adamw" | "sgd" | "rmsprop" | "adagrad"
    lr: float = 3e-3
    clip_mode: str = "norm"  # "norm" | "value" | "none"
    clip: float = 1.0
    seq_len: int = 64  # TBPTT window
    batch_size: int = 32
    seed: int = 0
    temperature: float = 0.8
    recurrent_init: str = "default"  # "default" | "normal"
    init_sigma2: float = 3.0
    probe_text: str | None = None  # None: the first characters of the validation split
    probe_len: int = 80
    sample_len: int = 200
    threads: int | None = None  # fastrnn threads in the worker; None = all cores
    max_steps: int | None = None  # stop by itself after this many steps
    checkpoint: str | None = None
    # --- added for the worker/window (issue #8) ---
    mode: str = "train"  # "train" | "inspect" (show a checkpoint; no training)
    windows: str = (
        "contiguous"  # TBPTT windows: "contiguous" (state carried) | "random"
    )
    val_tokens: int = 4096  # size of the fixed validation subset (characters)
    snapshot_budget: float = 0.1  # max fraction of worker time for traces/samples/...
    start_paused: bool = False  # set up, send the step-0 snapshot, then wait
    fail_at_step: int | None = None  # debug/test hook: raise after this step
    worker_nice: int = 5  # niceness added to the worker process (0: same as window)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Command:
    """A message to the worker.

    ``kind`` is one of ``"pause"``, ``"resume"``, ``"step"`` (one step, then pause),
    ``"stop"``, ``"set"`` (``value`` is a dict with any of ``lr``, ``clip``,
    ``clip_mode``, ``temperature``), ``"probe"`` (``value``: new probe text),
    ``"save"`` (``value``: checkpoint path), ``"sample"`` (draw a new sample now).
    """

    kind: str
    value: Any = None


@dataclass
class LayerProbe:
    """One recurrent layer on the probe text.

    h : (P, H) hidden states; c : (P, H) LSTM cell states or None;
    gates : gate name -> (P, H) post-activation values;
    grad_h_norm : (P,) ||dL/dh_t|| (loss = mean next-character cross-entropy on the probe).
    """

    name: str
    h: np.ndarray
    gates: dict[str, np.ndarray]
    grad_h_norm: np.ndarray
    c: np.ndarray | None = None


@dataclass
class Snapshot:
    """The latest state of a run, sent by the worker (arrays are private copies).

    History arrays have one entry per optimizer step (n). ``clipped[k]`` tells whether
    clipping changed the gradients at step ``steps[k]``. ``histograms`` maps each
    parameter name to ``(weight_counts, weight_edges, grad_counts, grad_edges)``
    (``np.histogram`` outputs, 40 bins). ``sample_h`` holds, per layer, the hidden
    states (S, H) of the model reading ``sample_text`` (for colouring characters by a
    unit's activation).

    ``tokens_per_s`` is the wall-clock training throughput over the last few seconds
    (snapshot work included); ``overhead`` the fraction of the running time spent on
    snapshot work (probe trace, sample, histograms, validation, sending), and
    ``job_costs`` the seconds each of those jobs ("probe", "sample", "val", "hist")
    took the last time it ran. In
    ``"inspecting"`` status the history arrays are empty and the gradient histograms
    are those of the probe loss.
    """

    run_id: int
    step: int
    # "starting" | "running" | "paused" | "stopped" | "finished" | "error" | "inspecting"
    status: str
    cell: str
    hidden_size: int
    num_layers: int
    steps: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    clipped: np.ndarray
    val_steps: np.ndarray
    val_losses: np.ndarray
    lr: float
    clip: float
    clip_mode: str
    temperature: float
    tokens_per_s: float
    probe_text: str
    probe: list[LayerProbe]
    sample_text: str = ""
    sample_h: list[np.ndarray] = field(default_factory=list)
    histograms: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = (
        field(default_factory=dict)
    )
    message: str = ""  # error text (status "error") or an info line
    checkpoint_path: str = ""  # set after a "save" command succeeded
    # --- added for the worker/window (issue #8) ---
    probe_step: int = -1  # step at which ``probe`` was traced (-1: never)
    sample_step: int = -1  # step at which ``sample_text`` was drawn (-1: never)
    tokens: int = 0  # training tokens (time x batch) processed so far
    elapsed: float = 0.0  # seconds spent running (pauses excluded)
    overhead: float = 0.0  # fraction of ``elapsed`` spent on snapshot work
    job_costs: dict[str, float] = field(default_factory=dict)  # s, last run of each job


def synthetic_snapshot(
    cell: str = "lstm",
    hidden_size: int = 32,
    num_layers: int = 2,
    probe_len: int = 40,
    n_steps: int = 50,
    seed: int = 0,
) -> Snapshot:
    """A plausible snapshot from random numbers, for tests and view development."""
    rng = np.random.default_rng(seed)
    P, H = probe_len, hidden_size
    text = ("First Citizen: Before we proceed any further, hear me speak. " * 4)[:P]
    gates = GATE_LABELS[cell]
    layers = []
    for layer in range(num_layers):
        g = {
            name: (
                np.tanh(rng.standard_normal((P, H)))
                if name in ("g", "n")
                else 1 / (1 + np.exp(-2 * rng.standard_normal((P, H))))
            ).astype(np.float32)
            for name in gates
        }
        layers.append(
            LayerProbe(
                name=f"layer {layer}",
                h=np.tanh(rng.standard_normal((P, H))).astype(np.float32),
                gates=g,
                grad_h_norm=np.exp(-0.05 * np.arange(P)[::-1]).astype(np.float32)
                * (1 + 0.1 * rng.random(P).astype(np.float32)),
                c=rng.standard_normal((P, H)).astype(np.float32)
                if cell.startswith("lstm")
                else None,
            )
        )
    steps = np.arange(1, n_steps + 1, dtype=np.int64)
    losses = (
        4.2 * np.exp(-steps / 30) + 1.5 + 0.05 * rng.standard_normal(n_steps)
    ).astype(np.float32)
    grad_norms = (2 + rng.standard_normal(n_steps) ** 2).astype(np.float32)
    sample = "ROMEO:\nWhat light through yonder window breaks?\n"
    hist = {}
    for name, shape in (("rnn.weight_hh_l0", (4 * H, H)), ("head.weight", (65, H))):
        w = rng.standard_normal(shape) * 0.1
        gw = rng.standard_normal(shape) * 1e-3
        wc, we = np.histogram(w, bins=40)
        gc, ge = np.histogram(gw, bins=40)
        hist[name] = (wc, we, gc, ge)
    return Snapshot(
        run_id=1,
        step=n_steps,
        status="running",
        cell=cell,
        hidden_size=H,
        num_layers=num_layers,
        steps=steps,
        losses=losses,
        grad_norms=grad_norms,
        clipped=grad_norms > 3.0,
        val_steps=steps[9::10],
        val_losses=losses[9::10] + 0.1,
        lr=3e-3,
        clip=3.0,
        clip_mode="norm",
        temperature=0.8,
        tokens_per_s=25000.0,
        probe_text=text,
        probe=layers,
        sample_text=sample,
        sample_h=[
            np.tanh(rng.standard_normal((len(sample), H))).astype(np.float32)
            for _ in range(num_layers)
        ],
        histograms=hist,
    )
