"""``iasym recheck``: train a saved candidate counterexample further and judge it again.

Example::

    iasym recheck candidate_counterexamples/2x3x1-n3-d3-seed910 --steps 5000

loads the folder that ``iasym train`` wrote for a run flagged as a candidate counterexample
(numerics.synthetic.candidates), trains the same model ``--steps`` more steps on the same data and
prints the verdict before and after, with the conclusion: slot-wise after more training, mixed
and no longer reconstructing (both optimization failures), or still mixed and reconstructing
(the candidate stands).
"""

from __future__ import annotations

import argparse

from numerics.cli.types import positive_int

NAME = "recheck"
HELP = ("train a saved candidate counterexample further and say whether it becomes slot-wise,"
        " stops reconstructing, or stands")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``iasym recheck``."""
    parser.add_argument("folder", help="a folder written for a candidate by iasym train")
    parser.add_argument("--steps", type=positive_int, default=5000,
                        help="further optimization steps (default 5000)")
    parser.add_argument("--lr", type=float, default=None,
                        help="peak learning rate (default half the run's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the batches (default 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _line(name: str, state: dict) -> str:
    return (f"  {name}: {state['verdict']['verdict']}, held-out error {state['val_recon']:.3g}"
            f" (threshold {state['verdict']['recon_threshold']:.3g}), off-block "
            f"{state['off_block']:.3g} (threshold {state['verdict']['off_block_threshold']:.3g})"
            f", SIS {state['sis']:.3f}")


def run(args: argparse.Namespace) -> int:
    """Recheck the candidate; print the two verdicts and the conclusion (or JSON); exit 0."""
    import torch

    from numerics.core.jsonio import dumps
    from numerics.synthetic.candidates import recheck

    torch.set_num_threads(min(2, torch.get_num_threads()))
    found = recheck(args.folder, steps=args.steps, lr=args.lr, seed=args.seed)
    if args.json:
        print(dumps(found.to_dict()))
        return 0
    print(f"{found.folder}: {found.steps} more steps at lr {found.lr:.3g} "
          f"({found.seconds:.1f} s)")
    print(_line("before", found.before))
    for point in found.trace:
        print(f"    step {int(point['step'])}: held-out error {point['val_recon']:.3g}, "
              f"off-block {point['off_block']:.3g}")
    print(_line("after ", found.after))
    print(f"  conclusion: {found.conclusion}")
    return 0
