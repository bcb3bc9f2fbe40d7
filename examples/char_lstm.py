"""Train a 2-layer character LSTM (hidden 256) on tiny Shakespeare with truncated BPTT.

fastrnn's Trainer (progress bar, clipping, state carried between 128-step windows) and
then the equivalent hand-written PyTorch loop, same model, data, windows, optimizer and
thread count, in the same run; prints tokens/s of both and their ratio. The pair is
run ``--rounds`` times, alternating, and the median ratio reported: the 2-core VMs this
was measured on drift in speed by 20-50% over a minute, which a single back-to-back pair
lands on one library.

    python examples/char_lstm.py --steps 100 --rounds 3 [--data ../shared/data/tinyshakespeare.txt]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import fastrnn as fr
from fastrnn import nn, optim
from fastrnn.train import Trainer

DEFAULT_DATA = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "tinyshakespeare.txt"
)


class CharLSTM(nn.Module):
    """Embedding -> 2-layer LSTM -> Linear; forward(x, state) -> (logits, state)."""

    def __init__(self, vocab: int, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, 64)
        self.lstm = nn.LSTM(64, hidden, num_layers=layers)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        y, state = self.lstm(self.embedding(x), state)
        return self.head(y), state


def load_streams(path: Path, batch: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Characters -> ids, cut into `batch` contiguous streams, time-major (L, B)."""
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))
    L = (len(ids) - 1) // batch
    x = ids[: L * batch].reshape(batch, L).T.copy()
    y = ids[1 : L * batch + 1].reshape(batch, L).T.copy()
    return x, y, len(chars)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(
            l.split(":", 1)[1].strip()
            for l in out.splitlines()
            if l.startswith("Model name")
        )
    except (OSError, StopIteration):
        return "unknown"


def run_fastrnn(x, y, vocab, args) -> float:
    fr.manual_seed(0)
    model = CharLSTM(vocab)
    opt = optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss(class_dim=-1)
    records = []
    trainer = Trainer(
        model,
        loss_fn,
        opt,
        tbptt=args.seq_len,
        clip_norm=args.clip,
        callbacks=[records.append],
        progress=True,
    )
    trainer.fit([(x, y)], max_steps=args.steps)
    timed = records[args.warmup :]
    tokens = sum(r.tokens_per_s * r.step_time for r in timed)
    print(f"fastrnn: final loss {records[-1].loss:.3f}")
    return tokens / sum(r.step_time for r in timed)


def run_torch(x, y, vocab, args) -> float:
    import torch

    torch.manual_seed(0)
    emb, lstm, head = (
        torch.nn.Embedding(vocab, 64),
        torch.nn.LSTM(64, 256, 2),
        torch.nn.Linear(256, vocab),
    )
    params = [*emb.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.Adam(params, lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    state, times = None, []
    for step in range(args.steps):
        t0 = time.perf_counter()
        s = (step * args.seq_len) % (len(x) - args.seq_len)
        xw, yw = xt[s : s + args.seq_len], yt[s : s + args.seq_len]
        out, state = lstm(emb(xw), state)
        loss = loss_fn(head(out).reshape(-1, vocab), yw.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        state = tuple(h.detach() for h in state)
        times.append(time.perf_counter() - t0)
    print(f"torch:   final loss {loss.item():.3f}")
    return args.seq_len * x.shape[1] / np.mean(times[args.warmup :])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-torch", action="store_true")
    p.add_argument(
        "--rounds", type=int, default=3, help="alternating fastrnn/torch pairs"
    )
    args = p.parse_args()
    threads = args.threads or fr.get_num_threads()
    fr.set_num_threads(threads)
    x, y, vocab = load_streams(args.data, args.batch_size)
    print(
        f"CPU: {cpu_model()}, {threads} threads; {args.data.name}: {x.size:,} chars, "
        f"vocab {vocab}; 2-layer LSTM 256, batch {args.batch_size}, TBPTT {args.seq_len}"
    )
    if not args.no_torch:
        import torch

        torch.set_num_threads(threads)
    ratios = []
    for r in range(max(1, args.rounds)):
        ours = run_fastrnn(x, y, vocab, args)
        print(f"fastrnn: {ours:,.0f} tokens/s")
        if args.no_torch:
            continue
        theirs = run_torch(x, y, vocab, args)
        ratios.append(ours / theirs)
        print(
            f"torch:   {theirs:,.0f} tokens/s   ratio fastrnn/torch = {ours / theirs:.2f}"
            f"   (round {r + 1})"
        )
    if ratios:
        print(
            f"median ratio fastrnn/torch over {len(ratios)} rounds: "
            f"{np.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
