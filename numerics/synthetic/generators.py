"""Seeded neural generators of a prescribed interaction order, and the numerical order
certificate.

:func:`make_generator` builds seeded neural generators of a prescribed interaction order n
across slots (docs/theory.md section 2): n = 0 (each output depends on one slot), n = 1
(additive, f = sum_k f_k(z_{B_k})), n = 2 (additive + bilinear cross-slot terms in the latents)
and any n >= 2 (additive + cross-slot monomials of degree <= n, at least one of degree n). The
exact generators of the theory are translated by :mod:`numerics.synthetic.translate`.

:func:`certify_order` checks the order of any torch generator with exact cross-slot derivatives
(numerics.core.derivatives): cross derivatives of order n + 1 vanish, those of order n do not.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from numerics.core.errors import ConfigError
from numerics.core.validation import check_slot_sizes, is_int, non_negative_int, positive_int

__all__ = ["NeuralGenerator", "OrderCertificate", "certify_order", "make_generator"]

Tensor = torch.Tensor

def _smooth_leaky(x: Tensor) -> Tensor:
    """Strictly increasing smooth activation (x + tanh x) / 2, slope in [1/2, 1]."""
    return 0.5 * (x + torch.tanh(x))


def _orthogonal(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal columns or rows (QR of a Gaussian matrix)."""
    big, small = max(rows, cols), min(rows, cols)
    q, r = np.linalg.qr(rng.standard_normal((big, small)))
    q = q * np.sign(np.diag(r))
    return q if rows >= cols else q.T



class _SlotMLPs(nn.Module):
    """K per-slot networks evaluated together: ``z: (batch, d_z) -> (batch, K, width)``.

    Slot k's latents are scattered into a zero-padded (batch, K, d_max) tensor; each layer is a
    batched matrix product with per-slot weights, so slot k's
    features depend on z_{B_k} only and no Python loop runs over slots (matmul broadcasting
    over the slot axis: (..., K, 1, d) @ (K, d, e)). The first ``depth``
    layers are square orthogonal maps on each slot (a diffeomorphism of R^{d_k} with the strictly
    increasing activation), followed by an orthonormal lift to ``hidden`` features.
    """

    index: Tensor
    valid: Tensor

    def __init__(self, sizes: tuple[int, ...], hidden: int, depth: int,
                 rng: np.random.Generator) -> None:
        super().__init__()
        k_slots, d_max = len(sizes), max(sizes)
        self.hidden = hidden
        index = torch.zeros(k_slots, d_max, dtype=torch.long)
        valid = torch.zeros(k_slots, d_max, dtype=torch.bool)
        offset = 0
        for k, n in enumerate(sizes):
            index[k, :n] = torch.arange(offset, offset + n)
            valid[k, :n] = True
            offset += n
        self.register_buffer("index", index)
        self.register_buffer("valid", valid)
        square = np.zeros((depth, k_slots, d_max, d_max))
        lift = np.zeros((k_slots, d_max, hidden))
        for k, n in enumerate(sizes):
            for layer in range(depth):
                square[layer, k, :n, :n] = 1.5 * _orthogonal(n, n, rng)
            lift[k, :n, :] = math.sqrt(hidden / n) * _orthogonal(n, hidden, rng)
        self.square = nn.Parameter(torch.tensor(square))
        self.square_bias = nn.Parameter(torch.tensor(0.3 * rng.standard_normal((depth, k_slots,
                                                                               d_max))))
        self.lift = nn.Parameter(torch.tensor(lift))
        self.lift_bias = nn.Parameter(torch.tensor(0.3 * rng.standard_normal((k_slots, hidden))))

    def forward(self, z: Tensor) -> Tensor:
        h = (z[..., self.index] * self.valid.to(z.dtype)).unsqueeze(-2)
        for layer in range(self.square.shape[0]):
            h = _smooth_leaky(h @ self.square[layer].to(z.dtype)
                              + self.square_bias[layer].to(z.dtype).unsqueeze(-2))
        h = h @ self.lift.to(z.dtype) + self.lift_bias.to(z.dtype).unsqueeze(-2)
        return torch.tanh(h.squeeze(-2))


class NeuralGenerator(nn.Module):
    """Seeded neural generator of interaction order ``order`` across slots.

    ``z: (batch, d_z) -> (batch, d_x)``:

    * order 0: x_l = g_{s(l)}(z_{B_{s(l)}})_l, every output l reads exactly one slot s(l)
      (``output_slot``); slot k gets about d_x * d_k / d_z outputs (at least d_k).
    * order 1: x = sum_k W_k g_k(z_{B_k}) (additive).
    * order >= 2: the additive part plus P(z) = C m(z), where m(z) are cross-slot monomials
      (products of latents from >= 2 slots) of degree <= order, at least one of degree exactly
      ``order``; for order 2 these are all bilinear terms z_i z_j, i, j in different slots, so
      P(z) = sum_{k<k'} z_{B_k}^T W_{kk'} z_{B_k'} per output.

    The per-slot networks g_k are well conditioned: square orthogonal layers with the strictly
    increasing smooth activation (x + tanh x)/2, an orthonormal lift and tanh features.
    """

    monomial_index: Tensor

    def __init__(self, order: int, slot_sizes: Sequence[int], d_x: int, seed: int,
                 hidden: int = 64, depth: int = 2, n_monomials: int = 16) -> None:
        super().__init__()
        non_negative_int("order", order)
        sizes = check_slot_sizes(slot_sizes)
        d_z = sum(sizes)
        positive_int("d_x", d_x)
        if order == 0 and d_x < d_z:
            raise ConfigError(f"order 0 needs d_x >= d_z = {d_z} (each slot needs at least as "
                              f"many outputs as latents), got d_x={d_x}")
        if order >= 2 and len(sizes) < 2:
            raise ConfigError(f"order {order} needs at least 2 slots for cross-slot terms")
        for name, value in (("hidden", hidden), ("depth", depth), ("n_monomials", n_monomials)):
            positive_int(name, value)
        rng = np.random.default_rng(seed)
        self.order = int(order)
        self.slot_sizes = sizes
        self.d_z, self.d_x, self.seed = d_z, int(d_x), seed
        self.slot_networks = _SlotMLPs(sizes, hidden, depth, rng)
        k_slots = len(sizes)
        if order == 0:
            counts = _split_outputs(sizes, d_x)
            output_slot = np.repeat(np.arange(k_slots), counts)
            output_slot = output_slot[rng.permutation(d_x)]
            readout = rng.standard_normal((k_slots, hidden, d_x)) / math.sqrt(hidden)
            readout = readout * (output_slot[None, None, :] == np.arange(k_slots)[:, None, None])
            self.register_buffer("output_slot", torch.tensor(output_slot))
        else:
            readout = rng.standard_normal((k_slots, hidden, d_x)) / math.sqrt(hidden * k_slots)
        self.readout = nn.Parameter(torch.tensor(readout))
        self.bias = nn.Parameter(torch.tensor(0.1 * rng.standard_normal(d_x)))
        monomials = _cross_monomials(sizes, order, n_monomials, rng) if order >= 2 else []
        self.monomials: tuple[tuple[int, ...], ...] = tuple(monomials)
        if monomials:
            width = max(len(m) for m in monomials)
            index = torch.full((len(monomials), width), d_z, dtype=torch.long)
            for r, m in enumerate(monomials):
                index[r, :len(m)] = torch.tensor(m)
            self.register_buffer("monomial_index", index)
            coeffs = rng.standard_normal((len(monomials), d_x)) / math.sqrt(len(monomials))
            self.interaction = nn.Parameter(torch.tensor(coeffs))

    def forward(self, z: Tensor) -> Tensor:
        """``z: (..., d_z) -> (..., d_x)``."""
        if z.shape[-1] != self.d_z:
            raise ConfigError(f"generator expects {self.d_z} latents, got shape {tuple(z.shape)}")
        features = self.slot_networks(z).flatten(-2)
        x = features @ self.readout.to(z.dtype).flatten(0, 1)
        x = x + self.bias.to(z.dtype)
        if self.monomials:
            padded = torch.cat([z, torch.ones_like(z[..., :1])], dim=-1)
            m = padded[..., self.monomial_index[:, 0]]
            for position in range(1, self.monomial_index.shape[1]):
                m = m * padded[..., self.monomial_index[:, position]]
            x = x + m @ self.interaction.to(z.dtype)
        return x


def _split_outputs(sizes: tuple[int, ...], d_x: int) -> np.ndarray:
    """Outputs per slot: proportional to slot size, at least the slot size, summing to d_x."""
    sizes_arr = np.array(sizes)
    counts = np.maximum(sizes_arr, np.floor(d_x * sizes_arr / sizes_arr.sum()).astype(int))
    while counts.sum() > d_x:
        counts[np.argmax(counts - sizes_arr)] -= 1
    counts[np.argmin(counts / sizes_arr)] += d_x - counts.sum()
    return counts


def _cross_monomials(sizes: tuple[int, ...], order: int, per_degree: int,
                     rng: np.random.Generator) -> list[tuple[int, ...]]:
    """Cross-slot monomials (sorted latent index tuples touching >= 2 slots).

    Degree 2: all cross-slot pairs. Degrees 3..order: ``per_degree`` random ones each (all of
    them if fewer exist); degree ``order`` always contributes at least one.
    """
    slot_of = np.repeat(np.arange(len(sizes)), sizes)
    d_z = len(slot_of)
    chosen: list[tuple[int, ...]] = []
    for degree in range(2, order + 1):
        tuples = [t for t in itertools.combinations_with_replacement(range(d_z), degree)
                  if len(set(slot_of[list(t)])) >= 2]
        if degree > 2 and len(tuples) > per_degree:
            picks = rng.choice(len(tuples), size=per_degree, replace=False)
            tuples = [tuples[i] for i in sorted(picks)]
        chosen.extend(tuples)
    return chosen


def make_generator(order: int, slot_sizes: Sequence[int], d_x: int, seed: int,
                   hidden: int = 64, depth: int = 2, n_monomials: int = 16
                   ) -> NeuralGenerator:
    """Seeded neural generator of interaction order ``order`` (see :class:`NeuralGenerator`).

    ``hidden``: per-slot feature width; ``depth``: square layers per slot; ``n_monomials``:
    random cross-slot monomials per degree 3..order. Same seed, same weights.
    """
    return NeuralGenerator(order, slot_sizes, d_x, seed, hidden=hidden, depth=depth,
                           n_monomials=n_monomials)


@dataclass(frozen=True)
class OrderCertificate:
    """Result of :func:`certify_order`.

    ``vanishing``: max over the points of the order-(n+1) cross-slot derivative norm (n = 0:
    the compositional contrast); ``present``: min over the points of the order-n norm (n = 1:
    compositional contrast; n = 0: the Jacobian norm); ``scale``: max Jacobian norm;
    ``certified``: vanishing <= tol * scale and present > tol * scale.
    """

    order: int
    vanishing: float
    present: float
    scale: float
    tol: float
    certified: bool


def certify_order(gen: Callable[[Tensor], Tensor], z: Tensor,
                  slot_sizes: Sequence[int] | None = None, order: int | None = None,
                  tol: float = 1e-10) -> OrderCertificate:
    """Certify that ``gen`` has interaction order exactly ``order`` at the points ``z``.

    ``z: (batch, d_z)``, evaluated in its dtype (use float64). Order n >= 1: the cross-slot
    derivatives of order n + 1 vanish (relative to the Jacobian scale, ``tol``) and those of
    order n do not (order 1 uses the compositional contrast, which must be non-zero). Order 0:
    the compositional contrast vanishes. ``slot_sizes``/``order`` default to the generator's.
    """
    from numerics.core.derivatives import compositional_contrast, cross_derivative_norms, jacobian

    sizes = check_slot_sizes(slot_sizes if slot_sizes is not None
                         else getattr(gen, "slot_sizes", None))
    n = order if order is not None else getattr(gen, "order", None)
    if not is_int(n) or n < 0:
        raise ConfigError(f"certify_order needs a finite non-negative integer order, got {n!r}")
    n = int(n)
    jac_norms = jacobian(gen, z).detach().flatten(1).norm(dim=1)
    scale = float(jac_norms.max())
    if n == 0:
        vanishing = float(compositional_contrast(gen, z, sizes).detach().max())
        present = float(jac_norms.min())
    else:
        vanishing = float(cross_derivative_norms(gen, z, sizes, n + 1).detach().max())
        low = compositional_contrast(gen, z, sizes) if n == 1 else cross_derivative_norms(
            gen, z, sizes, n)
        present = float(low.detach().min())
    certified = vanishing <= tol * scale and present > tol * scale
    return OrderCertificate(n, vanishing, present, scale, tol, certified)
