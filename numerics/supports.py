"""Training supports Z and their Cartesian-product extension Z_CPE (science.md section 1).

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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from numerics.errors import ConfigError, DataError

Tensor = torch.Tensor
KINDS = ("full", "correlated", "band", "lshape")
_MAX_ROUNDS = 200
_MAX_CHUNK = 1_000_000


def _generator(generator: torch.Generator | int | None) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if isinstance(generator, (int, np.integer)) and not isinstance(generator, bool):
        return torch.Generator().manual_seed(int(generator))
    raise ConfigError(f"generator must be a torch.Generator or an int seed, got {generator!r}")


def _count(n: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"number of samples must be a non-negative integer, got {n!r}")
    return int(n)


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
    sizes = tuple(slot_sizes) if isinstance(slot_sizes, (list, tuple)) else None
    if not sizes or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1
                        for s in sizes):
        raise ConfigError(f"slot_sizes must be a non-empty list of positive integers, "
                          f"got {slot_sizes!r}")
    allowed = {"low", "high", "width", "fraction", "rho"}
    unknown = set(kw) - allowed
    if unknown:
        raise ConfigError(f"unknown support option(s) {sorted(unknown)}: allowed {sorted(allowed)}")
    for key, value in kw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise ConfigError(f"support option {key} must be a finite number, got {value!r}")
    support = Support(kind, tuple(int(s) for s in sizes), **{k: float(v) for k, v in kw.items()})
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
