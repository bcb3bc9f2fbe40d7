"""Translate human-written dates to ISO 8601 with a character-level Seq2Seq.

Generated data (fastrnn.tasks.dates): 20,000 training pairs in 13 formats such as
"24 Nov 2026", "november 24, 2026", "11/24/26", "24.11.2026" and
"Tuesday, 24 November 2026", each mapped to "2026-11-24"; 1,000 held-out pairs whose
dates never occur in training. The model is a bidirectional LSTM encoder and an LSTM
decoder with attention. Prints held-out exact match with greedy and with beam
decoding, the training time, and a few translations. Exits with status 1 when
either exact match is below --target.

    python examples/date_translation.py                # defaults: 1 thread, 600 steps
    python examples/date_translation.py --steps 1000 --cell gru --beam 8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import fastrnn as fr
from fastrnn.data import Vocab
from fastrnn.models import Seq2Seq
from fastrnn.tasks.dates import train_dates, translate

SAMPLES = [
    "24 Nov 2026",
    "november 24, 2026",
    "11/24/26",
    "24.11.2026",
    "Tuesday, 24 November 2026",
    "the 1st of March 1971",
    "Sun, Feb 29, 2032",
    "31-dec-69",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64, help="encoder size per direction")
    p.add_argument("--embedding", type=int, default=32)
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm")
    p.add_argument("--no-attention", action="store_true")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--teacher-forcing", type=float, default=1.0)
    p.add_argument("--beam", type=int, default=5)
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--n-test", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--target", type=float, default=0.98)
    p.add_argument("--save", default=None, help="checkpoint path (safetensors)")
    args = p.parse_args()
    fr.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        save = args.save or os.path.join(tmp, "dates.st")
        return run(args, save)


def run(args: argparse.Namespace, save: str) -> int:
    print(
        f"{args.n_train} training / {args.n_test} held-out pairs; {args.cell} "
        f"{'without' if args.no_attention else 'with'} attention, hidden {args.hidden}"
        f"x2, batch {args.batch_size}, {args.steps} steps, {args.threads} thread(s)"
    )
    result = train_dates(
        n_train=args.n_train,
        n_test=args.n_test,
        steps=args.steps,
        batch_size=args.batch_size,
        embedding_dim=args.embedding,
        hidden_size=args.hidden,
        cell=args.cell,
        attention=not args.no_attention,
        lr=args.lr,
        teacher_forcing_ratio=args.teacher_forcing,
        beam_size=args.beam,
        seed=args.seed,
        log=print,
        save_path=save,
    )
    greedy, beam = result["exact_match_greedy"], result["exact_match_beam"]
    print(f"training time: {result['seconds']:.1f} s ({result['steps']} steps)")
    print(
        f"held-out exact match: greedy {greedy:.2%} "
        f"({result['decode_seconds_greedy']:.1f} s), beam {args.beam} {beam:.2%} "
        f"({result['decode_seconds_beam']:.1f} s)"
    )
    for src, tgt, out in result["errors"]:
        print(f"  miss: {src!r} -> {out!r} (expected {tgt!r})")
    # Reload the saved checkpoint, as a user of the trained model would.
    ckpt = fr.load(save)
    model = Seq2Seq.from_config(ckpt["config"])
    model.load_state_dict(ckpt["model"])
    src_vocab = Vocab.from_dict(ckpt["src_vocab"])
    tgt_vocab = Vocab.from_dict(ckpt["tgt_vocab"])
    outputs = translate(model, SAMPLES, src_vocab, tgt_vocab, beam_size=args.beam)
    for text, out in zip(SAMPLES, outputs, strict=True):
        print(f"  {text!r:30} -> {out}")
    ok = greedy >= args.target and beam >= args.target
    print(f"target {args.target:.0%}: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
