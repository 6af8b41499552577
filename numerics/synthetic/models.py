"""Encoders and decoders: structured decoders of interaction order n and an MLP baseline.

The theory (docs/theory.md sections 2 and 4) says: a decoder that reconstructs the data *and* has at
most n-th order interaction across its latent slots identifies the slots of a generator with
interaction asymmetry of order n. The decoder families here make that constraint architectural:

* order 0 (:class:`StructuredDecoder`, ``order=0``): per-slot renderers r_k(zhat_{C_k}) in
  R^{d_x}, combined per output by a learned soft slot assignment w_{k,l} = softmax_k(a_{:,l}):

      x_l = b_l + sum_k w_{k,l} r_k(zhat_{C_k})_l.

  The assignment penalty (:meth:`StructuredDecoder.penalty`) is the interaction penalty of the
  paper's code applied to these weights, a compositional-contrast style term:

      L_int = mean_l sum_{k<k'} w_{k,l} w_{k',l} = mean_l (1 - sum_k w_{k,l}^2) / 2,

  which is 0 exactly when every output reads one slot (one-hot w), i.e. when the decoder has
  interaction order 0, and is maximal ((1 - 1/K)/2) for uniform weights. After training,
  :meth:`StructuredDecoder.harden` replaces w by the one-hot argmax assignment, so the final
  decoder has interaction order exactly 0 (its compositional contrast vanishes identically).
* order 1: additive, x = b + sum_k r_k(zhat_{C_k}).
* order n >= 2: additive + all cross-slot monomials of degree 2..n with learned output weights,

      x = b + sum_k r_k(zhat_{C_k}) + C^T m(zhat),
      m(zhat) = (prod_{i in t} zhat_i)_t  over sorted index tuples t, 2 <= |t| <= n, touching
      >= 2 slots.

  The number of monomials is sum_{m=2}^{n} [C(d + m - 1, m) - sum_k C(d_k + m - 1, m)] with
  d = sum_k d_k (:func:`monomial_count`); e.g. 12 for 3 slots x 2 latents and n = 2 (this is
  the bilinear form sum_{k<k'} zhat_{C_k}^T W_{kk'} zhat_{C_k'} per output), 56 for n = 3.

Every cross-slot derivative of order n + 1 of a structured decoder of order n is identically 0
(the renderers of different slots share nothing and the polynomial has degree n), while those
of order n are generically non-zero: tests check both with torch.func in float64.

The baseline :class:`MLPDecoder` is unconstrained; :func:`cross_penalty` is the optional
regularizer sum of squared cross-slot derivatives of order n + 1 (numerics.core.derivatives) that
pushes it towards order n.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from numerics.core.errors import ConfigError
from numerics.core.validation import check_slot_sizes, non_negative_int, positive_int

Tensor = torch.Tensor



def _init(shape: tuple[int, ...], fan_in: int, gen: torch.Generator, gain: float = 1.0
          ) -> nn.Parameter:
    """Seeded uniform initialization U(-gain * sqrt(3 / fan_in), +...) (unit-variance rows)."""
    bound = gain * math.sqrt(3.0 / fan_in)
    return nn.Parameter((torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1)
                        .mul(bound).float())


class MLP(nn.Module):
    """Plain MLP ``(batch, d_in) -> (batch, d_out)`` with SiLU activations, seeded init."""

    def __init__(self, d_in: int, d_out: int, hidden: int, depth: int, gen: torch.Generator
                 ) -> None:
        super().__init__()
        dims = [d_in] + [hidden] * depth + [d_out]
        self.weights = nn.ParameterList(
            [_init((a, b), a, gen, gain=1.0 if i == len(dims) - 2 else 1.6)
             for i, (a, b) in enumerate(itertools.pairwise(dims))])
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(b)) for b in dims[1:]])

    def forward(self, x: Tensor) -> Tensor:
        """``x: (batch, d_in) -> (batch, d_out)``."""
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = x @ w.to(x.dtype) + b.to(x.dtype)
            if i < last:
                x = nn.functional.silu(x)
        return x


class SlotMLPs(nn.Module):
    """K independent MLPs r_k : R^{d_k} -> R^{d_out} evaluated together.

    ``z: (batch, d_z) -> (batch, K, d_out)``. Slot k's latents are gathered into a zero-padded
    (batch, K, d_max) tensor and every layer is a per-slot matrix product (einsum over the slot
    axis, no Python loop over slots or samples), so output k depends on z_{C_k} only.
    """

    index: Tensor
    valid: Tensor

    def __init__(self, slot_sizes: Sequence[int], d_out: int, hidden: int, depth: int,
                 gen: torch.Generator) -> None:
        super().__init__()
        sizes = check_slot_sizes(slot_sizes)
        k_slots, d_max = len(sizes), max(sizes)
        index = torch.zeros(k_slots, d_max, dtype=torch.long)
        valid = torch.zeros(k_slots, d_max)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        for k, n in enumerate(sizes):
            index[k, :n] = torch.arange(int(offsets[k]), int(offsets[k]) + n)
            valid[k, :n] = 1.0
        self.register_buffer("index", index)
        self.register_buffer("valid", valid)
        dims = [d_max] + [hidden] * depth + [d_out]
        weights = []
        for i, (a, b) in enumerate(itertools.pairwise(dims)):
            gain = 1.0 if i == len(dims) - 2 else 1.6
            if i == 0:
                w = torch.stack([_init((a, b), n, gen, gain).data for n in sizes])
            else:
                w = _init((k_slots, a, b), a, gen, gain).data
            weights.append(nn.Parameter(w))
        self.weights = nn.ParameterList(weights)
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(k_slots, b)) for b in dims[1:]])

    def forward(self, z: Tensor) -> Tensor:
        """``z: (batch, d_z) -> (batch, K, d_out)``."""
        h = z[..., self.index] * self.valid.to(z.dtype)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = torch.einsum("...ki,kio->...ko", h, w.to(h.dtype)) + b.to(h.dtype)
            if i < last:
                h = nn.functional.silu(h)
        return h


def cross_monomials(slot_sizes: Sequence[int], order: int) -> list[tuple[int, ...]]:
    """Sorted latent index tuples of length 2..order touching >= 2 slots (degree order)."""
    from numerics.core.derivatives import cross_tuples

    sizes = check_slot_sizes(slot_sizes)
    if len(sizes) < 2:
        return []
    return [t for m in range(2, order + 1) for t in cross_tuples(sizes, m)]


def within_monomials(slot_sizes: Sequence[int], degree: int) -> list[tuple[int, ...]]:
    """Sorted latent index tuples of length 1..degree inside one slot, slot by slot (the
    within-slot features of numerics.synthetic.unmixing)."""
    sizes = check_slot_sizes(slot_sizes)
    offsets = np.cumsum((0, *sizes))
    return [t for k in range(len(sizes)) for m in range(1, degree + 1)
            for t in itertools.combinations_with_replacement(
                range(int(offsets[k]), int(offsets[k + 1])), m)]


def monomial_index(monomials: Sequence[tuple[int, ...]], d: int, width: int | None = None
                   ) -> Tensor:
    """``(len(monomials), width)`` latent index tuples padded with d, the index of a column of
    ones (``width``: default the longest tuple): the input of :func:`monomial_products`."""
    width = max((len(t) for t in monomials), default=1) if width is None else width
    index = torch.full((len(monomials), width), d, dtype=torch.long)
    for r, t in enumerate(monomials):
        index[r, :len(t)] = torch.tensor(t)
    return index


def monomial_products(z: Tensor, index: Tensor) -> Tensor:
    """``z: (..., d) -> (..., len(index))``: prod_{i in t} z_i for every row t of a
    :func:`monomial_index` (padding reads 1); ``index`` must be on z's device."""
    padded = torch.cat([z, torch.ones_like(z[..., :1])], dim=-1)
    m = padded[..., index[:, 0]]
    for position in range(1, index.shape[1]):
        m = m * padded[..., index[:, position]]
    return m


def monomial_count(slot_sizes: Sequence[int], order: int) -> int:
    """sum_{m=2}^{order} [C(d + m - 1, m) - sum_k C(d_k + m - 1, m)], d = sum_k d_k."""
    sizes = check_slot_sizes(slot_sizes)
    if len(sizes) < 2:
        return 0
    d = sum(sizes)
    return sum(math.comb(d + m - 1, m) - sum(math.comb(s + m - 1, m) for s in sizes)
               for m in range(2, order + 1))


class StructuredDecoder(nn.Module):
    """Decoder with interaction order exactly ``order`` across latent slots (module docstring).

    ``z: (batch, d_z) -> (batch, d_x)`` with d_z = sum(slot_sizes).
    """

    hard: Tensor
    monomial_index: Tensor

    def __init__(self, order: int, slot_sizes: Sequence[int], d_x: int, hidden: int = 64,
                 depth: int = 2, seed: int = 0, interaction_scale: float = 0.3) -> None:
        super().__init__()
        non_negative_int("order", order)
        sizes = check_slot_sizes(slot_sizes)
        d_x = positive_int("d_x", d_x)
        gen = torch.Generator().manual_seed(int(seed))
        self.order, self.slot_sizes, self.d_x = int(order), sizes, d_x
        self.d_z = sum(sizes)
        self.renderers = SlotMLPs(sizes, d_x, positive_int("hidden", hidden),
                                  positive_int("depth", depth), gen)
        self.bias = nn.Parameter(torch.zeros(d_x))
        if self.order == 0:
            logits = 0.01 * torch.randn(len(sizes), d_x, generator=gen)
            self.assignment_logits = nn.Parameter(logits)
            self.register_buffer("hard", torch.tensor(False))
        monomials = cross_monomials(sizes, self.order) if self.order >= 2 else []
        self.monomials: tuple[tuple[int, ...], ...] = tuple(monomials)
        if monomials:
            self.register_buffer("monomial_index", monomial_index(monomials, self.d_z))
            coeffs = torch.randn(len(monomials), d_x, generator=gen) * (
                interaction_scale / math.sqrt(len(monomials)))
            self.interaction = nn.Parameter(coeffs)

    def assignment(self) -> Tensor:
        """Slot assignment weights w: ``(K, d_x)``, columns sum to 1 (one-hot once hardened)."""
        if self.order != 0:
            raise ConfigError("only order-0 decoders have a slot assignment")
        soft = torch.softmax(self.assignment_logits, dim=0)
        hard = nn.functional.one_hot(self.assignment_logits.argmax(0),
                                     len(self.slot_sizes)).T.to(soft.dtype)
        # branch-free (no Python bool of a tensor), so that populations can vmap it
        return torch.where(self.hard, hard, soft)

    @torch.no_grad()
    def harden(self, assignment: Tensor | None = None) -> None:
        """Order 0: use the one-hot argmax assignment from now on (exact interaction order 0).

        ``assignment``: ``(d_x,)`` slot indices; the outputs whose learned argmax differs are
        moved to the given slot first (numerics.synthetic.output_assignment), the others keep
        theirs. Above order 0 a no-op."""
        if self.order != 0:
            return
        if assignment is not None:
            target = assignment.to(self.assignment_logits.device).long()
            if tuple(target.shape) != (self.d_x,) or not bool(
                    ((target >= 0) & (target < len(self.slot_sizes))).all()):
                raise ConfigError(f"assignment must be {self.d_x} slot indices in "
                                  f"0..{len(self.slot_sizes) - 1}, got {assignment!r}")
            logits = self.assignment_logits
            moved = logits.argmax(0) != target
            top = logits.max(0).values + 1.0
            column = torch.arange(self.d_x, device=logits.device)
            logits[target[moved], column[moved]] = top[moved]
        self.hard.fill_(True)

    @torch.no_grad()
    def warm_start(self, interaction: Tensor, bias: Tensor) -> None:
        """In place: the cross-slot coefficients (``(n_monomials, d_x)``, rows in the order of
        :func:`cross_monomials`) and the bias (``(d_x,)``) start at given values, e.g. a
        least-squares fit of the data in the decoder's coordinates (numerics.synthetic.unmixing);
        the slot renderers keep their initialization. Order <= 1 has no cross-slot coefficients
        and only the bias is set."""
        n = len(self.monomials)
        if tuple(interaction.shape) != (n, self.d_x) or tuple(bias.shape) != (self.d_x,):
            raise ConfigError(f"need ({n}, {self.d_x}) interaction coefficients and a "
                              f"({self.d_x},) bias, got {tuple(interaction.shape)} and "
                              f"{tuple(bias.shape)}")
        if n:
            self.interaction.copy_(interaction.to(self.interaction.dtype))
        self.bias.copy_(bias.to(self.bias.dtype))

    def monomial_features(self, z: Tensor) -> Tensor:
        """Cross-slot monomials m(z): ``(batch, d_z) -> (batch, n_monomials)``."""
        return monomial_products(z, self.monomial_index)

    def penalty(self) -> Tensor:
        """Order 0: L_int = mean_l sum_{k<k'} w_{k,l} w_{k',l}; other orders: 0 (a scalar)."""
        if self.order != 0:
            return self.bias.new_zeros(())
        w = self.assignment()
        return 0.5 * (1.0 - w.square().sum(0)).mean()

    def forward(self, z: Tensor) -> Tensor:
        """``z: (batch, d_z) -> (batch, d_x)``."""
        if z.shape[-1] != self.d_z:
            raise ConfigError(f"decoder expects {self.d_z} latents (slots {self.slot_sizes}), "
                              f"got shape {tuple(z.shape)}")
        parts = self.renderers(z)
        if self.order == 0:
            x = (parts * self.assignment().to(parts.dtype)).sum(-2)
        else:
            x = parts.sum(-2)
        x = x + self.bias.to(x.dtype)
        if self.monomials:
            x = x + self.monomial_features(z) @ self.interaction.to(z.dtype)
        return x

    def extra_repr(self) -> str:
        return (f"order={self.order}, slot_sizes={self.slot_sizes}, d_x={self.d_x}, "
                f"monomials={len(self.monomials)}")


class MLPDecoder(nn.Module):
    """Unconstrained baseline decoder: an MLP ``(batch, d_z) -> (batch, d_x)``.

    ``slot_sizes`` is recorded for :func:`cross_penalty`; the architecture ignores it.
    """

    def __init__(self, slot_sizes: Sequence[int], d_x: int, hidden: int = 128, depth: int = 2,
                 seed: int = 0) -> None:
        super().__init__()
        sizes = check_slot_sizes(slot_sizes)
        self.slot_sizes, self.d_z = sizes, sum(sizes)
        self.d_x = positive_int("d_x", d_x)
        gen = torch.Generator().manual_seed(int(seed))
        self.net = MLP(self.d_z, self.d_x, positive_int("hidden", hidden),
                       positive_int("depth", depth), gen)

    def penalty(self) -> Tensor:
        """No architectural penalty (use :func:`cross_penalty`): a zero scalar."""
        return self.net.biases[0].new_zeros(())

    def forward(self, z: Tensor) -> Tensor:
        """``z: (batch, d_z) -> (batch, d_x)``."""
        if z.shape[-1] != self.d_z:
            raise ConfigError(f"decoder expects {self.d_z} latents, got shape {tuple(z.shape)}")
        return self.net(z)


class MLPEncoder(nn.Module):
    """Encoder ``x: (batch, d_x) -> zhat: (batch, d_z)``: an MLP with SiLU activations."""

    def __init__(self, d_x: int, d_z: int, hidden: int = 128, depth: int = 2, seed: int = 0
                 ) -> None:
        super().__init__()
        self.d_x, self.d_z = positive_int("d_x", d_x), positive_int("d_z", d_z)
        gen = torch.Generator().manual_seed(int(seed) + 7919)
        self.net = MLP(self.d_x, self.d_z, positive_int("hidden", hidden),
                       positive_int("depth", depth), gen)

    def forward(self, x: Tensor) -> Tensor:
        """``x: (batch, d_x) -> (batch, d_z)``."""
        return self.net(x)

    @torch.no_grad()
    def permute_outputs(self, perm: Sequence[int]) -> None:
        """In place: new output i is old output ``perm[i]`` (permutes the last layer's columns
        and bias), so zhat_new = zhat_old[..., perm] exactly."""
        order = [int(p) for p in perm]
        if sorted(order) != list(range(self.d_z)):
            raise ConfigError(f"perm must be a permutation of range({self.d_z}), got {perm!r}")
        index = torch.tensor(order)
        weight, bias = self.net.weights[-1], self.net.biases[-1]
        weight.copy_(weight[:, index].clone())
        bias.copy_(bias[index].clone())

    @torch.no_grad()
    def transform_outputs(self, matrix: Tensor, shift: Tensor) -> None:
        """In place: zhat_new = matrix @ zhat_old + shift (``matrix: (d_z, d_z)``,
        ``shift: (d_z,)``), folded into the last layer's weights and bias."""
        if tuple(matrix.shape) != (self.d_z, self.d_z) or tuple(shift.shape) != (self.d_z,):
            raise ConfigError(f"need a ({self.d_z}, {self.d_z}) matrix and a ({self.d_z},) "
                              f"shift, got {tuple(matrix.shape)} and {tuple(shift.shape)}")
        weight, bias = self.net.weights[-1], self.net.biases[-1]
        a = matrix.to(torch.float64)
        weight.copy_((weight.double() @ a.T).to(weight.dtype))
        bias.copy_((a @ bias.double() + shift.double()).to(bias.dtype))


class Autoencoder(nn.Module):
    """ghat (encoder) and fhat (decoder): ``x -> (zhat, xhat)`` with xhat = fhat(ghat(x))."""

    def __init__(self, encoder: MLPEncoder, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def encode(self, x: Tensor) -> Tensor:
        """``(batch, d_x) -> (batch, d_z)``."""
        return self.encoder(x)

    def decode(self, z: Tensor) -> Tensor:
        """``(batch, d_z) -> (batch, d_x)``."""
        return self.decoder(z)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``x: (batch, d_x) -> (zhat (batch, d_z), xhat (batch, d_x))``."""
        z = self.encoder(x)
        return z, self.decoder(z)


def cross_penalty(decoder: nn.Module, z: Tensor, slot_sizes: Sequence[int], order: int,
                  tuple_ids: Tensor | None = None) -> Tensor:
    """Mean over the batch of the squared cross-slot derivative norm of order ``order + 1``.

        P(fhat, z) = mean_b sum_l sum_t (d^{n+1} fhat_l / dz_t (z_b))^2

    over sorted cross-slot tuples t (numerics.core.derivatives.cross_derivative_norms; for n = 0 the
    entries are the products d_i fhat_l * d_j fhat_l). It is 0 iff fhat has interaction order
    <= n at the points ``z: (batch, d_z)``; differentiable in the decoder's parameters.
    ``tuple_ids: (batch,)``: instead, the unbiased estimate T * mean_b sum_l (d_{t_b} fhat_l)^2
    with the one cross tuple ``tuple_ids[b]`` (uniform draws, numerics.core.cross_penalty
    .cross_penalty_estimate) at point b: 2^(n+1) forward-pass equivalents per point.
    """
    from numerics.core.cross_penalty import cross_penalty_estimate
    from numerics.core.derivatives import cross_derivative_norms

    non_negative_int("order", order)
    if tuple_ids is not None:
        return cross_penalty_estimate(decoder, z, check_slot_sizes(slot_sizes), int(order) + 1,
                                      tuple_ids).value
    return cross_derivative_norms(decoder, z, check_slot_sizes(slot_sizes), int(order) + 1
                                  ).square().mean()
