"""Training throughput (optimization steps per second) for every decoder family, side by side.

Same sizes for all: 3 slots x 2 latents, d_x = 40, batch 256, MLP encoder 40 -> 128 -> 128 -> 6;
structured decoders of order 0, 1, 2, 3 (per-slot width 64) and the MLP baseline (width 128),
plus the MLP with the order-2 cross-derivative penalty on 32 latents per step. One step =
forward, loss, backward and AdamW update (the body of numerics.engine.fit), float32 on CPU.

Run: ``.venv/bin/python -m bench.bench_training [--steps 50] [--threads 1]``.
"""

from __future__ import annotations

import argparse

import torch

from bench.common import print_table, timeit, write_results
from numerics.models import Autoencoder, MLPEncoder, cross_penalty, make_decoder

SIZES = (2, 2, 2)
D_X = 40
BATCH = 256


def _step_fn(kind: str, order: int, penalty: float) -> tuple[object, int]:
    model = Autoencoder(MLPEncoder(D_X, sum(SIZES), hidden=128, seed=0),
                        make_decoder(kind, order, SIZES, D_X, seed=0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, D_X, generator=torch.Generator().manual_seed(0))
    params = sum(p.numel() for p in model.parameters())

    def step() -> None:
        z, x_hat = model(x)
        loss = (x_hat - x).square().mean() + model.decoder.penalty()
        if penalty:
            loss = loss + penalty * cross_penalty(model.decoder, z[:32], SIZES, order)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50, help="steps per timing")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cases = [("structured", n, 0.0) for n in (0, 1, 2, 3)] + [("mlp", 1, 0.0), ("mlp", 1, 1.0)]
    rows = []
    for kind, order, penalty in cases:
        step, params = _step_fn(kind, order, penalty)
        steps = max(1, args.steps // 10) if penalty else args.steps

        def run(step=step, steps=steps) -> None:
            for _ in range(steps):
                step()

        t = timeit(run, repeat=3, warmup=1)
        name = f"{kind} n={order}" + (" + cross penalty (order 2)" if penalty else "")
        rows.append({"decoder": name, "parameters": params,
                     "steps_per_s": steps / t["median_s"],
                     "ms_per_step": 1e3 * t["median_s"] / steps})
    base = next(r["steps_per_s"] for r in rows if r["decoder"] == "mlp n=1")
    for r in rows:
        r["relative_to_mlp"] = r["steps_per_s"] / base
    print_table(rows)
    write_results("bench_training", rows, args.out, slot_sizes=list(SIZES), d_x=D_X,
                  batch=BATCH, threads=args.threads)


if __name__ == "__main__":
    main()
