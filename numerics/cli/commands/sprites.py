"""``iasym sprites``: render sprites, train and evaluate slot VAEs, run the paper's comparison.

Examples::

    iasym sprites render --n 100000 --size 64 --out data/sprites.npz
    iasym sprites train --preset cpu --out runs/full --steps 2000 --alpha 10
    iasym sprites eval runs/full --n 256 --json
    iasym sprites experiment --preset cpu --out runs/comparison
    iasym sprites combine runs/full runs/ablations --out runs/comparison

``train`` writes ``run.json`` (the configuration) and ``model.pt`` (the engine checkpoint; an
interrupted run resumes from it). The library calls are :func:`numerics.sprites.data.render`,
:func:`numerics.sprites.training.train_sprites`, :func:`numerics.sprites.training.evaluate_sprites`
and :func:`numerics.sprites.experiment.run_experiment`; ``combine`` merges experiment folders
(:func:`numerics.sprites.experiment.combine_experiments`).
"""

from __future__ import annotations

import argparse

from numerics.cli.types import (
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    unit_fraction,
)

NAME = "sprites"
HELP = ("multi-object sprites: render scenes, train/evaluate the regularized Transformer slot "
        "VAE and baselines, run the alpha/beta/decoder comparison (JIS, J-ARI, SIS)")

#: Names of the library's registries (numerics.sprites.experiment.PRESETS and VARIANTS,
#: numerics.sprites.data.MODES, numerics.sprites.models.ENCODERS), spelled out so that
#: ``--help`` does not import torch; a test keeps them equal.
PRESETS = ("smoke", "cpu", "cpu-24", "gpu", "paper")
VARIANTS = ("full", "alpha=0", "beta=0", "spatial-broadcast", "slot-attention")
MODES = ("occlusion", "additive", "shadow")
ENCODERS = ("transformer", "inverted-transformer", "slot-attention")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda[:N]")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--no-progress", dest="progress", action="store_false",
                   help="hide progress bars")


def _overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--preset", choices=PRESETS, default="cpu",
                   help="base sizes and weights (default cpu; cpu-24: the previous cpu recipe, on "
                        "24 x 24 scenes; paper: the paper's sizes)")
    p.add_argument("--steps", type=positive_int, default=None, help="optimisation steps")
    p.add_argument("--batch-size", type=positive_int, default=None)
    p.add_argument("--n-train", type=positive_int, default=None, help="training scenes")
    p.add_argument("--alpha", type=non_negative_float, default=None,
                   help="interaction penalty weight")
    p.add_argument("--beta", type=non_negative_float, default=None, help="KL weight")
    p.add_argument("--sigma", type=non_negative_float, default=None,
                   help="reconstruction weight")
    p.add_argument("--decoder", choices=("transformer", "spatial-broadcast"), default=None)
    p.add_argument("--encoder", choices=ENCODERS, default=None,
                   help="transformer (the paper's), inverted-transformer (its slots compete "
                        "for the image tokens, as in Slot Attention) or slot-attention")
    p.add_argument("--mode", choices=MODES, default=None,
                   help="scene composition")
    p.add_argument("--modulation", action=argparse.BooleanOptionalAction, default=None,
                   help="Transformer decoder: the slots a pixel attends to also scale its query "
                        "feature-wise (FiLM; default: the preset's)")
    p.add_argument("--modulation-start", type=non_negative_int, default=None, metavar="STEP",
                   help="with --modulation: the training step from which the modulation acts "
                        "(before it the decoder is the unmodulated one; default: the preset's)")
    p.add_argument("--alpha-start", type=non_negative_int, default=None,
                   help="steps with alpha = 0 before the penalty's linear warm-up")
    p.add_argument("--alpha-warmup", type=non_negative_int, default=None,
                   help="steps of the penalty's linear warm-up")
    p.add_argument("--alpha-gate", type=non_negative_float, default=None, metavar="R2",
                   help="no penalty on a batch whose reconstruction R^2 is below R2 "
                        "(0: off; guards against a collapse onto one slot)")
    p.add_argument("--lr", type=positive_float, default=None, help="peak learning rate")
    p.add_argument("--pixel-fraction", type=unit_fraction, default=None, metavar="F",
                   help="render a random F of the pixels per training step (Transformer "
                        "decoder; unbiased estimate of the loss, decoder cost about F)")
    p.add_argument("--curriculum-steps", type=non_negative_int, default=None, metavar="N",
                   help="first N steps on the training scenes with the most objects only "
                        "(object-count curriculum; 0: off)")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast on CUDA and on CPUs with native bf16 (AVX512-BF16/AMX); "
                        "float32 elsewhere (--no-amp to disable)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the model (nn.Module.compile; default off; on a CPU "
                        "it measured slower than eager)")
    p.add_argument("--seed", type=int, default=None, help="model/batch seed")
    p.add_argument("--cache", default=None, metavar="PATH.npz", help="cache training scenes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands render, train, eval, experiment, combine (see the module docstring)."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    p = sub.add_parser("render", help="render scenes to an .npz cache")
    p.add_argument("--n", type=positive_int, default=10_000)
    p.add_argument("--size", type=positive_int, default=64)
    p.add_argument("--min-objects", type=positive_int, default=1)
    p.add_argument("--max-objects", type=positive_int, default=4)
    p.add_argument("--mode", choices=MODES, default="occlusion")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, metavar="PATH.npz")
    _common(p)
    p = sub.add_parser("train", help="train one slot VAE (writes run.json and model.pt)")
    _overrides(p)
    p.add_argument("--out", required=True, metavar="DIR")
    _common(p)
    p = sub.add_parser("eval", help="evaluate a trained run on held-out scenes")
    p.add_argument("run_dir", metavar="DIR", help="folder written by 'iasym sprites train'")
    p.add_argument("--n", type=positive_int, default=256, help="held-out scenes")
    p.add_argument("--n-jacobian", type=positive_int, default=None,
                   help="scenes for the decoder Jacobian, JIS and J-ARI (default: all --n)")
    p.add_argument("--regressor", choices=("kernel", "linear", "mlp"), default="kernel")
    p.add_argument("--eval-seed", type=int, default=12345)
    _common(p)
    p = sub.add_parser("experiment", help="the alpha/beta/decoder comparison table + figure")
    _overrides(p)
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--seeds", nargs="+", type=int, default=None,
                   help="model/batch seeds, one run per variant each (default: --seed)")
    p.add_argument("--modes", nargs="+", choices=MODES,
                   default=None, help="scene modes, each with every variant (default: --mode)")
    p.add_argument("--eval-every", type=non_negative_int, default=None,
                   help="steps between learning-curve evaluations (0: none)")
    p.add_argument("--n-eval", type=positive_int, default=None,
                   help="held-out scenes (default: 256)")
    p.add_argument("--n-jacobian", type=positive_int, default=None,
                   help="held-out scenes scored by the decoder Jacobian, JIS and J-ARI "
                        "(default: all of them)")
    p.add_argument("--regressor", choices=("kernel", "linear", "mlp"), default="kernel")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="runs trained at once in worker processes (threads split among them)")
    p.add_argument("--out", required=True, metavar="DIR")
    _common(p)
    p = sub.add_parser("combine", help="one comparison table + figures from several experiment "
                                       "folders (same settings, other variants/seeds/modes)")
    p.add_argument("folders", nargs="+", metavar="DIR",
                   help="folders written by 'iasym sprites experiment' (with their checkpoints)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _build_run(args: argparse.Namespace):
    from dataclasses import replace

    from numerics.sprites.experiment import preset

    run = preset(args.preset)
    data, model, loss, engine = run.data, run.model, run.loss, run.engine
    if args.mode is not None:
        data = replace(data, mode=args.mode)
    if args.decoder is not None:
        model = replace(model, decoder=args.decoder)
    if args.encoder is not None:
        model = replace(model, encoder=args.encoder)
    if args.modulation is not None:
        model = replace(model, modulation=args.modulation)
    if args.modulation_start is not None:
        model = replace(model, modulation_start=args.modulation_start)
    loss = replace(loss, **{k: getattr(args, k)
                            for k in ("alpha", "beta", "sigma", "alpha_start", "alpha_warmup",
                                      "alpha_gate", "pixel_fraction")
                            if getattr(args, k) is not None})
    engine = replace(engine, device=args.device, progress=args.progress,
                     **{k: getattr(args, k) for k in ("steps", "amp", "seed", "lr", "eval_every")
                        if getattr(args, k, None) is not None})
    if args.decoder == "spatial-broadcast" and args.alpha is None:
        loss = replace(loss, alpha=0.0)
    if args.decoder == "spatial-broadcast" and args.pixel_fraction is None:
        loss = replace(loss, pixel_fraction=1.0)
    run = replace(run, data=data, model=model, loss=loss, engine=engine,
                  n_train=args.n_train or run.n_train, batch_size=args.batch_size or run.batch_size,
                  cache=args.cache,
                  compile=run.compile if args.compile is None else args.compile,
                  curriculum_steps=(run.curriculum_steps if args.curriculum_steps is None
                                    else args.curriculum_steps))
    run.validate()
    return run


def _emit(args: argparse.Namespace, payload: dict, text: str) -> None:
    from numerics.core.jsonio import dumps

    print(dumps(payload) if args.json else text)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action; exit 0 on success."""
    from dataclasses import replace
    from pathlib import Path

    if args.action == "render":
        from numerics.sprites.data import SpritesConfig, load_or_render

        scene_config = SpritesConfig(size=args.size, min_objects=args.min_objects,
                                     max_objects=args.max_objects, mode=args.mode)
        scenes = load_or_render(args.out, scene_config, args.n, args.seed,
                                progress=args.progress)
        _emit(args, {"path": args.out, "n": len(scenes), "size": args.size},
              f"wrote {len(scenes)} scenes to {args.out}")
        return 0
    if args.action == "train":
        from numerics.core.io import atomic_write_json
        from numerics.sprites.training import train_sprites

        run_config = _build_run(args)
        out = Path(args.out)
        run_config = replace(run_config, engine=replace(run_config.engine,
                                                        checkpoint=str(out / "model.pt")))
        atomic_write_json(out / "run.json", run_config.to_dict())
        _, result = train_sprites(run_config)
        last = result.history[-1] if result.history else {}
        payload = {"out": str(out), "steps": result.steps, "seconds": result.seconds,
                   "device": result.device, "steps_per_second": result.steps_per_second,
                   "last": last}
        _emit(args, payload, f"trained {result.steps} steps on {result.device} in "
                             f"{result.seconds:.1f} s; last log {last}; saved {out / 'model.pt'}")
        return 0
    if args.action == "eval":
        import json

        from numerics.core.errors import CheckpointError, ConfigError
        from numerics.core.io import load_checkpoint
        from numerics.sprites.data import render
        from numerics.sprites.models import make_model
        from numerics.sprites.training import SpritesRun, evaluate_sprites

        folder = Path(args.run_dir)
        try:
            config = SpritesRun.from_dict(json.loads((folder / "run.json").read_text()))
        except (OSError, json.JSONDecodeError) as err:
            raise ConfigError(f"cannot read {folder / 'run.json'}: {err}") from err
        config.validate()  # a hand-edited run.json is refused before any model is built
        model = make_model(config.model)
        state = load_checkpoint(folder / "model.pt")
        if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
            raise CheckpointError(f"{folder / 'model.pt'} is not a sprites checkpoint (a dict "
                                  f"with the model's state under 'model'), got "
                                  f"{type(state).__name__}")
        try:
            model.load_state_dict(state["model"])
        except (KeyError, RuntimeError, TypeError, ValueError) as err:
            raise CheckpointError(f"{folder / 'model.pt'} does not match run.json: {err}") from err
        scenes = render(config.data, args.n, args.eval_seed)
        metrics = evaluate_sprites(model, scenes, n_jacobian=args.n_jacobian or args.n,
                                   regressor=args.regressor, device=args.device)
        _emit(args, metrics, "\n".join(
            f"{k:>19}: {v:.4f}" if isinstance(v, float) else f"{k:>19}: {v}"
            for k, v in metrics.items()))
        return 0
    from numerics.sprites.experiment import (
        combine_experiments,
        markdown_table,
        run_experiment,
        summary_markdown,
    )

    if args.action == "combine":
        experiment = combine_experiments(args.folders, args.out)
    else:
        experiment = run_experiment(
            _build_run(args), args.out, variants=tuple(args.variants),
            seeds=tuple(args.seeds) if args.seeds else None,
            modes=tuple(args.modes) if args.modes else None, regressor=args.regressor,
            jobs=args.jobs, **{k: getattr(args, k) for k in ("n_eval", "n_jacobian")
                               if getattr(args, k) is not None})
    flagged = [f"{r['mode']} {r['variant']} seed {r['seed']}" for r in experiment.rows
               if r["collapsed"]]
    text = (summary_markdown(experiment.summary) + "\n" + markdown_table(experiment.rows)
            + (f"\ncollapsed: {'; '.join(flagged)}\n" if flagged else "")
            + "\n" + "\n".join(experiment.files.values()))
    _emit(args, {"rows": experiment.rows, "summary": experiment.summary,
                 "files": experiment.files}, text)
    return 0
