"""The ``fastrnn`` command line: train, sample, evaluate and benchmark.

Every command takes ``--json``: its last line on stdout is then one JSON object with
the results (progress and logs go to stderr). Bad arguments and unreadable files print
one ``fastrnn: error: ...`` line and exit with status 2.

    fastrnn train-lm [FILE|DIR] [--time-budget S] [--out DIR] ...
    fastrnn sample CKPT --prompt TEXT --length N --temperature T
    fastrnn eval CKPT FILE
    fastrnn train-tagger TRAIN.conllu --eval TEST.conllu --time-budget S --out DIR
    fastrnn sweep SPEC.toml [--address ADDR] [--out DIR]
    fastrnn bench
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]


class UsageError(Exception):
    """A user mistake: reported as one line, exit status 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _nonneg_float(text: str) -> float:
    value = _positive_float(text) if text.strip() not in ("0", "0.0") else 0.0
    return value


def _probability(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a value in (0, 1], got {text}")
    return value


def _existing_path(text: str) -> str:
    if not os.path.exists(text):
        raise argparse.ArgumentTypeError(f"no such file or directory: {text}")
    return text


# ---------------------------------------------------------------- commands
def _log(args: argparse.Namespace) -> Callable[[str], None]:
    stream = sys.stderr if args.json else sys.stdout
    return lambda msg: print(msg, file=stream, flush=True)


def cmd_train_lm(args: argparse.Namespace) -> dict[str, Any]:
    from fastrnn.tasks.language_modeling import train_lm

    if args.time_budget is None and args.max_steps is None:
        args.time_budget = 600.0
    result = train_lm(
        args.source,
        cell=args.cell,
        hidden=args.hidden,
        layers=args.layers,
        embedding_dim=args.embedding_dim,
        seq_len=args.seq_len,
        batch_size=args.batch_size,
        lr=args.lr,
        clip=args.clip or None,
        dropout=args.dropout,
        schedule=args.schedule,
        windows=args.windows,
        time_budget=args.time_budget,
        max_steps=args.max_steps,
        eval_every=args.eval_every,
        val_chars=args.val_chars,
        seed=args.seed,
        threads=args.threads,
        out_dir=args.out,
        sample_every=args.sample_every,
        progress=not args.no_progress,
        log=_log(args),
    )
    log = _log(args)
    log(f"sample:\n{result['sample']}")
    log(
        f"steps {result['steps']}, {result['tokens_per_s']:.0f} tokens/s, "
        f"validation {result['val_loss']:.4f} nats/char, checkpoint "
        f"{result['checkpoint']}"
    )
    result.pop("config")
    return result


def _load_lm(path: str) -> Any:
    from fastrnn.models.language_model import load_language_model

    return load_language_model(path)


def cmd_sample(args: argparse.Namespace) -> dict[str, Any]:
    model = _load_lm(args.checkpoint)
    text = model.generate(
        args.prompt,
        max_new_tokens=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    if not args.json:
        print(text)
    return {"text": text, "prompt": args.prompt, "length": args.length}


def cmd_eval(args: argparse.Namespace) -> dict[str, Any]:
    from fastrnn import checkpoint

    tree = checkpoint.load(args.checkpoint)
    config = tree.get("config") if isinstance(tree, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if isinstance(tree, dict) and tree.get("kind") == "fastrnn.tagger":
        task = "tagger"
    if task == "language_model":
        from fastrnn.data import load_text

        model = _load_lm(args.checkpoint)
        text = load_text(args.file)
        if model.vocab is None:
            raise UsageError(f"{args.checkpoint}: the model has no vocabulary")
        ids = model.encode(text)
        unknown = (
            int((ids == model.vocab.unk_id).sum())
            if model.vocab.unk_id is not None
            else 0
        )
        loss = model.evaluate_stream(ids, seq_len=1024, batch_size=1)
        if not args.json:
            print(
                f"{loss:.4f} nats/char over {len(ids):,} characters ({unknown} unknown)"
            )
        return {
            "task": task,
            "nats_per_char": loss,
            "characters": len(ids),
            "unknown": unknown,
        }
    if task == "tagger":
        from fastrnn.tasks.tagging import evaluate_tagger, load_tagger

        model = load_tagger(args.checkpoint)
        accuracy = evaluate_tagger(model, args.file)
        if not args.json:
            print(f"token accuracy {accuracy:.4f}")
        return {"task": task, "accuracy": accuracy}
    raise UsageError(
        f"{args.checkpoint}: expected a language-model or tagger checkpoint, got task {task!r}"
    )


def cmd_train_tagger(args: argparse.Namespace) -> dict[str, Any]:
    from fastrnn.tasks.tagging import train_tagger

    options = {
        k: v
        for k, v in (
            ("cell", args.cell),
            ("hidden", args.hidden),
            ("layers", args.layers),
            ("batch_size", args.batch_size),
            ("lr", args.lr),
            ("max_steps", args.max_steps),
            ("epochs", args.epochs),
            ("threads", args.threads),
        )
        if v is not None
    }
    result = train_tagger(
        args.train,
        args.eval,
        time_budget=args.time_budget,
        seed=args.seed,
        out_dir=args.out,
        progress=not args.no_progress,
        **options,
    )
    if "accuracy" in result and not args.json:
        baseline = result.get("baseline_accuracy")
        print(
            f"token accuracy {result['accuracy']:.4f}"
            + (
                ""
                if baseline is None
                else f" (most-frequent-tag baseline {baseline:.4f})"
            )
        )
    return result


def cmd_sweep(args: argparse.Namespace) -> dict[str, Any]:
    from fastrnn.distributed.spec import load_spec

    spec = load_spec(args.spec)  # a malformed spec fails here, before Ray starts
    from fastrnn.distributed.sweep import format_table, ray_available, sweep

    if not ray_available():
        raise UsageError("sweeps need Ray Tune: pip install 'fastrnn[distributed]'")
    summary = sweep(spec, address=args.address, out=args.out, verbose=args.verbose)
    print(format_table(summary), file=sys.stderr if args.json else sys.stdout)
    best = summary["best"]
    if best["checkpoint"] is not None and not args.json:
        print(f"best checkpoint: {Path(args.out, best['checkpoint'])}")
    print(f"results in {Path(args.out).resolve()}", file=sys.stderr)
    return summary


def cmd_bench(args: argparse.Namespace) -> dict[str, Any]:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_kernels.py"
    if not script.is_file():
        raise UsageError(
            "fastrnn bench runs benchmarks/bench_kernels.py from a source checkout; "
            f"not found at {script}"
        )
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UsageError(
            "fastrnn bench compares against PyTorch: pip install torch"
        ) from None
    cmd = [sys.executable, str(script), *args.bench_args]
    code = subprocess.call(cmd, stdout=sys.stderr if args.json else None)
    if code != 0:
        raise UsageError(f"the benchmark exited with status {code}")
    results = script.parent / "results" / "kernels.json"
    out: dict[str, Any] = {"script": str(script), "returncode": code}
    if results.is_file():
        out["results"] = str(results)
    return out


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from fastrnn.tasks.language_modeling import DEFAULTS

    parser = argparse.ArgumentParser(
        prog="fastrnn",
        description="Train, sample and evaluate recurrent models on the CPU.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def add(name: str, func: Callable[[argparse.Namespace], dict], help: str) -> Any:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument(
            "--json",
            action="store_true",
            help="print the results as one JSON object on the last stdout line",
        )
        p.set_defaults(func=func)
        return p

    cells = [
        "lstm",
        "lstm_peephole",
        "gru",
        "gru_cho",
        "gru_minimal",
        "rnn",
        "rnn_tanh",
        "rnn_relu",
    ]
    p = add("train-lm", cmd_train_lm, "train a character language model")
    p.add_argument(
        "source",
        nargs="?",
        type=_existing_path,
        help="text file or directory of source files (default: bundled tiny Shakespeare)",
    )
    p.add_argument("--cell", choices=cells, default=DEFAULTS["cell"])
    p.add_argument(
        "--hidden",
        type=_positive_int,
        default=DEFAULTS["hidden"],
        help="hidden units per layer",
    )
    p.add_argument("--layers", type=_positive_int, default=DEFAULTS["layers"])
    p.add_argument(
        "--embedding-dim", type=_positive_int, default=DEFAULTS["embedding_dim"]
    )
    p.add_argument(
        "--seq-len",
        type=_positive_int,
        default=DEFAULTS["seq_len"],
        help="TBPTT window length",
    )
    p.add_argument("--batch-size", type=_positive_int, default=DEFAULTS["batch_size"])
    p.add_argument(
        "--lr", type=_positive_float, default=DEFAULTS["lr"], help="Adam learning rate"
    )
    p.add_argument(
        "--clip",
        type=_nonneg_float,
        default=DEFAULTS["clip"],
        help="gradient-norm clip (0: off)",
    )
    p.add_argument("--dropout", type=float, default=DEFAULTS["dropout"])
    p.add_argument(
        "--schedule", choices=["constant", "cosine"], default=DEFAULTS["schedule"]
    )
    p.add_argument(
        "--windows", choices=["random", "stream"], default=DEFAULTS["windows"]
    )
    p.add_argument(
        "--time-budget",
        type=_positive_float,
        metavar="SECONDS",
        help="training time (default 600 s without --max-steps)",
    )
    p.add_argument("--max-steps", type=_positive_int, metavar="N")
    p.add_argument(
        "--eval-every",
        type=_positive_int,
        metavar="N",
        help="validate every N steps (default: ~20 times per budget)",
    )
    p.add_argument(
        "--val-chars",
        type=_positive_int,
        metavar="N",
        default=30000,
        help="periodic validations score only the first N validation characters "
        "(default 30000; the final score always uses the whole split)",
    )
    p.add_argument("--sample-every", type=_positive_int, metavar="N")
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--threads", type=_positive_int)
    p.add_argument("--out", metavar="DIR", help="write best.st and last.st here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = add("sample", cmd_sample, "sample text from a language-model checkpoint")
    p.add_argument("checkpoint", type=_existing_path, metavar="CKPT")
    p.add_argument("--prompt", default="\n")
    p.add_argument("--length", type=_positive_int, default=500, help="new characters")
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=_positive_int)
    p.add_argument("--top-p", type=_probability)
    p.add_argument("--seed", type=int)

    p = add(
        "eval",
        cmd_eval,
        "score a checkpoint on a file (LM: nats/char; tagger: accuracy)",
    )
    p.add_argument("checkpoint", type=_existing_path, metavar="CKPT")
    p.add_argument("file", type=_existing_path, metavar="FILE")

    p = add(
        "train-tagger", cmd_train_tagger, "train a part-of-speech tagger on CoNLL-U"
    )
    p.add_argument("train", type=_existing_path, metavar="TRAIN.conllu")
    p.add_argument("--eval", type=_existing_path, metavar="TEST.conllu")
    p.add_argument("--time-budget", type=_positive_float, metavar="SECONDS")
    p.add_argument("--max-steps", type=_positive_int, metavar="N")
    p.add_argument(
        "--epochs",
        type=_positive_int,
        metavar="N",
        help="passes over the training file (default 20)",
    )
    p.add_argument("--cell", choices=cells)
    p.add_argument("--hidden", type=_positive_int)
    p.add_argument("--layers", type=_positive_int)
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=_positive_float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=_positive_int)
    p.add_argument("--out", metavar="DIR")
    p.add_argument("--no-progress", action="store_true")

    p = add(
        "sweep",
        cmd_sweep,
        "hyperparameter sweep on Ray Tune (pip install 'fastrnn[distributed]')",
    )
    p.add_argument("spec", type=_existing_path, metavar="SPEC.toml")
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="an existing Ray cluster ('auto', 'HOST:PORT', 'ray://HOST:10001'); "
        "default: start a local one with this machine's CPUs",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        default="sweep-results",
        help="results folder: sweep.json, trials.csv, history.csv, best checkpoint",
    )
    p.add_argument("--verbose", action="store_true", help="Ray Tune's progress output")

    p = add("bench", cmd_bench, "kernel benchmark against PyTorch (source checkout)")
    p.add_argument(
        "bench_args", nargs=argparse.REMAINDER, help="passed to bench_kernels.py"
    )
    return parser


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 with one usage line on bad arguments
    try:
        result = args.func(args)
    except (UsageError, ValueError, OSError) as err:
        message = (
            str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        )
        print(f"fastrnn {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastrnn {args.command}: interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(result, default=_json_default))
    return 0


if __name__ == "__main__":
    sys.exit(main())
