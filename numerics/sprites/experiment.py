"""The paper's comparison on sprites: interaction penalty, KL term and decoder ablations.

Variants (each trained from the same seed on the same scenes, then evaluated on held-out scenes):

- ``full``: Transformer encoder + cross-attention decoder, alpha > 0, beta > 0 (the method);
- ``alpha=0``: no interaction penalty;  ``beta=0``: no KL term (a plain autoencoder with noise);
- ``spatial-broadcast``: spatial-broadcast decoder (no attention, so alpha = 0), beta > 0;
- ``slot-attention``: Slot Attention encoder with the full objective.

Writes ``results.json`` (configuration + one row per variant), ``results.md`` (the table) and
``jacobian_maps.png`` (per variant: a test scene, its reconstruction and the normalized decoder
Jacobian map Jn_{p,k} of every slot). Each variant trains through :func:`numerics.engine.fit`
with a checkpoint in the output folder, so an interrupted experiment resumes.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from numerics.engine import EngineConfig
from numerics.errors import ConfigError
from numerics.io import atomic_write_json, atomic_write_text
from numerics.sprites.data import SpritesConfig, render
from numerics.sprites.loss import LossConfig
from numerics.sprites.metrics import decoder_jacobian, normalize_jacobian
from numerics.sprites.models import ModelConfig, SlotVAE
from numerics.sprites.training import (
    SpritesRun,
    evaluate_sprites,
    train_sprites,
    training_scenes,
)

VARIANTS = ("full", "alpha=0", "beta=0", "spatial-broadcast", "slot-attention")
COLUMNS = ("variant", "decoder", "encoder", "alpha", "beta", "recon_mse", "jis", "j_ari",
           "fg_ari", "sis", "matched_r2", "train_s")


def preset(name: str) -> SpritesRun:
    """Base run of the ``full`` variant: ``smoke`` (seconds, tests), ``cpu`` (minutes) or
    ``paper`` (the paper's sizes and weights, docs/theory.md section 5, for a GPU).

    ``cpu`` trains only a few hundred steps, so it raises alpha from the paper's 0.05 to 10: with
    the per-image squared error (about 10^2 early on) as reconstruction term, alpha = 0.05 would
    leave the penalty (at most heads^2/2 per pixel, averaged over pixels) without any effect in
    so few steps.
    """
    if name == "smoke":
        return SpritesRun(
            data=SpritesConfig(size=16, min_objects=2, max_objects=2),
            model=ModelConfig(size=16, slots=3, slot_dim=4, width=16, encoder_layers=1,
                              encoder_heads=2, decoder_layers=1, decoder_heads=2, octaves=3,
                              cnn_channels=8, iterations=1),
            loss=LossConfig(sigma=5.0, beta=0.05, alpha=0.05, alpha_warmup=4),
            engine=EngineConfig(steps=8, lr=1e-3, log_every=4, progress=False),
            n_train=64, batch_size=8)
    if name == "cpu":
        return SpritesRun(
            data=SpritesConfig(size=32, min_objects=2, max_objects=3, min_scale=0.1,
                               max_scale=0.2),
            model=ModelConfig(size=32, slots=4, slot_dim=6, width=32, encoder_layers=2,
                              encoder_heads=4, decoder_layers=2, decoder_heads=4, octaves=5,
                              cnn_channels=32),
            loss=LossConfig(sigma=5.0, beta=0.05, alpha=10.0, alpha_warmup=200),
            engine=EngineConfig(steps=600, lr=1e-3, warmup_steps=50, log_every=50),
            n_train=2000, batch_size=16)
    if name == "paper":
        return SpritesRun(
            data=SpritesConfig(size=64, min_objects=1, max_objects=4),
            model=ModelConfig(size=64, slots=5, slot_dim=32, width=192, encoder_layers=5,
                              encoder_heads=4, decoder_layers=2, decoder_heads=12, octaves=8,
                              cnn_channels=64),
            loss=LossConfig(sigma=5.0, beta=0.05, alpha=0.05, alpha_warmup=25_000),
            engine=EngineConfig(steps=500_000, lr=5e-4, warmup_steps=10_000, amp=True,
                                log_every=500, checkpoint_every=5000),
            n_train=100_000, batch_size=64)
    raise ConfigError(f"unknown preset {name!r}: use smoke, cpu or paper")


def variant_run(base: SpritesRun, variant: str) -> SpritesRun:
    """The configuration of ``variant`` (see the module docstring) derived from ``base``."""
    if variant == "full":
        return base
    if variant == "alpha=0":
        return replace(base, loss=replace(base.loss, alpha=0.0))
    if variant == "beta=0":
        return replace(base, loss=replace(base.loss, beta=0.0))
    if variant == "spatial-broadcast":
        return replace(base, model=replace(base.model, decoder="spatial-broadcast"),
                       loss=replace(base.loss, alpha=0.0))
    if variant == "slot-attention":
        return replace(base, model=replace(base.model, encoder="slot-attention"))
    raise ConfigError(f"unknown variant {variant!r}: use one of {VARIANTS}")


@dataclass
class ExperimentResult:
    """Rows of the comparison table (dicts with :data:`COLUMNS`) and the written files."""

    rows: list[dict[str, Any]]
    files: dict[str, str] = field(default_factory=dict)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a GitHub markdown table (floats with 3 decimals)."""
    def cell(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def jacobian_figure(models: dict[str, SlotVAE], images: torch.Tensor, path: str | os.PathLike,
                    device: str = "cpu") -> None:
    """Save a figure: one row per model with the scene, its reconstruction and Jn_{:,k} per
    slot k (``images``: (1, 3, H, W))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = max(m.config.slots for m in models.values())
    fig, axes = plt.subplots(len(models), k + 2, figsize=(1.6 * (k + 2), 1.7 * len(models)),
                             squeeze=False)
    size = images.shape[-1]
    for row, (name, model) in enumerate(models.items()):
        model = model.to(device).eval()
        x = images.to(device)
        with torch.no_grad():
            out = model(x)
        jac = decoder_jacobian(lambda v, m=model: m.decoder(v).image.float(), out.mu)
        maps = normalize_jacobian(jac)[0].T.reshape(-1, size, size).cpu()
        panels = [("scene", x[0].permute(1, 2, 0).clamp(0, 1).cpu()),
                  ("recon", out.decoded.image[0].float().permute(1, 2, 0).clamp(0, 1).cpu())]
        panels += [(f"slot {j}", maps[j]) for j in range(maps.shape[0])]
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(panels):
                title, img = panels[col]
                ax.imshow(img.numpy(), vmin=0, vmax=1, cmap=None if img.ndim == 3 else "magma")
                ax.set_title(title, fontsize=7)
            else:
                ax.axis("off")
        axes[row][0].set_ylabel(name, fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_experiment(base: SpritesRun, out: str | os.PathLike, *,
                   variants: tuple[str, ...] = VARIANTS, n_eval: int = 256,
                   n_jacobian: int = 32, regressor: str = "kernel",
                   eval_seed: int = 12345) -> ExperimentResult:
    """Train and evaluate every variant on the same data; write JSON, markdown and figure."""
    out = Path(out)
    runs = {v: variant_run(base, v) for v in variants}
    for run in runs.values():
        run.validate()
    train = None
    test = render(base.data, n_eval, eval_seed)
    rows: list[dict[str, Any]] = []
    models: dict[str, SlotVAE] = {}
    for name, run in runs.items():
        run = replace(run, engine=replace(run.engine, checkpoint=str(out / f"{name}.pt")))
        if train is None:
            train = training_scenes(run, progress=run.engine.progress)
        model, fit_result = train_sprites(run, train)
        metrics = evaluate_sprites(model, test, n_jacobian=n_jacobian, regressor=regressor,
                                   seed=base.engine.seed, device=run.engine.device)
        rows.append({"variant": name, "decoder": run.model.decoder,
                     "encoder": run.model.encoder, "alpha": run.loss.alpha,
                     "beta": run.loss.beta, **metrics, "train_s": fit_result.seconds,
                     "steps": fit_result.steps, "device": fit_result.device})
        models[name] = model
    files = {"json": str(out / "results.json"), "markdown": str(out / "results.md"),
             "figure": str(out / "jacobian_maps.png")}
    atomic_write_json(files["json"], {"base": dataclasses.asdict(base), "n_eval": n_eval,
                                      "n_jacobian": n_jacobian, "regressor": regressor,
                                      "rows": rows})
    atomic_write_text(files["markdown"], markdown_table(rows))
    jacobian_figure(models, test.images[:1], files["figure"])
    return ExperimentResult(rows=rows, files=files)
