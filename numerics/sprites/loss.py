"""Training objective of the regularized slot VAE (docs/theory.md section 5).

    L = sigma * recon + beta * KL + alpha(t) * L_int,

recon = mean_batch sum_{c,p} (x - x_hat)^2 (squared error per image),
KL = mean_batch sum_{k,i} KL(N(mu, e^{logvar}) || N(0, 1))
   = mean_batch sum_{k,i} (mu^2 + e^{logvar} - logvar - 1) / 2,
L_int = mean_batch mean_pixels sum_{k<k'} a_{p,k} a_{p,k'} with a_{p,k} = sum_heads mean_layers
A_{h,p,k} (decoder cross-attention of pixel p on slot k), and
alpha(t) = 0 for t < alpha_start, then alpha * min(1, (t - alpha_start + 1) / alpha_warmup)
(a delayed linear warm-up: the penalty starts once the reconstruction is under way; alpha when
alpha_warmup = 0).

Pixel subsampling (``pixel_fraction`` = f < 1, Transformer decoder only): each training step
renders only a random set S of m = max(1, round(f * P)) of the P pixels (the same set for the
whole batch, drawn from the run's seeded generator) and uses
recon_S = mean_batch (P / m) sum_{c, p in S} (x - x_hat)^2 and L_int over p in S. Both are
unbiased estimates of the full terms (E_S recon_S = recon, E_S L_int,S = L_int, S uniform
without replacement), because the decoder renders every pixel on its own (no attention among
pixels). The decoder's cost per step falls to about f of the full image's; the encoder still
reads whole images. Evaluation always renders whole images.

Reconstruction gate (``alpha_gate`` = g > 0, off at 0): the penalty of a batch is also 0 while
the batch's reconstruction R^2 = 1 - sum (x - x_hat)^2 / sum (x - x_bar)^2 (x_bar: the batch's
per-pixel mean image; detached, so the gate passes no gradient) is below g. A penalty that
arrives before the reconstruction collapses every pixel onto one slot, and how many steps the
reconstruction needs varies with the seed; the gate ties the start to the reconstruction
itself. It is a function of the batch alone, so training stays resumable and reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from numerics.core.errors import ConfigError
from numerics.core.validation import int_at_least
from numerics.sprites.models import SlotVAE


@dataclass(frozen=True)
class LossConfig:
    """Weights of the objective: sigma (reconstruction), beta (KL), alpha (interaction)."""

    sigma: float = 5.0
    beta: float = 0.05
    alpha: float = 0.05
    alpha_warmup: int = 25_000
    alpha_start: int = 0
    alpha_gate: float = 0.0
    pixel_fraction: float = 1.0

    def validate(self) -> None:
        """Raise :class:`ConfigError` for negative weights or warm-up."""
        for name in ("sigma", "beta", "alpha"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("alpha_warmup", "alpha_start"):
            int_at_least(name, getattr(self, name), 0)
        if not 0 <= self.alpha_gate < 1:
            raise ConfigError(f"alpha_gate must lie in [0, 1), got {self.alpha_gate!r}")
        if not 0 < self.pixel_fraction <= 1:
            raise ConfigError(f"pixel_fraction must lie in (0, 1], got {self.pixel_fraction!r}")

    def pixel_count(self, pixels: int) -> int:
        """m = max(1, round(pixel_fraction * pixels)): pixels rendered per training step."""
        return max(1, round(self.pixel_fraction * pixels))

    def pixel_subset(self, pixels: int, generator: torch.Generator) -> torch.Tensor:
        """The sorted indices (m,) of a uniformly random set of :meth:`pixel_count` of the
        ``pixels`` pixels, drawn from ``generator``."""
        chosen = torch.randperm(pixels, generator=generator)
        return chosen[:self.pixel_count(pixels)].sort().values

    def alpha_at(self, step: int) -> float:
        """alpha(t): 0 before alpha_start, then alpha * min(1, (t - start + 1) / alpha_warmup)."""
        if step < self.alpha_start:
            return 0.0
        if self.alpha_warmup == 0:
            return self.alpha
        return self.alpha * min(1.0, (step - self.alpha_start + 1) / self.alpha_warmup)


def batch_r2(images: torch.Tensor, recon: torch.Tensor) -> float:
    """R^2 = 1 - sum (x - x_hat)^2 / sum (x - x_bar)^2 of a batch (B, C, H, W) (or (B, C, P')
    pixels) against its own per-pixel mean image x_bar; 1 for an exact reconstruction, -inf for
    an inexact one of a batch of identical images."""
    x = images.detach().double()
    err = float((x - recon.detach().double()).square().sum())
    var = float((x - x.mean(dim=0, keepdim=True)).square().sum())
    if var > 0:
        return 1.0 - err / var
    return 1.0 if err == 0 else -math.inf


def _at_least_float32(t: torch.Tensor) -> torch.Tensor:
    """bfloat16/float16 (autocast) -> float32; float32/float64 unchanged."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def slot_attention_mass(attention: torch.Tensor) -> torch.Tensor:
    """a_{p,k} = sum_heads mean_layers A_{h,p,k}: (B, L, P, heads, K) -> (B, P, K)."""
    return attention.mean(dim=1).sum(dim=2)


def interaction_penalty(attention: torch.Tensor) -> torch.Tensor:
    """L_int = mean_batch mean_pixels sum_{k<k'} a_{p,k} a_{p,k'}; attention (B, L, P, h, K).

    Uses sum_{k<k'} a_k a_k' = ((sum_k a_k)^2 - sum_k a_k^2) / 2.
    """
    a = slot_attention_mass(_at_least_float32(attention))
    pairs = (a.sum(dim=-1).square() - a.square().sum(dim=-1)) / 2.0
    return pairs.mean()


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """mean_batch sum_{k,i} KL(N(mu, e^logvar) || N(0,1)); mu, logvar (B, K, d) -> scalar."""
    mu, logvar = _at_least_float32(mu), _at_least_float32(logvar)
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1.0).flatten(1).sum(1).mean()


def slot_vae_loss(model: SlotVAE, images: torch.Tensor, step: int, config: LossConfig,
                  noise: torch.Tensor | None = None, init_noise: torch.Tensor | None = None,
                  pixels: torch.Tensor | None = None) -> tuple[torch.Tensor, Mapping[str, float]]:
    """The objective above for a batch of images (B, 3, H, W); returns (loss, logs).

    ``noise`` (B, K, d), ``init_noise`` (B, K, width): the reparametrization noise and the
    random slot initialization's noise (see :meth:`SlotVAE.forward`). The
    interaction term needs decoder attention (Transformer decoder); with another decoder alpha
    must be 0. With alpha(t) = 0, L_int is still logged but computed without autograd.
    ``pixels`` (m,): render and score only these pixels (row-major indices into the H*W grid;
    see the module docstring), the reconstruction sum scaled by P / m.
    """
    out = model(images, noise, init_noise, pixels, step=step)
    image = out.decoded.image.float()
    scale = 1.0
    if pixels is not None:
        scale = images.shape[2] * images.shape[3] / pixels.numel()
        images = images.flatten(2)[:, :, pixels]
    recon = scale * (image - images).square().flatten(1).sum(1).mean()
    kl = kl_divergence(out.mu, out.logvar)
    loss = config.sigma * recon + config.beta * kl
    logs = {"recon": float(recon.detach()), "kl": float(kl.detach())}
    if out.decoded.attention is not None:
        alpha = config.alpha_at(step)
        if config.alpha_gate > 0:  # logged at every step, so that its running mean is one
            logs["batch_r2"] = batch_r2(images, image)
            alpha = alpha if logs["batch_r2"] >= config.alpha_gate else 0.0
        with torch.set_grad_enabled(torch.is_grad_enabled() and alpha > 0):
            penalty = interaction_penalty(out.decoded.attention)
        logs.update(interaction=float(penalty.detach()), alpha=alpha)
        if alpha > 0:
            loss = loss + alpha * penalty
    elif config.alpha > 0:
        raise ConfigError("alpha > 0 needs a decoder with attention (decoder='transformer')")
    return loss, logs
