"""The ``iasym`` command line: a thin layer over library calls.

Every module in :mod:`numerics.cli.commands` is one sub-command and defines ``NAME`` and
``HELP`` (strings), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
only argparse-level code at top level (heavy imports such as torch go inside ``run``), so that
``iasym analyze`` works, and starts fast, without a GPU stack.

Errors the user caused (:class:`theory.errors.InteractionAsymmetryError`) end the program with
exit code 2 and a one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from theory.errors import InteractionAsymmetryError


def build_parser() -> argparse.ArgumentParser:
    """Parser with one sub-command per module of :mod:`numerics.cli.commands`."""
    from numerics.cli import commands

    parser = argparse.ArgumentParser(
        prog="iasym",
        description="Interaction asymmetry: exact theory and numerical verification.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``iasym`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except InteractionAsymmetryError as err:
        message = " ".join(str(err).split())
        print(f"iasym {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"iasym {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
