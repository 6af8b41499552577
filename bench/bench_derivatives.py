"""Cross-slot derivatives of order 1-4: box-nested jvp vs full tensor vs per-sample autograd.

Setting: MLP 6 -> 256 -> 256 -> 64 (tanh), float64, batch 512, 3 slots x 2.
Methods, timed side by side in one run:

* ``ours``: numerics.derivatives.cross_derivatives (nested vmapped jvp over K - 1 boxes of
  direction sets; order 1: one forward-mode Jacobian, then the cross products).
* ``full``: ``vmap(jacfwd(...jacfwd(jacrev(f))))`` (the whole D^m f), then masking the cross
  entries. Order >= ``--full-subset-from`` runs on ``--full-subset`` samples and is scaled
  linearly to the batch (flagged ``full_scaled``).
* ``loop``: per-sample nested ``torch.autograd.grad`` (create_graph) over the sorted index
  prefixes, per output; run on ``--loop-samples`` samples and scaled linearly to the batch
  (always flagged ``loop_scaled``).
* ``forward``: one forward pass of the batch, for scale.
* ``needed``: the forward passes the method needs: a forward pass on
  ``numerics.derivatives.forward_passes(SIZES, order)`` stacked copies of the batch (the number
  of Taylor terms the nested jvp carries per sample), the faster of one call and calls on
  ``CHUNK_TERMS``-row pieces (the chunking ``ours`` uses by default). ``ours_over_needed`` is
  the overhead of the derivative machinery over plain forward passes on the same work.

``ours`` and ``forward`` are medians of repeated runs (after a warm-up); the slow references
are timed once.

Run: ``.venv/bin/python -m bench.bench_derivatives [--orders 1 2 3 4] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import torch

from bench.common import print_table, timeit, write_results
from numerics.derivatives import (
    CHUNK_TERMS,
    cross_derivatives,
    cross_tuples,
    derivative_tensor,
    forward_passes,
    jacobian,
    select_cross,
)

SIZES = (2, 2, 2)


def _mlp(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 256), torch.nn.Tanh(), torch.nn.Linear(256, 256),
                               torch.nn.Tanh(), torch.nn.Linear(256, 64)).double()


def _full(f: torch.nn.Module, z: torch.Tensor, order: int) -> torch.Tensor:
    tuples = cross_tuples(SIZES, order)
    if order == 1:
        jac = jacobian(f, z)
        first = torch.tensor([t[0] for t in tuples])
        second = torch.tensor([t[1] for t in tuples])
        return jac[:, :, first] * jac[:, :, second]
    return select_cross(derivative_tensor(f, z, order), tuples)


def _loop(f: torch.nn.Module, z: torch.Tensor, order: int) -> torch.Tensor:
    """Per sample and output: nested autograd.grad along sorted index prefixes."""
    tuples = cross_tuples(SIZES, order)
    out = torch.zeros(z.shape[0], 64, len(tuples), dtype=z.dtype)
    for b in range(z.shape[0]):
        x = z[b:b + 1].clone().requires_grad_(True)
        y = f(x)[0]
        for l in range(y.shape[0]):
            grads = {(): y[l]}
            for m in range(1, max(order, 1) + 1):
                for prefix in itertools.combinations_with_replacement(range(6), m - 1):
                    if prefix not in grads:
                        continue
                    g = torch.autograd.grad(grads[prefix], x, create_graph=m < order,
                                            retain_graph=True)[0][0]
                    for i in range(prefix[-1] if prefix else 0, 6):
                        grads[(*prefix, i)] = g[i]
            for t, idx in enumerate(tuples):
                if order == 1:
                    out[b, l, t] = grads[(idx[0],)] * grads[(idx[1],)]
                else:
                    out[b, l, t] = grads[idx]
    return out


def _once(fn: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, float]:
    """Value and wall-clock seconds of one call (for the slow reference methods)."""
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--full-subset-from", type=int, default=4)
    parser.add_argument("--full-subset", type=int, default=64)
    parser.add_argument("--loop-samples", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    f = _mlp()
    z = torch.randn(args.batch, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    zl = z[:args.loop_samples]
    rows = []
    with torch.no_grad():
        forward = timeit(lambda: f(z), repeat=5)["median_s"]
    for order in args.orders:
        with torch.no_grad():
            ours_values = cross_derivatives(f, z, SIZES, order).values
            ours = timeit(lambda o=order: cross_derivatives(f, z, SIZES, o), repeat=3)["median_s"]
            passes = forward_passes(SIZES, order)
            stacked = z.repeat(passes, 1)
            needed = min(timeit(lambda s=stacked: f(s), repeat=3)["median_s"],
                         timeit(lambda s=stacked: [f(p) for p in s.split(CHUNK_TERMS)],
                                repeat=3)["median_s"])
            del stacked
            scaled_full = order >= args.full_subset_from
            zf = z[:args.full_subset] if scaled_full else z
            full_values, full = _once(lambda o=order, zf=zf: _full(f, zf, o))
            full *= z.shape[0] / zf.shape[0]
        loop_values, loop = _once(lambda o=order: _loop(f, zl, o))
        loop *= z.shape[0] / zl.shape[0]
        err_full = float((ours_values[:zf.shape[0]] - full_values).abs().max())
        err_loop = float((ours_values[:zl.shape[0]] - loop_values).abs().max())
        rows.append({
            "order": order, "tuples": len(cross_tuples(SIZES, order)),
            "forward_s": forward, "passes": passes, "needed_s": needed, "ours_s": ours,
            "full_s": full, "loop_s": loop, "full_over_ours": full / ours,
            "loop_over_ours": loop / ours, "ours_over_forward": ours / forward,
            "ours_over_needed": ours / needed, "max_abs_diff_full": err_full,
            "max_abs_diff_loop": err_loop, "full_scaled": scaled_full, "loop_scaled": True,
        })
        print_table(rows[-1:])
    print()
    print_table(rows, ["order", "tuples", "passes", "forward_s", "needed_s", "ours_s", "full_s",
                       "loop_s", "full_over_ours", "loop_over_ours", "ours_over_needed"])
    write_results("bench_derivatives", rows, args.out, batch=args.batch, slot_sizes=SIZES,
                  model="MLP 6-256-256-64 tanh float64",
                  note="loop (and full for orders >= full_subset_from) measured on a subset "
                       "of the batch and scaled linearly to the batch")


if __name__ == "__main__":
    main()
