"""Training supports Z and their Cartesian-product extension Z_CPE (docs/theory.md section 1).

All supports live in the box [low, high]^{d_z} and are "slot-supported": every slot's marginal
support is the full box [low, high]^{d_k}, so Z_CPE = Z_1 x ... x Z_K is the whole box and the
out-of-support region is Z_CPE minus Z. Each slot k has a *position* u_k = its first latent
coordinate, rescaled to [0, 1]; the kinds differ in which combinations of positions they allow:

* ``full``: Z = the box (independent uniform slots). No out-of-support region.
* ``correlated``: Gaussian copula: x ~ N(0, S) with S_{(k,i),(k',i)} = rho for slots k != k'
  sharing the within-slot position i (1 on the diagonal, 0 elsewhere), then z = low +
  (high - low) * Phi(x). Slots are dependent, the density is positive on the whole box, so
  again no out-of-support region.
* ``band``: Z = {z in box : max_k u_k - min_k u_k < width} (slot positions close to the
  diagonal); off-diagonal combinations are out of support. Uniform on Z.
* ``lshape``: Z = {z in box : u_k < fraction for at least one slot k} (for two slots an L); the
  corner where every slot sits in its upper part is out of support. Uniform on Z.

Sampling is vectorized rejection from the box, deterministic given a ``torch.Generator`` (or an
int seed); ``sample_ood`` draws uniformly from Z_CPE minus Z.

:class:`BoxSupport` (built by :func:`box_support`) is the other kind: Z a finite union of
closed, axis-aligned boxes with pairwise disjoint interiors (the supports of the counterexample
catalogue's witnesses, e.g. S = [0,1]^2 u [2,3]^2). It is not slot-supported in the sense above:
its Z_CPE is the union of the products of the boxes' slot projections, taken from the exact
:func:`theory.counterexamples.cpe_boxes`, and sampling is direct (no rejection).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import torch

from numerics.core.errors import ConfigError, DataError
from numerics.core.validation import check_slot_sizes, is_int, is_real, non_negative_int

if TYPE_CHECKING:
    import sympy

Tensor = torch.Tensor
KINDS = ("full", "correlated", "band", "lshape")
__all__ = ["KINDS", "BoxSupport", "LatentSupport", "Support", "box_support", "make_support"]
_MAX_ROUNDS = 200
_MAX_CHUNK = 1_000_000


def _generator(generator: torch.Generator | int | None) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if is_int(generator):
        return torch.Generator().manual_seed(int(generator))
    raise ConfigError(f"generator must be a torch.Generator or an int seed, got {generator!r}")


def _count(n: int) -> int:
    return non_negative_int("number of samples", n)


@dataclass(frozen=True)
class Support:
    """A training support in the box [low, high]^{d_z}; see the module docstring for kinds.

    Samples are ``(n, d_z)`` tensors of ``dtype`` on the CPU, drawn from the given generator.
    """

    kind: str
    slot_sizes: tuple[int, ...]
    low: float = -1.0
    high: float = 1.0
    width: float = 0.5
    fraction: float = 0.5
    rho: float = 0.75

    @property
    def dim(self) -> int:
        """Latent dimension d_z."""
        return sum(self.slot_sizes)

    @property
    def has_ood(self) -> bool:
        """Whether Z_CPE minus Z has positive volume (False for ``full`` and ``correlated``)."""
        return self.kind in ("band", "lshape")

    @property
    def positions(self) -> tuple[int, ...]:
        """Flat index of each slot's first latent (the slot position u_k)."""
        return tuple(int(o) for o in np.concatenate([[0], np.cumsum(self.slot_sizes)[:-1]]))

    @property
    def train_fraction_of_box(self) -> float:
        """Volume of Z relative to the box, exact: vol(Z) / vol(Z_CPE)."""
        k, w, c = len(self.slot_sizes), self.width, self.fraction
        if self.kind == "band":
            return k * w ** (k - 1) - (k - 1) * w**k
        if self.kind == "lshape":
            return 1.0 - (1.0 - c) ** k
        return 1.0

    def contains(self, z: Tensor) -> Tensor:
        """Boolean mask ``(n,)``: which rows of ``z: (n, d_z)`` lie in the training support."""
        z = self._check(z)
        inside = ((z >= self.low) & (z <= self.high)).all(dim=1)
        if self.kind in ("full", "correlated"):
            return inside
        u = (z[:, list(self.positions)] - self.low) / (self.high - self.low)
        if self.kind == "band":
            return inside & (u.max(dim=1).values - u.min(dim=1).values < self.width)
        return inside & (u < self.fraction).any(dim=1)

    def sample_cpe(self, n: int, generator: torch.Generator | int,
                   dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` uniform samples of Z_CPE (the box): ``(n, d_z)``."""
        gen = _generator(generator)
        u = torch.rand(_count(n), self.dim, generator=gen, dtype=torch.float64)
        return (self.low + (self.high - self.low) * u).to(dtype)

    def sample_train(self, n: int, generator: torch.Generator | int,
                     dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` samples of the training distribution on Z: ``(n, d_z)``."""
        n = _count(n)
        gen = _generator(generator)
        if self.kind == "full":
            return self.sample_cpe(n, gen, dtype)
        if self.kind == "correlated":
            return self._sample_copula(n, gen).to(dtype)
        return self._reject(n, gen, inside=True).to(dtype)

    def sample_ood(self, n: int, generator: torch.Generator | int,
                   dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` uniform samples of Z_CPE minus Z: ``(n, d_z)``.

        Raises :class:`ConfigError` for supports without an out-of-support region
        (``has_ood`` is False).
        """
        n = _count(n)
        if not self.has_ood:
            raise ConfigError(
                f"the {self.kind!r} support covers all of Z_CPE: there are no out-of-support "
                "samples (use kind 'band' or 'lshape' for compositional generalization tests)"
            )
        return self._reject(n, _generator(generator), inside=False).to(dtype)

    def _reject(self, n: int, gen: torch.Generator, inside: bool) -> Tensor:
        p = self.train_fraction_of_box if inside else 1.0 - self.train_fraction_of_box
        chunk = min(_MAX_CHUNK, max(64, math.ceil(1.2 * n / p) + 16))
        kept, have = [], 0
        for _ in range(_MAX_ROUNDS):
            if have >= n:
                break
            z = self.sample_cpe(chunk, gen, torch.float64)
            mask = self.contains(z)
            z = z[mask if inside else ~mask]
            kept.append(z)
            have += z.shape[0]
        if have < n:
            raise ConfigError(f"rejection sampling of the {self.kind} support accepted too "
                              "few samples: widen the support")
        return torch.cat(kept)[:n]

    def _sample_copula(self, n: int, gen: torch.Generator) -> Tensor:
        cov = torch.tensor(_copula_covariance(self.slot_sizes, self.rho))
        chol = torch.linalg.cholesky(cov)
        x = torch.randn(n, self.dim, generator=gen, dtype=torch.float64) @ chol.T
        u = 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))
        return self.low + (self.high - self.low) * u

    def _check(self, z: Tensor) -> Tensor:
        if not isinstance(z, Tensor):
            z = torch.as_tensor(np.asarray(z, dtype=np.float64))
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise DataError(f"z must have shape (n, {self.dim}), got {tuple(z.shape)}")
        return z


def _copula_covariance(sizes: tuple[int, ...], rho: float) -> np.ndarray:
    """S_{(k,i),(k',i)} = rho for k != k' (same within-slot position i), 1 on the diagonal."""
    slot_of = np.repeat(np.arange(len(sizes)), sizes)
    within = np.concatenate([np.arange(s) for s in sizes])
    same_position = within[:, None] == within[None, :]
    cov = np.where(same_position & (slot_of[:, None] != slot_of[None, :]), rho, 0.0)
    np.fill_diagonal(cov, 1.0)
    return cov


def make_support(kind: str, slot_sizes: Sequence[int], **kw: float) -> Support:
    """Build and validate a :class:`Support`.

    ``kind``: "full" | "correlated" | "band" | "lshape". Keywords: ``low``, ``high`` (the box,
    default [-1, 1]); ``width`` (band, in (0, 1), fraction of the box side, default 0.5);
    ``fraction`` (lshape, the lower part of each slot position, in (0, 1), default 0.5);
    ``rho`` (correlated, cross-slot correlation, default 0.75). Raises :class:`ConfigError`.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown support kind {kind!r}: choose one of {', '.join(KINDS)}")
    sizes = check_slot_sizes(slot_sizes)
    allowed = {"low", "high", "width", "fraction", "rho"}
    unknown = set(kw) - allowed
    if unknown:
        raise ConfigError(f"unknown support option(s) {sorted(unknown)}: allowed {sorted(allowed)}")
    for key, value in kw.items():
        if not is_real(value) or not math.isfinite(value):
            raise ConfigError(f"support option {key} must be a finite number, got {value!r}")
    support = Support(kind, sizes, **{k: float(v) for k, v in kw.items()})
    if not support.low < support.high:
        raise ConfigError(f"need low < high, got low={support.low}, high={support.high}")
    if kind in ("band", "lshape") and len(sizes) < 2:
        raise ConfigError(f"a {kind} support needs at least 2 slots")
    if not 0.0 < support.width < 1.0:
        raise ConfigError(f"band width must be in (0, 1), got {support.width}")
    if not 0.0 < support.fraction < 1.0:
        raise ConfigError(f"lshape fraction must be in (0, 1), got {support.fraction}")
    if kind == "correlated":
        bound = -1.0 / (len(sizes) - 1) if len(sizes) > 1 else -1.0
        if not bound < support.rho < 1.0:
            raise ConfigError(f"correlation rho must be in ({bound:.3g}, 1) for {len(sizes)} "
                              f"slots so that the copula covariance is positive definite, "
                              f"got {support.rho}")
    return support



Bounds = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class BoxSupport:
    """Z = B_1 u ... u B_m: closed axis-aligned boxes B_j = prod_i [lo_ji, hi_ji] in R^{d_z}
    with pairwise disjoint interiors; build it with :func:`box_support`.

    Every box is a tuple of ``(lo, hi)`` per latent coordinate (flat slot order, slot k owns
    coordinates ``offsets[k]:offsets[k+1]``). With P_k the distinct projections of the boxes
    onto slot k (pairwise equal or with disjoint interiors),

        Z_CPE = Z_1 x ... x Z_K = union over (p_1, ..., p_K) in P_1 x ... x P_K of
                p_1 x ... x p_K,

    ``cpe_boxes`` lists those product boxes and ``ood_boxes`` the ones that are not training
    boxes (each meets Z at most on its boundary, so they tile Z_CPE minus Z up to a null set);
    both come from :func:`theory.counterexamples.cpe_boxes`, with its exact bounds converted to
    floats. The distributions: uniform on Z (``sample_train``), on Z_CPE (``sample_cpe``) and
    on Z_CPE minus Z (``sample_ood``); each picks a box B with probability vol(B) / (sum of the
    volumes) and then a point uniformly inside it: z = lo_B + (hi_B - lo_B) * u,
    u ~ U[0, 1)^{d_z}. Samples are ``(n, d_z)`` tensors of ``dtype`` on the CPU (computed in
    float64), deterministic given the generator (a ``torch.Generator`` or an int seed).
    """

    boxes: tuple[Bounds, ...]
    slot_sizes: tuple[int, ...]
    cpe_boxes: tuple[Bounds, ...]
    ood_boxes: tuple[Bounds, ...]
    #: vol(Z) / vol(Z_CPE), computed exactly from the bounds (then rounded to a float).
    train_fraction_of_box: float
    kind: str = "boxes"

    @property
    def dim(self) -> int:
        """Latent dimension d_z."""
        return sum(self.slot_sizes)

    @property
    def has_ood(self) -> bool:
        """Whether Z_CPE minus Z has positive volume (some product box is not a training box)."""
        return bool(self.ood_boxes)

    def contains(self, z: Tensor) -> Tensor:
        """Boolean mask ``(n,)``: which rows of ``z: (n, d_z)`` lie in some closed box of Z.

        Points on a face that a training box shares with an out-of-support box count as in Z
        (a null set; float32 rounding can move samples of either region onto such a face).
        """
        if not isinstance(z, Tensor):
            z = torch.as_tensor(np.asarray(z, dtype=np.float64))
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise DataError(f"z must have shape (n, {self.dim}), got {tuple(z.shape)}")
        lo, hi = _bounds(self.boxes)  # (m, d_z) each
        z = z.double()
        inside = (z[:, None, :] >= lo) & (z[:, None, :] <= hi)  # (n, m, d_z)
        return inside.all(dim=2).any(dim=1)

    def sample_train(self, n: int, generator: torch.Generator | int,
                     dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` uniform samples of Z: ``(n, d_z)``."""
        return _sample_boxes(self.boxes, _count(n), _generator(generator)).to(dtype)

    def sample_cpe(self, n: int, generator: torch.Generator | int,
                   dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` uniform samples of Z_CPE: ``(n, d_z)``."""
        return _sample_boxes(self.cpe_boxes, _count(n), _generator(generator)).to(dtype)

    def sample_ood(self, n: int, generator: torch.Generator | int,
                   dtype: torch.dtype = torch.float32) -> Tensor:
        """``n`` uniform samples of Z_CPE minus Z: ``(n, d_z)``.

        Raises :class:`ConfigError` when Z_CPE = Z (``has_ood`` is False).
        """
        n = _count(n)
        if not self.has_ood:
            raise ConfigError("this box support is its own Cartesian-product extension: there "
                              "are no out-of-support samples")
        return _sample_boxes(self.ood_boxes, n, _generator(generator)).to(dtype)


#: Either kind of support: ``sample_train``, ``sample_ood``, ``contains`` and ``has_ood``.
LatentSupport = Support | BoxSupport


def _bounds(boxes: tuple[Bounds, ...]) -> tuple[Tensor, Tensor]:
    """``(lo, hi)``, each ``(m, d_z)`` float64, of ``m`` boxes."""
    lo = torch.tensor([[a for a, _ in b] for b in boxes], dtype=torch.float64)
    hi = torch.tensor([[c for _, c in b] for b in boxes], dtype=torch.float64)
    return lo, hi


def _sample_boxes(boxes: tuple[Bounds, ...], n: int, gen: torch.Generator) -> Tensor:
    """Uniform on the union of ``boxes`` (disjoint interiors): box j with probability
    vol_j / sum vol, then lo_j + (hi_j - lo_j) * u, u ~ U[0, 1)^{d_z}. ``(n, d_z)`` float64."""
    lo, hi = _bounds(boxes)
    width = hi - lo
    volume = width.prod(dim=1)
    cumulative = torch.cumsum(volume / volume.sum(), dim=0)
    pick = torch.rand(n, generator=gen, dtype=torch.float64)
    which = torch.searchsorted(cumulative, pick, right=True).clamp_max(len(boxes) - 1)
    u = torch.rand(n, lo.shape[1], generator=gen, dtype=torch.float64)
    return lo[which] + width[which] * u


def _rational(value: object, where: str) -> sympy.Rational:
    """A finite real bound as an exact ``sympy.Rational`` (a float by its exact binary value)."""
    import sympy

    if isinstance(value, bool):
        raise ConfigError(f"{where} must be a finite number, got {value!r}")
    if isinstance(value, sympy.Rational):
        return value
    if isinstance(value, (int, np.integer)):
        return sympy.Integer(int(value))
    if isinstance(value, Fraction):
        return sympy.Rational(value.numerator, value.denominator)
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return sympy.Rational(float(value))
    raise ConfigError(f"{where} must be a finite number (int, float, Fraction or "
                      f"sympy.Rational), got {value!r}")



def box_support(boxes: Sequence[Sequence[Sequence[object]]], slot_sizes: Sequence[int]
                ) -> BoxSupport:
    """Build and validate a :class:`BoxSupport`: Z = the union of ``boxes``.

    ``boxes``: a non-empty sequence of boxes, each ``d_z = sum(slot_sizes)`` pairs
    ``(lo, hi)`` with lo < hi (ints, floats, ``fractions.Fraction`` or ``sympy.Rational``; e.g.
    ``entry.witness.train_boxes`` of the catalogue), pairwise disjoint up to their boundaries
    (no two interiors intersect: for some coordinate max(lo) >= min(hi)). Z_CPE is
    :func:`theory.counterexamples.cpe_boxes` of the exact bounds, and
    ``train_fraction_of_box`` = sum_j vol(B_j) / sum_{C in Z_CPE} vol(C), in exact arithmetic.
    Raises :class:`ConfigError` for bad boxes and for boxes whose slot projections overlap
    without being equal (then Z_CPE is not a union of the product boxes).
    """
    import itertools

    from theory.errors import CatalogueError
    from theory.slots import Slots
    from theory.supports import cpe_boxes

    sizes = check_slot_sizes(slot_sizes)
    d = sum(sizes)
    if not isinstance(boxes, (list, tuple)) or not boxes:
        raise ConfigError(f"a box support needs a non-empty list of boxes, got {boxes!r}")
    exact = []
    for j, box in enumerate(boxes):
        if not isinstance(box, (list, tuple)) or len(box) != d:
            raise ConfigError(f"box {j} must give (lo, hi) for each of the d_z = {d} latent "
                              f"coordinates, got {box!r}")
        pairs = []
        for i, pair in enumerate(box):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ConfigError(f"box {j}, coordinate {i}: need a pair (lo, hi), got {pair!r}")
            lo = _rational(pair[0], f"box {j}, coordinate {i}: lo")
            hi = _rational(pair[1], f"box {j}, coordinate {i}: hi")
            if not lo < hi:
                raise ConfigError(f"box {j}, coordinate {i}: need lo < hi, got ({pair[0]!r}, "
                                  f"{pair[1]!r})")
            pairs.append((lo, hi))
        exact.append(tuple(pairs))
    for (a, p), (b, q) in itertools.combinations(enumerate(exact), 2):
        if all(max(lo1, lo2) < min(hi1, hi2) for (lo1, hi1), (lo2, hi2) in zip(p, q,
                                                                             strict=True)):
            raise ConfigError(f"boxes {a} and {b} overlap (their interiors intersect): the "
                              "boxes of a support must be disjoint up to their boundaries")
    try:
        cpe, ood = cpe_boxes(tuple(exact), Slots.from_sizes(*sizes))
    except CatalogueError as err:
        raise ConfigError(f"Z_CPE of these boxes is not a union of product boxes: {err}"
                          ) from err

    def volume(box: tuple[tuple[sympy.Rational, sympy.Rational], ...]) -> sympy.Rational:
        return math.prod((hi - lo for lo, hi in box), start=1)

    fraction = sum(volume(b) for b in exact) / sum(volume(b) for b in cpe)

    def floats(bs: list) -> tuple[Bounds, ...]:
        return tuple(tuple((float(lo), float(hi)) for lo, hi in b) for b in bs)

    return BoxSupport(floats(exact), sizes, floats(cpe), floats(ood), float(fraction))
