"""Whole char-LM model, one training step, fastrnn against PyTorch in the same process.

Embedding(65, 65) -> 2-layer LSTM(256) -> Linear(65), batch 32, 128 steps, float32:
forward + cross-entropy + backward (parameter gradients), median wall time, n threads
for both libraries.  Also measures fastrnn's autograd overhead: the same step written
directly against fastrnn.functional and NumPy with no Tensor, tape or Module ("raw"),
so that (nn - raw) / nn is the share of step time the Python training API costs
(both use the same kernels, including fastrnn._linalg.matmul for the head).

    python benchmarks/bench_model.py [--threads 2 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine_info, median_time, print_table, write_results  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn import functional as F  # noqa: E402
from fastrnn import nn  # noqa: E402
from fastrnn._linalg import matmul  # noqa: E402

V, E, H, L, B, T = 65, 65, 256, 2, 32, 128


class CharLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, num_layers=L)
        self.head = nn.Linear(H, V)

    def forward(self, tokens):
        y, _ = self.lstm(self.embedding(tokens))
        return self.head(y)


def fastrnn_step(model, loss_fn, tokens, targets):
    def step():
        model.zero_grad()
        logits = model(tokens)  # (T, B, V)
        loss = loss_fn(logits.reshape(T * B, V), targets.reshape(-1))
        loss.backward()
        return loss

    return step


def raw_step(model, tokens, targets, n_threads):
    """The same computation with no autograd: kernels + NumPy, gradients by hand."""
    p = dict(model.state_dict())
    emb, Wo, bo = p["embedding.weight"], p["head.weight"], p["head.bias"]
    tok, tgt = tokens.numpy(), targets.numpy().reshape(-1)

    def step():
        x = emb[tok]  # (T, B, E)
        states = []
        for k in range(L):
            x, _, _, st = F.forward(
                "lstm",
                x,
                None,
                p[f"lstm.weight_ih_l{k}"],
                p[f"lstm.weight_hh_l{k}"],
                p[f"lstm.bias_ih_l{k}"],
                p[f"lstm.bias_hh_l{k}"],
                n_threads=n_threads,
            )
            states.append(st)
        y = x.reshape(T * B, H)
        logits = matmul(y, Wo, trans_b=True) + bo
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=1, keepdims=True)
        loss = -np.log(prob[np.arange(T * B), tgt]).mean()
        dlogits = prob
        dlogits[np.arange(T * B), tgt] -= 1
        dlogits /= T * B
        grads = {
            "head.weight": matmul(dlogits, y, trans_a=True),
            "head.bias": dlogits.sum(0),
        }
        dY = matmul(dlogits, Wo).reshape(T, B, H)
        for k in reversed(range(L)):
            g = F.backward(states[k], dY)
            grads[f"lstm.weight_ih_l{k}"] = g.dW_ih
            dY = g.dX
        demb = np.zeros_like(emb)
        np.add.at(demb, tok.reshape(-1), dY.reshape(-1, E))
        grads["embedding.weight"] = demb
        return loss

    return step


def torch_step(torch, model_np, tokens, targets):
    tm = torch.nn.ModuleDict(
        {
            "embedding": torch.nn.Embedding(V, E),
            "lstm": torch.nn.LSTM(E, H, num_layers=L),
            "head": torch.nn.Linear(H, V),
        }
    )
    tm.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model_np.items()})
    tt = torch.from_numpy(tokens.numpy())
    tg = torch.from_numpy(targets.numpy()).reshape(-1)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        tm.zero_grad(set_to_none=True)
        y, _ = tm["lstm"](tm["embedding"](tt))
        loss = loss_fn(tm["head"](y).reshape(T * B, V), tg)
        loss.backward()
        return loss

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", nargs="+", type=int, default=[2, 1])
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="alternate fastrnn, raw kernels and torch this many times (medians)",
    )
    args = parser.parse_args(argv)
    import torch

    meta = machine_info()
    print(
        f"CPU: {meta['cpu']}   char-LM step: Embedding({V}) -> {L}x LSTM({H}) -> "
        f"Linear({V}), B={B}, T={T}, float32, {args.rounds} alternating rounds"
    )
    rng = np.random.default_rng(0)
    tokens = fastrnn.tensor(rng.integers(0, V, size=(T, B)))
    targets = fastrnn.tensor(rng.integers(0, V, size=(T, B)))
    fastrnn.manual_seed(0)
    model = CharLM()
    loss_fn = nn.CrossEntropyLoss()
    rows = []
    for n in args.threads:
        fastrnn.set_num_threads(n)
        torch.set_num_threads(n)
        steps = {
            "nn": fastrnn_step(model, loss_fn, tokens, targets),
            "raw": raw_step(model, tokens, targets, n),
            "torch": torch_step(torch, model.state_dict(), tokens, targets),
        }
        # this VM's speed drifts over minutes: measure the three in turn, several times,
        # and keep each one's median, so that a slow phase lands on all of them
        times: dict[str, list[float]] = {k: [] for k in steps}
        for _ in range(args.rounds):
            for name, step in steps.items():
                times[name].append(median_time(step, budget=1))
        t_nn, t_raw, t_torch = (float(np.median(times[k])) for k in steps)
        per_round = [t / f for t, f in zip(times["torch"], times["nn"], strict=True)]
        row = {
            "threads": n,
            "fastrnn_ms": round(t_nn * 1e3, 1),
            "raw_kernels_ms": round(t_raw * 1e3, 1),
            "torch_ms": round(t_torch * 1e3, 1),
            "ratio_torch_over_fastrnn": round(t_torch / t_nn, 2),
            "ratio_per_round": f"{min(per_round):.2f}-{max(per_round):.2f}",
            "autograd_overhead": f"{(t_nn - t_raw) / t_nn:.1%}",
        }
        rows.append(row)
        print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
    fastrnn.set_num_threads(None)
    print_table(rows, list(rows[0]))
    write_results("model", rows, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
