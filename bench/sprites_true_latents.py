"""How fast the Transformer decoder alone learns to draw: ``python -m bench.sprites_true_latents``.

Trains only the decoder of a preset (``--preset``, default ``cpu``) to render its scenes from
the *true* object latents, one slot per object, and prints the held-out reconstruction
$R^2$ every ``--eval-every`` steps. Slot k of a scene holds object k's

    (2x - 1, 2y - 1, 10 (scale - 0.1), 2 hue - 1, shape - 1, +1, depth)

with depth = 2k / (O - 1) - 1 (the painter's order, which the image alone does not give), and
an absent object's slot is (0, 0, 0, 0, 0, -1, depth); so the decoder's slot dimension is 7.
Everything else is the preset's: training scenes, batch size, pixel fraction, learning rate
and schedule (over ``--steps``), gradient clipping, the decoder's architecture (``--modulation``
switches the FiLM modulation on). The test scenes are 256 others (seed 12345, as the
experiment's).

Comparing this curve with the full slot VAE's (encoder and decoder learned together from
pixels) separates how long the decoder needs to draw object slots from how long the model
needs to find them: used for round 11 of docs/sprites.md.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch

from numerics.core.engine import fit
from numerics.core.progress import configure_logging
from numerics.sprites.data import Scenes, render
from numerics.sprites.experiment import PRESETS, preset
from numerics.sprites.loss import batch_r2
from numerics.sprites.models import TransformerDecoder

#: Latent coordinates per slot: x, y, scale, hue, shape, present, depth.
SLOT_DIM = 7


def true_slots(scenes: Scenes) -> torch.Tensor:
    """The scenes' object latents as slots (n, O, 7), as in the module docstring."""
    lat, present = scenes.latents, scenes.present.float()
    n, o = present.shape
    depth = (torch.arange(o, dtype=torch.float32) / max(o - 1, 1) * 2 - 1).expand(n, o)
    slots = torch.stack([2 * lat[..., 0] - 1, 2 * lat[..., 1] - 1, 10 * (lat[..., 2] - 0.1),
                         2 * lat[..., 3] - 1, lat[..., 4] - 1, 2 * present - 1, depth], dim=-1)
    absent = torch.zeros_like(slots)
    absent[..., 5], absent[..., 6] = -1.0, depth
    return torch.where(scenes.present[..., None], slots, absent)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=tuple(PRESETS), default="cpu")
    p.add_argument("--steps", type=int, default=1500)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--modulation", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    configure_logging()
    run = preset(args.preset)
    config = replace(run.model, slot_dim=SLOT_DIM, modulation=args.modulation)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(args.seed)
        decoder = TransformerDecoder(config)
    train, test = render(run.data, run.n_train, run.data_seed), render(run.data, 256, 12345)
    z_train, z_test = true_slots(train), true_slots(test)
    n_pixels = config.size * config.size

    def sample_batch(step: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        index = torch.randint(0, len(train), (run.batch_size,), generator=generator)
        return {"index": index, "pixels": run.loss.pixel_subset(n_pixels, generator)}

    def loss_fn(m: TransformerDecoder, batch: dict[str, torch.Tensor], step: int
                ) -> tuple[torch.Tensor, dict[str, float]]:
        pixels = batch["pixels"]
        target = train.images[batch["index"]].flatten(2)[:, :, pixels]
        image = m(z_train[batch["index"]], pixels).image
        loss = n_pixels / len(pixels) * (image - target).square().flatten(1).sum(1).mean()
        return loss, {"recon": float(loss.detach())}

    def evaluate(m: TransformerDecoder) -> dict[str, float]:
        with torch.no_grad():
            return {"recon_r2": batch_r2(test.images, m(z_test).image)}

    engine = replace(run.engine, steps=args.steps, seed=args.seed, eval_every=args.eval_every,
                     device="cpu", progress=False, checkpoint=None, amp=False)
    result = fit(decoder, loss_fn, sample_batch, engine, evaluate=evaluate,
                 description="decoder")
    print(json.dumps({"preset": args.preset, "modulation": args.modulation,
                      "seconds": round(result.seconds, 1),
                      "curve": [{"step": int(e["step"]), "recon_r2": round(e["recon_r2"], 4)}
                                for e in result.evaluations]}))


if __name__ == "__main__":
    main()
