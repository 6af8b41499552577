"""One exploratory sprites run with a learning curve: ``python -m bench.sprites_explore NAME ...``.

Trains the Transformer slot VAE (or a baseline) with the options below, scores it every
``--eval-every`` steps on held-out scenes (recon, JIS, J-ARI, FG-ARI, slot dominance) and
writes the JSON file ``NAME.json`` in ``docs/sprites/explore`` (configuration, loss history,
evaluations, final metrics with SIS). Used to find the CPU preset recorded in docs/sprites.md.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from numerics.core.engine import EngineConfig
from numerics.core.progress import configure_logging
from numerics.sprites.data import SpritesConfig, render
from numerics.sprites.loss import LossConfig
from numerics.sprites.models import ModelConfig
from numerics.sprites.training import SpritesRun, evaluate_sprites, train_sprites

OUT = Path(__file__).resolve().parent.parent / "docs" / "sprites" / "explore"


def build(args: argparse.Namespace) -> SpritesRun:
    """The run described by the command-line options."""
    data = SpritesConfig(size=args.size, min_objects=args.min_objects,
                         max_objects=args.max_objects, mode=args.mode,
                         min_scale=args.min_scale, max_scale=args.max_scale, margin=args.margin,
                         min_distance=args.min_distance)
    model = ModelConfig(size=args.size, slots=args.slots, slot_dim=args.slot_dim,
                        width=args.width, encoder=args.encoder, decoder=args.decoder,
                        encoder_layers=args.encoder_layers, encoder_heads=args.heads,
                        decoder_layers=args.decoder_layers,
                        decoder_heads=args.decoder_heads or args.heads,
                        octaves=args.octaves, cnn_channels=args.cnn_channels,
                        cnn_kernel=args.cnn_kernel,
                        logvar_init=args.logvar_init, slot_init=args.slot_init,
                        downsample=args.downsample, modulation=args.modulation,
                        modulation_start=args.modulation_start)
    loss = LossConfig(sigma=args.sigma, beta=args.beta, alpha=args.alpha,
                      alpha_warmup=args.alpha_warmup, alpha_start=args.alpha_start,
                      alpha_gate=args.alpha_gate, pixel_fraction=args.pixel_fraction)
    engine = EngineConfig(steps=args.steps, lr=args.lr, warmup_steps=args.lr_warmup,
                          schedule=args.schedule, min_lr_ratio=args.min_lr_ratio,
                          seed=args.seed, device="cpu", log_every=args.log_every,
                          eval_every=args.eval_every, progress=False, checkpoint_every=0,
                          amp=args.amp)
    return SpritesRun(data=data, model=model, loss=loss, engine=engine, n_train=args.n_train,
                      batch_size=args.batch_size, data_seed=args.data_seed,
                      curriculum_steps=args.curriculum_steps)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("name")
    add = p.add_argument
    for flag, default in (("size", 16), ("min_objects", 2), ("max_objects", 2), ("slots", 3),
                          ("slot_dim", 6), ("width", 32), ("encoder_layers", 2),
                          ("decoder_layers", 2), ("heads", 4), ("octaves", 4),
                          ("cnn_channels", 32), ("cnn_kernel", 5), ("steps", 3000),
                          ("lr_warmup", 100),
                          ("alpha_warmup", 500), ("alpha_start", 0), ("seed", 0),
                          ("data_seed", 0), ("n_train", 4000), ("batch_size", 32),
                          ("eval_every", 250), ("log_every", 50), ("n_eval", 64),
                          ("n_jacobian", 16), ("threads", 1), ("decoder_heads", 0),
                          ("downsample", 4), ("curriculum_steps", 0),
                          ("modulation_start", 0)):
        add("--" + flag.replace("_", "-"), type=int, default=default)
    for flag, default in (("min_scale", 0.15), ("max_scale", 0.25), ("margin", 0.2),
                          ("min_distance", 0.0), ("sigma", 1.0), ("beta", 0.05),
                          ("alpha", 0.05), ("lr", 1e-3),
                          ("min_lr_ratio", 0.1), ("logvar_init", 0.0), ("alpha_gate", 0.0),
                          ("pixel_fraction", 1.0)):
        add("--" + flag.replace("_", "-"), type=float, default=default)
    add("--mode", default="occlusion")
    add("--encoder", default="transformer")
    add("--decoder", default="transformer")
    add("--schedule", default="cosine")
    add("--slot-init", default="learned")
    add("--modulation", action="store_true",
        help="decoder: the attended slots scale the pixel queries feature-wise (FiLM)")
    add("--amp", action="store_true",
        help="bfloat16 autocast where the device has native bf16 kernels")
    add("--out", default=str(OUT), help="folder of the JSON record")
    add("--save-model", default=None, help="also save the trained weights (state dict) here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    configure_logging()
    run = build(args)
    t0 = time.perf_counter()
    scenes = render(run.data, run.n_train, run.data_seed)
    test = render(run.data, args.n_eval, 12345)
    render_s = time.perf_counter() - t0
    model, fit = train_sprites(run, scenes, eval_scenes=test, n_jacobian=args.n_jacobian)
    final = evaluate_sprites(model, render(run.data, 256, 54321), n_jacobian=256,
                             regressor="linear", seed=args.seed, device="cpu")
    if args.save_model:
        torch.save(model.state_dict(), args.save_model)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"name": args.name, "argv": argv if argv is not None else None,
              "options": vars(args), "run": asdict(replace(run)), "render_s": render_s,
              "train_s": fit.seconds, "history": fit.history, "evaluations": fit.evaluations,
              "final": final}
    (out / f"{args.name}.json").write_text(json.dumps(record, indent=1, default=str))
    keys = ("recon_mse", "recon_r2", "jis", "j_ari", "fg_ari", "sis", "dominant_share", "verdict")
    print(args.name, f"{fit.seconds:.0f}s", {k: final[k] for k in keys})


if __name__ == "__main__":
    main()
