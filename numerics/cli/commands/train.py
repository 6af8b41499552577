"""``iasym train``: train a structured or MLP decoder on a generator of order n and measure it.

Examples::

    iasym train --order 1 --decoder structured --slots 3x1 --outputs 40 --steps 1500
    iasym train --order 2 --decoder mlp --slots 3x2 --outputs 40 --support band --json

The run is :func:`numerics.training.train` with a :class:`numerics.training.TrainConfig` built
from the options; ``--json`` prints ``TrainResult.to_dict()`` (sis, matched_r2, recon_mse,
ood_recon_mse, ood_sis, device, seconds, ...) as one JSON object.
"""

from __future__ import annotations

import argparse

NAME = "train"
HELP = ("train an autoencoder (structured order-n or MLP decoder) on a generator of order n and"
        " report slot identifiability and ID/OOD reconstruction errors")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``iasym train`` (defaults are TrainConfig's)."""
    parser.add_argument("--order", type=int, default=1, help="interaction order n (default 1)")
    parser.add_argument("--decoder", choices=("structured", "mlp"), default="structured",
                        help="structured order-n decoder or unconstrained MLP baseline")
    parser.add_argument("--slots", default="3x1",
                        help="true slots: KxD (e.g. 3x2) or sizes 2,1,3 (default 3x1)")
    parser.add_argument("--latent-slots", default=None,
                        help="inferred slots (default: the true ones, minimal capacity)")
    parser.add_argument("--outputs", type=int, default=40, help="d_x (default 40)")
    parser.add_argument("--generator", choices=("sympy", "neural"), default="sympy",
                        help="sympy: exact polynomial generator of theory.generators (default);"
                             " neural: seeded neural generator of numerics.generators")
    parser.add_argument("--support", choices=("full", "correlated", "band", "lshape"),
                        default="lshape", help="training support (default lshape)")
    parser.add_argument("--steps", type=int, default=2000, help="optimization steps")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cross-penalty", type=float, default=0.0,
                        help="weight of the order-(n+1) cross-derivative penalty (MLP)")
    parser.add_argument("--n-train", type=int, default=4096, help="training set size")
    parser.add_argument("--n-eval", type=int, default=2000,
                        help="held-out samples for SIS and the ID/OOD errors")
    parser.add_argument("--hidden", type=int, default=None,
                        help="decoder width (default 64 per slot structured, 128 MLP)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--checkpoint", default=None, metavar="PATH",
                        help="resumable checkpoint file (resumes when it exists)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _finite(obj: object) -> object:
    """JSON-safe copy: non-finite floats become null (strict JSON has no NaN)."""
    import math

    if isinstance(obj, dict):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def run(args: argparse.Namespace) -> int:
    """Build the TrainConfig, train, print a summary (or JSON); exit code 0."""
    import json

    import torch

    from numerics.training import TrainConfig, train
    from theory.parsing import parse_slot_sizes

    torch.set_num_threads(min(2, torch.get_num_threads()))
    config = TrainConfig(
        order=args.order, decoder=args.decoder, slot_sizes=parse_slot_sizes(args.slots),
        latent_sizes=parse_slot_sizes(args.latent_slots) if args.latent_slots else None,
        outputs=args.outputs, generator=args.generator, support=args.support,
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        cross_penalty=args.cross_penalty, n_train=args.n_train, n_eval=args.n_eval,
        hidden=args.hidden, device=args.device,
        checkpoint=args.checkpoint, progress=not (args.no_progress or args.json))
    result = train(config)
    out = result.to_dict()
    if args.json:
        out.pop("history")
        print(json.dumps(_finite(out)))
        return 0
    print(f"{config.decoder} decoder, order {config.order}, slots {config.true_sizes()}, "
          f"{config.support} support, device {result.device}")
    for key in ("sis", "matched_r2", "recon_mse", "id_recombination_mse", "ood_recon_mse",
                "ood_autoencode_mse", "ood_sis", "ood_ratio", "seconds", "steps_per_second"):
        print(f"  {key:22s} {out[key]:.4g}")
    return 0
