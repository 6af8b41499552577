"""Linear unmixing of block slots: the affine change of the encoder's coordinates under which
the data is best fit by a polynomial of interaction order n.

Why. For n >= 3 the sufficiently independent generators are dense: every derivative of order
<= n, cross-slot ones included, must be present, so f is mostly a polynomial of degree <= n in
all latents, and that part is fit by an order-n decoder in *any* linearly mixed coordinates.
Only the within-slot terms of degree n + 1 tell the slots apart, gradient descent on the
reconstruction barely feels them, and training stops in a slot-mixing minimum (measured on
3 slots x 2 latents at n = 3: 0/5 runs identified with regrouping alone). The unmixing asks the
question directly, without ground truth: which affine map u = A zhat + c of the encoder's
outputs makes x best explained by

    Phi(u) = [1, cross-slot monomials of u of degree 2..n, within-slot monomials of degree
              1..n + 1]   (the model class of an order-n decoder, truncated at degree n + 1),

measured by the variable-projection residual (the linear coefficients B are solved, not
learned)

    r(A) = min_B || X - Phi(u) B ||_F^2 / || X - mean X ||_F^2,   u standardized per coordinate,

the exact least-squares residual (:func:`unmixing_residual` computes it from this definition,
through the singular vectors of Phi(u); it is the reference of the tests).

The search never forms Phi(u) B*. Every monomial of degree <= n of u is a polynomial of degree
<= n of zhat and back (u is an invertible affine map of zhat), so the span of those columns of
Phi(u), M_n, is the same for every A: only the q within-slot monomials of degree n + 1, W(u),
move with A. With P the orthogonal projection onto the complement of M_n(zhat) (computed once
per search, :func:`residual_system`), the least-squares fit on [M_n, W] splits into the fit on
M_n plus the fit of P X on P W, so

    r(A) = min_B' || P X - P W(u) B' ||_F^2 / || X - mean X ||_F^2
         = ( ||P X||^2 - tr(B'^T C) - lambda ||B'||^2 ) / || X - mean X ||^2,
    G = (P W)^T (P W),  C = (P W)^T P X,  (G + lambda I) B' = C,

with lambda = 1e-8 times the mean diagonal of G, which keeps the normal equations positive
definite in float64 when columns collide (the same number as the definition: tested against
:func:`unmixing_residual` to 1e-9 on well-conditioned maps). Per Adam
step and map that costs O(m r q + m q d_x) with r = C(d + n, n) instead of O(m p (p + d_x)):
q = 20 against p = 185 for 4 x 2 latents at n = 3, 45 against 265 for 3 x 3.

r is minimized over A by Adam from ``restarts`` starts: the identity, then seeded random
orthogonal matrices, every other one a rotation of the coordinates of one pair of slots only
(the pairs in turn), optionally with successive halving (``halving``: keep the best maps of the
previous stage and run more steps on them), and the distinct best maps are returned as
proposals; the training pipeline (numerics.synthetic.selection) applies each to a copy of the
encoder, gives it a fresh decoder, and keeps the copy with the lowest held-out reconstruction
error. A generator that is exactly such a polynomial (theory.generators) gives r = 0 in its own
coordinates (up to slot-wise affine maps and slot permutations, which keep the span of Phi); a
non-polynomial one is fit approximately, and the held-out error decides.

Slot-pair starts. A slot-mixing minimum typically shares two true slots between two inferred
ones: each of the two inferred slots reads a rotated mixture of both true slots, so neither a
permutation of the coordinates nor a rotation of all d of them starts near the fix. Measured at
the late check of (2, 3, 1) latents and of 4 x 2 at n = 3 (seeds 1006 and 1016): 32 rotations
of all coordinates ended at 0.99x and 0.97x the member's own residual (no switch; the runs
ended mixed, one of them reconstructing: a false candidate counterexample), the best coordinate
permutation at 1.16x and 1.10x. With every other start a slot-pair rotation, the first
unmixing's 8 starts already proposed maps that won the held-out comparison, both runs ended
identified (their late checks found nothing better: 0.97x and 0.98x, no switch).

Conditioning. The residual is flat along a direction that matters for training: two slots'
coordinates may approach each other (A nearly singular) without changing r, because in exact
arithmetic every invertible A gives the same span M_n; such a proposal hands the decoder nearly
collinear coordinates and trains slowly (measured on (2, 3, 1) latents at n = 3, seed 900:
proposals with cond Cov(u) up to 3e5 at the same residual, held-out errors 0.04-0.39 after the
unmixing stage, against 0.019-0.033 with the term below). The search therefore minimizes

    r(A) + mu kappa(A),   kappa(A) = sum_k log det Cov(u_{B_k}) - log det Cov(u) >= 0,

mu = OVERLAP_WEIGHT (0.02) times the residual of the coordinates as they are. kappa is
-sum log(1 - rho_i^2) over the canonical correlations rho_i between the slots: 0 for
uncorrelated slots, unbounded as their subspaces meet, unchanged by slot-wise linear maps, so
it only chooses among maps of (nearly) equal residual. Proposals are ranked by that objective;
their reported residual is r alone.

The residual is fit on :func:`points_for` training points: max(POINTS, 3 p), so that the
fit of p features cannot follow the points.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from numerics.core.errors import ConfigError
from numerics.core.validation import is_int, positive_int
from numerics.synthetic.models import (
    cross_monomials,
    monomial_index,
    monomial_products,
    within_monomials,
)

Tensor = torch.Tensor

__all__ = [
    "FIT_POINTS",
    "FROM_ORDER",
    "MAX_FEATURES",
    "POINTS",
    "ResidualSystem",
    "Unmixing",
    "check_halving",
    "coordinate_residual",
    "feature_count",
    "fit_coefficients",
    "points_for",
    "propose_unmixings",
    "residual_system",
    "search_starts",
    "unmixing_features",
    "unmixing_residual",
]

#: Decoder orders whose training runs the unmixing stage (instead of regrouping): measured on
#: unseen seeds, regrouping alone identified 0/5 on 3x2 at order 3 and 13/20 on 4x2 at order 2.
FROM_ORDER = 2
#: Fewest training points the residual is fit on (p = 99 features for 3 x 2 latents at n = 3);
#: :func:`points_for` takes 3 p when that is more.
POINTS = 512
#: Points per feature of Phi at least (:func:`points_for`).
POINTS_PER_FEATURE = 3
#: Training points a proposal's coefficients are fit on (numerics.synthetic.training; ``fit_on`` of
#: :func:`propose_unmixings`).
FIT_POINTS = 8192
#: Most features p the stage fits (the projection basis costs m r doubles with m = 3 p):
#: larger layouts and orders skip the unmixing stage. 3 x 3 latents at n = 3 have 265,
#: 5 x 2 at n = 3 have 311.
MAX_FEATURES = 1024
#: Ridge of the normal equations relative to their mean diagonal: keeps them positive definite
#: in float64 (condition number <= about p / RIDGE) when features collide.
RIDGE = 1e-8
#: Two proposals whose residuals agree to this relative tolerance are taken as the same
#: solution (the objective is invariant under slot-wise affine maps and slot permutations).
SAME_RESIDUAL = 1e-3
#: Weight of the slot-overlap term of the search, relative to the residual of the coordinates
#: as they are (module docstring, "Conditioning").
OVERLAP_WEIGHT = 0.02


@dataclass(frozen=True)
class Unmixing:
    """A proposed affine map u = ``matrix`` @ zhat + ``shift`` and its residual r (module doc).

    ``matrix``: ``(d, d)``, ``shift``: ``(d,)``, float64. ``interaction``: the least-squares
    coefficients of the cross-slot monomials of Phi(u) (``(n_cross, d_x)``, in the order of
    numerics.synthetic.models.cross_monomials, the order of a structured decoder's ``interaction``)
    and ``constant``: that of the constant feature (``(d_x,)``), fit to the uncentred data.
    """

    matrix: Tensor
    shift: Tensor
    residual: float
    interaction: Tensor
    constant: Tensor


@functools.lru_cache(maxsize=32)  # called at every Adam step of the search
def _monomial_index(slot_sizes: tuple[int, ...], order: int) -> Tensor:
    """Index tuples of the non-constant features of Phi, padded with d (a column of ones):
    the cross-slot monomials (the order of a structured decoder's ``interaction``), then the
    within-slot ones."""
    return monomial_index(cross_monomials(slot_sizes, order)
                         + within_monomials(slot_sizes, order + 1), sum(slot_sizes), order + 1)


@functools.lru_cache(maxsize=32)
def _low_index(d: int, order: int) -> Tensor:
    """Every monomial of degree 1..order of d coordinates (the columns M_n besides 1)."""
    monomials = [t for m in range(1, order + 1)
                 for t in itertools.combinations_with_replacement(range(d), m)]
    return monomial_index(monomials, d, max(order, 1))


@functools.lru_cache(maxsize=32)
def _top_index(slot_sizes: tuple[int, ...], order: int) -> Tensor:
    """The within-slot monomials of degree order + 1 (the columns W)."""
    offsets = np.cumsum((0, *slot_sizes))
    monomials = [t for k in range(len(slot_sizes))
                 for t in itertools.combinations_with_replacement(
                     range(int(offsets[k]), int(offsets[k + 1])), order + 1)]
    return monomial_index(monomials, int(offsets[-1]), order + 1)


def feature_count(slot_sizes: Sequence[int], order: int) -> int:
    """p, the number of columns of Phi (constant included)."""
    return len(_monomial_index(tuple(int(s) for s in slot_sizes), int(order))) + 1


def points_for(slot_sizes: Sequence[int], order: int) -> int:
    """Training points the residual is fit on: max(POINTS, POINTS_PER_FEATURE * p)."""
    return max(POINTS, POINTS_PER_FEATURE * feature_count(slot_sizes, order))


def unmixing_features(u: Tensor, slot_sizes: Sequence[int], order: int) -> Tensor:
    """Phi(u) of the module docstring: ``(..., m, d) -> (..., m, p)``, the constant last."""
    sizes = tuple(int(s) for s in slot_sizes)
    if u.shape[-1] != sum(sizes):
        raise ConfigError(f"u has {u.shape[-1]} coordinates, slots {sizes} need {sum(sizes)}")
    return torch.cat([monomial_products(u, _monomial_index(sizes, int(order))),
                      torch.ones_like(u[..., :1])], dim=-1)


def _ridge_solve(phi: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``(B, C, lambda)`` with C = Phi^T y, (G + lambda I) B = C, G = Phi^T Phi and lambda =
    RIDGE x the mean diagonal of G, batched over the leading dimensions of ``phi: (..., m, p)``
    (``y: (m, k)``). Cholesky: the ridge makes G + lambda I positive definite (and batched LU
    solves fail inside MKL after torch.set_num_threads on some builds: "DLASWP parameter 6")."""
    gram = phi.transpose(-1, -2) @ phi
    ridge = RIDGE * gram.diagonal(dim1=-2, dim2=-1).mean(-1)
    gram = gram + ridge[..., None, None] * torch.eye(gram.shape[-1], dtype=gram.dtype,
                                                     device=gram.device)
    cross = phi.transpose(-1, -2) @ y
    return torch.cholesky_solve(cross, torch.linalg.cholesky(gram)), cross, ridge


def unmixing_residual(u: Tensor, x: Tensor, slot_sizes: Sequence[int], order: int) -> Tensor:
    """r of the module docstring from its definition, for coordinates ``u: (R, m, d)`` and data
    ``x: (m, d_x)``: ``(R,)``. Each u is standardized per coordinate, Phi(u) is formed in full
    and X is projected on its left singular vectors (singular values above m p eps times the
    largest, numpy's rank tolerance). O(R m p^2): the reference that the search's
    :class:`ResidualSystem` is tested against."""
    u = u.double()
    u = (u - u.mean(-2, keepdim=True)) / u.std(-2, keepdim=True).clamp_min(1e-12)
    phi = unmixing_features(u, slot_sizes, order)
    xc = x.double() - x.double().mean(0)
    left, singular, _ = torch.linalg.svd(phi, full_matrices=False)
    tolerance = singular[..., :1] * max(phi.shape[-2:]) * torch.finfo(torch.float64).eps
    left = left * (singular > tolerance).to(left.dtype)[..., None, :]
    energy = xc.square().sum()
    return (energy - (left.transpose(-1, -2) @ xc).square().sum((-2, -1))) / energy


@dataclass(frozen=True)
class ResidualSystem:
    """What the search of :func:`propose_unmixings` precomputes once (module docstring).

    ``z``: the standardized encoder coordinates ``(m, d)``; ``basis``: an orthonormal basis
    ``(m, r)`` of the span of their monomials of degree <= n (the constant included);
    ``x_perp``: the data minus its projection on that span ``(m, d_x)`` (P X); ``remaining``:
    ||P X||^2; ``energy``: ||X - mean X||^2. float64.
    """

    z: Tensor
    basis: Tensor
    x_perp: Tensor
    remaining: Tensor
    energy: Tensor
    slot_sizes: tuple[int, ...]
    order: int

    def residual(self, maps: Tensor) -> Tensor:
        """r of the module docstring for u = maps @ z per map: ``maps: (R, d, d) -> (R,)``,
        differentiable in ``maps``; equals :func:`unmixing_residual` of those u."""
        u = torch.einsum("mj,rij->rmi", self.z, maps)
        u = (u - u.mean(-2, keepdim=True)) / u.std(-2, keepdim=True).clamp_min(1e-12)
        top = monomial_products(u, _top_index(self.slot_sizes, self.order))
        top = top - self.basis @ (self.basis.T @ top)
        coeffs, cross, ridge = _ridge_solve(top, self.x_perp)
        fitted = (coeffs * cross).sum((-2, -1)) + ridge * coeffs.square().sum((-2, -1))
        return (self.remaining - fitted) / self.energy

    def overlap(self, maps: Tensor) -> Tensor:
        """kappa of the module docstring for u = maps @ z: ``maps: (R, d, d) -> (R,)``,
        sum_k log det Cov(u_{B_k}) - log det Cov(u) >= 0, which is 0 when the slots' coordinates
        are uncorrelated and grows without bound as the slots' subspaces meet; invariant under
        slot-wise invertible linear maps of u."""
        u = torch.einsum("mj,rij->rmi", self.z, maps)
        u = u - u.mean(-2, keepdim=True)
        cov = u.transpose(-1, -2) @ u / (u.shape[-2] - 1)
        blocks = torch.zeros_like(cov)
        start = 0
        for size in self.slot_sizes:
            block = slice(start, start + size)
            blocks[..., block, block] = cov[..., block, block]
            start += size
        return torch.logdet(blocks) - torch.logdet(cov)


def residual_system(z_hat: Tensor, x: Tensor, slot_sizes: Sequence[int], order: int
                    ) -> ResidualSystem:
    """The :class:`ResidualSystem` of coordinates ``z_hat: (m, d)`` and data ``x: (m, d_x)``:
    z_hat is standardized per coordinate, the basis is the left singular vectors of
    [1, monomials of degree 1..n of z] with singular values above m p eps times the largest
    (numpy's rank tolerance)."""
    sizes = tuple(int(s) for s in slot_sizes)
    if z_hat.ndim != 2 or x.ndim != 2 or z_hat.shape[0] != x.shape[0]:
        raise ConfigError(f"z_hat (m, d) and x (m, d_x) must have the same m, got "
                          f"{tuple(z_hat.shape)} and {tuple(x.shape)}")
    if z_hat.shape[1] != sum(sizes):
        raise ConfigError(f"z_hat has {z_hat.shape[1]} coordinates, slots {sizes} need "
                          f"{sum(sizes)}")
    z = z_hat.detach().double()
    z = (z - z.mean(0)) / z.std(0).clamp_min(1e-12)
    low = torch.cat([torch.ones_like(z[:, :1]),
                     monomial_products(z, _low_index(z.shape[1], int(order)))], dim=1)
    left, singular, _ = torch.linalg.svd(low, full_matrices=False)
    tolerance = singular[0] * max(low.shape) * torch.finfo(torch.float64).eps
    basis = left[:, singular > tolerance]
    xc = x.detach().double()
    xc = xc - xc.mean(0)
    x_perp = xc - basis @ (basis.T @ xc)
    return ResidualSystem(z, basis, x_perp, x_perp.square().sum(), xc.square().sum(), sizes,
                          int(order))


def coordinate_residual(z_hat: Tensor, x: Tensor, slot_sizes: Sequence[int], order: int
                        ) -> float:
    """r of the coordinates ``z_hat: (m, d)`` as they are (A = I) for ``x: (m, d_x)``."""
    system = residual_system(z_hat, x, slot_sizes, order)
    eye = torch.eye(system.z.shape[1], dtype=torch.float64)[None]
    with torch.no_grad():
        return float(system.residual(eye)[0])


def fit_coefficients(u: Tensor, x: Tensor, slot_sizes: Sequence[int], order: int) -> Tensor:
    """B with x ~ Phi(u) B by ridge least squares (ridge as in the residual):
    ``u: (m, d)``, ``x: (m, d_x)`` -> ``(p, d_x)``, float64, rows in the order of Phi."""
    return _ridge_solve(unmixing_features(u.double(), slot_sizes, order), x.double())[0]


def check_halving(halving: Sequence[Sequence[int]], restarts: int | None = None
                  ) -> tuple[tuple[int, int], ...]:
    """``halving`` as a tuple of ``(keep, steps)`` pairs of positive integers whose ``keep``
    never increases (from ``restarts`` on, when given); :class:`ConfigError` otherwise."""
    stages: list[tuple[int, int]] = []
    previous = restarts
    for stage in halving:
        if not isinstance(stage, (tuple, list)) or len(stage) != 2 or any(
                not is_int(v) or v < 1 for v in stage):
            raise ConfigError(f"each halving stage must be a pair (keep, steps) of positive "
                              f"integers, got {stage!r}")
        if previous is not None and stage[0] > previous:
            raise ConfigError(f"a halving stage keeps {stage[0]} maps of {previous}")
        previous = stage[0]
        stages.append((int(stage[0]), int(stage[1])))
    return tuple(stages)


def search_starts(slot_sizes: Sequence[int], restarts: int, seed: int) -> Tensor:
    """The ``restarts`` start maps of the search, ``(restarts, d, d)`` float64 (module docstring,
    "Slot-pair starts"): the identity, then seeded random orthogonal matrices of which every
    other one (starts 2, 4, 6, ...) rotates only the coordinates of one pair of slots, the pairs
    in turn (identity elsewhere); with one slot all are rotations of all coordinates."""
    sizes = tuple(int(s) for s in slot_sizes)
    d = sum(sizes)
    gen = torch.Generator().manual_seed(int(seed))
    starts = torch.eye(d, dtype=torch.float64).repeat(restarts, 1, 1)
    if restarts > 1:
        starts[1:] = torch.linalg.qr(torch.randn(restarts - 1, d, d, generator=gen,
                                                 dtype=torch.float64))[0]
    offsets = [0, *itertools.accumulate(sizes)]
    pairs = list(itertools.combinations(range(len(sizes)), 2))
    for j, r in enumerate(range(2, restarts, 2) if pairs else ()):
        a, b = pairs[j % len(pairs)]
        index = torch.tensor([*range(offsets[a], offsets[a + 1]),
                              *range(offsets[b], offsets[b + 1])])
        starts[r] = torch.eye(d, dtype=torch.float64)
        starts[r][index[:, None], index] = torch.linalg.qr(torch.randn(
            len(index), len(index), generator=gen, dtype=torch.float64))[0]
    return starts


def propose_unmixings(z_hat: Tensor, x: Tensor, slot_sizes: Sequence[int], order: int,
                      proposals: int = 3, restarts: int = 8, steps: int = 60,
                      lr: float = 0.05, seed: int = 0,
                      halving: Sequence[tuple[int, int]] = (),
                      fit_on: tuple[Tensor, Tensor] | None = None) -> list[Unmixing]:
    """Up to ``proposals`` distinct affine maps of ``z_hat: (m, d)`` with the lowest residual r
    for ``x: (m, d_x)`` (module docstring), best first by the search's objective r + mu kappa
    (module docstring, "Conditioning"). Deterministic given ``seed``.

    ``restarts`` starts run ``steps`` Adam steps; then each ``(keep, steps)`` of ``halving``
    keeps the ``keep`` maps of lowest residual and runs ``steps`` more (fresh Adam state): a
    successive-halving search that spends most steps on the promising starts. Measured
    offline on the encoders captured at the late check of 4 x 2 latents at n = 3 (six seeds,
    903 908 909 912 914 919, stuck in slot-mixing minima, off-block 0.25-0.37 of an affine fit
    to the true latents): 4 starts x 60 steps (the earlier late check) found a slot-wise map
    for none; 32 x 20 steps halved to 8 x 40 and 2 x 60 (2.5x the steps x maps of 8 x 60)
    found one for all six, with residuals 0.54-0.70 of the mixed coordinates' own (two
    identified seeds: 0.72 and 0.95); 24 x 15 halved to 6 x 30 and 2 x 60 for three of four.

    ``fit_on``: ``(z_hat, x)`` of other (more) points that each proposal's coefficients are
    fit on (default: the search's points). The search's in-sample fit of p features on a few
    times p points is optimistic and its coefficients extrapolate poorly: measured on 3 x 3
    latents at n = 3 (p = 265, 795 points), a decoder started at them had held-out error
    0.045 at residual 0.013.
    """
    sizes = tuple(int(s) for s in slot_sizes)
    for name, count in (("proposals", proposals), ("restarts", restarts), ("steps", steps)):
        positive_int(name, count)
    stages = check_halving(halving, restarts)
    system = residual_system(z_hat, x, sizes, order)
    d = z_hat.shape[1]
    z_raw = z_hat.detach().double()
    mean, std = z_raw.mean(0), z_raw.std(0).clamp_min(1e-12)
    eye = torch.eye(d, dtype=torch.float64)
    with torch.no_grad():
        weight = OVERLAP_WEIGHT * system.residual(eye[None])[0]

    def objective(maps: Tensor) -> Tensor:
        return system.residual(maps) + weight * system.overlap(maps)

    maps = search_starts(sizes, restarts, seed)
    for keep, stage_steps in ((maps.shape[0], steps), *stages):
        if keep < maps.shape[0]:
            with torch.no_grad():
                value = objective(maps)
            maps = maps[value.argsort()[:keep]]
        maps = maps.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([maps], lr=lr)
        for _ in range(stage_steps):
            opt.zero_grad()
            objective(maps).sum().backward()
            opt.step()
    with torch.no_grad():
        residual = system.residual(maps)
        rank = objective(maps)
        u = torch.einsum("mj,rij->rmi", system.z, maps)
        u_mean, u_std = u.mean(1), u.std(1).clamp_min(1e-12)
    z_fit, x_fit = (z_raw, x.detach().double()) if fit_on is None else (
        fit_on[0].detach().double(), fit_on[1].detach().double())
    chosen: list[Unmixing] = []
    n_cross = len(cross_monomials(sizes, order))
    for r in rank.argsort().tolist():
        own = float(residual[r])
        if not math.isfinite(own) or any(
                abs(own - p.residual) <= SAME_RESIDUAL * max(own, p.residual) for p in chosen):
            continue
        # u = (maps (zhat - mean) / std - u_mean) / u_std  =  matrix @ zhat + shift
        matrix = maps[r].detach() / std[None, :] / u_std[r][:, None]
        shift = -(matrix @ mean) - u_mean[r] / u_std[r]
        coefficients = fit_coefficients(z_fit @ matrix.T + shift, x_fit, sizes, order)
        chosen.append(Unmixing(matrix, shift, own, coefficients[:n_cross], coefficients[-1]))
        if len(chosen) == proposals:
            break
    return chosen
