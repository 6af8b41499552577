"""``iasym analyze``: exact identifiability verdict for a generator given as expressions.

Example::

    iasym analyze --slots "x1,x2 | y1,y2" "x1**2 + y1" "exp(x2) - y2" "x1*x2" ...
    iasym analyze --slots "a | b" --file generator.txt --json

Expressions go through the whitelist parser of :mod:`theory.parsing` (never ``eval``); the
analysis is :func:`theory.report.analyze`.
"""

from __future__ import annotations

import argparse

NAME = "analyze"
#: Seconds an analysis may take unless --timeout says otherwise.
TIMEOUT = 60.0
HELP = ("exact analysis of a generator: interaction order, sufficient independence,"
        " ambiguities and the identifiability verdict")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: expressions (positional), --slots, --file, --degree, --json."""
    parser.add_argument("expressions", nargs="*", metavar="EXPR",
                        help="one expression per output of f, in the slot symbols")
    parser.add_argument("--slots", required=True,
                        help='latent symbols split into slots, e.g. "x1,x2 | y1,y2"')
    parser.add_argument("--file", default=None, metavar="PATH",
                        help="read further expressions from PATH (one per line, '#' comments)")
    parser.add_argument("--degree", type=int, default=1,
                        help="degree of the polynomial vector fields in the ambiguity check"
                             " (default 1: affine)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Parse, analyze, print ``Report.format()`` or ``Report.to_dict()`` as JSON; exit 0."""
    from numerics.core.jsonio import dumps
    from theory.errors import GeneratorError
    from theory.parsing import parse_generator, parse_slots, read_expression_file
    from theory.report import analyze

    slots = parse_slots(args.slots)
    texts = list(args.expressions)
    if args.file is not None:
        texts.extend(read_expression_file(args.file))
    if not texts:
        raise GeneratorError("no expressions given: pass them as arguments or with --file PATH")
    f = parse_generator(texts, slots)
    report = analyze(f, slots, degree=args.degree)
    if args.json:
        print(dumps(report.to_dict()))
    else:
        print(report.format())
    return 0
