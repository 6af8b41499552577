"""Training and evaluation of slot VAEs on sprites through :func:`numerics.core.engine.fit`.

:func:`train_sprites` renders (or loads from an ``.npz`` cache) a fixed training set, draws
batches from it with the engine's seeded generator and optimizes :func:`slot_vae_loss`.
:func:`evaluate_sprites` computes reconstruction error, JIS, J-ARI, FG-ARI (decoders with masks)
(of the decoder masks or attention) and SIS on held-out scenes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch

from numerics.core.device import resolve_device
from numerics.core.engine import EngineConfig, FitResult, fit
from numerics.core.errors import ConfigError, DataError
from numerics.core.progress import LOGGER
from numerics.sprites.data import Scenes, SpritesConfig, load_or_render, render
from numerics.sprites.loss import LossConfig, slot_attention_mass, slot_vae_loss
from numerics.sprites.metrics import (
    decoder_jacobian,
    foreground_ari,
    foreground_ari_per_image,
    jis,
    judge_run,
    slot_dominance,
    sprites_sis,
)
from numerics.sprites.models import ModelConfig, SlotVAE, make_model

#: The metrics recorded at every evaluation of a learning curve (see :func:`train_sprites`).
CURVE_KEYS = ("recon_mse", "recon_r2", "jis", "j_ari", "fg_ari", "dominant_share",
              "dominant_mass_score", "collapsed")


@dataclass
class SpritesRun:
    """Everything a sprites training run needs; ``cache``: optional ``.npz`` path of the data;
    ``compile``: compile the model's forward pass in place (``nn.Module.compile``, state-dict
    keys unchanged, so checkpoints stay interchangeable with uncompiled runs);
    ``curriculum_steps``: for the first that many steps, batches are drawn only from the
    training scenes with ``data.max_objects`` objects (an object-count curriculum: from the
    start every slot has an object to take), then from all of them."""

    data: SpritesConfig = field(default_factory=SpritesConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    n_train: int = 10_000
    batch_size: int = 64
    data_seed: int = 0
    cache: str | None = None
    compile: bool = False
    curriculum_steps: int = 0

    def validate(self) -> None:
        """Check every part and their consistency; raise :class:`ConfigError`."""
        self.data.validate()
        self.model.validate()
        self.loss.validate()
        self.engine.validate()
        if self.data.size != self.model.size:
            raise ConfigError(f"data size {self.data.size} differs from model size "
                              f"{self.model.size}")
        if self.n_train < 1 or self.batch_size < 1:
            raise ConfigError("n_train and batch_size must be >= 1")
        if self.curriculum_steps < 0:
            raise ConfigError(f"curriculum_steps must be >= 0, got {self.curriculum_steps}")
        if self.model.decoder != "transformer" and self.loss.alpha > 0:
            raise ConfigError("alpha > 0 needs the transformer decoder (attention weights)")
        if self.model.decoder != "transformer" and self.loss.pixel_fraction < 1:
            raise ConfigError("pixel_fraction < 1 needs the transformer decoder (the spatial "
                              "broadcast decoder's CNN renders whole images only)")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready nested dictionary."""
        return asdict(self)

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint of this run must match to be resumed: the scenes, model, loss,
        training set and batch size, and the package version (the engine checks its own
        schedule; the cache path, ``compile``, logging, evaluation and device do not change the
        numbers)."""
        from numerics.core.io import package_version

        return {"data": asdict(self.data), "model": asdict(self.model), "loss": asdict(self.loss),
                "n_train": self.n_train, "batch_size": self.batch_size,
                "data_seed": self.data_seed, "curriculum_steps": self.curriculum_steps,
                "version": package_version()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpritesRun:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(data=SpritesConfig(**d["data"]), model=ModelConfig(**d["model"]),
                       loss=LossConfig(**d["loss"]), engine=EngineConfig(**d["engine"]),
                       **{k: d[k] for k in ("n_train", "batch_size", "data_seed", "cache")},
                       compile=bool(d.get("compile", False)),
                       curriculum_steps=int(d.get("curriculum_steps", 0)))
        except (KeyError, TypeError) as err:
            raise ConfigError(f"not a sprites run configuration: {err}") from err


def training_scenes(run: SpritesRun, progress: bool = False) -> Scenes:
    """The fixed training set of ``run`` (cached in ``run.cache`` when given)."""
    if run.cache:
        return load_or_render(run.cache, run.data, run.n_train, run.data_seed, progress=progress)
    return render(run.data, run.n_train, run.data_seed, progress=progress)


def batch_index(run: SpritesRun, step: int, n: int, full: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
    """Indices (batch_size,) of step ``step``'s batch among ``n`` training scenes: uniform
    over the scenes with ``data.max_objects`` objects (indices ``full``) while ``step <
    run.curriculum_steps``, uniform over all of them afterwards."""
    if step < run.curriculum_steps:
        return full[torch.randint(0, len(full), (run.batch_size,), generator=generator)]
    return torch.randint(0, n, (run.batch_size,), generator=generator)


def train_sprites(run: SpritesRun, scenes: Scenes | None = None, *,
                  eval_scenes: Scenes | None = None,
                  n_jacobian: int = 16) -> tuple[SlotVAE, FitResult]:
    """Train a :class:`SlotVAE` as configured by ``run``.

    The model is initialized from ``run.engine.seed``; batches and the reparametrization noise
    come from the engine's seeded generator, so a run (and a resumed run) is reproducible. A
    checkpoint (``run.engine.checkpoint``) carries :meth:`SpritesRun.fingerprint`: one written
    for other scenes, model or loss is refused with a
    :class:`~numerics.core.errors.CheckpointError`, not resumed.
    With ``eval_scenes`` and ``run.engine.eval_every > 0``, every ``eval_every`` steps the model
    is scored on them (:data:`CURVE_KEYS`, collapsed as 0/1; no SIS, Jacobian on the
    first ``n_jacobian`` scenes): the learning curve in ``FitResult.evaluations``.
    """
    run.validate()
    scenes = scenes if scenes is not None else training_scenes(run, run.engine.progress)
    images = scenes.images
    model = make_model(run.model, seed=run.engine.seed)
    if run.compile:
        model.compile()

    noise_shape = (run.batch_size, run.model.slots, run.model.slot_dim)
    init_shape = (run.batch_size, run.model.slots, run.model.width)
    n_pixels = run.model.size * run.model.size
    subsample = run.loss.pixel_fraction < 1

    full = (scenes.present.sum(dim=1) == run.data.max_objects).nonzero().flatten()
    if run.curriculum_steps and len(full) == 0:
        raise DataError(f"curriculum_steps = {run.curriculum_steps} needs training scenes with "
                        f"{run.data.max_objects} objects; there are none")

    def sample_batch(step: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        index = batch_index(run, step, len(images), full, generator)
        batch = {"images": images[index], "noise": torch.randn(noise_shape, generator=generator)}
        if run.model.slot_init == "random":
            batch["init_noise"] = torch.randn(init_shape, generator=generator)
        if subsample:  # drawn only then: runs with pixel_fraction = 1 keep their numbers
            batch["pixels"] = run.loss.pixel_subset(n_pixels, generator)
        return batch

    def loss_fn(m: SlotVAE, batch: dict[str, torch.Tensor], step: int
                ) -> tuple[torch.Tensor, Mapping[str, float]]:
        return slot_vae_loss(m, batch["images"], step, run.loss, batch["noise"],
                             batch.get("init_noise"), batch.get("pixels"))

    evaluate = None
    if eval_scenes is not None and run.engine.eval_every > 0:
        def evaluate(m: SlotVAE) -> dict[str, float]:
            metrics = evaluate_sprites(m, eval_scenes, n_jacobian=n_jacobian, sis=False,
                                       device=run.engine.device)
            point = {k: float(v) for k, v in metrics.items() if k in CURVE_KEYS}
            LOGGER.info("sprites eval (%s, seed %d): %s", run.data.mode, run.engine.seed,
                        " ".join(f"{k}={v:.3f}" for k, v in point.items()))
            return point

    engine = (replace(run.engine, fingerprint=run.fingerprint()) if run.engine.checkpoint
              else run.engine)
    result = fit(model, loss_fn, sample_batch, engine, evaluate=evaluate, description="sprites")
    return model, result


@torch.no_grad()
def _encode(model: SlotVAE, images: torch.Tensor, batch_size: int,
            device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Posterior means (n, K, d), per-scene MSE (n,) and a pixel-to-slot score (n, P, K): the
    decoder masks if it has them, else the attention mass a_{p,k}."""
    mus, recons, scores = [], [], []
    for i in range(0, len(images), batch_size):
        x = images[i:i + batch_size].to(device)
        out = model(x)
        mus.append(out.mu.float().cpu())
        recons.append((out.decoded.image.float() - x).square().mean(dim=(1, 2, 3)).cpu())
        if out.decoded.masks is not None:
            scores.append(out.decoded.masks.float().transpose(1, 2).cpu())
        else:
            scores.append(slot_attention_mass(out.decoded.attention.float()).cpu())
    return torch.cat(mus), torch.cat(recons), torch.cat(scores)


def scene_jacobians(model: SlotVAE, mu: torch.Tensor, n: int, batch_size: int = 32,
                    device: torch.device | None = None) -> torch.Tensor:
    """Decoder Jacobian J_{p,k} (:func:`~numerics.sprites.metrics.decoder_jacobian`) of the
    first ``n`` slot latents ``mu`` (N, K, d), in batches of ``batch_size``: (n, P, K) on the
    CPU."""
    dev = mu.device if device is None else device
    jacobians = [decoder_jacobian(lambda v: model.decoder(v).image.float(),
                                  mu[i:i + batch_size].to(dev)).cpu()
                 for i in range(0, n, batch_size)]
    return torch.cat(jacobians)[:n]


def _by_cover(jacobian: torch.Tensor, segmentation: torch.Tensor,
              cover: torch.Tensor) -> dict[str, float]:
    """JIS on the pixels that ``cover`` (n, P: objects covering each pixel) counts once and
    twice or more, J-ARI over all scenes and over the scenes with / without a pixel covered
    twice; NaN for a set without pixels or scenes. jacobian (n, P, K), segmentation (n, P)."""
    per_scene = foreground_ari_per_image(jacobian, segmentation)
    overlapping = (cover >= 2).any(dim=1).numpy()
    out = {name: jis(jacobian, pixels) if bool(pixels.any()) else math.nan
           for name, pixels in (("jis_single", cover == 1), ("jis_overlap", cover >= 2))}
    for name, chosen in (("j_ari", np.ones_like(overlapping)), ("j_ari_overlap", overlapping),
                         ("j_ari_apart", ~overlapping)):
        values = per_scene[chosen]
        out[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    return out


def evaluate_sprites(model: SlotVAE, scenes: Scenes, *, n_jacobian: int = 64,
                     batch_size: int = 32, regressor: str = "kernel", seed: int = 0,
                     device: str = "auto", sis: bool = True) -> dict[str, Any]:
    """Metrics of ``model`` on ``scenes`` (eval mode, z = posterior mean).

    recon_mse: mean squared error per pixel and channel over all scenes; jis, j_ari: decoder
    Jacobian on the first ``n_jacobian`` scenes (it costs K*d forward-mode passes per scene);
    fg_ari: argmax of the decoder masks (spatial broadcast) or of the attention mass a_{p,k}
    (Transformer decoder) against the ground truth on all scenes; sis: object latents vs. the
    slots matched to them by that same pixel assignment (Hungarian matching per scene) on all
    scenes with every object present (NaN when fewer than 20 such scenes, or ``sis=False``).
    jis_single, jis_overlap: JIS on the Jacobian scenes' pixels covered by exactly one / by two
    or more objects' masks (NaN when there are none): where objects overlap, an occlusion scene
    shows the front object alone (interaction order 0) and an additive one the sum of all
    (order 1), so a decoder whose interaction follows the renderer keeps jis_overlap near
    jis_single on occlusion scenes and lowers it on additive ones.
    j_ari_overlap, j_ari_apart: J-ARI over the Jacobian scenes in which two objects' masks
    overlap / in which none do (NaN when there are none): on scenes whose objects lie apart a
    slot that owns an object scores high wherever its boundary runs, on overlapping ones only
    if the boundary between the objects is drawn to the pixel.
    recon_r2 = 1 - recon_mse / (per-pixel variance of the scenes' images); dominant_share,
    dominant_mass, dominant_mass_score, true_dominant_share:
    :func:`~numerics.sprites.metrics.slot_dominance` of the Jacobian; verdict:
    :func:`~numerics.sprites.metrics.judge_run` (objects, collapsed,
    no-recon or mixed) and collapsed = (verdict == "collapsed").
    """
    if len(scenes) < 1 or n_jacobian < 1:
        raise DataError("evaluation needs at least one scene and n_jacobian >= 1")
    dev = resolve_device(device)
    model = model.to(dev).eval()
    mu, recon, scores = _encode(model, scenes.images, batch_size, dev)
    seg = scenes.segmentation.flatten(1)
    sub = slice(0, min(n_jacobian, len(scenes)))
    jac = scene_jacobians(model, mu, sub.stop, batch_size, dev)
    variance = float(scenes.images.double().var(dim=0, unbiased=False).mean())
    metrics: dict[str, Any] = {
        "recon_mse": float(recon.mean()),
        "recon_r2": 1.0 - float(recon.mean()) / variance if variance > 0 else math.nan,
        "jis": jis(jac, seg[sub] > 0),
        **_by_cover(jac, seg[sub], scenes.masks[sub].flatten(2).sum(dim=1)),
        "fg_ari": foreground_ari(scores, seg),
        **slot_dominance(jac, seg[sub]),
    }
    metrics["verdict"] = judge_run(metrics)
    metrics["collapsed"] = metrics["verdict"] == "collapsed"
    full = scenes.present.all(dim=1)
    if sis and int(full.sum()) >= 20:
        result = sprites_sis(mu[full], scores.argmax(-1)[full], seg[full], scenes.latents[full],
                             scenes.present[full], regressor=regressor, seed=seed)
        metrics.update(sis=result.sis, matched_r2=result.result.matched_r2)
    else:
        metrics.update(sis=math.nan, matched_r2=math.nan)
    return metrics
