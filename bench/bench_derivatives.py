"""Cross-slot derivatives of order 1-4: Taylor jet vs box-nested jvp vs full tensor vs autograd.

Setting: MLP 6 -> 256 -> 256 -> 64 (tanh), float64, batch 512, 3 slots x 2.
Methods, timed side by side in one run:

* ``ours``: numerics.core.derivatives.cross_derivatives, default method (one multivariate Taylor
  jet over the downward closure of the cross tuples, numerics.core.taylor; order 1: one
  forward-mode Jacobian, then the cross products).
* ``boxes``: the same function with ``method="boxes"`` (nested vmapped jvp over K - 1 boxes of
  direction sets; the previous default), timed once.
* ``full``: ``vmap(jacfwd(...jacfwd(jacrev(f))))`` (the whole D^m f), then masking the cross
  entries. Order >= ``--full-subset-from`` runs on ``--full-subset`` samples and is scaled
  linearly to the batch (flagged ``full_scaled``).
* ``loop``: per-sample nested ``torch.autograd.grad`` (create_graph) over the sorted index
  prefixes, per output; run on ``--loop-samples`` samples and scaled linearly to the batch
  (always flagged ``loop_scaled``).
* ``forward``: one forward pass of the batch, for scale.
* ``needed``: the forward passes the method needs: a forward pass on
  ``numerics.core.derivatives.forward_passes(SIZES, order)`` stacked copies of the batch (the number
  of Taylor terms the jet carries per sample), the faster of one call and calls on
  ``TAYLOR_ROWS``-row pieces (the chunking ``ours`` uses by default). ``ours_over_needed`` is
  the overhead of the derivative machinery (mostly the Faa di Bruno products of the
  nonlinearities) over plain forward passes on the same work. ``lower_bound``:
  numerics.core.derivatives.passes_lower_bound (one coefficient per cross tuple).
* ``memory``: a separate process computes the order-``--memory-order`` partials of a batch of
  ``--memory-batch`` samples and reports its peak resident memory (chunking bounds it).

``ours`` and ``forward`` are medians of repeated runs (after a warm-up); the slow references
are timed once.

Run: ``.venv/bin/python -m bench.bench_derivatives [--orders 1 2 3 4] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from bench.common import print_table, timeit, write_results
from numerics.core.derivatives import (
    TAYLOR_ROWS,
    cross_derivatives,
    cross_tuples,
    derivative_tensor,
    forward_passes,
    jacobian,
    passes_lower_bound,
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


_MEMORY_SCRIPT = """
import json, sys, time
import torch
from bench.bench_derivatives import SIZES, _mlp
from numerics.core.derivatives import cross_derivatives


def status(key):  # kB; VmHWM (peak resident) belongs to this process's own address space
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1])


torch.set_num_threads(int(sys.argv[3]))
f = _mlp()
z = torch.randn(int(sys.argv[1]), 6, dtype=torch.float64)
before = status("VmHWM:")
start = time.perf_counter()
with torch.no_grad():
    values = cross_derivatives(f, z, SIZES, int(sys.argv[2])).values
print(json.dumps({"seconds": time.perf_counter() - start, "values_mb": values.nbytes / 2**20,
                  "peak_rss_before_call_mb": before / 1024,
                  "peak_rss_mb": status("VmHWM:") / 1024}))
"""


COST_LAYOUTS = ((2, 2), (2, 2, 2), (3, 3), (2, 2, 2, 2), (3, 3, 3))


def cost_rows() -> list[dict[str, object]]:
    """The cost model per layout and order (counts only, no timing): forward-pass equivalents
    per sample of each scheme, and the elementwise products per activation of the jet."""
    from numerics.core import jet_terms

    rows: list[dict[str, object]] = []
    for sizes in COST_LAYOUTS:
        d = sum(sizes)
        for order in (2, 3, 4):
            tuples = cross_tuples(sizes, order)
            terms = jet_terms.term_set(tuple(jet_terms.closure(tuples)))
            rows.append({
                "slots": "x".join(map(str, sizes)), "order": order, "tuples": len(tuples),
                "lower_bound": passes_lower_bound(sizes, order),
                "taylor_terms": forward_passes(sizes, order),
                "box_terms": forward_passes(sizes, order, "boxes"),
                "univariate_taylor": math.comb(d + order - 1, order) * (order + 1),
                "taylor_over_bound": forward_passes(sizes, order) / len(tuples),
                "fdb_products_per_activation": terms.fdb_products,
            })
    return rows


def _memory(batch: int, order: int, threads: int) -> dict[str, float]:
    """Peak resident memory (VmHWM) of one cross_derivatives call in a fresh process (Linux,
    MB); ru_maxrss would inherit the parent's peak across fork and exec."""
    out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, str(batch), str(order),
                          str(threads)], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parent.parent)
    return {"batch": batch, "order": order, **json.loads(out.stdout.strip().splitlines()[-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--full-subset-from", type=int, default=4)
    parser.add_argument("--full-subset", type=int, default=64)
    parser.add_argument("--loop-samples", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory-batch", type=int, default=4096)
    parser.add_argument("--memory-order", type=int, default=4)
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
                         timeit(lambda s=stacked: [f(p) for p in s.split(TAYLOR_ROWS)],
                                repeat=3)["median_s"])
            del stacked
            box_values, boxes = _once(lambda o=order: cross_derivatives(f, z, SIZES, o,
                                                                        method="boxes").values)
            scaled_full = order >= args.full_subset_from
            zf = z[:args.full_subset] if scaled_full else z
            full_values, full = _once(lambda o=order, zf=zf: _full(f, zf, o))
            full *= z.shape[0] / zf.shape[0]
        loop_values, loop = _once(lambda o=order: _loop(f, zl, o))
        loop *= z.shape[0] / zl.shape[0]
        err_full = float((ours_values[:zf.shape[0]] - full_values).abs().max())
        err_boxes = float((ours_values - box_values).abs().max())
        err_loop = float((ours_values[:zl.shape[0]] - loop_values).abs().max())
        rows.append({
            "order": order, "tuples": len(cross_tuples(SIZES, order)),
            "lower_bound": passes_lower_bound(SIZES, order), "passes": passes,
            "box_passes": forward_passes(SIZES, order, "boxes"),
            "forward_s": forward, "needed_s": needed, "ours_s": ours, "boxes_s": boxes,
            "full_s": full, "loop_s": loop, "full_over_ours": full / ours,
            "boxes_over_ours": boxes / ours, "loop_over_ours": loop / ours,
            "ours_over_forward": ours / forward, "ours_over_needed": ours / needed,
            "max_abs_diff_full": err_full, "max_abs_diff_boxes": err_boxes,
            "max_abs_diff_loop": err_loop, "full_scaled": scaled_full, "loop_scaled": True,
        })
        print_table(rows[-1:])
    print()
    print_table(rows, ["order", "tuples", "lower_bound", "passes", "box_passes", "ours_s",
                       "boxes_s", "full_s", "full_over_ours", "boxes_over_ours",
                       "ours_over_needed"])
    memory = _memory(args.memory_batch, args.memory_order, args.threads)
    print(memory)
    write_results("bench_derivatives", rows, args.out, batch=args.batch, slot_sizes=SIZES,
                  model="MLP 6-256-256-64 tanh float64",
                  note="loop (and full for orders >= full_subset_from) measured on a subset "
                       "of the batch and scaled linearly to the batch",
                  memory=memory)
    write_results("bench_derivatives_cost", cost_rows(), None if args.out is None
                  else Path(args.out).with_name(Path(args.out).stem + "_cost.json"),
                  passes="forward-pass equivalents per sample and output layer: taylor_terms "
                         "N_m = C(d+m-1, m-1) + T_m (downward closure of the cross tuples), "
                         "box_terms = sum over K-1 boxes of prod_l (1 + |S_l|), univariate "
                         "Taylor interpolation C(d+m-1, m) (m+1); lower_bound T_m",
                  elementwise="fdb_products_per_activation: products of activation-sized "
                              "tensors per nonlinearity (sum_r r P_r over merged Faa di Bruno "
                              "partitions, plus one per term)")


if __name__ == "__main__":
    main()
