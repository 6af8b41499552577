"""Training throughput (optimization steps per second) for every decoder family, side by side.

Same sizes for all: 3 slots x 2 latents, d_x = 40, batch 256, MLP encoder 40 -> 128 -> 128 -> 6;
structured decoders of order 0, 1, 2, 3 (per-slot width 64) and the MLP baseline (width 128),
plus the MLP with the order-2 cross-derivative penalty on 32 latents per step: exact (all 12
cross tuples per point, numerics.synthetic.models.cross_penalty) and stochastic (one uniform cross
tuple per point, the unbiased estimate of ``--penalty-tuples 1``). One step = forward, loss,
backward and AdamW update (the body of numerics.core.engine.fit), float32 on CPU. ``estimator``:
the stochastic penalty's mean and standard deviation over 400 draws at the initial decoder
against the exact value on the same 32 points, and the mean reported variance.

Run: ``.venv/bin/python -m bench.bench_training [--steps 50] [--threads 1]``.
"""

from __future__ import annotations

import argparse

import torch

from bench.common import print_table, timeit, write_results
from numerics.core.cross_penalty import penalty_tuple_ids, stochastic_cross_penalty
from numerics.synthetic.decoder_families import make_decoder
from numerics.synthetic.models import Autoencoder, MLPEncoder, cross_penalty

SIZES = (2, 2, 2)
D_X = 40
BATCH = 256


def _step_fn(kind: str, order: int, penalty: float, stochastic: bool = False
             ) -> tuple[object, int]:
    model = Autoencoder(MLPEncoder(D_X, sum(SIZES), hidden=128, seed=0),
                        make_decoder(kind, order, SIZES, D_X, seed=0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, D_X, generator=torch.Generator().manual_seed(0))
    params = sum(p.numel() for p in model.parameters())
    counter = iter(range(10**9))

    def step() -> None:
        z, x_hat = model(x)
        loss = (x_hat - x).square().mean() + model.decoder.penalty()
        if penalty:
            ids = penalty_tuple_ids(32, SIZES, order + 1, 0, next(counter)) if stochastic else None
            loss = loss + penalty * cross_penalty(model.decoder, z[:32], SIZES, order, ids)
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
    cases = ([("structured", n, 0.0, False) for n in (0, 1, 2, 3)]
             + [("mlp", 1, 0.0, False), ("mlp", 1, 1.0, False), ("mlp", 1, 1.0, True)])
    rows = []
    for kind, order, penalty, stochastic in cases:
        step, params = _step_fn(kind, order, penalty, stochastic)
        steps = max(1, args.steps // 5) if penalty and not stochastic else args.steps

        def run(step=step, steps=steps) -> None:
            for _ in range(steps):
                step()

        t = timeit(run, repeat=3, warmup=1)
        name = f"{kind} n={order}" + (" + cross penalty (order 2)" if penalty else "")
        name += " stochastic, 1 tuple/point" if stochastic else (" exact" if penalty else "")
        rows.append({"decoder": name, "parameters": params,
                     "steps_per_s": steps / t["median_s"],
                     "ms_per_step": 1e3 * t["median_s"] / steps})
    base = next(r["steps_per_s"] for r in rows if r["decoder"] == "mlp n=1")
    for r in rows:
        r["relative_to_mlp"] = r["steps_per_s"] / base
    print_table(rows)
    estimator = _estimator()
    print(estimator)
    write_results("bench_training", rows, args.out, slot_sizes=list(SIZES), d_x=D_X,
                  batch=BATCH, threads=args.threads, estimator=estimator)


def _estimator(draws: int = 400) -> dict[str, float]:
    """The stochastic order-2 penalty at the initial MLP decoder on 32 encoded points: mean and
    sd over ``draws`` draws of 32 (point, tuple) samples vs the exact penalty."""
    model = Autoencoder(MLPEncoder(D_X, sum(SIZES), hidden=128, seed=0),
                        make_decoder("mlp", 1, SIZES, D_X, seed=0))
    x = torch.randn(BATCH, D_X, generator=torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        z = model.encode(x)[:32].double()
        decoder = model.decoder.double()
        exact = float(cross_penalty(decoder, z, SIZES, 1))
        estimates = [stochastic_cross_penalty(decoder, z, SIZES, 2, 32, gen)
                     for _ in range(draws)]
    values = torch.stack([e.value for e in estimates])
    return {"exact": exact, "mean": float(values.mean()), "sd": float(values.std()),
            "mean_reported_sd": float(torch.stack([e.variance for e in estimates]).mean().sqrt()),
            "draws": draws, "samples_per_draw": 32,
            "mean_minus_exact_in_se": float((values.mean() - exact) / (values.std() / draws**0.5))}


if __name__ == "__main__":
    main()
