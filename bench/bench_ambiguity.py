"""Ambiguity systems: sparse exact construction + flint/DomainMatrix nullspace vs dense sympy.

Reference (the dense route): build Df . v with symbolic coefficients c, expand, collect the
coefficients of the cross-slot monomials of degree > n, then ``sympy.linear_eq_to_matrix`` and
``Matrix.nullspace``. Ours: :func:`theory.ambiguity.ambiguities` (whole analysis: class check,
sparse system, exact nullspace, per-slot subsystems, counterexample attempts). Both give the same
solution dimension (asserted). The nullspace of the sparse system alone is also timed with each
back-end of :mod:`theory.linalg` (sparse sympy DomainMatrix vs dense flint fmpq_mat).
Run: ``.venv/bin/python -m bench.bench_ambiguity [--quick]``.
"""

from __future__ import annotations

import argparse
import math

from bench.common import print_table, timeit, write_results
from theory.ambiguity import ambiguities
from theory.ambiguity_system import dense_reference_dimension, linear_system
from theory.generators import random_polynomial
from theory.linalg import available_backends, nullspace

CASES = [
    # (sizes, outputs, order, degree, run the dense reference)
    ((2, 2), 40, 3, 1, True),
    ((2, 2, 2), 30, 3, 1, True),
    ((2, 2, 2), 30, 4, 2, False),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repeat, skip the slow case")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    repeat = 1 if args.quick else 3
    rows = []
    for sizes, outputs, order, degree, with_reference in CASES:
        if args.quick and degree > 1:
            continue
        gen = random_polynomial(order, sizes, outputs, seed=0)
        result = ambiguities(gen.f, gen.slots, order, degree)
        ours = timeit(lambda g=gen, o=order, d=degree: ambiguities(g.f, g.slots, o, d),
                      repeat=repeat, warmup=0)
        row = {
            "case": f"{'x'.join(map(str, sizes))} slots, {outputs} outputs, n={order}, D={degree}",
            "unknowns": result.unknowns,
            "equations": result.equations,
            "dim": result.dimension,
            "slotwise_dim": result.slotwise_dimension,
            "ours_s": ours["median_s"],
            "dense_sympy_s": math.nan,
            "ratio": math.nan,
        }
        if with_reference:
            assert dense_reference_dimension(gen.f, gen.slots, order, degree) == result.dimension
            ref = timeit(lambda g=gen, o=order, d=degree:
                         dense_reference_dimension(g.f, g.slots, o, d),
                         repeat=repeat, warmup=0)
            row["dense_sympy_s"] = ref["median_s"]
            row["ratio"] = ref["median_s"] / ours["median_s"]
        system, columns = linear_system(gen.f, gen.slots, order, degree)
        for backend in available_backends():
            t = timeit(lambda b=backend, s=system, c=columns: nullspace(s, len(c), backend=b),
                       repeat=repeat, warmup=0)
            row[f"nullspace_{backend}_s"] = t["median_s"]
        rows.append(row)
    print_table(rows)
    write_results("bench_ambiguity", rows, out=args.out,
                  note="ratio = dense sympy reference time / ours, measured in the same run")


if __name__ == "__main__":
    main()
