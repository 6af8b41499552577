"""Compositional generalization: does the trained decoder render unseen slot combinations?

Setting (docs/theory.md sections 1 and 4.2): the training support Z is slot-supported, Z_k is its
projection on slot k and Z_CPE = Z_1 x ... x Z_K. If the decoder fhat identified the slots
(h = fhat^{-1} o f slot-wise, h(z)_{C_{pi(k)}} = h_k(z_{B_k})) and has the generator's
interaction order, theory predicts fhat(h(z*)) = f(z*) on all of Z_CPE, including
out-of-support (OOD) z* in Z_CPE minus Z.

The encoder is only trained on Z, so OOD it is not covered by the theory. The **recombination
protocol** therefore never encodes an OOD image:

1. draw K training samples z^(1), ..., z^(K) and form z* with z*_{B_k} = z^(k)_{B_k} (every slot
   value of z* was seen in training, so z* lies in Z_CPE);
2. encode the K training images, zhat^(k) = ghat(f(z^(k))), and assemble zhat* with
   zhat*_{C_{pi(k)}} = zhat^(k)_{C_{pi(k)}} (pi: the slot matching of
   :func:`numerics.synthetic.metrics.slot_identifiability` on in-distribution data; inferred slots
   matched to no true slot are taken from z^(1));
3. compare fhat(zhat*) with f(z*): MSE over targets z* outside Z (``ood_recon_mse``) and, as a
   control, over targets inside Z (``id_recombination_mse``).

Also reported: the in-distribution autoencoding error ``recon_mse`` (held-out samples of Z),
the direct OOD autoencoding error ``ood_autoencode_mse`` = mean |fhat(ghat(f(z))) - f(z)|^2 for
z uniform on Z_CPE minus Z (needs the encoder to generalize too), the slot identifiability of
the encoder on those OOD samples (``ood_sis``) and ``ood_ratio`` = ood_recon_mse / recon_mse.
All sampling is vectorized and seeded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch

from numerics.core.errors import DataError
from numerics.core.validation import int_at_least, positive_sizes

if TYPE_CHECKING:
    from numerics.synthetic.models import Autoencoder
    from numerics.synthetic.supports import LatentSupport

Tensor = torch.Tensor
Render = Callable[[Tensor], Tensor]
_MAX_ROUNDS = 50


@dataclass(frozen=True)
class CompGenResult:
    """ID versus OOD errors of a trained autoencoder (see the module docstring).

    Errors are mean squared errors per output in the units the model was trained in; NaN where
    the support has no out-of-support region.
    """

    recon_mse: float
    id_recombination_mse: float
    ood_recon_mse: float
    ood_autoencode_mse: float
    ood_sis: float
    ood_matched_r2: float
    ood_ratio: float
    n_ood: int

    def to_dict(self) -> dict[str, float]:
        """Plain dict of the fields."""
        return asdict(self)


def recombine(z: Tensor, z_hat: Tensor, slot_sizes: Sequence[int],
              latent_sizes: Sequence[int], permutation: Sequence[int], n: int,
              generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Recombine slots of random training samples (steps 1 and 2 of the protocol).

    ``z: (N, d_z)`` true latents of training samples, ``z_hat: (N, d_hat)`` their encodings,
    ``permutation[k]``: inferred slot matched to true slot k. Draws indices i: (n, K) uniformly
    and returns ``z_star: (n, d_z)`` with z*_{B_k} = z[i_k]_{B_k} and ``z_hat_star: (n, d_hat)``
    with zhat*_{C_pi(k)} = z_hat[i_k]_{C_pi(k)} (unmatched inferred slots from i_0).
    """
    sizes = positive_sizes("slot_sizes", slot_sizes)
    hat_sizes = positive_sizes("latent_sizes", latent_sizes)
    if z.ndim != 2 or z.shape[1] != sum(sizes) or z_hat.shape != (z.shape[0], sum(hat_sizes)):
        raise DataError(f"z {tuple(z.shape)} and z_hat {tuple(z_hat.shape)} do not match slot "
                        f"sizes {sizes} and {hat_sizes}")
    perm = [int(j) for j in permutation]
    if len(perm) != len(sizes) or len(set(perm)) != len(perm) or not all(
            0 <= j < len(hat_sizes) for j in perm):
        raise DataError(f"permutation {permutation!r} is not an injective map of {len(sizes)} "
                        f"true slots into {len(hat_sizes)} inferred slots")
    source = [0] * len(hat_sizes)
    for k, j in enumerate(perm):
        source[j] = k
    idx = torch.randint(z.shape[0], (n, len(sizes)), generator=generator)
    slot_of = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    hat_source = torch.repeat_interleave(torch.tensor(source), torch.tensor(hat_sizes))
    z_star = z[idx[:, slot_of], torch.arange(z.shape[1])]
    z_hat_star = z_hat[idx[:, hat_source], torch.arange(z_hat.shape[1])]
    return z_star, z_hat_star


@torch.no_grad()
def _apply(fn: Callable[[Tensor], Tensor], x: Tensor, device: torch.device, chunk: int = 4096
           ) -> Tensor:
    return torch.cat([fn(part.to(device)).float().cpu() for part in x.split(chunk)])


def _mse(a: Tensor, b: Tensor) -> float:
    return float((a - b).square().mean()) if a.numel() else math.nan


def compositional_generalization(model: Autoencoder, render: Render, support: LatentSupport,
                                 z_train: Tensor, slot_sizes: Sequence[int],
                                 permutation: Sequence[int],
                                 latent_sizes: Sequence[int] | None = None,
                                 z_test: Tensor | None = None, n: int = 2000, seed: int = 0,
                                 regressor: str = "kernel") -> CompGenResult:
    """Evaluate ID and OOD reconstruction of a trained autoencoder (module docstring).

    ``model``: an :class:`numerics.synthetic.models.Autoencoder` (``encode``/``decode``);
    ``render``: z ``(m, d_z)`` -> the model's inputs ``(m, d_x)`` (generator plus the training
    normalization); ``support``: a :class:`numerics.synthetic.supports.Support`; ``z_train: (N,
    d_z)`` training latents; ``z_test``: held-out ID latents for ``recon_mse`` (default: fresh
    samples of the support); ``n``: number of targets per error.
    """
    from numerics.synthetic.metrics import slot_identifiability

    sizes = positive_sizes("slot_sizes", slot_sizes)
    hat_sizes = positive_sizes("latent_sizes",
                               latent_sizes if latent_sizes is not None else sizes)
    int_at_least("n", n, 10)
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(int(seed))
    was_training = model.training
    model.eval()
    if z_test is None:
        z_test = support.sample_train(n, gen, dtype=torch.float64)
    x_test = render(z_test)
    recon = _mse(_apply(lambda x: model.decode(model.encode(x)), x_test, device), x_test)
    z_hat_train = _apply(model.encode, render(z_train), device)
    id_parts: list[tuple[Tensor, Tensor]] = []
    ood_parts: list[tuple[Tensor, Tensor]] = []
    n_id = n_ood = 0
    for _ in range(_MAX_ROUNDS):
        if n_id >= n and (n_ood >= n or not support.has_ood):
            break
        z_star, z_hat_star = recombine(z_train, z_hat_train, sizes, hat_sizes, permutation,
                                       8 * n, gen)
        inside = support.contains(z_star)
        id_parts.append((z_star[inside], z_hat_star[inside]))
        ood_parts.append((z_star[~inside], z_hat_star[~inside]))
        n_id += int(inside.sum())
        n_ood += int((~inside).sum())

    def recombination_error(parts: list[tuple[Tensor, Tensor]]) -> tuple[float, int]:
        z_star = torch.cat([p[0] for p in parts])[:n]
        z_hat_star = torch.cat([p[1] for p in parts])[:n]
        if z_star.shape[0] == 0:
            return math.nan, 0
        return _mse(_apply(model.decode, z_hat_star, device), render(z_star)), z_star.shape[0]

    id_recombination, _ = recombination_error(id_parts)
    ood_recon, n_found = recombination_error(ood_parts) if support.has_ood else (math.nan, 0)
    ood_auto = ood_sis = ood_r2 = math.nan
    if support.has_ood:
        z_ood = support.sample_ood(n, gen, dtype=torch.float64)
        x_ood = render(z_ood)
        z_hat_ood = _apply(model.encode, x_ood, device)
        ood_auto = _mse(_apply(model.decode, z_hat_ood, device), x_ood)
        score = slot_identifiability(z_ood, z_hat_ood.double(), sizes, hat_sizes,
                                     regressor=regressor, seed=seed)
        ood_sis, ood_r2 = float(score.sis), float(score.matched_r2)
    model.train(was_training)
    ratio = ood_recon / recon if recon > 0 and math.isfinite(ood_recon) else math.nan
    return CompGenResult(recon_mse=recon, id_recombination_mse=id_recombination,
                         ood_recon_mse=ood_recon, ood_autoencode_mse=ood_auto, ood_sis=ood_sis,
                         ood_matched_r2=ood_r2, ood_ratio=ratio, n_ood=n_found)
