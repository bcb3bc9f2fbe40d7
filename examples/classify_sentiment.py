"""Sentiment classification with a SequenceClassifier (many-to-one).

By default trains on the synthetic review set of fastrnn.tasks.sentiment (negation
and "A , but B" reviews need word order, not just a bag of words) and prints the
accuracy of each pooling mode, then classifies a few hand-written reviews. With
``--tsv`` it trains on a TSV file of text<TAB>label lines instead.

    FASTRNN_NUM_THREADS=1 python examples/classify_sentiment.py
    python examples/classify_sentiment.py --pooling last mean --bidirectional
    python examples/classify_sentiment.py --tsv reviews.tsv --header --epochs 10
"""

from __future__ import annotations

import argparse

import numpy as np

from fastrnn.data import pad_batch
from fastrnn.models.classifier import CELLS, POOLINGS
from fastrnn.tasks.sentiment import (
    SENTIMENT_CLASSES,
    encode_texts,
    make_sentiment,
    predict_texts,
    train_classifier,
)

EXAMPLES = [
    "the movie was good",
    "the movie was not good",
    "honestly the plot never seemed boring",
    "the acting was superb , but the ending was dreadful",
    "the ending was dreadful , but the acting was superb",
    "the soundtrack did not feel very moving at the cinema",
]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tsv", help="train on this TSV file (text, label columns)")
    p.add_argument("--header", action="store_true", help="the TSV has a header line")
    p.add_argument("--n", type=int, default=3000, help="synthetic examples")
    p.add_argument("--cell", default="lstm", choices=CELLS)
    p.add_argument("--pooling", nargs="+", default=list(POOLINGS), choices=POOLINGS)
    p.add_argument("--bidirectional", action="store_true")
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--embedding", type=int, default=16)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    if args.tsv:
        from fastrnn.data.readers import read_tsv

        texts, labels = read_tsv(args.tsv, header=args.header)
        test_texts: list[str] = []
        test_labels: np.ndarray | None = None
        source = args.tsv
    else:
        texts, labels = make_sentiment(args.n, seed=args.seed)
        test_texts, test_labels = make_sentiment(1000, seed=args.seed + 1000)
        source = f"synthetic reviews (n={args.n}, seed={args.seed})"
    print(f"data: {source}; {len(texts)} texts; e.g. {texts[0]!r}")

    print(
        f"{'pooling':8s} {'steps':>6s} {'seconds':>8s} {'train acc':>10s} "
        f"{'val acc':>8s} {'test acc':>9s}"
    )
    last = None
    for pooling in args.pooling:
        result = train_classifier(
            texts,
            labels,
            cell=args.cell,
            pooling=pooling,
            bidirectional=args.bidirectional,
            hidden_size=args.hidden,
            embedding_dim=args.embedding,
            epochs=args.epochs,
            batch_size=args.batch,
            lr=args.lr,
            seed=args.seed,
        )
        test_acc = "-"
        if test_labels is not None:
            pred = predict_texts(result["model"], result["vocab"], test_texts)
            test_acc = f"{np.mean(pred == test_labels):.3f}"
        print(
            f"{pooling:8s} {result['steps']:6d} {result['seconds']:8.2f} "
            f"{result['train_accuracy']:10.3f} {result['val_accuracy']:8.3f} "
            f"{test_acc:>9s}"
        )
        last = result

    assert last is not None
    print(f"\npredictions of the last model ({args.pooling[-1]} pooling):")
    names = [str(c) for c in last["classes"]] if args.tsv else SENTIMENT_CLASSES
    vocab = last["vocab"]
    ids, lengths = pad_batch(encode_texts(EXAMPLES, vocab), vocab.pad_id or 0)
    probs = last["model"].predict_proba(ids, lengths)  # (N, C)
    for text, pr in zip(EXAMPLES, probs, strict=True):
        k = int(pr.argmax())
        print(f"  {names[k]:>8s} ({pr[k]:.2f})  {text}")


if __name__ == "__main__":
    main()
