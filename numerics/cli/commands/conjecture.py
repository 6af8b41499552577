"""``iasym conjecture``: check the n >= 3 conjecture on seeded random generators of order N.

Example::

    iasym conjecture --order 3 --trials 5 --slots 2x2 --degree 1
    iasym conjecture --order 4 --trials 2 --slots 2x2 --degree 2 --out results/conj4.json
    iasym conjecture --order 3 --trials 2 --slots 2x2 --degree 1 --train --steps 2000

Symbolic part: :func:`theory.conjecture.run_conjecture` (exact). ``--train`` adds, per trial,
:func:`numerics.synthetic.conjecture_train.train_trial` (an order-N structured autoencoder; recovery
and compositional generalization measured). Candidate counterexamples are saved under
``--candidates`` (default: next to ``--out``, else ./conjecture_candidates) and flagged.
Exit code 0 when no trial refutes the conjecture, 1 otherwise.
"""

from __future__ import annotations

import argparse

from numerics.core.jsonio import JSONDict

NAME = "conjecture"
#: Seconds the command may take unless --timeout says otherwise.
TIMEOUT = 600.0
HELP = ("check the conjecture (identifiability for every order N) on random generators of exact"
        " order N: exact ambiguity spaces, optional training")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options: --order, --trials, --slots, --degree, --outputs, --seed, --train, --steps,
    --device, --out, --candidates, --json."""
    parser.add_argument("--order", type=int, required=True, help="interaction order N")
    parser.add_argument("--trials", type=int, default=3, help="number of seeded trials")
    parser.add_argument("--slots", default="2x2",
                        help="KxM (K slots of M latents) or sizes such as 2,3 (default 2x2)")
    parser.add_argument("--degree", type=int, default=1,
                        help="degree D of the polynomial vector fields (1 affine, 2 quadratic)")
    parser.add_argument("--outputs", type=int, default=None,
                        help="d_x (default: the fewest allowing sufficient independence)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first trial")
    parser.add_argument("--train", action="store_true",
                        help="also train an order-N structured autoencoder per trial")
    parser.add_argument("--steps", type=int, default=2000, help="training steps with --train")
    parser.add_argument("--device", default="auto", help="torch device with --train")
    parser.add_argument("--out", default=None, metavar="PATH", help="write the JSON report here")
    parser.add_argument("--candidates", default=None, metavar="DIR",
                        help="directory for candidate counterexamples")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run the trials, print the table (or JSON), write --out atomically."""
    from pathlib import Path

    from numerics.core.jsonio import dumps
    from numerics.core.progress import LOGGER
    from theory.conjecture import parse_slot_sizes, run_conjecture

    sizes = parse_slot_sizes(args.slots)
    if args.out is not None:
        from numerics.core.io import check_output_path

        check_output_path(args.out, "--out")
    if args.candidates is not None:
        candidates = Path(args.candidates)
    elif args.out is not None:
        candidates = Path(args.out).parent / "conjecture_candidates"
    else:
        candidates = Path("conjecture_candidates")

    def progress(trial) -> None:
        if not args.json:
            verdict = "slot-wise" if trial.slotwise else "CANDIDATE COUNTEREXAMPLE"
            log = LOGGER.info if trial.slotwise else LOGGER.warning
            log("trial %d (seed %d): %s, dim %d / slot-wise %d, %.1f s", trial.trial, trial.seed,
                verdict, trial.dimension, trial.slotwise_dimension, trial.seconds)

    report = run_conjecture(args.order, args.trials, sizes, args.degree, outputs=args.outputs,
                            seed=args.seed, candidate_dir=candidates, progress=progress)
    data: JSONDict = report.to_dict()
    if args.train:
        from numerics.synthetic.conjecture_train import (
            TrainTrialConfig,
            training_results,
            training_summary,
        )

        data["training"] = training_results(report, TrainTrialConfig(
            steps=args.steps, device=args.device, progress=not args.json))
        data["training_summary"] = training_summary(data["training"])
    if args.out is not None:
        from numerics.core.io import atomic_write_json

        atomic_write_json(args.out, data)
    if args.json:
        print(dumps(data))
    else:
        print(report.format_table())
        for t in data.get("training", []):
            print(f"trial {t['trial']}: training {t['verdict']}, SIS {t['sis']:.3f}, "
                  f"off-block {t['off_block']:.3f}, recon {t['recon_rel']:.3g}, OOD recon "
                  f"{t['ood_recon_rel']:.3g}")
        if "training_summary" in data:
            c = data["training_summary"]
            print(f"training: {c['trials']} trials, {c['identified']} identified, "
                  f"{c['not-converged']} not-converged (optimization failures), "
                  f"{c['mixed-but-reconstructs']} mixed-but-reconstructs "
                  f"({c['candidates']} candidate counterexamples), median SIS "
                  f"{c['median_sis']:.3f}")
    return 0 if report.consistent_with_conjecture else 1
