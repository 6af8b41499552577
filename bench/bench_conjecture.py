"""How far does the conjecture check go in a minute? Order N, slots and field degree D.

For each (slots, D) the order N increases until one trial takes longer than the budget
(default 60 s of process CPU time; wall-clock is reported too, since the machine is shared).
One trial = :func:`theory.conjecture.run_trial`: draw a sufficiently independent random
generator of exact order N with the fewest outputs (:func:`theory.generators.minimum_outputs`),
verify its order and independence exactly, build and solve the sparse exact ambiguity system.
Per stage seconds come from the trial's own ``timings``. Run:
``.venv/bin/python -m bench.bench_conjecture [--quick] [--budget 60] [--max-order 6]``.
"""

from __future__ import annotations

import argparse

from bench.common import print_table, write_results
from theory.conjecture import run_trial
from theory.generators import minimum_outputs

CONFIGS = [((2, 2), 1), ((2, 2), 2), ((2, 2), 3), ((2, 2, 2), 1), ((2, 2, 2), 2),
           ((3, 3), 1), ((1, 1, 1, 1), 1)]
QUICK = [((2, 2), 1), ((2, 2), 2)]


def main(argv: list[str] | None = None) -> None:
    """Sweep N per (slots, D) until a trial exceeds the budget; print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2x2 slots, D = 1, 2, N <= 3")
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds per trial")
    parser.add_argument("--max-order", type=int, default=6)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    max_order = 3 if args.quick else args.max_order
    rows, reach = [], []
    for sizes, degree in QUICK if args.quick else CONFIGS:
        best = 0
        for order in range(1, max_order + 1):
            trial = run_trial(order, sizes, degree, None, seed=0)
            rows.append({
                "slots": "x".join(map(str, sizes)), "D": degree, "N": order,
                "d_x": minimum_outputs(order, sizes), "unknowns": trial.unknowns,
                "equations": trial.equations, "dim": trial.dimension,
                "slotwise_dim": trial.slotwise_dimension, "slotwise": trial.slotwise,
                "independent": trial.independent,
                **{f"{k}_s": v for k, v in trial.timings.items()},
                "wall_s": trial.seconds, "cpu_s": trial.cpu_seconds,
            })
            print_table(rows[-1:])
            if trial.cpu_seconds > args.budget:
                break
            best = order
        reach.append({"slots": "x".join(map(str, sizes)), "D": degree,
                      "max_N_within_budget": best})
    print_table(rows, ["slots", "D", "N", "d_x", "unknowns", "equations", "dim", "slotwise_dim",
                       "slotwise", "generate_s", "independence_s", "ambiguity_s", "wall_s",
                       "cpu_s"])
    print_table(reach)
    write_results("bench_conjecture", rows, args.out, budget_cpu_s=args.budget, reach=reach)


if __name__ == "__main__":
    main()
