"""``iasym figures``: regenerate the package's figures (PNG and PDF)."""

from __future__ import annotations

import argparse

NAME = "figures"
HELP = "regenerate the proof and result figures (PNG + PDF) from library calls"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: output folder, one figure by name, quick (CI-sized) settings, listing."""
    parser.add_argument("--out", default="figures_out", help="output folder (default: %(default)s)")
    parser.add_argument("--only", metavar="NAME", help="render only this figure")
    parser.add_argument("--quick", action="store_true", help="small settings (as in CI)")
    parser.add_argument("--list", action="store_true", help="list figure names and exit")


def run(args: argparse.Namespace) -> int:
    """Render the figures and print the saved paths."""
    from numerics.figures.registry import FIGURES, render

    if args.list:
        for name in FIGURES:
            print(name)
        return 0
    from numerics.core.io import check_output_path

    check_output_path(args.out, "--out", directory=True)
    for path in render(args.out, only=args.only, quick=args.quick):
        print(path)
    return 0
