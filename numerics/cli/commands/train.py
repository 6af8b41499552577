"""``iasym train``: train a structured or MLP decoder on a generator of order n and judge it.

Examples::

    iasym train --order 1 --decoder structured --slots 3x2 --outputs 24
    iasym train --order 2 --decoder mlp --slots 2,3,1 --support band --json

The run is :func:`numerics.synthetic.training.train` with a
:class:`numerics.synthetic.training.TrainConfig` built from the options
(``TrainConfig.from_settings``; every default is the config's own, ``TrainConfig().settings()``,
the optimisation ones those of its ``engine``). ``--json`` prints ``TrainResult.to_dict()``
without the loss history as one JSON object: ``verdict`` (identified / not-converged /
mixed-but-reconstructs, with its thresholds, the theory's prediction and a message),
``off_block`` and ``block_norms`` (Jacobian block structure of h = ghat o f), ``restarts`` and
``selection`` (the initializations and coordinate groupings tried), ``sis``, ``recon_mse``, ... .
A run that mixes slots while reconstructing where the theory predicts identifiability is a
candidate counterexample: it is flagged on stderr and saved
under ``--candidates-dir``.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

NAME = "train"
HELP = ("train an autoencoder (structured order-n or MLP decoder) on a generator of order n, "
        "report slot identifiability, ID/OOD errors and the run's verdict")

#: TrainConfig settings (TrainConfig.settings: fields and the engine's steps, lr, seed, device,
#: checkpoint) set by the option of the same name (``--decoder-order`` sets ``decoder_order``);
#: their defaults are the config's.
_FIELDS = ("order", "decoder", "decoder_order", "outputs", "generator", "slot_degree",
           "support", "steps", "batch_size", "lr", "seed", "cross_penalty", "penalty_tuples",
           "n_train", "n_eval", "hidden", "device", "checkpoint")
#: option -> SelectionSettings field (``--time-budget`` is read by :func:`_seconds`).
_SELECTION = {"candidates": "candidates", "keep": "keep", "restarts": "restarts",
              "assignments": "max_assignments"}


def _defaults() -> tuple[dict[str, Any], dict[str, Any]]:
    """The defaults of TrainConfig's settings and SelectionSettings' fields."""
    from numerics.synthetic.selection import SelectionSettings
    from numerics.synthetic.training import TrainConfig

    selection = {f.name: f.default for f in fields(SelectionSettings)}
    return TrainConfig().settings(), selection


def _layout(sizes: tuple[int, ...]) -> str:
    """Slot sizes as ``--slots`` text: KxD when every slot has D latents, else "2,1,3"."""
    return f"{len(sizes)}x{sizes[0]}" if len(set(sizes)) == 1 else ",".join(map(str, sizes))


def _seconds(text: str | None) -> float | None:
    """``--time-budget``: seconds > 0, or 'none' for no limit (ConfigError otherwise)."""
    from numerics.core.errors import ConfigError

    if text is None or text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"--time-budget must be seconds > 0 or 'none', got {text!r}"
                          ) from None
    if not 0 < value < float("inf"):
        raise ConfigError(f"--time-budget must be seconds > 0 or 'none', got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``iasym train`` (defaults are TrainConfig's and SelectionSettings')."""
    from numerics.synthetic.decoder_families import family, names
    from numerics.synthetic.training import DEFAULT_OUTPUTS, GENERATOR_KINDS, SUPPORT_KINDS

    d, sel = _defaults()
    slots = _layout(d["slot_sizes"])
    decoders = "; ".join(f"{name}: {family(name).description}" for name in names())
    parser.add_argument("--order", type=int, default=d["order"],
                        help=f"generator interaction order n (default {d['order']})")
    parser.add_argument("--decoder", choices=names(), default=d["decoder"],
                        help=f"decoder family (numerics.synthetic.decoder_families; default "
                             f"{d['decoder']}): {decoders}")
    parser.add_argument("--decoder-order", type=int, default=d["decoder_order"],
                        help="order of the structured decoder (default: the generator's)")
    parser.add_argument("--slots", default=slots,
                        help=f"true slots: KxD (e.g. 3x2) or sizes 2,1,3 (default {slots})")
    parser.add_argument("--latent-slots", default=None,
                        help="inferred slots (default: the true ones, minimal capacity)")
    parser.add_argument("--outputs", type=int, default=d["outputs"],
                        help=f"d_x (default: {DEFAULT_OUTPUTS}, or the fewest outputs a "
                             f"sufficiently independent generator of the order needs)")
    parser.add_argument("--generator", choices=GENERATOR_KINDS, default=d["generator"],
                        help="sympy: exact polynomial generator of theory.generators (default);"
                             " neural: seeded neural generator of numerics.synthetic.generators")
    parser.add_argument("--slot-degree", type=int, default=d["slot_degree"],
                        help="within-slot degree of the sympy generator (default 3 for orders "
                             "0-2, order + 1 above); a decoder of order N needs N + 1")
    parser.add_argument("--support", choices=SUPPORT_KINDS, default=d["support"],
                        help=f"training support (default {d['support']})")
    parser.add_argument("--steps", type=int, default=d["steps"],
                        help=f"optimization steps (default {d['steps']})")
    parser.add_argument("--batch-size", type=int, default=d["batch_size"])
    parser.add_argument("--lr", type=float, default=d["lr"],
                        help=f"peak learning rate (default {d['lr']:g})")
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--cross-penalty", type=float, default=d["cross_penalty"],
                        help="weight of the order-(n+1) cross-derivative penalty (MLP)")
    parser.add_argument("--penalty-tuples", type=int, default=d["penalty_tuples"],
                        help="0: exact cross penalty over all cross tuples; k > 0: its unbiased "
                             "estimate from k random cross tuples per penalty point (faster)")
    parser.add_argument("--n-train", type=int, default=d["n_train"], help="training set size")
    parser.add_argument("--n-eval", type=int, default=d["n_eval"],
                        help="held-out samples for SIS and the ID/OOD errors")
    parser.add_argument("--hidden", type=int, default=d["hidden"],
                        help="decoder width (default: the decoder family's, see --decoder)")
    parser.add_argument("--candidates", type=int, default=sel["candidates"],
                        help=f"initializations trained together, chosen by held-out "
                             f"reconstruction (default {sel['candidates']})")
    parser.add_argument("--keep", type=int, default=sel["keep"],
                        help=f"candidates trained to the end (default {sel['keep']})")
    parser.add_argument("--restarts", type=int, default=sel["restarts"],
                        help=f"extra rounds when the chosen model does not reconstruct "
                             f"(default {sel['restarts']})")
    parser.add_argument("--assignments", type=int, default=sel["max_assignments"],
                        help=f"most groupings of the encoder coordinates into the decoder's "
                             f"blocks tried after exploration (default "
                             f"{sel['max_assignments']}; 1: no regrouping)")
    parser.add_argument("--time-budget", default=str(sel["time_budget"]),
                        metavar="SECONDS", help=f"no restart round starts that would end "
                                                f"past this many seconds of the run (default "
                                                f"{sel['time_budget']:g}; 'none': no limit)")
    parser.add_argument("--device", default=d["device"], help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--checkpoint", default=d["checkpoint"], metavar="PATH",
                        help="resumable checkpoint file (resumes when it exists)")
    parser.add_argument("--save", default=None, metavar="DIR",
                        help="save the run (config, exact generator, model) under DIR whatever "
                             "its verdict, e.g. to train it further with iasym recheck")
    parser.add_argument("--candidates-dir", default="candidate_counterexamples", metavar="DIR",
                        help="where a candidate counterexample run is saved (default "
                             "candidate_counterexamples)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    """Build the TrainConfig, train, print a summary (or JSON); exit code 0."""
    import torch

    from numerics.core.jsonio import dumps
    from numerics.core.progress import LOGGER
    from numerics.synthetic.candidates import save_candidate
    from numerics.synthetic.selection import SelectionSettings
    from numerics.synthetic.training import TrainConfig, train
    from theory.parsing import parse_slot_sizes

    torch.set_num_threads(min(2, torch.get_num_threads()))
    selection = SelectionSettings(**{f: getattr(args, o) for o, f in _SELECTION.items()},
                                  time_budget=_seconds(args.time_budget))
    config = TrainConfig.from_settings(
        {f: getattr(args, f) for f in _FIELDS},
        slot_sizes=parse_slot_sizes(args.slots),
        latent_sizes=parse_slot_sizes(args.latent_slots) if args.latent_slots else None,
        selection=selection, progress=not (args.no_progress or args.json))
    result = train(config)
    out = result.to_dict()
    verdict = result.verdict
    if verdict["candidate_counterexample"]:
        where = save_candidate(result, args.candidates_dir)
        LOGGER.warning("iasym train: %s; saved to %s (check it with iasym recheck %s)",
                       verdict["message"], where, where)
    if args.save is not None:
        save_candidate(result, args.save)
    if args.json:
        out.pop("history")
        print(dumps(out))
        return 0
    print(f"{config.decoder} decoder, order {config.model_order()}, generator order "
          f"{config.order}, slots {config.true_sizes()}, {config.support} support, device "
          f"{result.device}")
    print(f"  verdict: {verdict['message']}")
    print(f"  initializations: {len(out['selection']['rounds'])} round(s), restarts "
          f"{result.restarts}, stopped: {out['selection']['stopped']}")
    tried = [len(r["assignments"]) for r in out["selection"]["rounds"]]
    if any(tried):
        print(f"  coordinate grouping: {out['selection']['assignment']} (best of "
              f"{'+'.join(str(t) for t in tried)} tried)")
    for key in ("sis", "sis_true_latents", "off_block", "val_recon", "matched_r2", "recon_mse",
                "id_recombination_mse", "ood_recon_mse", "ood_autoencode_mse", "ood_sis",
                "ood_ratio", "seconds", "steps_per_second"):
        print(f"  {key:22s} {out[key]:.4g}")
    return 0
