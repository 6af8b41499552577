"""Exact interaction order: structural algorithm vs differentiating every cross-slot partial.

Workloads: ``random_polynomial(3, (3, 3, 3, 3), 60)`` (60 polynomial outputs of
degree <= 5, true order 3), an order-2 generator with transcendental slot terms, and the 4x4
Gaussian bump (no finite order). Ours: :func:`theory.order.interaction_order`. Reference:
:func:`theory.order.interaction_order_bruteforce` (every cross-slot partial of order 2, 3, ...
from scratch until all vanish, up to ``max_order + 1``). Both answers are asserted equal.
Run: ``.venv/bin/python -m bench.bench_order [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import time
from itertools import combinations_with_replacement

import sympy

from bench.common import print_table, timeit, write_results
from theory import generators as gen
from theory.class_construction import minimum_outputs
from theory.order import interaction_order, interaction_order_bruteforce


def transcendental_generator(seed: int) -> gen.Generator:
    """An order-2 generator with exp/sin/tanh terms inside each slot (2 slots x 2 latents)."""
    base = gen.bilinear((2, 2), minimum_outputs(2, (2, 2)), seed)
    a1, a2, b1, b2 = base.slots.symbols
    extra = [sympy.exp(a1) * a2, sympy.sin(a2) * a1, sympy.tanh(b1 - b2), sympy.exp(b2) * b1**2]
    f = sympy.Matrix([e + extra[i % 4] for i, e in enumerate(base.f)])
    return gen.Generator(f, base.slots, 2, "transcendental", "bilinear + slot-wise exp/sin/tanh")


def partial_count(g: gen.Generator, top: int) -> int:
    """Cross-slot partials the reference differentiates for orders 2..top (all outputs)."""
    slots = g.slots
    per_output = sum(1 for k in range(2, top + 1)
                     for v in combinations_with_replacement(slots.symbols, k)
                     if len({slots.slot(s) for s in v}) > 1)
    return per_output * g.f.rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repeat of the fast path")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 7
    cases = [
        ("polynomial 4x3 slots, 60 outputs, deg<=5", gen.random_polynomial(3, (3, 3, 3, 3), 60, 0),
         3),
        ("transcendental 2x2 slots, order 2", transcendental_generator(0), 2),
        ("gaussian bump 4x4 pixels", gen.gaussian_bump(4), 3),
    ]
    rows = []
    for name, g, bound in cases:
        fast_order = interaction_order(g.f, g.slots)
        fast = timeit(lambda g=g: interaction_order(g.f, g.slots), repeat=repeat, warmup=1)
        start = time.perf_counter()
        ref_order = interaction_order_bruteforce(g.f, g.slots, bound)
        ref_s = time.perf_counter() - start
        expected = fast_order if fast_order <= bound else math.inf
        assert ref_order == expected, (name, fast_order, ref_order)
        top = bound + 1 if ref_order == math.inf else ref_order + 1
        rows.append({
            "case": name,
            "order": str(fast_order),
            "fast_ms": 1000 * fast["median_s"],
            "naive_s": ref_s,
            "naive_partials": partial_count(g, top),
            "speedup": ref_s / fast["median_s"],
        })
    print_table(rows)
    write_results("bench_order", rows, out=args.out, repeat=repeat)


if __name__ == "__main__":
    main()
