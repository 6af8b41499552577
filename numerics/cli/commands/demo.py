"""``iasym demo``: the loop theory -> numerics for interaction orders 0, 1, 2 and a counterexample.

Example::

    iasym demo                 # writes demo_out/results.json and demo_out/demo.png
    iasym demo --quick --out /tmp/demo --seed 1

Library call: :func:`numerics.synthetic.demo.run_demo`. Prints the table of predicted verdicts
(exact analysis of each sympy generator) versus measured slot identifiability and ID/OOD errors.
"""

from __future__ import annotations

import argparse

NAME = "demo"
HELP = ("theory -> numerics for orders 0, 1, 2 and a counterexample: exact verdict, trained"
        " structured and MLP decoders, predicted vs measured table, JSON and PNG")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: --out, --seed, --steps, --device, --quick, --json."""
    parser.add_argument("--out", default="demo_out", metavar="DIR",
                        help="output folder for results.json and demo.png (default demo_out)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=None,
                        help="optimization steps per run (default 2000, --quick 60)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--quick", action="store_true",
                        help="tiny runs (a smoke test; numbers are not meaningful)")
    parser.add_argument("--json", action="store_true", help="print the rows as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run the demo, print the table (or JSON) and where the files are; exit code 0."""

    import torch

    from numerics.core.io import check_output_path, hold_lock
    from numerics.core.jsonio import dumps
    from numerics.synthetic.demo import format_table, run_demo

    check_output_path(args.out, "--out", directory=True)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    with hold_lock(args.out, "output folder"):  # two demos must not share one folder
        rows = run_demo(args.out, seed=args.seed, steps=args.steps, device=args.device,
                        quick=args.quick, progress=not args.json)
    if args.json:
        print(dumps({"out": args.out, "rows": rows}))
        return 0
    print(format_table(rows))
    print(f"\nwritten: {args.out}/results.json, {args.out}/demo.png")
    return 0
