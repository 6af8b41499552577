"""How far does the conjecture check go in a minute? Order N, slots, field degree D, family.

For each (family, slots, D) the order N increases until one trial takes longer than the budget
(default 60 s of process CPU time; wall-clock is reported too, since the machine is shared),
or until the generator would have more than ``--max-outputs`` outputs (the fewest that allow
sufficient independence, :func:`theory.class_construction.minimum_outputs`: drawing and certifying a
d_x x d_x rational matrix is then the whole cost, recorded as a skipped row). A trial runs under
a wall-clock cap of twice the budget (``theory.budget``) and is recorded as over budget when
it hits it. One trial = :func:`theory.conjecture.run_trial`:

* ``polynomial``: draw f = C m(z) with the certified full-rank C of
  :func:`theory.class_construction.class_draw` (what ``polynomial`` returns), then solve the
  ambiguity system and the discrete search through m(z) (exact: C has full column rank, see
  :func:`theory.conjecture.check_class_draw`); the answer depends on N, slots and D only;
* ``exp-polynomial``: :func:`theory.generators.exp_polynomial` (one exp of a linear form per
  slot on top), whose system is solved on f itself.

Per stage seconds come from the trial's own ``timings``; ``generate_share`` is generation over
the trial's wall time. ``target`` is the reach asked for in issue 13 (D <= 2). Run:
``.venv/bin/python -m bench.bench_conjecture [--quick] [--budget 60] [--max-order 8]``.
"""

from __future__ import annotations

import argparse

from bench.common import print_table, write_results
from theory.budget import time_budget
from theory.class_construction import minimum_outputs
from theory.conjecture import run_trial
from theory.errors import BudgetError

CONFIGS = [
    ("polynomial", (2, 2), 1), ("polynomial", (2, 2), 2), ("polynomial", (2, 2), 3),
    ("polynomial", (2, 2, 2), 1), ("polynomial", (2, 2, 2), 2),
    ("polynomial", (3, 3), 1), ("polynomial", (3, 3), 2),
    ("polynomial", (2, 2, 2, 2), 1), ("polynomial", (2, 2, 2, 2), 2),
    ("polynomial", (1, 1, 1, 1), 1),
    ("exp-polynomial", (2, 2), 1), ("exp-polynomial", (2, 2), 2),
    ("exp-polynomial", (2, 2, 2), 1),
]
QUICK = [("polynomial", (2, 2), 1), ("polynomial", (2, 2), 2), ("exp-polynomial", (2, 2), 1)]
#: Issue 13's targets (within 60 s per trial, D <= 2).
TARGETS = {(2, 2): 8, (2, 2, 2): 6, (3, 3): 6, (2, 2, 2, 2): 4}
#: exp-polynomial trials start at N = 3 (the orders the polynomial-only check left open).
START = {"polynomial": 1, "exp-polynomial": 3}


def main(argv: list[str] | None = None) -> None:
    """Sweep N per (family, slots, D) until a trial exceeds the budget; table and JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2x2 slots, D = 1, 2, N <= 3")
    parser.add_argument("--budget", type=float, default=60.0, help="CPU seconds per trial")
    parser.add_argument("--max-order", type=int, default=8)
    parser.add_argument("--max-outputs", type=int, default=2500,
                        help="skip generators with more outputs than this")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    max_order = 3 if args.quick else args.max_order
    rows, reach = [], []
    for family, sizes, degree in QUICK if args.quick else CONFIGS:
        best = 0
        name = "x".join(map(str, sizes))
        stopped = f"N <= {max_order} all within budget"
        for order in range(START[family], max_order + 1):
            d_x = minimum_outputs(order, sizes)
            base = {"family": family, "slots": name, "D": degree, "N": order, "d_x": d_x}
            if d_x > args.max_outputs:
                rows.append({**base, "status": f"skipped: d_x > {args.max_outputs}"})
                stopped = f"N = {order}: d_x = {d_x} outputs ({d_x}^2 coefficients)"
                break
            try:
                with time_budget(2 * args.budget, "the trial"):
                    trial = run_trial(order, sizes, degree, None, seed=0, family=family)
            except BudgetError:
                rows.append({**base, "status": f"over {2 * args.budget:g} s wall"})
                stopped = f"N = {order}: over the wall cap"
                break
            rows.append({
                **base, "status": "ok", "unknowns": trial.unknowns,
                "equations": trial.equations, "dim": trial.dimension,
                "slotwise_dim": trial.slotwise_dimension, "slotwise": trial.slotwise,
                "discrete_complete": trial.discrete_complete,
                **{f"{k}_s": v for k, v in trial.timings.items()},
                "generate_share": trial.timings.get("generate", 0.0) / max(trial.seconds, 1e-9),
                "wall_s": trial.seconds, "cpu_s": trial.cpu_seconds,
            })
            print_table(rows[-1:])
            if trial.cpu_seconds > args.budget:
                stopped = f"N = {order}: {trial.cpu_seconds:.0f} s CPU"
                break
            best = order
        reach.append({"family": family, "slots": name, "D": degree,
                      "max_N_within_budget": best,
                      "target": TARGETS.get(sizes) if degree <= 2 else None,
                      "stopped_at": stopped})
    print_table(rows, ["family", "slots", "D", "N", "d_x", "status", "unknowns", "dim",
                       "slotwise_dim", "slotwise", "discrete_complete", "generate_s",
                       "ambiguity_s", "discrete_s", "generate_share", "wall_s", "cpu_s"])
    print_table(reach)
    write_results("bench_conjecture", rows, args.out, budget_cpu_s=args.budget, reach=reach)


if __name__ == "__main__":
    main()
