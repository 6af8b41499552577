"""``iasym bump``: the 2D Gaussian bump benchmark (Liang et al., ICML 2025).

Example::

    iasym bump                       # 28 x 28, sigma 1, held-out square 6:22, bump codes
    iasym bump --size 16 --ood 4:11 --steps 300 --json

Trains the MLP and conv baselines and the interaction-asymmetric decoders (log-additive,
outer-product) on the training donut with one budget and prints one table of ID/OOD error,
OOD/ID ratio, factorization score and cross-slot derivative norm; writes JSON and a figure of
OOD reconstructions to ``--out``. Library call: :func:`numerics.bump.experiment.run_bump`.
"""

from __future__ import annotations

import argparse

NAME = "bump"
HELP = ("2D Gaussian bump benchmark: baselines memorize held-out (x, y) combinations,"
        " interaction-asymmetric decoders compose")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: --size, --sigma, --ood, --steps, --seed, --input, --no-invert, --models, --rank,
    --out, --json, --device, --no-progress."""
    parser.add_argument("--size", type=int, default=28, help="image side N (default 28)")
    parser.add_argument("--sigma", type=float, default=1.0, help="bump width (default 1.0)")
    parser.add_argument("--ood", default="6:22", metavar="LO:HI",
                        help="held-out square of centres, inclusive (default 6:22)")
    parser.add_argument("--steps", type=int, default=1500,
                        help="optimisation steps per decoder (default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and weights")
    parser.add_argument("--input", dest="inputs", default="bump",
                        choices=("raw", "onehot", "bump"),
                        help="input code of (x, y) (default bump)")
    parser.add_argument("--no-invert", dest="inverted", action="store_false",
                        help="target the bump itself instead of 1 - bump (the reference default)")
    parser.add_argument("--models", default="mlp,conv,log-additive,outer-product",
                        help="comma-separated decoders to compare")
    parser.add_argument("--rank", type=int, default=1, help="rank of the outer-product decoder")
    parser.add_argument("--out", default="results/bump", metavar="DIR",
                        help="directory for bump_results.json and bump_ood.png")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="hide progress bars")


def _parse_ood(text: str) -> tuple[int, int]:
    from numerics.core.errors import ConfigError

    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip().lstrip("-").isdigit() for p in parts):
        raise ConfigError(f"--ood must look like LO:HI with integers (e.g. 6:22), got {text!r}")
    return int(parts[0]), int(parts[1])


def run(args: argparse.Namespace) -> int:
    """Run :func:`run_bump`, save results, print the table (or one JSON object); exit 0."""
    import json

    from numerics.bump.experiment import BumpConfig, format_table, run_bump, save_bump
    from numerics.core.jsonio import dumps

    config = BumpConfig(size=args.size, sigma=args.sigma, ood=_parse_ood(args.ood),
                        inputs=args.inputs, inverted=args.inverted, steps=args.steps,
                        seed=args.seed,
                        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
                        rank=args.rank, device=args.device,
                        progress=args.progress and not args.json)
    result = run_bump(config)
    paths = save_bump(result, config.task(), args.out)
    if args.json:
        with open(paths["json"], encoding="utf-8") as handle:
            written = json.load(handle)
        print(dumps({**written, "files": paths}))
    else:
        print(format_table(result))
        if result.explanation_text:
            print()
            print(result.explanation_text)
        print(f"\nwrote {paths['json']} and {paths['figure']}")
    return 0
