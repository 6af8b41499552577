"""``iasym counterexample``: print and re-verify an entry of the counterexample catalogue.

Example::

    iasym counterexample --list
    iasym counterexample linear
    iasym counterexample support_not_aligned_connected --train --json

The symbolic certificate is :func:`theory.counterexamples.verify` (exact); ``--train`` adds the
numerical demonstration :func:`numerics.counterexamples.demo.demonstrate` (small training runs).
Exit code 0 when the certificate is valid (and, with ``--train``, the failure is shown), 1
otherwise.
"""

from __future__ import annotations

import argparse

NAME = "counterexample"
#: Seconds the command may take unless --timeout says otherwise.
TIMEOUT = 600.0
HELP = ("print and exactly re-verify a certified counterexample (one assumption of the theorems"
        " dropped); --train adds a measured numerical demonstration")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: NAME (positional), --list, --train, --steps, --lr, --seeds, --seed, --device,
    --json."""
    parser.add_argument("name", nargs="?", default=None, metavar="NAME",
                        help="catalogue entry (see --list)")
    parser.add_argument("--list", action="store_true", help="list the catalogue entries")
    parser.add_argument("--train", action="store_true",
                        help="also run the numerical demonstration (trains small models)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps per model")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam learning rate")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per model")
    parser.add_argument("--seed", type=int, default=0, help="first training seed")
    parser.add_argument("--device", default="auto", help="torch device (default auto)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _describe(entry) -> dict[str, object]:
    return {
        "name": entry.name,
        "assumption_violated": entry.assumption,
        "conclusion_that_fails": entry.conclusion,
        "slots": str(entry.slots),
        "f": [str(e) for e in entry.f],
        "generator_order": entry.generator_order,
        "model_order": entry.model_order,
        "witness": type(entry.witness).__name__,
        "derivation": entry.derivation,
    }


def run(args: argparse.Namespace) -> int:
    """List, or verify (and optionally demonstrate) one entry; print text or one JSON object."""
    from numerics.core.jsonio import dumps
    from theory.counterexamples import CATALOGUE, CatalogueError, get, verify

    if args.list:
        rows = {name: e.assumption for name, e in CATALOGUE.items()}
        if args.json:
            print(dumps({"entries": rows}))
        else:
            for name, assumption in rows.items():
                print(f"{name:32s} violates: {assumption}")
        return 0
    if args.name is None:
        raise CatalogueError("give a catalogue entry NAME or --list")
    if args.train and args.seeds < 1:
        raise CatalogueError(f"--train needs --seeds >= 1 (got {args.seeds}): nothing would "
                             f"be trained")
    entry = get(args.name)
    certificate = verify(entry)
    demo = None
    if args.train:
        import torch

        from numerics.counterexamples.demo import DemoConfig, demonstrate

        torch.set_num_threads(min(2, torch.get_num_threads()))  # results quoted at 2 threads

        demo = demonstrate(entry.name, DemoConfig(steps=args.steps, lr=args.lr, seeds=args.seeds,
                                                  seed=args.seed, device=args.device,
                                                  progress=not args.json))
    ok = certificate.valid and (demo is None or demo.shown)
    if args.json:
        print(dumps({"entry": _describe(entry), "certificate": certificate.to_dict(),
                          "demonstration": None if demo is None else demo.to_dict(),
                          "ok": ok}))
    else:
        info = _describe(entry)
        print(f"{entry.name}: violates {entry.assumption}; {entry.conclusion} fails")
        print(f"slots {info['slots']}, f = {info['f']}")
        print(f"generator order {entry.generator_order}, model order {entry.model_order}")
        print(f"derivation: {entry.derivation}")
        print(certificate.format())
        if demo is not None:
            print(demo.format())
    return 0 if ok else 1
