"""Metrics of the bump comparison: ID/OOD error, pullback-metric factorization, interaction.

* ID / OOD MSE: mean squared pixel error over the integer centres of the training donut / of the
  held-out square; ratio = OOD / ID (large: memorization, close to 1: composition).
* Pullback-metric factorization score (Liang et al.; docs/theory.md section 7): a representation
  h(x, y) in R^D induces the metric g_ij = sum_d d_i h_d d_j h_d on the centre plane; the score
  is 1 - mean|g_xy| / mean(|g_xx| + |g_yy|) over the evaluation centres. It is exactly 1 when
  h = (a(x), b(y)) and drops when coordinates mix, e.g. h = x + y gives 1 - 1/2 = 1/2.
  Derivatives are exact (``torch.func.jacfwd`` vmapped), not finite differences on the grid.
* Cross-slot derivative norm: sqrt(sum_pixels (d^2 f / dx dy)^2), the order-2 cross entries of
  :func:`numerics.core.derivatives.cross_derivative_norms` with slot sizes (1, 1); it vanishes iff
  the decoder is additive in (x, y) (interaction order <= 1).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.func import jacfwd, vmap

from numerics.bump.models import BumpDecoder
from numerics.bump.task import BumpTask, bump_image, encode, split_centres
from numerics.core.derivatives import cross_derivative_norms
from numerics.core.errors import DataError

Tensor = torch.Tensor


@dataclass(frozen=True)
class Errors:
    """Mean squared pixel errors on the training donut (``id_mse``) and held-out square."""

    id_mse: float
    ood_mse: float

    @property
    def ratio(self) -> float:
        """OOD / ID error ratio."""
        return self.ood_mse / self.id_mse if self.id_mse > 0 else float("inf")


@torch.no_grad()
def reconstruction_errors(model: BumpDecoder, task: BumpTask, batch: int = 1024) -> Errors:
    """ID and OOD MSE of ``model`` over all integer centres of the donut and the square."""
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    out = []
    for centres in split_centres(task, dtype):
        total = 0.0
        for xy in centres.to(device).split(batch):
            total += float((model(encode(xy, task)) - bump_image(xy, task)).square().sum())
        out.append(total / (len(centres) * task.size**2))
    return Errors(*out)


def pullback_metrics(h: Callable[[Tensor], Tensor | tuple[Tensor, ...]], xy: Tensor
                     ) -> list[Tensor]:
    """g(x, y) = J^T J for each output of ``h``: ``xy: (batch, 2) -> [(batch, 2, 2), ...]``.

    ``h`` maps ``(batch, 2)`` to ``(batch, D)`` or to a tuple of such representations (layers);
    J = d h / d(x, y) is computed with ``vmap(jacfwd(h))``.
    """
    if not isinstance(xy, Tensor) or xy.ndim != 2 or xy.shape[1] != 2:
        raise DataError(f"xy must be a tensor of shape (batch, 2), got "
                        f"{getattr(xy, 'shape', type(xy).__name__)}")

    def single(p: Tensor) -> tuple[Tensor, ...]:
        out = h(p.unsqueeze(0))
        out = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(o.reshape(-1) for o in out)

    jacobians = vmap(jacfwd(single))(xy)
    return [j.transpose(1, 2) @ j for j in jacobians]


def factorization_score(g: Tensor) -> float:
    """1 - mean|g_xy| / mean(|g_xx| + |g_yy|) of metrics ``g: (batch, 2, 2)``."""
    if not isinstance(g, Tensor) or g.ndim != 3 or g.shape[1:] != (2, 2):
        raise DataError(f"g must be a tensor of shape (batch, 2, 2), got {getattr(g, 'shape', g)}")
    g = g.detach()
    diagonal = (g[:, 0, 0].abs() + g[:, 1, 1].abs()).mean()
    if diagonal == 0:
        raise DataError("the representation does not depend on (x, y): the score is undefined")
    return float(1.0 - g[:, 0, 1].abs().mean() / diagonal)


def _as_float64(model: BumpDecoder) -> BumpDecoder:
    return copy.deepcopy(model).to(dtype=torch.float64).eval()


def layer_factorization_scores(model: BumpDecoder, task: BumpTask, xy: Tensor
                               ) -> dict[str, float]:
    """Factorization score of every layer of ``model`` (float64 copy) as a function of the
    centre: h_l(x, y) = model.layers(encode(x, y))[l]; ``xy: (batch, 2)``."""
    if not task.differentiable:
        raise DataError("one-hot codes are not differentiable in (x, y): use raw or bump inputs"
                        " for derivative metrics")
    net = _as_float64(model)
    xy = xy.to(device=next(net.parameters()).device, dtype=torch.float64)
    metrics = pullback_metrics(lambda p: tuple(net.layers(encode(p, task))), xy)
    names = net.layer_names()
    return {name: factorization_score(g) for name, g in zip(names, metrics, strict=True)}


def cross_derivative_norm(model: BumpDecoder, task: BumpTask, xy: Tensor) -> float:
    """Mean over ``xy: (batch, 2)`` of sqrt(sum_pixels (d^2 image / dx dy)^2) (float64 copy)."""
    if not task.differentiable:
        raise DataError("one-hot codes are not differentiable in (x, y): use raw or bump inputs"
                        " for derivative metrics")
    net = _as_float64(model)
    xy = xy.to(device=next(net.parameters()).device, dtype=torch.float64)
    norms = cross_derivative_norms(lambda p: net(encode(p, task)).flatten(1), xy, (1, 1), 2)
    return float(norms.detach().mean())


def target_cross_derivative_norm(task: BumpTask, xy: Tensor) -> float:
    """The same norm for the true generator f(x, y) = bump image (reference value)."""
    xy = xy.to(torch.float64)
    return float(cross_derivative_norms(lambda p: bump_image(p, task).flatten(1), xy,
                                        (1, 1), 2).mean())


def target_factorization_score(task: BumpTask, xy: Tensor) -> float:
    """Factorization score of the true images f(x, y) as a representation of (x, y)."""
    (g,) = pullback_metrics(lambda p: bump_image(p, task).flatten(1), xy.to(torch.float64))
    return factorization_score(g)
