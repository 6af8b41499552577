"""``iasym grid``: the recovery grid on block slots (numerics.grid).

Example::

    iasym grid --slots 3x2 --seeds 10 --out grid_out

trains generator orders 0-3 x structured decoders of orders 0-3 and the MLP, ``--seeds`` runs
per cell, and writes ``grid.json``, ``grid.md`` and ``grid.png`` to ``--out`` (resumable: runs
already in ``runs.jsonl`` are skipped). At the defaults each run takes about 25 s on 2 CPU
cores, so the full grid of 20 cells x 10 seeds takes about 80 minutes.
"""

from __future__ import annotations

import argparse

from numerics.cli.types import positive_int

NAME = "grid"
HELP = ("train the recovery grid (generator order x decoder order and the MLP) on block slots"
        " and write counts of identified / not-converged / mixed runs per cell")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``iasym grid``."""
    parser.add_argument("--slots", default="3x2", help="true slots (default 3x2)")
    parser.add_argument("--generator-orders", default="0,1,2,3",
                        help="rows (default 0,1,2,3)")
    parser.add_argument("--decoder-orders", default="0,1,2,3",
                        help="structured decoder columns (default 0,1,2,3)")
    parser.add_argument("--no-mlp", action="store_true", help="leave out the MLP column")
    parser.add_argument("--seeds", type=positive_int, default=10,
                        help="runs per cell (default 10)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="optimization steps per run (default: iasym train's)")
    parser.add_argument("--slot-degree", type=positive_int, default=None,
                        help="within-slot degree of the generators (default: the largest "
                             "decoder order + 1, so that every decoder meets generators it "
                             "cannot fit in mixed coordinates)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--out", default="grid_out", help="output folder (default grid_out)")


def run(args: argparse.Namespace) -> int:
    """Run the grid and print the markdown table."""
    import torch

    from numerics.grid import GridConfig, format_markdown, parse_orders, run_grid
    from theory.parsing import parse_slot_sizes

    torch.set_num_threads(min(2, torch.get_num_threads()))
    config = GridConfig(slot_sizes=parse_slot_sizes(args.slots),
                        generator_orders=parse_orders(args.generator_orders),
                        decoder_orders=parse_orders(args.decoder_orders), mlp=not args.no_mlp,
                        seeds=args.seeds, first_seed=args.first_seed, steps=args.steps,
                        slot_degree=args.slot_degree, device=args.device)
    from numerics.core.io import check_output_path, hold_lock

    check_output_path(args.out, "--out", directory=True)
    with hold_lock(args.out, "output folder"):
        summary = run_grid(config, args.out)
    print(format_markdown(summary))
    print(f"wrote {args.out}/grid.json, grid.md, grid.png")
    return 0
