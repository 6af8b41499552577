"""The ``iasym`` command line: a thin layer over library calls.

Every module in :mod:`numerics.cli.commands` is one sub-command and defines ``NAME`` and
``HELP`` (strings), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
only argparse-level code at top level (heavy imports such as torch go inside ``run``), so that
``iasym analyze`` works, and starts fast, without a GPU stack.

Every failure ends the program with exit code 2 and one line on stderr: errors the user caused
(:class:`theory.errors.InteractionAsymmetryError`, and argparse's usage errors) with their
reason, anything else as an internal error naming its type (a bug to report, never a
traceback). Every command takes ``--quiet`` (only warnings and errors on stderr: no
progress bars or progress lines; messages go through the ``iasym`` logger,
:mod:`numerics.core.progress`) and ``--timeout SECONDS`` (a module's ``TIMEOUT`` is its default,
e.g. 60 s for ``analyze``; ``none``: no limit): past it the command stops with
:class:`theory.errors.BudgetError`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from theory.budget import time_budget
from theory.errors import InteractionAsymmetryError


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other failure."""

    def error(self, message: str) -> NoReturn:
        line = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {line[:500]} (see {self.prog} --help)\n")


def _timeout(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds > 0 or 'none', got {text!r}"
                                         ) from None
    if not 0 < value < 1e7:
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 1e7) or 'none', got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """Parser with one sub-command per module of :mod:`numerics.cli.commands`."""
    from numerics.cli import commands

    parser = _Parser(
        prog="iasym",
        description="Interaction asymmetry: exact theory and numerical verification.",
    )
    from numerics.core.io import package_version

    parser.add_argument("--version", action="version", version=f"iasym {package_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        default = getattr(module, "TIMEOUT", None)
        p.add_argument("--timeout", type=_timeout, default=default, metavar="SECONDS",
                       help=f"stop with an error after this many seconds (default "
                            f"{'none' if default is None else f'{default:g}'}; 'none': no "
                            f"limit)")
        p.add_argument("--quiet", action="store_true",
                       help="only warnings and errors on stderr (no progress bars or lines)")
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``iasym`` console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from numerics.core.device import flush_denormals
    from numerics.core.progress import configure_logging

    configure_logging(quiet=args.quiet)

    try:  # flush subnormals before torch starts its worker threads, which inherit it
        with flush_denormals(), time_budget(args.timeout, f"iasym {args.command}",
                         "raise it with --timeout SECONDS (or --timeout none)"):
            return int(args._run(args) or 0)
    except InteractionAsymmetryError as err:
        print(f"iasym {args.command}: error: {_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"iasym {args.command}: interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print(f"iasym {args.command}: error: input too large or too deeply nested to process "
              f"(Python's recursion limit was reached; use fewer slots, outputs or nesting "
              f"levels)", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"iasym {args.command}: error: out of memory (make the input or the run "
              f"smaller)", file=sys.stderr)
        return 2
    except Exception as err:  # a bug: still one line, never a traceback
        print(f"iasym {args.command}: internal error ({type(err).__name__}): {_line(err)} "
              f"(please report this)", file=sys.stderr)
        return 2


def _line(err: BaseException, limit: int = 400) -> str:
    """The error's message on one line, at most ``limit`` characters."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[:limit] + " ..."
