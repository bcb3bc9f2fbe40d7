"""Exploding and vanishing gradients in a ReLU vanilla RNN, and what clipping does.

Recurrent weights drawn N(0, 3/H) make ||dL/dh_t|| grow ~sqrt(3/2) = 1.22x per step
back from the loss (computed at the last step only); N(0, 1.5/H) makes it shrink
~sqrt(3/4) = 0.87x per step. Then a few plain-SGD steps on the exploding network,
without and with global gradient-norm clipping.

    python examples/exploding_vanishing.py [--T 60] [--hidden 128] [--max-norm 1]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from fastrnn.tasks.gradient_flow import (
    EXPLODING_SIGMA2,
    VANISHING_SIGMA2,
    clipping_effect,
    compare_inits,
)


def fmt(x: float) -> str:
    return f"{x:10.3e}" if math.isfinite(x) else f"{x!s:>10s}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, default=60)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-norm", type=float, default=1.0)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args(argv)

    flows = compare_inits(
        (EXPLODING_SIGMA2, VANISHING_SIGMA2),
        T=args.T,
        hidden_size=args.hidden,
        batch=args.batch,
        seed=args.seed,
    )
    explode, vanish = flows[EXPLODING_SIGMA2], flows[VANISHING_SIGMA2]
    print(
        f"ReLU RNN, H={args.hidden}, T={args.T}, loss at t={args.T - 1} only; "
        "||dL/dh_t|| (mean over the batch)"
    )
    print(
        f"{'t':>4s} {'N(0,3/H)':>10s} {'log10':>7s}   {'N(0,1.5/H)':>10s} {'log10':>7s}"
    )
    ts = sorted(
        {args.T - 1, *range(args.T - 1, -1, -max(1, args.T // 6)), 0}, reverse=True
    )
    for t in ts:
        e, v = explode["grad_norm"][t], vanish["grad_norm"][t]
        print(f"{t:4d} {e:10.3e} {np.log10(e):7.2f}   {v:10.3e} {np.log10(v):7.2f}")
    for name, flow in (("N(0,3/H)", explode), ("N(0,1.5/H)", vanish)):
        g = flow["grad_norm"]
        print(
            f"{name:>10s}: ||dL/dh_0|| / ||dL/dh_T-1|| = {g[0] / g[-1]:.3e}; per-step "
            f"factor {flow['growth']:.3f} (theory sqrt(sigma2/2) = {flow['theory']:.3f}); "
            f"mean ||h_T-1|| = {flow['h_norm'][-1]:.3g}"
        )

    res = clipping_effect(
        EXPLODING_SIGMA2,
        max_norm=args.max_norm,
        steps=args.steps,
        lr=args.lr,
        T=min(args.T, 30),
        hidden_size=64,
        batch=args.batch,
        seed=args.seed,
    )
    raw, clipped = res["unclipped"], res["clipped"]
    print()
    print(
        f"SGD lr={args.lr} on the N(0,3/H) network (T={min(args.T, 30)}, H=64): "
        f"without clipping vs clip_grad_norm_(max_norm={args.max_norm})"
    )
    print(
        f"{'step':>4s} {'loss':>10s} {'norm':>10s}   {'loss':>10s} {'norm':>10s} {'clipped':>10s}"
    )
    for i in range(args.steps):
        print(
            f"{i:4d} {fmt(raw['loss'][i])} {fmt(raw['norm_before'][i])}   "
            f"{fmt(clipped['loss'][i])} {fmt(clipped['norm_before'][i])} "
            f"{fmt(clipped['norm_after'][i])}"
        )
    print(
        f"final loss: without clipping {raw['final_loss']:.4g}, "
        f"with clipping {clipped['final_loss']:.4g} (start {clipped['loss'][0]:.4g})"
    )


if __name__ == "__main__":
    main()
