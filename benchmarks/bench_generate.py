"""Text generation speed: the fused Cython token loop against the step-by-step
reference and a PyTorch LSTMCell loop, in the same process, same threads, float32.

Model (the char-LM of the issue): Embedding(65, 64) -> 2-layer LSTM(256) ->
Linear(65); 1,000 new tokens per sample, batch 1 and 8, temperature 1.

    fastrnn fused      LanguageModel.generate_ids(..., fused=True)
    fastrnn reference  LanguageModel.generate_ids(..., fused=False): one model call
                       per token through the layers (Python + autograd-free forward)
    torch LSTMCell     under torch.no_grad(), per step: Embedding, two LSTMCell,
                       Linear, softmax, torch.multinomial (the same weights)

Times are wall-clock per generation step (one token for each of the B samples),
best of --repeat runs taken in turns (the machines are shared: the best run is the
one least disturbed); "speedup" is torch time / fused time.

    python benchmarks/bench_generate.py [--tokens 1000] [--batch 1 8] [--threads 2 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_model, machine_info, print_table, write_results  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn._kernels import generate as gen_kernel  # noqa: E402
from fastrnn.models.language_model import LanguageModel  # noqa: E402

V, E, H, L = 65, 64, 256, 2


def fastrnn_run(lm: LanguageModel, n: int, B: int, fused: bool, seed: int) -> float:
    t0 = time.perf_counter()
    out = lm.generate_ids(np.array([1]), n, seed=seed, num_samples=B, fused=fused)
    elapsed = time.perf_counter() - t0
    assert all(len(x) == n for x in out)
    return elapsed


def torch_model(lm: LanguageModel):
    """The same weights in torch modules: Embedding, one LSTMCell per layer, Linear."""
    import torch

    sd = {k: torch.from_numpy(np.array(v)) for k, v in lm.state_dict().items()}
    emb = torch.nn.Embedding(V, E)
    emb.weight.data.copy_(sd["embedding.weight"])
    cells = []
    for k in range(L):
        cell = torch.nn.LSTMCell(E if k == 0 else H, H)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).data.copy_(sd[f"rnn.{name}_l{k}"])
        cells.append(cell)
    head = torch.nn.Linear(H, V)
    head.weight.data.copy_(sd["head.weight"])
    head.bias.data.copy_(sd["head.bias"])
    return emb, cells, head


def torch_run(model, n: int, B: int, seed: int) -> float:
    import torch

    emb, cells, head = model
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    with torch.no_grad():
        state = [(torch.zeros(B, H), torch.zeros(B, H)) for _ in cells]
        tok = torch.ones(B, dtype=torch.long)
        out = []
        for _ in range(n):
            x = emb(tok)
            for k, cell in enumerate(cells):
                state[k] = cell(x, state[k])
                x = state[k][0]
            p = torch.softmax(head(x), dim=-1)
            tok = torch.multinomial(p, 1)[:, 0]
            out.append(tok)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[fastrnn.get_num_threads()]
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--reference-repeat", type=int, default=1, help="runs of the slow reference"
    )
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}")
    meta = machine_info()
    meta["gemm_backend"] = gen_kernel.gemm_backend()
    print(
        f"fastrnn {meta['fastrnn']} (OpenMP {meta['openmp']}, generate products "
        f"{meta['gemm_backend']}), torch {meta['torch']}"
    )
    print(
        f"model: Embedding({V}, {E}) -> {L}-layer LSTM({H}) -> Linear({V}), float32; "
        f"{args.tokens} tokens per sample, best of {args.repeat} runs\n"
    )
    fastrnn.manual_seed(0)
    lm = LanguageModel(V, embedding_dim=E, hidden_size=H, num_layers=L, cell="lstm")
    lm.eval()
    tmodel = None
    if not args.no_torch:
        try:
            import torch

            tmodel = torch_model(lm)
        except ImportError:
            print("torch is not installed: no PyTorch column")
    n = args.tokens
    rows = []
    for threads in args.threads:
        fastrnn.set_num_threads(threads)
        if tmodel is not None:
            import torch

            torch.set_num_threads(threads)
        for B in args.batch:
            fused, ref, tor = [], [], []
            fastrnn_run(lm, 50, B, True, 0)  # warm-up
            if tmodel is not None:
                torch_run(tmodel, 50, B, 0)
            for r in range(args.repeat):  # in turns, so load spikes hit both
                fused.append(fastrnn_run(lm, n, B, True, r))
                if tmodel is not None:
                    tor.append(torch_run(tmodel, n, B, r))
            for r in range(args.reference_repeat):
                ref.append(fastrnn_run(lm, n, B, False, r))
            row = {"threads": threads, "batch": B, "tokens": n}
            for name, times in (("fused", fused), ("reference", ref), ("torch", tor)):
                if times:
                    best = min(times)
                    row[f"{name}_us_per_step"] = round(best / n * 1e6, 1)
                    row[f"{name}_chars_per_s"] = round(n * B / best)
            if tor:
                row["speedup_vs_torch"] = round(min(tor) / min(fused), 2)
                row["median_speedup"] = round(
                    float(np.median(np.array(tor) / np.array(fused))), 2
                )
            if ref:
                row["speedup_vs_reference"] = round(min(ref) / min(fused), 1)
            rows.append(row)
            print(
                f"threads={threads} B={B}: fused {row['fused_us_per_step']} us/step, "
                + (f"torch {row['torch_us_per_step']} us/step, " if tor else "")
                + (f"speedup {row['speedup_vs_torch']}x" if tor else ""),
                flush=True,
            )
    print()
    columns = [c for c in rows[0] if c != "tokens"]
    print_table(rows, columns)
    csv_path, _ = write_results("generate", rows, meta)
    print(f"\nwrote {csv_path}")


if __name__ == "__main__":
    main()
