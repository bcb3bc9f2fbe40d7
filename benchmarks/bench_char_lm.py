"""Char-LM quality at equal wall-clock: fastrnn vs PyTorch, same recipe, same run.

Recipe (issue #7): Embedding 64 -> 2-layer LSTM 256 -> Linear, T=128, B=32, Adam 3e-3,
gradient-norm clipping 1.0, random windows, no dropout, tiny Shakespeare with the last
10% as validation. Each library trains for ``--seconds`` of wall-clock (one after the
other), then both models are scored by ONE evaluation: the PyTorch weights are loaded
into a fastrnn LanguageModel (same parameter names) and
``LanguageModel.evaluate_stream`` computes the mean cross-entropy (nats/char) over the
whole validation split, read in order with the state carried (batch 1).

Both start from the same initial weights (fastrnn's initialisation for ``--seed``, copied
into the PyTorch model; PyTorch's own initialisation draws the same distributions) and
read the same windows, so the runs differ only in how many steps each library fits
into its ``--seconds``, not in the luck of two different random starts (across seeds
that luck moved the validation loss by +-0.02 nats/char, as much as the speed did).
``--independent-init`` lets PyTorch initialise its model itself.

    python benchmarks/bench_char_lm.py --seconds 100 [--threads 2] [--cell lstm]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, cpu_model  # noqa: E402

import fastrnn as fr  # noqa: E402
from fastrnn import nn, optim  # noqa: E402
from fastrnn.models import LanguageModel  # noqa: E402
from fastrnn.nn.utils import clip_grad_norm_  # noqa: E402
from fastrnn.tasks.language_modeling import prepare_data, random_windows  # noqa: E402


def initial_model(data, args) -> LanguageModel:
    fr.manual_seed(args.seed)
    return LanguageModel(
        vocab=data.vocab, cell=args.cell, hidden_size=args.hidden, num_layers=2
    )


def train_fastrnn(data, args) -> tuple[LanguageModel, int, float]:
    model = initial_model(data, args)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss(class_dim=-1)
    windows = random_windows(data.train, args.seq_len, args.batch_size, args.seed)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        x, y = next(windows)
        logits, _ = model(x)
        loss = loss_fn(logits, y)
        opt.zero_grad()
        loss.backward()
        clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        steps += 1
    return model, steps, loss.item()


def train_torch(data, args) -> tuple[dict, int, float]:
    import torch

    torch.manual_seed(args.seed)
    V = len(data.vocab)

    class LM(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(V, 64)
            rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[args.cell]
            self.rnn = rnn(64, args.hidden, 2)
            self.head = torch.nn.Linear(args.hidden, V)

        def forward(self, x):
            return self.head(self.rnn(self.embedding(x))[0])

    model = LM()
    if not args.independent_init:  # fastrnn's initial weights (same names and shapes)
        start = initial_model(data, args).state_dict()
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in start.items()})
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    windows = random_windows(data.train, args.seq_len, args.batch_size, args.seed)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        x, y = (torch.from_numpy(a) for a in next(windows))
        loss = loss_fn(model(x).reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        opt.step()
        steps += 1
    state = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    return state, steps, loss.item()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=100.0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--independent-init",
        action="store_true",
        help="PyTorch initialises its own model (default: fastrnn's initial weights)",
    )
    args = p.parse_args()
    import torch

    threads = args.threads or fr.get_num_threads()
    fr.set_num_threads(threads)
    torch.set_num_threads(threads)
    data = prepare_data(None)
    print(
        f"CPU: {cpu_model()}; {threads} threads; torch {torch.__version__}; "
        f"2-layer {args.cell.upper()} {args.hidden}, T={args.seq_len}, B={args.batch_size}, "
        f"Adam {args.lr}, clip {args.clip}, {args.seconds:.0f} s each, seed {args.seed}, "
        f"{'independent' if args.independent_init else 'same'} initial weights"
    )
    ours, our_steps, our_loss = train_fastrnn(data, args)
    their_state, their_steps, their_loss = train_torch(data, args)
    theirs = LanguageModel(
        vocab=data.vocab, cell=args.cell, hidden_size=args.hidden, num_layers=2
    )
    theirs.load_state_dict(their_state)
    rows = []
    for name, model, steps, loss in (
        ("fastrnn", ours, our_steps, our_loss),
        ("torch", theirs, their_steps, their_loss),
    ):
        val = model.evaluate_stream(data.val, seq_len=1024, batch_size=1)
        tokens_per_s = steps * args.seq_len * args.batch_size / args.seconds
        rows.append(
            {
                "library": name,
                "steps": steps,
                "tokens_per_s": tokens_per_s,
                "train_loss": loss,
                "val_loss": val,
            }
        )
        print(
            f"{name:8s} steps {steps:5d}  {tokens_per_s:8.0f} tokens/s  "
            f"train {loss:.3f}  val {val:.4f} nats/char"
        )
    winner = min(rows, key=lambda r: r["val_loss"])["library"]
    print(f"lower validation loss: {winner}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"char_lm_{args.cell}.json").write_text(
        json.dumps(
            {"cpu": cpu_model(), "threads": threads, "args": vars(args), "rows": rows},
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
